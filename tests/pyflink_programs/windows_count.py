"""Tumbling and sliding count windows with a WindowFunction, and an aggregate over
tumbling count windows (PyFlink's documented DataStream API)."""

from typing import Iterable

from pyflink.common import Types
from pyflink.datastream import AggregateFunction, StreamExecutionEnvironment, WindowFunction
from pyflink.datastream.window import CountSlidingWindowAssigner, CountWindow

ORDERS = [(3, "tea"), (5, "coffee"), (2, "tea"), (7, "coffee"), (4, "tea"), (1, "coffee"),
          (6, "tea"), (8, "coffee"), (9, "coffee")]


class Total(WindowFunction[tuple, tuple, str, CountWindow]):
    def apply(self, key: str, window: CountWindow, inputs: Iterable[tuple]):
        return [(key, sum(i[0] for i in inputs))]


class Average(AggregateFunction):
    def create_accumulator(self):
        return 0, 0

    def add(self, value, accumulator):
        return accumulator[0] + value[0], accumulator[1] + 1

    def get_result(self, accumulator):
        return accumulator[0] / accumulator[1]

    def merge(self, a, b):
        return a[0] + b[0], a[1] + b[1]


def main():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    orders = env.from_collection(ORDERS, type_info=Types.TUPLE([Types.INT(), Types.STRING()]))
    keyed = orders.key_by(lambda o: o[1], key_type=Types.STRING())
    keyed.count_window(2).apply(Total(), Types.TUPLE([Types.STRING(), Types.INT()])).print("tumbling")
    keyed.window(CountSlidingWindowAssigner.of(3, 2)) \
         .apply(Total(), Types.TUPLE([Types.STRING(), Types.INT()])).print("sliding")
    keyed.count_window(3).aggregate(Average(), output_type=Types.DOUBLE()).print("average")
    env.execute("count windows")


if __name__ == "__main__":
    main()
