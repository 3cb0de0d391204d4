"""Keyed streams: reduce and the built-in aggregations, key context, key errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbstream import (KeyedProcessFunction, MapFunction, PlanError, ReduceFunction,
                      RuntimeExecutionMode, Row, Types, UserFunctionError, ValueStateDescriptor)
from tests.conftest import collect


def key_order(records, key):
    """Per-key order of records (what must survive any parallelism)."""
    out = {}
    for r in records:
        out.setdefault(key(r), []).append(r)
    return out


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_d12_rolling_reduce_streaming(make_env, parallelism):
    env = make_env(parallelism)
    ds = env.from_collection([(1, "a"), (2, "a"), (3, "a"), (4, "b")])
    got = collect(ds.key_by(lambda a: a[1]).reduce(lambda a, b: Row(a[0] + b[0], b[1])))
    assert sorted(tuple(r) for r in got) == [(1, "a"), (3, "a"), (4, "b"), (6, "a")]
    assert [tuple(r) for r in key_order(got, lambda r: r[1])["a"]] == [(1, "a"), (3, "a"), (6, "a")]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_d12_reduce_batch_mode_emits_final_values(make_env, parallelism):
    env = make_env(parallelism)
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    ds = env.from_collection([(1, "a"), (4, "b"), (2, "a"), (3, "b"), (3, "a")])
    got = collect(ds.key_by(lambda a: a[1]).reduce(lambda a, b: Row(a[0] + b[0], b[1])))
    assert sorted(tuple(r) for r in got) == [(6, "a"), (7, "b")]


class CountingReduce(ReduceFunction):
    """D13's shape: a ReduceFunction class that reads and writes keyed state in reduce()."""

    def open(self, runtime_context):
        self.calls = runtime_context.get_state(ValueStateDescriptor("calls", Types.INT()))

    def reduce(self, value1, value2):
        self.calls.update((self.calls.value() or 0) + 1)
        return Row(value1[0] + value2[0], value1[1], self.calls.value())


@pytest.mark.parametrize("parallelism", [1, 2])
def test_d13_reduce_with_function_class_streaming_and_batch(make_env, parallelism):
    data = [("a", 0), ("c", 1), ("d", 1), ("b", 0), ("e", 1)]
    env = make_env(parallelism)
    got = collect(env.from_collection(data).key_by(lambda v: v[1]).reduce(CountingReduce()))
    assert sorted(tuple(r)[:2] for r in got) == [("a", 0), ("ab", 0), ("c", 1), ("cd", 1), ("cde", 1)]
    # the state is per key: key 0 saw one reduce call, key 1 two
    assert sorted(tuple(r)[1:] for r in got if len(r) == 3) == [(0, 1), (1, 1), (1, 2)]
    env = make_env(parallelism)
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    got = collect(env.from_collection(data).key_by(lambda v: v[1]).reduce(CountingReduce()))
    assert sorted(tuple(r) for r in got) == [("ab", 0, 1), ("cde", 1, 2)]


def test_d14_keyed_sum_by_name_and_position(env):
    ds = env.from_collection([(1, 1), (1, 2), (1, 3), (2, 5), (2, 1)],
                             type_info=Types.ROW_NAMED(["v1", "v2"], [Types.INT(), Types.INT()]))
    out = (ds.key_by(lambda x: x[0]).sum("v2")
             .key_by(lambda x: x[0]).sum(1)
             .map(lambda x: (x[1], x[0]))
             .key_by(lambda x: x[1]).sum())
    assert sorted(collect(out)) == [(1, 1), (5, 1), (5, 2), (15, 1), (16, 2)]


def test_d15_min_by_max_min_max_by(env):
    ds = env.from_collection([("a", 3, 0), ("a", 1, 1), ("b", 5, 0), ("b", 3, 1)],
                             type_info=Types.ROW_NAMED(["v1", "v2", "v3"],
                                                       [Types.STRING(), Types.INT(), Types.INT()]))
    out = (ds.key_by(lambda x: x[0]).min_by("v2").map(lambda x: tuple(x))
             .key_by(lambda x: x[2]).max(1)
             .key_by(lambda x: x[2]).min()
             .map(lambda x: x[0])
             .key_by(lambda x: x).max_by())
    assert collect(out) == ["a", "a", "a", "a"]


def test_min_and_max_keep_other_fields_of_the_first_record(env):
    ds = env.from_collection([("k", 5, "first"), ("k", 1, "second"), ("k", 9, "third")])
    assert collect(ds.key_by(0).min(1)) == [("k", 5, "first"), ("k", 1, "first"), ("k", 1, "first")]
    ds = env.from_collection([("k", 5, "first"), ("k", 1, "second"), ("k", 9, "third")])
    assert collect(ds.key_by(0).max_by(1)) == [("k", 5, "first"), ("k", 5, "first"),
                                                ("k", 9, "third")]


def test_aggregations_on_dicts_and_scalars(env):
    rows = [{"page": "/a", "ms": 3}, {"page": "/a", "ms": 4}, {"page": "/b", "ms": 1}]
    got = collect(env.from_collection(rows).key_by("page").sum("ms"))
    assert got == [{"page": "/a", "ms": 3}, {"page": "/a", "ms": 7}, {"page": "/b", "ms": 1}]
    assert rows[0] == {"page": "/a", "ms": 3}, "input records must not be mutated"
    assert collect(env.from_collection([3, 1, 2]).key_by(lambda x: 0).max()) == [3, 3, 3]


def test_aggregation_on_a_missing_field_names_the_step(env):
    with pytest.raises(UserFunctionError, match=r"step 'Sum'.*field 2 selected on a basic value"):
        collect(env.from_collection([1, 2]).key_by(lambda x: 0).sum(2))


def test_aggregation_position_type_is_checked_at_build_time(env):
    with pytest.raises(TypeError, match="field position"):
        env.from_collection([1]).key_by(lambda x: x).sum(1.5)


def test_keyed_map_sees_the_current_key(make_env):
    env = make_env(2)

    class KeyEcho(KeyedProcessFunction):
        def process_element(self, value, ctx):
            yield ctx.get_current_key(), value

    got = collect(env.from_collection(["apple", "avocado", "banana"])
                  .key_by(lambda w: w[0]).process(KeyEcho()))
    assert sorted(got) == [("a", "apple"), ("a", "avocado"), ("b", "banana")]


def test_key_by_field_name_or_position(env):
    got = collect(env.from_collection([{"u": "x", "n": 1}, {"u": "x", "n": 2}])
                  .key_by("u").reduce(lambda a, b: {"u": a["u"], "n": a["n"] + b["n"]}))
    assert got[-1] == {"u": "x", "n": 3}


class Unhashable:
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other):
        return isinstance(other, Unhashable)


def test_list_keys_work_and_other_unhashable_keys_are_a_clear_error(make_env):
    """As PyFlink keys by the serialized key, a list is a key like any other."""
    for p in (1, 2):
        env = make_env(p)
        got = collect(env.from_collection([("a", 1), ("b", 5), ("a", 2)])
                      .key_by(lambda r: [r[0]]).sum(1))
        assert sorted(got) == [("a", 1), ("a", 3), ("b", 5)]
        with pytest.raises(UserFunctionError, match=r"key .* of type Unhashable is not hashable"):
            collect(env.from_collection([("a", 1)]).key_by(lambda r: Unhashable()).sum(1))


def test_failing_key_selector_names_key_by(env):
    with pytest.raises(UserFunctionError, match=r"step 'key_by into 'Reduce'' failed in .*key selector"):
        collect(env.from_collection([{"a": 1}]).key_by(lambda r: r["missing"])
                .reduce(lambda a, b: a))


def test_keyed_stream_refuses_repartitioning_and_step_settings(env):
    keyed = env.from_collection([1]).key_by(lambda x: x)
    for call in (keyed.shuffle, keyed.rebalance, keyed.rescale, keyed.forward, keyed.broadcast):
        with pytest.raises(PlanError, match="not supported on a KeyedStream"):
            call()
    with pytest.raises(PlanError, match="not supported on a KeyedStream"):
        keyed.partition_custom(lambda k, n: 0, lambda x: x)
    with pytest.raises(PlanError, match="not supported on a KeyedStream"):
        keyed.set_parallelism(2)


def test_key_by_again_uses_the_original_stream(env):
    ds = env.from_collection([(1, "a"), (2, "b"), (3, "a")])
    got = collect(ds.key_by(lambda r: r[0]).key_by(lambda r: r[1]).sum(0))
    assert sorted(got) == [(1, "a"), (2, "b"), (4, "a")]


def test_state_is_refused_on_unkeyed_streams(env):
    class NeedsState(MapFunction):
        def open(self, ctx):
            ctx.get_state(ValueStateDescriptor("n", Types.INT()))

        def map(self, v):
            return v

    with pytest.raises(UserFunctionError, match="keyed state is only available on a keyed stream"):
        collect(env.from_collection([1]).map(NeedsState()))


scalars = st.one_of(st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=False, width=16))


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(["sum", "min", "max", "min_by", "max_by"]), pos=st.integers(0, 3),
       a=st.lists(scalars, min_size=1, max_size=4), b=st.lists(scalars, min_size=1, max_size=4))
def test_the_tuple_shortcut_of_sum_min_max_agrees_with_the_general_fields(kind, pos, a, b):
    """sum/min/max/min_by/max_by read plain tuples directly: the same value (or the same
    error) as the general field access, NaN and short records included."""
    from nbstream.runtime.aggregations import _combine, accumulator

    def outcome(f):
        try:
            return ("value", repr(f(tuple(a), tuple(b))))
        except Exception as exc:  # noqa: BLE001 - the error is part of the outcome
            return ("error", type(exc))

    assert outcome(accumulator(kind, pos)) == outcome(_combine(kind, pos))
