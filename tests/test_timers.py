"""Timers of keyed process functions: event time (fired by watermarks) and processing
time (on a manual clock), deletion, de-duplication, time domain, timestamps."""

from __future__ import annotations

import pytest

from nbstream import (DataFrameSink, KeyedProcessFunction, ManualClock, ProcessFunction,
                      TimeDomain, UserFunctionError, WatermarkStrategy)

from tests.conftest import collect
from tests.window_helpers import QueueSource, wait_until


class Alarms(KeyedProcessFunction):
    """Each record (key, ts) sets a timer at ts + 10 (twice: fires once), deletes one at
    ts + 5 it never wanted, and reports in on_timer."""

    def process_element(self, value, ctx):
        timers = ctx.timer_service()
        timers.register_event_time_timer(value[1] + 10)
        timers.register_event_time_timer(value[1] + 10)
        timers.register_event_time_timer(value[1] + 5)
        timers.delete_event_time_timer(value[1] + 5)
        return []

    def on_timer(self, timestamp, ctx):
        yield (ctx.get_current_key(), timestamp, ctx.timestamp(), ctx.time_domain(),
               ctx.timer_service().current_watermark() >= timestamp)


class Stamp(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp()


@pytest.mark.parametrize("p", [1, 2])
def test_event_time_timers(make_env, p):
    data = [("a", 5), ("b", 1), ("a", 30), ("b", 2)]
    out = (make_env(p).from_collection(data).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: v[1]))
        .key_by(lambda v: v[0]).process(Alarms()))
    rows = collect(out)
    assert sorted(rows) == sorted([("a", 15, 15, TimeDomain.EVENT_TIME, True),
                                   ("b", 11, 11, TimeDomain.EVENT_TIME, True),
                                   ("a", 40, 40, TimeDomain.EVENT_TIME, True),
                                   ("b", 12, 12, TimeDomain.EVENT_TIME, True)])
    per_key = {}
    for key, ts, *_ in rows:
        per_key.setdefault(key, []).append(ts)
    assert per_key == {"a": [15, 40], "b": [11, 12]}  # in timestamp order per key
    # timer outputs carry the timer's time as their timestamp
    stamped = collect(make_env(p).from_collection(data).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: v[1]))
        .key_by(lambda v: v[0]).process(Alarms()).process(Stamp()))
    assert sorted(ts for _, ts in stamped) == [11, 12, 15, 40]


class Reminder(KeyedProcessFunction):
    def process_element(self, value, ctx):
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().register_processing_time_timer(now + 100)
        if value == "cancel":
            ctx.timer_service().delete_processing_time_timer(now + 100)
        yield "seen", value, now

    def on_timer(self, timestamp, ctx):
        yield ("timer", ctx.get_current_key(), timestamp, ctx.time_domain(),
               ctx.timer_service().current_processing_time())


def test_processing_time_timers_on_a_manual_clock(make_env):
    clock = ManualClock(10_000)
    env = make_env(2).set_processing_time_clock(clock)
    source = QueueSource()
    sink = DataFrameSink()
    env.add_source(source).key_by(lambda v: v).process(Reminder()).add_sink(sink)
    job = env.execute_async()
    timers = lambda: [r for r in sink.rows() if r[0] == "timer"]  # noqa: E731
    try:
        source.push("x")
        source.push("cancel")
        wait_until(lambda: len(sink.rows()) == 2)
        clock.advance(99)
        source.push("y")  # at 10099: its timer is due at 10199
        wait_until(lambda: len(sink.rows()) == 3)
        assert timers() == []
        clock.advance(1)
        wait_until(lambda: len(timers()) == 1)
        assert timers() == [("timer", "x", 10100, TimeDomain.PROCESSING_TIME, 10100)]
        clock.advance(500)
        wait_until(lambda: len(timers()) == 2)
        assert timers()[1] == ("timer", "y", 10199, TimeDomain.PROCESSING_TIME, 10600)
        source.end()
        job.result(10)
    finally:
        job.cancel()
        job.wait(10)
    assert len(timers()) == 2  # the deleted one never fired


def test_timers_need_a_keyed_stream(make_env):
    class Timed(ProcessFunction):
        def process_element(self, value, ctx):
            ctx.timer_service().register_event_time_timer(5)
            return []

    with pytest.raises(UserFunctionError, match="key_by"):
        collect(make_env(1).from_collection([1]).process(Timed()))


def test_timer_errors_name_the_step(make_env):
    class Failing(KeyedProcessFunction):
        def process_element(self, value, ctx):
            ctx.timer_service().register_event_time_timer(1)
            return []

        def on_timer(self, timestamp, ctx):
            raise RuntimeError("timer broke")

    out = (make_env(1).from_collection([1]).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: v))
        .key_by(lambda v: v).process(Failing()))
    with pytest.raises(UserFunctionError, match="KeyedProcess.*on_timer.*timer at 1.*timer broke"):
        collect(out)
