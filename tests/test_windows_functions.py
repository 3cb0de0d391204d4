"""Window functions: the exploration conveniences and their row contract,
ProcessWindowFunction's context (watermark, window and global state, clear), errors."""

from __future__ import annotations

import dataclasses
import statistics
from collections import namedtuple

import pytest

from nbstream import (AggregateFunction, EventTimeSessionWindows, PlanError,
                      ProcessWindowFunction, ReduceFunction, Row, TumblingEventTimeWindows,
                      Types, UserFunctionError, ValueStateDescriptor, WatermarkGenerator,
                      WatermarkStrategy)

from tests.conftest import collect


def timed(env, values, ts=lambda v: v["ts"]):
    return env.from_collection(values).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: ts(v)))


EVENTS = [{"page": "a", "ts": 100, "ms": 10}, {"page": "b", "ts": 200, "ms": 5},
          {"page": "a", "ts": 900, "ms": 30}, {"page": "a", "ts": 1500, "ms": 7}]


@pytest.mark.parametrize("p", [1, 2])
def test_summary_rows_follow_the_contract(make_env, p):
    windowed = lambda: timed(make_env(p), EVENTS).key_by("page").window(  # noqa: E731
        TumblingEventTimeWindows.of("1s"))
    rows = sorted(collect(windowed().count()), key=lambda r: (r["key"], r["window_start"]))
    assert rows == [{"key": "a", "window_start": 0, "window_end": 1000, "count": 2},
                    {"key": "a", "window_start": 1000, "window_end": 2000, "count": 1},
                    {"key": "b", "window_start": 0, "window_end": 1000, "count": 1}]
    assert all(list(r) == ["key", "window_start", "window_end", "count"] for r in rows)
    for method, expected in [("sum", 40), ("mean", 20.0), ("min", 10), ("max", 30)]:
        rows = collect(getattr(windowed(), method)("ms"))
        row = next(r for r in rows if r["key"] == "a" and r["window_start"] == 0)
        assert list(row) == ["key", "window_start", "window_end", method]
        assert row[method] == expected
    rows = collect(windowed().agg(n="count", total=("ms", "sum"), first=("ms", "first"),
                                  last=("ms", "last"), median=("ms", statistics.median)))
    row = next(r for r in rows if r["key"] == "a" and r["window_start"] == 0)
    assert row == {"key": "a", "window_start": 0, "window_end": 1000, "n": 2, "total": 40,
                   "first": 10, "last": 30, "median": 20}


def test_window_all_rows_have_no_key(make_env):
    rows = collect(timed(make_env(2), EVENTS).window_all(TumblingEventTimeWindows.of("1s"))
                   .agg(views="count", busiest=("ms", "max")))
    assert sorted(rows, key=lambda r: r["window_start"]) == [
        {"window_start": 0, "window_end": 1000, "views": 3, "busiest": 30},
        {"window_start": 1000, "window_end": 2000, "views": 1, "busiest": 7}]


Click = namedtuple("Click", "page ts ms")


@dataclasses.dataclass
class Visit:
    page: str
    ts: int
    ms: int


@pytest.mark.parametrize("records, field", [
    ([(e["page"], e["ts"], e["ms"]) for e in EVENTS], 2),
    ([Click(e["page"], e["ts"], e["ms"]) for e in EVENTS], "ms"),
    ([Visit(e["page"], e["ts"], e["ms"]) for e in EVENTS], "ms"),
], ids=["tuple", "namedtuple", "dataclass"])
def test_fields_by_position_or_name(make_env, records, field):
    ts = (lambda v: v[1]) if isinstance(records[0], tuple) else (lambda v: v.ts)
    rows = collect(timed(make_env(1), records, ts).window_all(
        TumblingEventTimeWindows.of("1s")).sum(field))
    assert sorted(r["sum"] for r in rows) == [7, 45]


def test_named_rows_and_plain_values(make_env):
    row_type = Types.ROW_NAMED(["page", "ts", "ms"], [Types.STRING(), Types.LONG(), Types.INT()])
    env = make_env(1)
    ds = env.from_collection([(e["page"], e["ts"], e["ms"]) for e in EVENTS], type_info=row_type)
    ds = ds.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda v, _: v.ts))
    rows = collect(ds.window_all(TumblingEventTimeWindows.of("1s")).mean("ms"))
    assert sorted(r["mean"] for r in rows) == [7.0, 15.0]
    rows = collect(timed(make_env(1), [1, 2, 3, 10], ts=lambda v: v)
                   .window_all(TumblingEventTimeWindows.of(5)).sum())
    assert sorted(r["sum"] for r in rows) == [6, 10]


def test_summaries_merge_in_session_windows(make_env):
    data = [("u", 1, 10), ("u", 3, 20), ("u", 2, 30), ("u", 50, 1)]
    rows = collect(timed(make_env(1), data, lambda v: v[1]).key_by(0)
                   .window(EventTimeSessionWindows.with_gap(5))
                   .agg(n="count", avg=(2, "mean"), low=(2, "min"), high=(2, "max")))
    assert rows == [{"key": "u", "window_start": 1, "window_end": 8, "n": 3, "avg": 20.0,
                     "low": 10, "high": 30},
                    {"key": "u", "window_start": 50, "window_end": 55, "n": 1, "avg": 1.0,
                     "low": 1, "high": 1}]


def test_summary_arguments_are_checked(make_env):
    windowed = timed(make_env(1), EVENTS).window_all(TumblingEventTimeWindows.of("1s"))
    with pytest.raises(PlanError, match="'key'"):
        windowed.agg(key="count")
    with pytest.raises(ValueError, match="unknown function 'median'"):
        windowed.agg(m=("ms", "median"))
    with pytest.raises(ValueError, match="needs a field"):
        windowed.agg(total="sum")
    with pytest.raises(PlanError):
        windowed.agg()


class PerElement(WatermarkGenerator):
    def on_event(self, event, event_timestamp, output):
        output.emit_watermark(event_timestamp)


class Firings(ProcessWindowFunction):
    """Counts firings per window (window state) and per key (global state)."""

    def open(self, runtime_context):
        self.desc = ValueStateDescriptor("firings")
        self.cleared = []

    def process(self, key, context: ProcessWindowFunction.Context, elements):
        assert isinstance(context, ProcessWindowFunction.Context)
        per_window = context.window_state().get_state(self.desc)
        per_key = context.global_state().get_state(self.desc)
        per_window.update((per_window.value() or 0) + 1)
        per_key.update((per_key.value() or 0) + 1)
        yield (context.window().start, len(elements), per_window.value(), per_key.value(),
               context.current_watermark())

    def clear(self, context):
        context.window_state().get_state(self.desc).clear()


def test_process_window_context_and_state(make_env):
    env = make_env(1)
    strategy = WatermarkStrategy.for_generator(PerElement).with_timestamp_assigner(lambda v, _: v)
    out = (env.from_collection([1, 3, 12, 4, 25, 13])
           .assign_timestamps_and_watermarks(strategy).key_by(lambda v: "k")
           .window(TumblingEventTimeWindows.of(10)).allowed_lateness(100)
           .process(Firings()))
    assert collect(out) == [
        (0, 2, 1, 1, 12),   # [0,10) fires when the watermark reaches 12
        (0, 3, 2, 2, 12),   # the late 4 fires it again: 2nd firing of this window
        (10, 1, 1, 3, 25),  # [10,20) at 25: first firing of its own, 3rd of the key
        (10, 2, 2, 4, 25),  # the late 13
        (20, 1, 1, 5, 2**63 - 1)]


def test_window_state_is_refused_for_merging_windows(make_env):
    out = (timed(make_env(1), [1, 2], ts=lambda v: v).key_by(lambda v: 0)
           .window(EventTimeSessionWindows.with_gap(5)).process(Firings()))
    with pytest.raises(UserFunctionError, match="not available with merging windows"):
        collect(out)


class Boom(ProcessWindowFunction):
    def process(self, key, context, elements):
        raise ValueError("boom")


def test_errors_name_the_step_function_and_window(make_env):
    out = (timed(make_env(1), EVENTS).key_by("page").window(TumblingEventTimeWindows.of("1s"))
           .process(Boom()))
    with pytest.raises(UserFunctionError) as info:
        collect(out)
    message = str(info.value)
    assert "Window(TumblingEventTimeWindows" in message and "Boom" in message
    assert "TimeWindow(start=0, end=1000)" in message and "ValueError: boom" in message
    out = (timed(make_env(1), EVENTS).key_by("page").window(TumblingEventTimeWindows.of("1s"))
           .process(lambda key, ctx, items: None))
    with pytest.raises(UserFunctionError, match="returned None"):
        collect(out)


class NoMerge(AggregateFunction):
    def create_accumulator(self):
        return 0

    def add(self, value, acc):
        return acc + 1

    def get_result(self, acc):
        return acc


def test_session_aggregate_needs_merge(make_env):
    # 5 bridges the sessions of 1 and 10: their two accumulators must merge
    out = (timed(make_env(1), [1, 10, 5], ts=lambda v: v).key_by(lambda v: 0)
           .window(EventTimeSessionWindows.with_gap(5)).aggregate(NoMerge()))
    with pytest.raises(UserFunctionError, match="merge"):
        collect(out)


class Concat(ReduceFunction):
    def open(self, runtime_context):
        self.sep = runtime_context.get_job_parameter("sep", "+")

    def reduce(self, a, b):
        return a + self.sep + b


def test_reduce_function_class_is_opened(make_env):
    env = make_env(1)
    env.get_config().set_global_job_parameters({"sep": "|"})
    out = (timed(env, [("x", 1), ("y", 2), ("z", 7)], ts=lambda v: v[1])
           .map(lambda v: v[0]).window_all(TumblingEventTimeWindows.of(5)).reduce(Concat()))
    assert collect(out) == ["x|y", "z"]


def test_window_results_are_rows_when_typed(make_env):
    row = Types.ROW_NAMED(["n"], [Types.INT()])
    out = (timed(make_env(1), [1, 2], ts=lambda v: v).window_all(TumblingEventTimeWindows.of(5))
           .apply(lambda window, items: [(len(items),)], output_type=row))
    assert collect(out) == [Row(n=2)]
