"""union, connect with co-map / co-flat-map / co-process."""

import pytest

from nbstream import (CoFlatMapFunction, CoMapFunction, CoProcessFunction, OutputTag, PlanError,
                      StreamExecutionEnvironment)
from tests.conftest import collect


@pytest.mark.parametrize("parallelism", [1, 2])
def test_d3_basic_co_operations(make_env, parallelism):
    env = make_env(parallelism)
    ds1 = env.from_collection([1, 2, 3, 4, 5])
    ds2 = ds1.map(lambda x: x * 2)

    class CoFlat(CoFlatMapFunction):
        def flat_map1(self, value):
            yield value + 1

        def flat_map2(self, value):
            yield value - 1

    class CoMap(CoMapFunction):
        def map1(self, value):
            return value + 2

        def map2(self, value):
            return value + 1

    out = ds1.connect(ds2).flat_map(CoFlat()).connect(ds2).map(CoMap())
    assert sorted(collect(out)) == sorted([4, 5, 6, 7, 8, 3, 5, 7, 9, 11, 3, 5, 7, 9, 11])


def test_d10_co_process_side_output(make_env):
    env = make_env(2)
    tag = OutputTag("side")
    ds1 = env.from_collection([("a", 0), ("b", 1), ("c", 2)])
    ds2 = env.from_collection([(3, "c"), (1, "a"), (0, "d")])

    class Both(CoProcessFunction):
        def process_element1(self, value, ctx):
            yield value[0]
            yield tag, value[1]

        def process_element2(self, value, ctx):
            yield value[1]
            yield tag, value[0]

    main = ds1.connect(ds2).process(Both())
    side = main.get_side_output(tag)
    side_values = []
    side.add_sink(side_values.append)
    assert sorted(collect(main)) == ["a", "a", "b", "c", "c", "d"]
    assert sorted(side_values) == [0, 0, 1, 1, 2, 3]


def test_co_map_with_two_lambdas_drops_none(env):
    a = env.from_collection([1, 2, 3])
    b = env.from_collection(["x", "y"])
    out = a.connect(b).map(lambda n: n * 10 if n != 2 else None, str.upper)
    assert sorted(collect(out), key=str) == [10, 30, "X", "Y"]


def test_co_flat_map_with_two_lambdas(env):
    a = env.from_collection([2])
    b = env.from_collection(["ab"])
    assert sorted(collect(a.connect(b).flat_map(lambda n: range(n), list)), key=str) == [0, 1, "a", "b"]


def test_connect_requires_a_co_function(env):
    c = env.from_collection([1]).connect(env.from_collection([2]))
    with pytest.raises(TypeError, match="CoMapFunction or two callables"):
        c.map(lambda x: x)
    with pytest.raises(TypeError, match="CoProcessFunction or KeyedCoProcessFunction"):
        c.process(lambda v, ctx: [v])


@pytest.mark.parametrize("parallelism", [1, 3])
def test_union_of_several_streams(make_env, parallelism):
    env = make_env(parallelism)
    a = env.from_collection([1, 2])
    b = env.from_sequence(10, 12)
    c = env.from_collection([100]).map(lambda x: x + 1)
    assert sorted(collect(a.union(b, c))) == [1, 2, 10, 11, 12, 101]


def test_union_with_itself_doubles_records(env):
    a = env.from_collection([1, 2])
    assert sorted(collect(a.union(a))) == [1, 1, 2, 2]


def test_union_then_key_by_partitions_every_input(make_env):
    env = make_env(2)
    a = env.from_collection([("k", 1), ("j", 1)])
    b = env.from_collection([("k", 2)])
    got = collect(a.union(b).key_by(lambda t: t[0]).sum(1))
    assert max(v for k, v in got if k == "k") == 3


def test_streams_of_different_environments_do_not_mix():
    e1 = StreamExecutionEnvironment.get_execution_environment()
    e2 = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(PlanError, match="different environments"):
        e1.from_collection([1]).union(e2.from_collection([2]))
    with pytest.raises(PlanError, match="different environments"):
        e1.from_collection([1]).connect(e2.from_collection([2]))
