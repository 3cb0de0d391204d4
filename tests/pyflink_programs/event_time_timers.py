"""Event-time timers with bounded out-of-orderness watermarks in a KeyedProcessFunction
(PyFlink's documented DataStream API)."""

from pyflink.common import Duration, WatermarkStrategy
from pyflink.common.typeinfo import Types
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor


class SumUntilQuiet(KeyedProcessFunction):

    def open(self, runtime_context: RuntimeContext):
        self.sum = runtime_context.get_state(ValueStateDescriptor("sum", Types.LONG()))

    def process_element(self, value, ctx: 'KeyedProcessFunction.Context'):
        self.sum.update((self.sum.value() or 0) + value[2])
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 2000)

    def on_timer(self, timestamp: int, ctx: 'KeyedProcessFunction.OnTimerContext'):
        yield ctx.get_current_key(), timestamp, self.sum.value()


class FirstField(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp: int) -> int:
        return int(value[0])


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection(
        [(1000, "ann", 11), (4000, "bob", 3), (3000, "ann", 2), (2000, "bob", 5),
         (5000, "ann", 13), (3000, "bob", 1), (7000, "bob", 16), (10000, "ann", 20)],
        type_info=Types.TUPLE([Types.LONG(), Types.STRING(), Types.LONG()]))
    ds = ds.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(2))
        .with_timestamp_assigner(FirstField()))
    ds.key_by(lambda v: v[1]).process(SumUntilQuiet()).print()
    env.execute()


if __name__ == "__main__":
    main()
