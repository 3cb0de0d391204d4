"""Properties (hypothesis): window results do not depend on parallelism and equal a
plain-Python reference; bounded disorder within the out-of-orderness bound changes
nothing; late records are counted and none is lost when a late-data tag is set."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Dict, List, Tuple

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nbstream import (EventTimeSessionWindows, OutputTag, SlidingEventTimeWindows,
                      TumblingEventTimeWindows, WatermarkGenerator, WatermarkStrategy)

from tests.window_helpers import result_metric, run_job

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

events = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 300), st.integers(-5, 50)),
                  min_size=0, max_size=60)
windows = st.one_of(
    st.tuples(st.just("tumbling"), st.sampled_from([7, 10, 50]), st.just(0)),
    st.tuples(st.just("sliding"), st.sampled_from([10, 30]), st.sampled_from([5, 10])),
    st.tuples(st.just("session"), st.sampled_from([3, 20]), st.just(0)),
)


def assigner(kind: str, a: int, b: int) -> Any:
    if kind == "tumbling":
        return TumblingEventTimeWindows.of(a)
    if kind == "sliding":
        return SlidingEventTimeWindows.of(a, b)
    return EventTimeSessionWindows.with_gap(a)


def reference(data: List[Tuple[str, int, int]], kind: str, a: int, b: int) -> Counter:
    """(key, start, end, count, sum) of every window, computed directly."""
    out: Counter = Counter()
    per_key: Dict[str, List[Tuple[int, int]]] = defaultdict(list)
    for k, ts, v in data:
        per_key[k].append((ts, v))
    for k, items in per_key.items():
        groups: Dict[Tuple[int, int], List[int]] = defaultdict(list)
        if kind == "session":
            start = end = None
            members: List[int] = []
            for ts, v in sorted(items):
                if start is not None and ts <= end:
                    end = max(end, ts + a)
                    members.append(v)
                    continue
                if start is not None:
                    groups[(start, end)] = members
                start, end, members = ts, ts + a, [v]
            if start is not None:
                groups[(start, end)] = members
        else:
            size, slide = a, (a if kind == "tumbling" else b)
            for ts, v in items:
                first = ts - ts % slide
                for s in range(first, ts - size, -slide):
                    groups[(s, s + size)].append(v)
        for (s, e), vals in groups.items():
            out[(k, s, e, len(vals), sum(vals))] += 1
    return out


def windowed_rows(env: Any, data: Any, win: Any, strategy: Any) -> Any:
    return (env.from_collection(data).assign_timestamps_and_watermarks(strategy)
            .key_by(lambda e: e[0]).window(assigner(*win)).agg(n="count", total=(2, "sum")))


def as_counter(rows: List[Dict[str, Any]]) -> Counter:
    return Counter((r["key"], r["window_start"], r["window_end"], r["n"], r["total"]) for r in rows)


@SETTINGS
@given(data=events, win=windows)
def test_results_equal_the_reference_at_every_parallelism(make_env, data, win):
    strategy = WatermarkStrategy.no_watermarks().with_timestamp_assigner(lambda e, _: e[1])
    expected = reference(data, *win)
    for p in (1, 2, 4):
        env = make_env(p)
        (rows,), _ = run_job(env, windowed_rows(env, data, win, strategy))
        assert as_counter(rows) == expected, f"parallelism {p}"


class EagerBounded(WatermarkGenerator):
    """Bounded out-of-orderness that emits after every event (so the watermark really
    moves while the data flows)."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.high = None

    def on_event(self, event, event_timestamp, output):
        if self.high is None or event_timestamp > self.high:
            self.high = event_timestamp
            output.emit_watermark(self.high - self.bound - 1)


@st.composite
def disordered(draw):
    """Events whose timestamps are at most ``bound`` below the highest seen so far."""
    bound = draw(st.integers(0, 20))
    n = draw(st.integers(0, 50))
    base = 0
    out = []
    for _ in range(n):
        base += draw(st.integers(0, 8))
        ts = base + draw(st.integers(0, bound))
        out.append((draw(st.sampled_from("abc")), ts, draw(st.integers(0, 9))))
    return bound, out


@SETTINGS
@given(case=disordered(), win=windows, p=st.sampled_from([1, 2]))
def test_disorder_within_the_bound_gives_the_sorted_results(make_env, case, win, p):
    bound, data = case
    if win[0] == "session":
        # sessions merge when they touch: a session [s, e) fires at watermark e - 1, so a
        # record at exactly e that arrives after it (disorder == bound) starts a new one,
        # in Flink as here (see test_a_fired_session_does_not_merge_with_a_touching_record)
        bound += 1
    strategy = (WatermarkStrategy.for_generator(lambda: EagerBounded(bound))
                .with_timestamp_assigner(lambda e, _: e[1]))
    env = make_env(p)
    (shuffled,), result = run_job(env, windowed_rows(env, data, win, strategy))
    env = make_env(p)
    (ordered,), _ = run_job(env, windowed_rows(env, sorted(data, key=lambda e: e[1]), win,
                                               strategy))
    assert as_counter(shuffled) == as_counter(ordered) == reference(data, *win)
    assert result_metric(result, "Window", "late_records") == 0


@SETTINGS
@given(data=events, size=st.sampled_from([5, 20]), lateness=st.sampled_from([0, 7]),
       tagged=st.booleans(), p=st.sampled_from([1, 2]))
# on the boundary: 5's window [5,10) ends (max timestamp 9) exactly at the watermark 9
@example(data=[("a", 10, 1), ("a", 5, 2), ("b", 9, 3)], size=5, lateness=0, tagged=True, p=1)
@example(data=[("a", 17, 1), ("a", 5, 2), ("a", 3, 3)], size=5, lateness=7, tagged=False, p=2)
def test_late_records_are_counted_and_never_lost_with_a_tag(make_env, data, size, lateness,
                                                            tagged, p):
    strategy = (WatermarkStrategy.for_generator(lambda: EagerBounded(0))
                .with_timestamp_assigner(lambda e, _: e[1]))
    env = make_env(p)
    late = OutputTag("late")
    windowed = (env.from_collection(data).assign_timestamps_and_watermarks(strategy)
                .key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of(size))
                .allowed_lateness(lateness))
    if tagged:
        windowed = windowed.side_output_late_data(late)
    main = windowed.process(lambda key, ctx, items: [(key, ctx.window().start, tuple(items))])
    streams = [main, main.get_side_output(late)] if tagged else [main]
    rows, result = run_job(env, *streams)
    # the reference: the watermark after each record is the highest timestamp - 1; a
    # record is late when its window ended (plus lateness) at or before the watermark
    wm = -(2**63)
    expected_late = []
    for e in data:
        end = e[1] - e[1] % size + size
        if end - 1 + lateness <= wm:
            expected_late.append(e)
        wm = max(wm, e[1] - 1)
    assert result_metric(result, "Window", "late_records") == len(expected_late)
    dropped = result_metric(result, "Window", "late_records_dropped")
    assert dropped == (0 if tagged else len(expected_late))
    if tagged:
        assert Counter(rows[1]) == Counter(expected_late)
    # every on-time record is in the last firing of its window
    last: Dict[Tuple[str, int], Tuple[Any, ...]] = {}
    for key, start, items in rows[0]:
        last[(key, start)] = items
    in_windows = Counter(e for items in last.values() for e in items)
    assert in_windows + Counter(expected_late) == Counter(data)


def test_a_fired_session_does_not_merge_with_a_touching_record(make_env):
    """b@3 moves the watermark to 2, which ends a's session [0, 3): it fires and is
    cleaned up. a@3 is on time, but its session [3, 6) has nothing left to merge with
    (Flink's WindowOperator behaves the same)."""
    strategy = (WatermarkStrategy.for_generator(lambda: EagerBounded(0))
                .with_timestamp_assigner(lambda e, _: e[1]))
    data = [("a", 0, 1), ("b", 3, 1), ("a", 3, 1)]
    env = make_env(1)
    (rows,), _ = run_job(env, windowed_rows(env, data, ("session", 3, 0), strategy))
    assert as_counter(rows) == Counter([("a", 0, 3, 1, 1), ("a", 3, 6, 1, 1), ("b", 3, 6, 1, 1)])
