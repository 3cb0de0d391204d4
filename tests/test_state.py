"""Keyed state: the five kinds, scoping by key and namespace, merging, TTL (update type
and visibility as Flink, on a manual clock), and state in jobs."""

from __future__ import annotations

import pytest

from nbstream import (AggregateFunction, AggregatingStateDescriptor, DataFrameSink,
                      KeyedProcessFunction, ListStateDescriptor, ManualClock, MapFunction,
                      MapStateDescriptor, ReducingStateDescriptor, StateTtlConfig,
                      UserFunctionError, ValueStateDescriptor)
from nbstream.runtime.state import KeyedStateBackend

from tests.conftest import collect
from tests.window_helpers import QueueSource, wait_until


class Mean(AggregateFunction):
    def create_accumulator(self):
        return (0, 0)

    def add(self, value, acc):
        return acc[0] + value, acc[1] + 1

    def get_result(self, acc):
        return acc[0] / acc[1]

    def merge(self, a, b):
        return a[0] + b[0], a[1] + b[1]


def test_states_are_scoped_by_key_and_namespace():
    backend = KeyedStateBackend()
    value = backend.get(ValueStateDescriptor("v"))
    items = backend.get(ListStateDescriptor("l"))
    mapping = backend.get(MapStateDescriptor("m"))
    total = backend.get(ReducingStateDescriptor("r", lambda a, b: a + b))
    mean = backend.get(AggregatingStateDescriptor("a", Mean()))
    for key in ("x", "y"):
        backend.current_key = key
        value.update(key * 2)
        items.add(key)
        items.add_all([1, 2])
        mapping.put(key, 1)
        mapping[key + "!"] = 2
        total.add(3)
        total.add(4)
        mean.add(2)
        mean.add(4)
    backend.current_key = "x"
    assert value.value() == "xx" and items.get() == ["x", 1, 2]
    assert sorted(mapping.items()) == [("x", 1), ("x!", 2)] and "x!" in mapping
    assert total.get() == 7 and mean.get() == 3.0
    backend.namespace = "window-1"
    assert value.value() is None and items.get() == [] and mapping.is_empty()
    backend.namespace = None
    value.clear()
    items.update([])
    del mapping["x"]
    assert value.value() is None and items.get() == [] and mapping.keys() == ["x!"]
    backend.current_key = "y"
    assert value.value() == "yy"
    assert backend.get(ValueStateDescriptor("v")) is value
    with pytest.raises(TypeError, match="declared as value state"):
        backend.get(ListStateDescriptor("v"))


def test_merging_namespaces():
    backend = KeyedStateBackend()
    backend.current_key = "k"
    lists = ListStateDescriptor("l")
    sums = ReducingStateDescriptor("r", lambda a, b: a + b)
    means = AggregatingStateDescriptor("a", Mean())
    for ns, n in (("w1", 1), ("w2", 2), ("w3", 3)):
        backend.namespace = ns
        backend.get(lists).add(n)
        backend.get(sums).add(n)
        backend.get(means).add(n * 10)
    for d in (lists, sums, means):
        backend.merge_namespaces(d, "w1", ["w2", "w3"])
    backend.namespace = "w1"
    assert backend.get(lists).get() == [1, 2, 3]
    assert backend.get(sums).get() == 6
    assert backend.get(means).get() == 20.0
    backend.namespace = "w2"
    assert backend.get(lists).get() == [] and backend.get(sums).get() is None
    with pytest.raises(TypeError, match="cannot be merged"):
        backend.merge_namespaces(ValueStateDescriptor("v"), "w1", ["w2"])


def ttl(update, visibility, seconds=1):
    return (StateTtlConfig.new_builder(f"{seconds}s").set_update_type(update)
            .set_state_visibility(visibility).build())


U, V = StateTtlConfig.UpdateType, StateTtlConfig.StateVisibility


def ttl_backend(update, visibility, desc):
    clock = ManualClock(0)
    backend = KeyedStateBackend(clock.now_ms)
    backend.current_key = "k"
    desc.enable_time_to_live(ttl(update, visibility))
    return clock, backend.get(desc)


def test_ttl_on_create_and_write_never_return_expired():
    clock, state = ttl_backend(U.OnCreateAndWrite, V.NeverReturnExpired, ValueStateDescriptor("v"))
    state.update("a")
    clock.advance(999)
    assert state.value() == "a"  # reading does not extend the life
    clock.advance(1)
    assert state.value() is None


def test_ttl_on_read_and_write_extends_on_read():
    clock, state = ttl_backend(U.OnReadAndWrite, V.NeverReturnExpired, ValueStateDescriptor("v"))
    state.update("a")
    for _ in range(5):
        clock.advance(900)
        assert state.value() == "a"
    clock.advance(1000)
    assert state.value() is None


def test_ttl_return_expired_if_not_cleaned_up():
    clock, state = ttl_backend(U.OnCreateAndWrite, V.ReturnExpiredIfNotCleanedUp,
                               ValueStateDescriptor("v"))
    state.update("a")
    clock.advance(5000)
    assert state.value() == "a"  # expired but still there: returned once, then removed
    assert state.value() is None


def test_ttl_lists_and_maps_expire_per_entry():
    clock, items = ttl_backend(U.OnCreateAndWrite, V.NeverReturnExpired, ListStateDescriptor("l"))
    items.add(1)
    clock.advance(600)
    items.add_all([2, 3])
    clock.advance(600)
    assert items.get() == [2, 3]
    clock, mapping = ttl_backend(U.OnCreateAndWrite, V.NeverReturnExpired,
                                 MapStateDescriptor("m"))
    mapping.put("old", 1)
    clock.advance(600)
    mapping.put("new", 2)
    clock.advance(600)
    assert mapping.items() == [("new", 2)] and not mapping.contains("old")
    assert mapping.get("new") == 2 and mapping.values() == [2]
    clock.advance(600)
    assert mapping.is_empty()


def test_ttl_reducing_and_aggregating_restart_after_expiry():
    clock, total = ttl_backend(U.OnCreateAndWrite, V.NeverReturnExpired,
                               ReducingStateDescriptor("r", lambda a, b: a + b))
    total.add(5)
    total.add(5)
    clock.advance(999)
    total.add(1)  # a write renews the entry
    clock.advance(999)
    assert total.get() == 11
    clock.advance(1)
    total.add(2)
    assert total.get() == 2
    clock, mean = ttl_backend(U.OnCreateAndWrite, V.NeverReturnExpired,
                              AggregatingStateDescriptor("a", Mean()))
    mean.add(4)
    clock.advance(1000)
    mean.add(8)
    assert mean.get() == 8.0


class LastSeen(KeyedProcessFunction):
    def open(self, runtime_context):
        desc = ValueStateDescriptor("last")
        desc.enable_time_to_live(StateTtlConfig.new_builder("1s").build())
        self.last = runtime_context.get_state(desc)

    def process_element(self, value, ctx):
        yield value, self.last.value()
        self.last.update(value)


def test_ttl_in_a_job_follows_the_processing_time_clock(make_env):
    clock = ManualClock(0)
    env = make_env(2).set_processing_time_clock(clock)
    source = QueueSource()
    sink = DataFrameSink()
    env.add_source(source).key_by(lambda v: v[0]).process(LastSeen()).add_sink(sink)
    job = env.execute_async()
    try:
        source.push("a1")
        wait_until(lambda: len(sink.rows()) == 1)
        clock.advance(500)
        source.push("a2")
        wait_until(lambda: len(sink.rows()) == 2)
        clock.advance(1000)  # a2 was written 1000 ms ago: expired
        source.push("a3")
        wait_until(lambda: len(sink.rows()) == 3)
        source.end()
        job.result(10)
    finally:
        job.cancel()
        job.wait(10)
    assert sink.rows() == [("a1", None), ("a2", "a1"), ("a3", None)]


def test_state_needs_a_keyed_stream(make_env):
    class Stateful(MapFunction):
        def open(self, runtime_context):
            self.s = runtime_context.get_state(ValueStateDescriptor("s"))

        def map(self, value):
            return value

    with pytest.raises(UserFunctionError, match="key_by"):
        collect(make_env(1).from_collection([1]).map(Stateful()))


class InstanceCounter(MapFunction):
    """Counts records in an attribute: each parallel instance has its own copy."""

    def __init__(self):
        self.seen = 0

    def open(self, runtime_context):
        self.index = runtime_context.get_index_of_this_subtask()

    def map(self, value):
        self.seen += 1
        return self.index, self.seen


def test_each_parallel_instance_gets_its_own_function_object(make_env):
    fn = InstanceCounter()
    rows = collect(make_env(2).from_collection(list(range(10))).rebalance().map(fn))
    per_instance = {}
    for index, seen in rows:
        per_instance.setdefault(index, []).append(seen)
    assert sorted(per_instance) == [0, 1]
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in per_instance.values())
    assert fn.seen == 0  # the user's object is a template, as in Flink
