"""Allowed lateness, late firing, late-data side output and the late-record metrics."""

from __future__ import annotations

import pytest

from nbstream import (EventTimeSessionWindows, OutputTag, SlidingEventTimeWindows,
                      TumblingEventTimeWindows, WatermarkGenerator, WatermarkStrategy)

from tests.window_helpers import result_metric, run_job


class PerElement(WatermarkGenerator):
    def on_event(self, event, event_timestamp, output):
        output.emit_watermark(event_timestamp)


def per_element(env, values):
    strategy = (WatermarkStrategy.for_generator(PerElement)
                .with_timestamp_assigner(lambda v, _: v[1]))
    return env.from_collection(values).assign_timestamps_and_watermarks(strategy)


DATA = [("k", 1), ("k", 3), ("k", 12), ("k", 4), ("k", 16), ("k", 5)]


@pytest.mark.parametrize("p", [1, 2])
def test_late_records_within_the_lateness_fire_the_window_again(make_env, p):
    env = make_env(p)
    late = OutputTag("late")
    out = (per_element(env, DATA).key_by(lambda v: v[0])
           .window(TumblingEventTimeWindows.of(10)).allowed_lateness(5)
           .side_output_late_data(late).count())
    (main, side), result = run_job(env, out, out.get_side_output(late))
    # 12 fires [0,10) with 2; 4 is late but within 5 ms: fires again with 3; at 16 the
    # window is gone (9 + 5 <= 16), so 5 is late for good
    assert [(r["window_start"], r["count"]) for r in main] == [(0, 2), (0, 3), (10, 2)]
    assert side == [("k", 5)]
    assert result_metric(result, "Window", "late_records") == 1
    assert result_metric(result, "Window", "late_records_dropped") == 0


@pytest.mark.parametrize("p", [1, 2])
def test_late_records_without_a_tag_are_dropped_and_counted(make_env, p):
    env = make_env(p)
    out = (per_element(env, DATA).key_by(lambda v: v[0])
           .window(TumblingEventTimeWindows.of(10)).count())
    (main,), result = run_job(env, out)
    # no lateness: 4 and 5 are late once the watermark is at 12
    assert [(r["window_start"], r["count"]) for r in main] == [(0, 2), (10, 2)]
    assert result_metric(result, "Window", "late_records") == 2
    assert result_metric(result, "Window", "late_records_dropped") == 2


def test_lateness_with_sliding_and_session_windows(make_env):
    env = make_env(1)
    late = OutputTag("late")
    out = (per_element(env, DATA + [("k", 2)]).key_by(lambda v: v[0])
           .window(SlidingEventTimeWindows.of(10, 5)).allowed_lateness(4)
           .side_output_late_data(late).count())
    (main, side), _ = run_job(env, out, out.get_side_output(late))
    # at 12, [-5,5) and [0,10) fire; 4 is too late for [-5,5) (4 + 4 <= 12) but not for
    # [0,10) (9 + 4 > 12), which fires again; so does [5,15) for 5 after 16; 2 comes after
    # both of its windows are gone
    assert [(r["window_start"], r["count"]) for r in main] == [
        (-5, 2), (0, 2), (0, 3), (5, 1), (5, 2), (10, 2), (15, 1)]
    assert side == [("k", 2)]
    env = make_env(1)
    out = (per_element(env, [("k", 1), ("k", 3), ("k", 20), ("k", 2), ("k", 30), ("k", 2)])
           .key_by(lambda v: v[0]).window(EventTimeSessionWindows.with_gap(5))
           .allowed_lateness(15).side_output_late_data(late).count())
    (main, side), _ = run_job(env, out, out.get_side_output(late))
    # the session [1,8) fires at 20, is updated by the late 2 (7 + 15 > 20), and is gone by 30
    assert [(r["window_start"], r["window_end"], r["count"]) for r in main] == [
        (1, 8, 2), (1, 8, 3), (20, 25, 1), (30, 35, 1)]
    assert side == [("k", 2)]
