"""Window joins, co-groups and interval joins, against plain-Python references."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from nbstream import (CoGroupFunction, FlatJoinFunction, JoinFunction, PlanError,
                      ProcessJoinFunction, SlidingEventTimeWindows, TumblingEventTimeWindows,
                      WatermarkGenerator, WatermarkStrategy)

from tests.conftest import collect
from tests.window_helpers import result_metric, run_job

rng = random.Random(3)
LEFT = [(rng.choice("abc"), rng.randrange(100), i) for i in range(40)]
RIGHT = [(rng.choice("abcd"), rng.randrange(100), i) for i in range(30)]


def timed(env, data):
    return env.from_collection(data).assign_timestamps_and_watermarks(
        WatermarkStrategy.no_watermarks().with_timestamp_assigner(lambda e, _: e[1]))


class Pair(JoinFunction):
    def join(self, first, second):
        return first[2], second[2]


def window_join_reference(size, slide=None):
    slide = slide or size
    out = Counter()
    for a in LEFT:
        for b in RIGHT:
            if a[0] != b[0]:
                continue
            for start in range(a[1] - a[1] % slide, a[1] - size, -slide):
                if start <= b[1] < start + size:
                    out[(a[2], b[2])] += 1
    return out


@pytest.mark.parametrize("p", [1, 2])
def test_window_join(make_env, p):
    env = make_env(p)
    out = (timed(env, LEFT).join(timed(env, RIGHT)).where(lambda e: e[0]).equal_to(lambda e: e[0])
           .window(TumblingEventTimeWindows.of(20)).apply(Pair()))
    assert Counter(collect(out)) == window_join_reference(20)
    env = make_env(p)
    out = (timed(env, LEFT).join(timed(env, RIGHT)).where(0).equal_to(0)
           .window(SlidingEventTimeWindows.of(20, 10)).apply(lambda a, b: (a[2], b[2])))
    assert Counter(collect(out)) == window_join_reference(20, 10)


class Repeat(FlatJoinFunction):
    def join(self, first, second):
        for _ in range(2):
            yield first[2], second[2]


def test_flat_join(make_env):
    env = make_env(2)
    out = (timed(env, LEFT).join(timed(env, RIGHT)).where(0).equal_to(0)
           .window(TumblingEventTimeWindows.of(20)).apply(Repeat()))
    expected = window_join_reference(20)
    assert Counter(collect(out)) == Counter({k: 2 * v for k, v in expected.items()})


class Sizes(CoGroupFunction):
    def co_group(self, first, second):
        keys = {e[0] for e in list(first) + list(second)}
        yield keys.pop(), len(first), len(second)


def test_co_group_sees_keys_of_either_side(make_env):
    env = make_env(2)
    out = (timed(env, LEFT).co_group(timed(env, RIGHT)).where(0).equal_to(0)
           .window(TumblingEventTimeWindows.of(50)).apply(Sizes()))
    expected = Counter()
    groups = {}
    for side, data in ((0, LEFT), (1, RIGHT)):
        for e in data:
            groups.setdefault((e[0], e[1] // 50), [0, 0])[side] += 1
    for (key, _), (n1, n2) in groups.items():
        expected[(key, n1, n2)] += 1
    assert Counter(collect(out)) == expected
    assert any(n1 == 0 for _, n1, _ in expected)  # groups with only a second side exist


class Within(ProcessJoinFunction):
    def process_element(self, left, right, ctx):
        yield left[2], right[2], ctx.get_left_timestamp(), ctx.get_right_timestamp(), \
            ctx.get_timestamp()


def interval_reference(lower, upper):
    return Counter((a[2], b[2], a[1], b[1], max(a[1], b[1]))
                   for a in LEFT for b in RIGHT
                   if a[0] == b[0] and a[1] + lower <= b[1] <= a[1] + upper)


@pytest.mark.parametrize("p", [1, 2])
def test_interval_join(make_env, p):
    env = make_env(p)
    left = timed(env, LEFT).key_by(lambda e: e[0])
    right = timed(env, RIGHT).key_by(lambda e: e[0])
    out = left.interval_join(right).between(-3, 5).process(Within())
    assert Counter(collect(out)) == interval_reference(-3, 5)
    env = make_env(p)
    left = timed(env, LEFT).key_by(lambda e: e[0])
    right = timed(env, RIGHT).key_by(lambda e: e[0])
    out = (left.interval_join(right).between(-3, 5).lower_bound_exclusive()
           .upper_bound_exclusive().process(Within()))
    assert Counter(collect(out)) == interval_reference(-2, 4)


class PerElement(WatermarkGenerator):
    def on_event(self, event, event_timestamp, output):
        output.emit_watermark(event_timestamp)


def test_interval_join_late_records_are_dropped_and_counted(make_env):
    # both sides come from one source (one watermark sequence, one order of arrival)
    env = make_env(1)
    strategy = (WatermarkStrategy.for_generator(PerElement)
                .with_timestamp_assigner(lambda e, _: e[2]))
    events = env.from_collection([("L", "k", 10), ("R", "k", 12), ("L", "k", 50),
                                  ("R", "k", 52), ("L", "k", 20), ("R", "k", 11)])
    events = events.assign_timestamps_and_watermarks(strategy)
    left = events.filter(lambda e: e[0] == "L").key_by(lambda e: e[1])
    right = events.filter(lambda e: e[0] == "R").key_by(lambda e: e[1])
    out = left.interval_join(right).between(0, 5).process(lambda a, b, ctx: [(a[2], b[2])])
    (rows,), result = run_job(env, out)
    assert Counter(rows) == Counter([(10, 12), (50, 52)])
    assert result_metric(result, "IntervalJoin", "late_records_dropped") == 2


def test_join_arguments_are_checked(make_env):
    env = make_env(1)
    a, b = timed(env, LEFT), timed(env, RIGHT)
    with pytest.raises(PlanError, match="keyed streams"):
        a.key_by(0).interval_join(b)
    with pytest.raises(PlanError, match="lower bound"):
        a.key_by(0).interval_join(b.key_by(0)).between(5, 1)
    with pytest.raises(PlanError, match="where"):
        a.join(b).equal_to(0)
    with pytest.raises(PlanError, match="equal_to"):
        a.join(b).where(0).window(TumblingEventTimeWindows.of(5))
