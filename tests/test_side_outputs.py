"""Side outputs: yield (OutputTag, value) from process functions."""

import pytest

from nbstream import KeyedProcessFunction, OutputTag, ProcessFunction, Row, Types, UserFunctionError
from tests.conftest import collect


class MainAndSide(ProcessFunction):
    def __init__(self, tag):
        self.tag = tag

    def process_element(self, value, ctx):
        yield value[0]
        yield self.tag, value[1]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_d8_process_side_output(make_env, parallelism):
    env = make_env(parallelism)
    tag = OutputTag("side", Types.INT())
    ds = env.from_collection([("a", 0), ("b", 1), ("c", 2)],
                             type_info=Types.ROW([Types.STRING(), Types.INT()]))
    main = ds.process(MainAndSide(tag))
    side = []
    main.get_side_output(tag).add_sink(side.append)
    assert sorted(collect(main)) == ["a", "b", "c"]
    assert sorted(side) == [0, 1, 2]


def test_d11_side_output_execute_and_collect(env):
    tag = OutputTag("side", Types.INT())

    def double_aside(value, ctx):
        yield value
        yield tag, value * 2

    ds = env.from_collection([1, 2, 3]).process(double_aside)
    got = [i for i in ds.get_side_output(tag).execute_and_collect()]
    assert got == [2, 4, 6] and all(type(i) is int for i in got)


def test_two_side_outputs_and_chained_consumers(make_env):
    env = make_env(2)
    small, big = OutputTag("small"), OutputTag("big")

    def route(v, ctx):
        yield (small if v < 5 else big), v

    ds = env.from_sequence(0, 9).process(route)
    got_small = []
    ds.get_side_output(small).map(lambda v: -v).add_sink(got_small.append)
    got_big = collect(ds.get_side_output(big))
    assert sorted(got_small) == [0, -1, -2, -3, -4][::-1] and sorted(got_big) == [5, 6, 7, 8, 9]


def test_unconsumed_side_output_is_dropped_silently(env):
    def route(v, ctx):
        yield OutputTag("nobody"), v
        yield v

    assert collect(env.from_collection([1, 2]).process(route)) == [1, 2]


def test_keyed_process_side_output_keeps_key_order(make_env):
    env = make_env(2)
    tag = OutputTag("running")

    class Running(KeyedProcessFunction):
        def open(self, ctx):
            self.total = {}

        def process_element(self, value, ctx):
            k = ctx.get_current_key()
            self.total[k] = self.total.get(k, 0) + value[1]
            yield value[1]
            yield tag, (k, self.total[k])

    ds = env.from_collection([("a", 1), ("b", 2), ("a", 3), ("b", 4)]).key_by(lambda v: v[0])
    main = ds.process(Running())
    side = []
    main.get_side_output(tag).add_sink(side.append)
    assert sorted(collect(main)) == [1, 2, 3, 4]
    assert [v for k, v in side if k == "a"] == [1, 4] and [v for k, v in side if k == "b"] == [2, 6]


def test_process_returning_none_is_a_clear_error(env):
    class Forgetful(ProcessFunction):
        def process_element(self, value, ctx):
            return None

    with pytest.raises(UserFunctionError, match=r"returned None; yield values or return an iterable"):
        collect(env.from_collection([1]).process(Forgetful()))


def test_get_side_output_needs_a_tag(env):
    with pytest.raises(TypeError, match="OutputTag"):
        env.from_collection([1]).process(lambda v, c: [v]).get_side_output("late")


def test_output_tag_identity():
    assert OutputTag("x") == OutputTag("x", Types.INT()) and OutputTag("x") != OutputTag("y")
    with pytest.raises(ValueError):
        OutputTag("")
    assert Row("a", 1) != ("a", 1)
