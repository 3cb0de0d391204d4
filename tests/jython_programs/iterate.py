"""A feedback loop: each number goes round, one less each time, until it is <= 0
(the old Flink Python guide's iterate example, counting the rounds)."""
from org.apache.flink.api.common.functions import FilterFunction, MapFunction


class MinusOne(MapFunction):
    def map(self, value):
        start, current, rounds = value
        return (start, current - 1, rounds + 1)


class PositiveNumber(FilterFunction):
    def filter(self, value):
        return value[1] > 0


class LessEqualToZero(FilterFunction):
    def filter(self, value):
        return value[1] <= 0


class Start(MapFunction):
    def map(self, value):
        return (value, value, 0)


def main(factory):
    env = factory.get_execution_environment()
    initial_stream = env.from_collection([3, 5, 1, 0, 12]).map(Start())
    iteration = initial_stream.iterate(300)
    iteration_body = iteration.map(MinusOne())
    feedback = iteration_body.filter(PositiveNumber())
    iteration.close_with(feedback)
    output = iteration_body.filter(LessEqualToZero())
    output.output()
    env.execute(True)
