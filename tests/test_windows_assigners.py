"""Window assigners: tumbling, sliding, session, global, count; event and processing
time; offsets; custom assigners."""

from __future__ import annotations

from collections import Counter

import pytest

from nbstream import (DataFrameSink, EventTimeSessionWindows, GlobalWindows, ManualClock,
                      ProcessingTimeSessionWindows, SlidingEventTimeWindows,
                      SlidingProcessingTimeWindows, Time, TimeWindow, TumblingEventTimeWindows,
                      TumblingProcessingTimeWindows, WatermarkStrategy, WindowAssigner)
from nbstream.runtime.windows import EventTimeTrigger

from tests.conftest import collect
from tests.window_helpers import QueueSource, metric, wait_until


def timed(env, values, parallelism=None):
    ds = env.from_collection(values).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: v[1]))
    return ds


def bounds(rows):
    return sorted((r.get("key"), r["window_start"], r["window_end"], r["count"]) for r in rows)


def test_tumbling_offsets_and_negative_timestamps(make_env):
    data = [("k", t) for t in (-12, -7, -1, 0, 2, 3, 12, 13)]
    rows = collect(timed(make_env(2), data).key_by(lambda v: v[0])
                   .window(TumblingEventTimeWindows.of(Time.milliseconds(10), Time.milliseconds(3)))
                   .count())
    assert bounds(rows) == [("k", -17, -7, 1), ("k", -7, 3, 4), ("k", 3, 13, 2), ("k", 13, 23, 1)]


def test_sliding_windows_with_offset(make_env):
    assigner = SlidingEventTimeWindows.of("10ms", "5ms", "2ms")
    assert assigner.assign_windows(None, 7, None) == [TimeWindow(7, 17), TimeWindow(2, 12)]
    rows = collect(timed(make_env(2), [("k", 7), ("k", 13)]).key_by(lambda v: v[0])
                   .window(assigner).count())
    assert bounds(rows) == [("k", 2, 12, 1), ("k", 7, 17, 2), ("k", 12, 22, 1)]


def test_assigner_parameters_are_checked():
    with pytest.raises(ValueError, match="abs\\(offset\\) < size"):
        TumblingEventTimeWindows.of(10, 10)
    with pytest.raises(ValueError):
        SlidingEventTimeWindows.of(10, 0)
    with pytest.raises(ValueError):
        EventTimeSessionWindows.with_gap(0)
    with pytest.raises(ValueError, match="duration"):
        TumblingEventTimeWindows.of("ten seconds")


def test_session_windows_merge_when_they_touch(make_env):
    # gap 5: [1,6) and [6,11) touch and merge; [20,25) stays alone
    data = [("k", 1), ("k", 6), ("k", 20)]
    rows = collect(timed(make_env(1), data).key_by(lambda v: v[0])
                   .window(EventTimeSessionWindows.with_gap(5)).count())
    assert bounds(rows) == [("k", 1, 11, 2), ("k", 20, 25, 1)]


def test_global_windows_never_fire_by_default(make_env):
    rows = collect(make_env(2).from_collection([1, 2, 3]).key_by(lambda v: v % 2)
                   .window(GlobalWindows.create()).count())
    assert rows == []


def test_count_window_all_and_keyed(make_env):
    rows = collect(make_env(2).from_collection(list(range(10))).count_window_all(4).sum())
    assert sorted(r["sum"] for r in rows) == [0 + 1 + 2 + 3, 4 + 5 + 6 + 7]
    assert all(r["window_start"] is None for r in rows)
    rows = collect(make_env(2).from_collection(list(range(10))).key_by(lambda v: v % 2)
                   .count_window(2).sum())
    assert Counter((r["key"], r["sum"]) for r in rows) == Counter(
        [(0, 2), (0, 10), (1, 4), (1, 12)])


class EvenOddWindows(WindowAssigner):
    """A custom assigner: even timestamps to [0, 100), odd ones to [100, 200)."""

    def assign_windows(self, element, timestamp, context):
        return [TimeWindow(0, 100) if timestamp % 2 == 0 else TimeWindow(100, 200)]

    def get_default_trigger(self, env):
        return EventTimeTrigger()

    def is_event_time(self):
        return True


def test_custom_assigner(make_env):
    rows = collect(timed(make_env(2), [("k", t) for t in (1, 2, 3, 5, 8)])
                   .key_by(lambda v: v[0]).window(EvenOddWindows()).count())
    assert bounds(rows) == [("k", 0, 100, 2), ("k", 100, 200, 3)]


def test_tumbling_processing_time_windows_on_a_manual_clock(make_env):
    clock = ManualClock(1_000)
    env = make_env(1).set_processing_time_clock(clock)
    source = QueueSource()
    sink = DataFrameSink()
    (env.add_source(source).key_by(lambda v: v)
        .window(TumblingProcessingTimeWindows.of(Time.seconds(1))).count().add_sink(sink))
    job = env.execute_async()
    try:
        for v in "aab":
            source.push(v)
        wait_until(lambda: metric(job, "Window", "records_in") == 3)
        assert sink.rows() == []
        clock.advance(998)  # 1998: the window [1000, 2000) is still open
        source.push("a")
        wait_until(lambda: metric(job, "Window", "records_in") == 4)
        assert sink.rows() == []
        clock.advance(1)  # 1999: its max timestamp is reached, it fires
        wait_until(lambda: len(sink.rows()) == 2)
        assert sorted(bounds(sink.rows())) == [("a", 1000, 2000, 3), ("b", 1000, 2000, 1)]
        clock.advance(1)
        source.push("b")  # now in [2000, 3000)
        wait_until(lambda: metric(job, "Window", "records_in") == 5)
        source.end()
        job.result(10)
    finally:
        job.cancel()
        job.wait(10)
    # processing-time windows still open at the end of the input do not fire (as Flink)
    assert len(sink.rows()) == 2


def test_sliding_and_session_processing_time_windows(make_env):
    for assigner, expected in [
        (SlidingProcessingTimeWindows.of(1000, 500),
         [("a", 500, 1500, 1), ("a", 1000, 2000, 2), ("a", 1500, 2500, 1)]),
        (ProcessingTimeSessionWindows.with_gap(400), [("a", 1000, 1400, 1), ("a", 1700, 2100, 1)]),
    ]:
        clock = ManualClock(1_000)
        env = make_env(1).set_processing_time_clock(clock)
        source = QueueSource()
        sink = DataFrameSink()
        env.add_source(source).key_by(lambda v: v).window(assigner).count().add_sink(sink)
        job = env.execute_async()
        try:
            source.push("a")
            wait_until(lambda: metric(job, "Window", "records_in") == 1)
            clock.advance(700)  # 1700
            source.push("a")
            wait_until(lambda: metric(job, "Window", "records_in") == 2)
            clock.advance(1_000)  # 2700: everything has ended
            wait_until(lambda: len(sink.rows()) == len(expected))
            assert bounds(sink.rows()) == expected
            source.end()
            job.result(10)
        finally:
            job.cancel()
            job.wait(10)


class Picky(EvenOddWindows):
    def assign_windows(self, element, timestamp, context):
        if element[0] == "bad":
            raise ValueError("cannot place it")
        return super().assign_windows(element, timestamp, context)


def test_assigner_errors_name_the_record(make_env):
    from nbstream import UserFunctionError

    ds = timed(make_env(1), [("k", 1), ("bad", 2), ("k", 3)]).key_by(lambda v: v[0])
    with pytest.raises(UserFunctionError, match=r"Window.*\('bad', 2\).*cannot place it"):
        collect(ds.window(Picky()).count())
