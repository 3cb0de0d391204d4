"""Timestamps and watermarks: strategies, periodic and per-event emission, the minimum
over inputs, idleness, the final watermark, errors."""

from __future__ import annotations

import datetime

import pytest

from nbstream import (DataFrameSink, Duration, ManualClock, ProcessFunction, RuntimeExecutionMode,
                      Time, TumblingEventTimeWindows, UserFunctionError, WatermarkGenerator,
                      WatermarkStrategy)
from nbstream.runtime.records import MAX_TIMESTAMP, MIN_TIMESTAMP

from tests.conftest import collect
from tests.window_helpers import QueueSource, metric, wait_until


class SeeWatermark(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timestamp(), ctx.timer_service().current_watermark()


class PerElement(WatermarkGenerator):
    def on_event(self, event, event_timestamp, output):
        output.emit_watermark(event_timestamp)


def test_watermark_from_on_event_sits_right_after_its_record(make_env):
    """A generator emitting in on_event splits the batch: each record sees exactly the
    watermarks of the records before it (all four arrive in one batch)."""
    env = make_env(1)
    strategy = WatermarkStrategy.for_generator(PerElement).with_timestamp_assigner(lambda v, _: v)
    out = env.from_collection([0, 8, 4, 6]).assign_timestamps_and_watermarks(strategy)
    assert collect(out.process(SeeWatermark())) == [
        (0, 0, MIN_TIMESTAMP), (8, 8, 0), (4, 4, 8), (6, 6, 8)]


def test_periodic_watermarks_follow_processing_time(make_env):
    clock = ManualClock(0)
    env = make_env(1).set_processing_time_clock(clock)
    env.get_config().set_auto_watermark_interval(100)
    source = QueueSource()
    sink = DataFrameSink()
    (env.add_source(source)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(2))
            .with_timestamp_assigner(lambda v, _: v))
        .rebalance().process(SeeWatermark()).add_sink(sink))
    job = env.execute_async()
    try:
        source.push(10)
        source.push(20)
        wait_until(lambda: len(sink.rows()) == 2)
        assert [r[2] for r in sink.rows()] == [MIN_TIMESTAMP, MIN_TIMESTAMP]
        clock.advance(100)  # one interval: the generator emits max - bound - 1
        wait_until(lambda: metric(job, "Process", "watermark") == 17, what="watermark 17")
        source.push(5)
        wait_until(lambda: len(sink.rows()) == 3)
        assert sink.rows()[2] == (5, 5, 17)
        clock.advance(50)  # half an interval: nothing new
        source.push(30)
        wait_until(lambda: len(sink.rows()) == 4)
        assert sink.rows()[3] == (30, 30, 17)
        clock.advance(50)
        wait_until(lambda: metric(job, "Process", "watermark") == 27, what="watermark 27")
        source.end()
        job.result(10)
    finally:
        job.cancel()
        job.wait(10)
    assert job.metrics()[next(k for k in job.metrics() if "Process" in k)]["watermark"] \
        == MAX_TIMESTAMP


def test_interval_zero_turns_periodic_watermarks_off(make_env):
    env = make_env(1)
    env.get_config().set_auto_watermark_interval(0)
    data = list(range(0, 5000, 10))
    env.get_config().set_batch_size(7)
    out = (env.from_collection(data)
           .assign_timestamps_and_watermarks(
               WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: v))
           .process(SeeWatermark()))
    assert {r[2] for r in collect(out)} == {MIN_TIMESTAMP}


def test_watermark_is_the_minimum_over_inputs_and_idle_inputs_do_not_count(make_env):
    clock = ManualClock(0)
    env = make_env(1).set_processing_time_clock(clock)
    env.get_config().set_auto_watermark_interval(100)
    fast, slow = QueueSource(), QueueSource()
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(lambda v, _: v).with_idleness("250ms"))
    a = env.add_source(fast, "fast").assign_timestamps_and_watermarks(strategy).name("fast wm")
    b = env.add_source(slow, "slow").assign_timestamps_and_watermarks(strategy).name(
        "slow watermarks")
    sink = DataFrameSink()
    a.union(b).rebalance().process(SeeWatermark()).add_sink(sink)
    job = env.execute_async()
    watermark = lambda: metric(job, "Process", "watermark")  # noqa: E731
    try:
        fast.push(1000)
        slow.push(10)
        wait_until(lambda: len(sink.rows()) == 2)
        clock.advance(100)
        wait_until(lambda: watermark() == 9, what="the minimum of the two inputs")
        # the slow input falls silent while the fast one goes on: after 250 ms of
        # processing time it is idle and no longer holds the watermark back
        ts = 1000
        while watermark() == 9:
            assert ts < 3000, "the silent input was never marked idle"
            ts += 10
            fast.push(ts)
            wait_until(lambda: len(sink.rows()) == 2 + (ts - 1000) // 10)
            clock.advance(50)
        assert clock.now_ms() >= 250
        clock.advance(100)  # a full interval: every generator has emitted since
        wait_until(lambda: watermark() == ts - 1, what="the fast input's watermark")
        # the slow input comes back: from its next watermark on, it is the minimum again
        before = watermark()
        seen = len(sink.rows())
        slow.push(before + 500)
        wait_until(lambda: len(sink.rows()) == seen + 1)  # arrived before the clock moves
        clock.advance(100)
        wait_until(lambda: metric(job, "slow watermarks", "watermark") == before + 499,
                   what="the slow input's new watermark")
        assert watermark() == before  # the fast input is now the minimum
        fast.push(before + 10_000)
        wait_until(lambda: len(sink.rows()) == seen + 2)
        clock.advance(100)
        wait_until(lambda: watermark() == before + 499, what="the slow input counted again")
        fast.end()
        slow.end()
        job.result(10)
    finally:
        job.cancel()
        job.wait(10)


def test_no_watermarks_fires_only_at_the_end(make_env):
    env = make_env(2)
    strategy = WatermarkStrategy.no_watermarks().with_timestamp_assigner(lambda v, _: v)
    ds = env.from_collection(list(range(0, 100, 7))).assign_timestamps_and_watermarks(strategy)
    assert {r[2] for r in collect(ds.process(SeeWatermark()))} == {MIN_TIMESTAMP}
    ds = make_env(2).from_collection(list(range(0, 100, 7))).assign_timestamps_and_watermarks(strategy)
    rows = collect(ds.window_all(TumblingEventTimeWindows.of(50)).count())
    assert sorted(r["count"] for r in rows) == [7, 8]


def test_timestamp_assigner_forms(make_env):
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    events = [{"t": base + datetime.timedelta(seconds=s)} for s in (0, 1, 12)]
    ms = int(base.timestamp() * 1000)
    for assigner in (lambda e: e["t"], lambda e, ts: e["t"]):
        env = make_env(1)
        strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(assigner)
        out = env.from_collection(events).assign_timestamps_and_watermarks(strategy)
        assert [r[1] - ms for r in collect(out.process(SeeWatermark()))] == [0, 1000, 12000]


def test_source_timestamps_are_kept_without_an_assigner(make_env):
    import pandas as pd
    df = pd.DataFrame({"ts": [1, 2, 7, 12], "v": [1, 1, 1, 1]})
    env = make_env(2)
    ds = env.from_dataframe(df, timestamp_column="ts").assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps())
    rows = collect(ds.window_all(TumblingEventTimeWindows.of(Time.milliseconds(5))).sum("v"))
    assert sorted((r["window_start"], r["sum"]) for r in rows) == [(0, 2), (5, 1), (10, 1)]


def test_missing_timestamps_are_a_clear_error(make_env):
    env = make_env(1)
    ds = env.from_collection([1, 2]).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps())
    with pytest.raises(UserFunctionError, match="no timestamp.*with_timestamp_assigner"):
        collect(ds)
    env = make_env(1)
    ds = env.from_collection([1, 2]).key_by(lambda v: v).window(TumblingEventTimeWindows.of(5))
    with pytest.raises(UserFunctionError, match="assign_timestamps_and_watermarks"):
        collect(ds.count())


def test_assigner_errors_name_the_step_and_record(make_env):
    env = make_env(1)
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        lambda v, _: v["ts"])
    ds = env.from_collection([{"ts": 1}, {"t": 2}]).assign_timestamps_and_watermarks(strategy)
    with pytest.raises(UserFunctionError, match=r"Timestamps/Watermarks.*\{'t': 2\}.*KeyError"):
        collect(ds)


def test_batch_mode_has_no_watermarks_until_the_end(make_env):
    env = make_env(1).set_runtime_mode(RuntimeExecutionMode.BATCH)
    strategy = WatermarkStrategy.for_generator(PerElement).with_timestamp_assigner(lambda v, _: v)
    out = env.from_collection([0, 8, 4, 6]).assign_timestamps_and_watermarks(strategy)
    assert {r[2] for r in collect(out.process(SeeWatermark()))} == {MIN_TIMESTAMP}


def test_strategies_validate_their_arguments():
    with pytest.raises(ValueError):
        WatermarkStrategy.for_bounded_out_of_orderness(-1)
    with pytest.raises(ValueError):
        WatermarkStrategy.for_monotonous_timestamps().with_idleness(0)
    with pytest.raises(TypeError):
        WatermarkStrategy.for_generator(42)
    with pytest.raises(TypeError):
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner("ts")
