"""Tumbling, sliding and session event-time windows with ProcessWindowFunction and
WindowFunction, written against PyFlink's documented DataStream API."""

from typing import Iterable

from pyflink.common import Time, Types, WatermarkStrategy
from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream import ProcessWindowFunction, StreamExecutionEnvironment, WindowFunction
from pyflink.datastream.window import (EventTimeSessionWindows, SessionWindowTimeGapExtractor,
                                       SlidingEventTimeWindows, TimeWindow,
                                       TumblingEventTimeWindows)

READINGS = [("s1", 1), ("s1", 2), ("s2", 2), ("s1", 4), ("s2", 5), ("s1", 7), ("s1", 8),
            ("s2", 9), ("s1", 13), ("s2", 14), ("s1", 21), ("s2", 30)]
ROW = Types.TUPLE([Types.STRING(), Types.LONG(), Types.LONG(), Types.INT()])


class SecondField(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp) -> int:
        return int(value[1])


class CountPerWindow(ProcessWindowFunction[tuple, tuple, str, TimeWindow]):
    def process(self, key: str, context: ProcessWindowFunction.Context[TimeWindow],
                elements: Iterable[tuple]) -> Iterable[tuple]:
        window = context.window()
        return [(key, window.start, window.end, len(list(elements)))]


class LastTimestamp(WindowFunction[tuple, tuple, str, TimeWindow]):
    def apply(self, key: str, window: TimeWindow, inputs: Iterable[tuple]):
        return [(key, window.start, window.end, max(i[1] for i in inputs))]


class GapOf(SessionWindowTimeGapExtractor):
    def extract(self, element: tuple) -> int:
        return 3 if element[0] == "s1" else 6


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    stream = env.from_collection(READINGS, type_info=Types.TUPLE([Types.STRING(), Types.INT()]))
    timed = stream.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(SecondField()))
    keyed = timed.key_by(lambda r: r[0], key_type=Types.STRING())
    keyed.window(TumblingEventTimeWindows.of(Time.milliseconds(5))) \
         .process(CountPerWindow(), ROW).print("tumbling")
    keyed.window(SlidingEventTimeWindows.of(Time.milliseconds(6), Time.milliseconds(3))) \
         .apply(LastTimestamp(), ROW).print("sliding")
    keyed.window(EventTimeSessionWindows.with_gap(Time.milliseconds(4))) \
         .process(CountPerWindow(), ROW).print("session")
    keyed.window(EventTimeSessionWindows.with_dynamic_gap(GapOf())) \
         .process(CountPerWindow(), ROW).print("dynamic")
    keyed.window(TumblingEventTimeWindows.of(Time.milliseconds(10))) \
         .reduce(lambda a, b: (a[0], a[1] + b[1])).print("reduce")
    env.execute("time windows")


if __name__ == "__main__":
    main()
