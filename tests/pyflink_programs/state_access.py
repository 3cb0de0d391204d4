"""Keyed state with a time-to-live in a KeyedProcessFunction (PyFlink's documented API)."""

from pyflink.common import Time
from pyflink.common.typeinfo import Types
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.functions import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import (ListStateDescriptor, MapStateDescriptor, StateTtlConfig,
                                      ValueStateDescriptor)


class RunningTotal(KeyedProcessFunction):

    def open(self, runtime_context: RuntimeContext):
        descriptor = ValueStateDescriptor("total", Types.DOUBLE())
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.seconds(60))
                                       .set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)
                                       .disable_cleanup_in_background()
                                       .build())
        self.total = runtime_context.get_state(descriptor)
        self.history = runtime_context.get_list_state(ListStateDescriptor("history", Types.INT()))
        self.by_shop = runtime_context.get_map_state(
            MapStateDescriptor("by_shop", Types.STRING(), Types.INT()))

    def process_element(self, value, ctx: 'KeyedProcessFunction.Context'):
        total = (self.total.value() or 0) + value[1]
        self.total.update(total)
        self.history.add(int(value[1]))
        self.by_shop.put(value[2], (self.by_shop.get(value[2]) or 0) + 1)
        yield ctx.get_current_key(), total, list(self.history.get()), sorted(self.by_shop.items())


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection(
        [("ann", 110.5, "north"), ("bob", 30.25, "south"), ("ann", 20.0, "north"),
         ("bob", 53.0, "north"), ("ann", 13.5, "south"), ("bob", 3.0, "south")],
        type_info=Types.TUPLE([Types.STRING(), Types.DOUBLE(), Types.STRING()]))
    ds.key_by(lambda v: v[0]).process(RunningTotal()).print()
    env.execute()


if __name__ == "__main__":
    main()
