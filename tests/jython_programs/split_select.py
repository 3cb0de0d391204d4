"""split/select, union, filter and map over generate_sequence, from_elements and
from_collection. Parameter (after `-`): N, the end of the sequence 1..N."""
import sys

from org.apache.flink.api.common.functions import FilterFunction, MapFunction
from org.apache.flink.streaming.api.collector.selector import OutputSelector


class EvenOdd(OutputSelector):
    def select(self, value):
        return ["even"] if value % 2 == 0 else ["odd"]


class Tag(MapFunction):
    def __init__(self, tag):
        self.tag = tag

    def map(self, value):
        return (self.tag, value)


class DivisibleBy(FilterFunction):
    def __init__(self, n):
        self.n = n

    def filter(self, value):
        return value % self.n == 0


def main(factory):
    n = int(sys.argv[1])
    env = factory.get_execution_environment()
    split = env.generate_sequence(1, n).split(EvenOdd())
    evens = split.select("even").map(Tag("even"))
    odds = split.select("odd").filter(DivisibleBy(3)).map(Tag("odd3"))
    both = split.select("even", "odd").filter(DivisibleBy(5)).map(Tag("all5"))
    extra = env.from_elements(100, 200).map(Tag("elements"))
    listed = env.from_collection([7, 8, 9]).map(Tag("collection"))
    evens.union(odds, both, extra, listed).output()
    env.execute()
