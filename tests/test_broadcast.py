"""Broadcast state: every instance sees every rule; keyed broadcast functions with
keyed state, timers and apply_to_keyed_state; read-only data side."""

from __future__ import annotations

from collections import Counter

import pytest

from nbstream import (BroadcastProcessFunction, KeyedBroadcastProcessFunction,
                      MapStateDescriptor, PlanError, UserFunctionError, ValueStateDescriptor,
                      WatermarkStrategy)

from tests.conftest import collect

THRESHOLDS = MapStateDescriptor("thresholds")


class Alerts(KeyedBroadcastProcessFunction):
    """Counts readings per sensor; alerts over the broadcast threshold; a rule for a
    sensor resets that sensor's count; reports at the end of event time (a timer)."""

    def open(self, runtime_context):
        self.count = runtime_context.get_state(ValueStateDescriptor("count"))

    def process_element(self, value, ctx):
        sensor, reading = value
        self.count.update((self.count.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(1_000)
        limit = ctx.get_broadcast_state(THRESHOLDS).get(sensor)
        if limit is not None and reading > limit:
            yield "alert", ctx.get_current_key(), reading

    def process_broadcast_element(self, value, ctx):
        sensor, limit = value
        ctx.get_broadcast_state(THRESHOLDS).put(sensor, limit)

        def reset(key, state):
            if key == sensor:
                state.clear()

        ctx.apply_to_keyed_state(ValueStateDescriptor("count"), reset)
        return []

    def on_timer(self, timestamp, ctx):
        yield "count", ctx.get_current_key(), self.count.value()


@pytest.mark.parametrize("p", [1, 2])
def test_keyed_broadcast(make_env, p):
    env = make_env(p)
    env.get_config().set_batch_size(1)
    # one source for both sides, one record per batch: at parallelism 1 everything
    # arrives in this order (readings, rules, readings)
    events = env.from_collection([("r", ("s1", 5)), ("r", ("s2", 9)), ("b", ("s1", 3)),
                                  ("b", ("s2", 10)), ("r", ("s1", 4)), ("r", ("s2", 11)),
                                  ("r", ("s2", 1))])
    events = events.assign_timestamps_and_watermarks(
        WatermarkStrategy.no_watermarks().with_timestamp_assigner(lambda e, _: 0))
    rules = events.filter(lambda e: e[0] == "b").map(lambda e: e[1]).broadcast(THRESHOLDS)
    readings = events.filter(lambda e: e[0] == "r").map(lambda e: e[1])
    if p == 1:
        out = readings.key_by(lambda r: r[0]).connect(rules).process(Alerts())
        assert Counter(collect(out)) == Counter([
            ("alert", "s1", 4), ("alert", "s2", 11), ("count", "s1", 1), ("count", "s2", 2)])
    else:  # arrival order across tasks is free: check what does not depend on it
        out = readings.key_by(lambda r: r[0]).connect(rules).process(Alerts())
        rows = collect(out)
        assert {r[1] for r in rows if r[0] == "count"} == {"s1", "s2"}
        assert all(r[2] > {"s1": 3, "s2": 10}[r[1]] for r in rows if r[0] == "alert")


class Writer(BroadcastProcessFunction):
    def process_element(self, value, ctx):
        ctx.get_broadcast_state(THRESHOLDS).put("x", 1)
        return []

    def process_broadcast_element(self, value, ctx):
        return []


def test_data_side_is_read_only(make_env):
    env = make_env(1)
    rules = env.from_collection([1]).broadcast(THRESHOLDS)
    out = env.from_collection([1]).connect(rules).process(Writer())
    with pytest.raises(UserFunctionError, match="read-only"):
        collect(out)


def test_function_kind_must_match_the_stream(make_env):
    env = make_env(1)
    rules = env.from_collection([1]).broadcast(THRESHOLDS)
    with pytest.raises(PlanError, match="KeyedBroadcastProcessFunction"):
        env.from_collection([1]).key_by(lambda v: v).connect(rules).process(Writer())
    with pytest.raises(PlanError, match="BroadcastProcessFunction"):
        env.from_collection([1]).connect(rules).process(Alerts())
    with pytest.raises(PlanError, match="MapStateDescriptor"):
        env.from_collection([1]).broadcast(ValueStateDescriptor("v"))
