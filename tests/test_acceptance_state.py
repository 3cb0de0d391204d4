"""Flink's keyed state, timer and broadcast cases D4-D7, D9, D17
(shared/acceptance/pyflink_cases.md), in nbstream's API, at parallelism 1 and 2."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from nbstream import (AggregateFunction, AggregatingStateDescriptor, BroadcastProcessFunction,
                      FilterFunction, KeyedCoProcessFunction, KeyedProcessFunction,
                      ListStateDescriptor, MapStateDescriptor, OutputTag, ReducingStateDescriptor,
                      Row, StateTtlConfig, Time, Types, ValueStateDescriptor, WatermarkStrategy)
from nbstream.runtime.keygroups import subtask_for_key

from tests.conftest import collect
from tests.window_helpers import run_all

PARALLELISM = [1, 2]


def ttl_1s() -> StateTtlConfig:
    return (StateTtlConfig.new_builder(Time.seconds(1))
            .set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)
            .set_state_visibility(StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
            .disable_cleanup_in_background()
            .build())


class StatefulProcess(KeyedProcessFunction):
    def open(self, runtime_context):
        self.value_state = runtime_context.get_state(ValueStateDescriptor("value", Types.INT()))
        self.list_state = runtime_context.get_list_state(ListStateDescriptor("list", Types.INT()))
        desc = MapStateDescriptor("map", Types.INT(), Types.STRING())
        desc.enable_time_to_live(ttl_1s())
        self.map_state = runtime_context.get_map_state(desc)

    def process_element(self, value, ctx):
        mapping = ", ".join(f"{k}: {v}" for k, v in self.map_state.items())
        yield (f"current key: {ctx.get_current_key()}, "
               f"current value state: {self.value_state.value()}, "
               f"current list state: {self.list_state.get()}, "
               f"current map state: {{{mapping}}}, current value: {value}")
        self.value_state.update(value[0])
        self.list_state.add(value[0])
        self.map_state.put(value[0], value[1])


@pytest.mark.parametrize("p", PARALLELISM)
def test_d4_keyed_process_function_with_state(make_env, p):
    data = [(1, "hi", "1603708211000"), (2, "hello", "1603708224000"),
            (3, "hi", "1603708226000"), (4, "hello", "1603708289000"),
            (5, "hi", "1603708291000"), (6, "hello", "1603708293000")]
    row = Types.ROW_NAMED(["f0", "f1", "f2"], [Types.INT(), Types.STRING(), Types.STRING()])
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(lambda v, _: int(v[2])))
    out = (make_env(p).from_collection(data, type_info=row)
           .assign_timestamps_and_watermarks(strategy)
           .key_by(lambda v: v[1])
           .process(StatefulProcess()))
    expected = [
        "current key: hi, current value state: None, current list state: [], current map state: "
        "{}, current value: Row(f0=1, f1='hi', f2='1603708211000')",
        "current key: hello, current value state: None, current list state: [], current map "
        "state: {}, current value: Row(f0=2, f1='hello', f2='1603708224000')",
        "current key: hi, current value state: 1, current list state: [1], current map state: "
        "{1: hi}, current value: Row(f0=3, f1='hi', f2='1603708226000')",
        "current key: hello, current value state: 2, current list state: [2], current map state: "
        "{2: hello}, current value: Row(f0=4, f1='hello', f2='1603708289000')",
        "current key: hi, current value state: 3, current list state: [1, 3], current map state: "
        "{1: hi, 3: hi}, current value: Row(f0=5, f1='hi', f2='1603708291000')",
        "current key: hello, current value state: 4, current list state: [2, 4], current map "
        "state: {2: hello, 4: hello}, current value: Row(f0=6, f1='hello', f2='1603708293000')"]
    assert Counter(collect(out)) == Counter(expected)


class SumAggregate(AggregateFunction):
    def create_accumulator(self):
        return 0

    def add(self, value, accumulator):
        return accumulator + value

    def get_result(self, accumulator):
        return accumulator

    def merge(self, a, b):
        return a + b


class AddToState(KeyedProcessFunction):
    def __init__(self, aggregating: bool) -> None:
        self.aggregating = aggregating

    def open(self, runtime_context):
        if self.aggregating:
            desc = AggregatingStateDescriptor("sum", SumAggregate(), Types.INT())
            desc.enable_time_to_live(ttl_1s())
            self.state = runtime_context.get_aggregating_state(desc)
        else:
            self.state = runtime_context.get_reducing_state(
                ReducingStateDescriptor("sum", lambda a, b: a + b, Types.INT()))

    def process_element(self, value, ctx):
        self.state.add(value[0])
        yield self.state.get(), value[1]


@pytest.mark.parametrize("p", PARALLELISM)
@pytest.mark.parametrize("aggregating", [False, True], ids=["reducing", "aggregating"])
def test_d5_reducing_and_aggregating_state(make_env, p, aggregating):
    data = [(1, "hi"), (2, "hello"), (3, "hi"), (4, "hello"), (5, "hi"), (6, "hello")]
    out = make_env(p).from_collection(data).key_by(lambda v: v[1]).process(AddToState(aggregating))
    assert Counter(collect(out)) == Counter(
        [(1, "hi"), (2, "hello"), (4, "hi"), (6, "hello"), (9, "hi"), (12, "hello")])


class CountPerKeyWithTimer(KeyedCoProcessFunction):
    def open(self, runtime_context):
        self.timer_registered = False  # per parallel instance, not per key
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.INT()))

    def _count(self, value):
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        return [Row(value[0], n)]

    def process_element1(self, value, ctx):
        if not self.timer_registered:
            ctx.timer_service().register_event_time_timer(3)
            self.timer_registered = True
        return self._count(value)

    def process_element2(self, value, ctx):
        return self._count(value)

    def on_timer(self, timestamp, ctx):
        yield Row("on_timer", timestamp)


@pytest.mark.parametrize("p", PARALLELISM)
def test_d6_keyed_co_process(make_env, p):
    env = make_env(p)
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(lambda v, _: v[1]))
    ds1 = env.from_collection([("a", 1), ("b", 2), ("c", 3)]).assign_timestamps_and_watermarks(strategy)
    ds2 = env.from_collection([("b", 2), ("c", 3), ("d", 4)]).assign_timestamps_and_watermarks(strategy)
    out = (ds1.connect(ds2).key_by(lambda x: x[0], lambda x: x[0])
           .process(CountPerKeyWithTimer())
           .map(lambda x: Row(x[0], x[1] + 1)))
    # one timer per parallel instance that received an element of the first input
    instances = {subtask_for_key(k, env.get_max_parallelism(), p) for k in "abc"}
    expected = [Row("a", 2), Row("b", 2), Row("b", 3), Row("c", 2), Row("c", 3), Row("d", 2)]
    expected += [Row("on_timer", 4)] * len(instances)
    assert Counter(collect(out)) == Counter(expected)
    if p == 1:
        assert len(instances) == 1


class CacheUntilMapped(BroadcastProcessFunction):
    def __init__(self, descriptor):
        self.descriptor = descriptor
        self.cache = defaultdict(list)  # per parallel instance

    def process_element(self, value, ctx):
        state = ctx.get_broadcast_state(self.descriptor)
        key = value % 2
        if state.contains(key):
            for cached in self.cache.pop(key, []):
                yield state.get(key) + str(cached)
            yield state.get(key) + str(value)
        else:
            self.cache[key].append(value)

    def process_broadcast_element(self, value, ctx):
        key, name = value
        yield str(key) + name
        ctx.get_broadcast_state(self.descriptor).put(key, name)
        for cached in self.cache.pop(key, []):
            yield name + str(cached)


@pytest.mark.parametrize("p", PARALLELISM)
def test_d7_co_broadcast_process(make_env, p):
    env = make_env(p)
    desc = MapStateDescriptor("mapping", Types.INT(), Types.STRING())
    rules = env.from_collection([(0, "a"), (1, "b")]).broadcast(desc)
    out = env.from_collection([1, 2, 3, 4, 5], type_info=Types.INT()).connect(rules).process(
        CacheUntilMapped(desc))
    expected = ["0a", "1b"] * p + ["a2", "a4", "b1", "b3", "b5"]
    assert Counter(collect(out)) == Counter(expected)


class EmitAndSum(KeyedProcessFunction):
    def __init__(self, tag):
        self.tag = tag

    def open(self, runtime_context):
        self.total = runtime_context.get_reducing_state(
            ReducingStateDescriptor("total", lambda a, b: a + b))

    def process_element(self, value, ctx):
        yield value[1]
        self.total.add(value[1])
        yield self.tag, self.total.get()


@pytest.mark.parametrize("p", PARALLELISM)
def test_d9_keyed_process_side_output(make_env, p):
    env = make_env(p)
    tag = OutputTag("side", Types.INT())
    main = (env.from_collection([("a", 1), ("b", 2), ("a", 3), ("b", 4)])
            .key_by(lambda e: e[0]).process(EmitAndSum(tag)))
    main_rows, side_rows = run_all(env, main, main.get_side_output(tag))
    assert Counter(main_rows) == Counter([1, 2, 3, 4])
    assert Counter(side_rows) == Counter([1, 2, 4, 6])


class DropEverySecond(FilterFunction):
    def open(self, runtime_context):
        self.seen = runtime_context.get_state(ValueStateDescriptor("seen", Types.INT()))

    def filter(self, value):
        n = self.seen.value() or 0
        self.seen.update(n + 1)
        return n % 2 == 0


@pytest.mark.parametrize("p", PARALLELISM)
def test_d17_keyed_filter(make_env, p):
    row = Types.ROW([Types.STRING(), Types.INT()])
    data = [("a", 0), ("b", 0), ("c", 1), ("d", 1), ("e", 2)]
    out = (make_env(p).from_collection(data, type_info=row)
           .key_by(lambda v: v[1])
           .filter(DropEverySecond())
           .filter(lambda v: v[1] > 0))
    assert sorted(tuple(r) for r in collect(out)) == [("c", 1), ("e", 2)]
