"""Feedback loops: results, no deadlock under backpressure, termination, event time."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from nbstream import PlanError, TumblingEventTimeWindows, WatermarkStrategy

from tests.conftest import collect


def collatz_steps(n: int) -> int:
    steps = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


@pytest.mark.parametrize("p", [1, 2])
def test_collatz_loop(make_env, p):
    env = make_env(p)
    start = list(range(1, 60))
    loop = env.from_collection([(n, n, 0) for n in start]).iterate(max_wait_time_ms=150)
    step = loop.map(lambda t: (t[0], t[1] // 2 if t[1] % 2 == 0 else 3 * t[1] + 1, t[2] + 1)
                    if t[1] != 1 else t)
    loop.close_with(step.filter(lambda t: t[1] != 1))
    done = step.filter(lambda t: t[1] == 1)
    assert sorted((n, steps) for n, _, steps in collect(done)) == \
        sorted((n, collatz_steps(n)) for n in start)


def test_many_records_circulating_do_not_deadlock(make_env):
    """Tiny channels and batches, records going round 20 times: the feedback channel
    never blocks, so the loop cannot wait on itself."""
    env = make_env(2)
    env.get_config().set_batch_size(1).set_channel_capacity(1)
    loop = env.from_collection(list(range(400))).iterate(max_wait_time_ms=300)
    body = loop.map(lambda v: v + 1000).rebalance().map(lambda v: v)
    loop.close_with(body.filter(lambda v: v < 20_000).map(lambda v: v))
    out = body.filter(lambda v: v >= 20_000)
    started = time.monotonic()
    rows = collect(out)
    assert Counter(rows) == Counter(v + 20_000 for v in range(400))
    assert time.monotonic() - started < 60


def test_loop_ends_after_the_wait_time(make_env):
    env = make_env(1)
    loop = env.from_collection([1, 2, 3]).iterate(max_wait_time_ms="200ms")
    loop.close_with(loop.filter(lambda v: False))
    started = time.monotonic()
    assert sorted(collect(loop.map(lambda v: v))) == [1, 2, 3]
    assert time.monotonic() - started >= 0.2


def test_event_time_windows_after_a_loop_see_every_record(make_env):
    """The final watermark waits for the loop to end, so windows downstream count the
    records that went round the loop too."""
    env = make_env(2)
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        lambda v, _: v[1])
    events = env.from_collection([("a", 1, 3), ("b", 7, 1), ("a", 12, 2)])
    loop = events.assign_timestamps_and_watermarks(strategy).iterate(max_wait_time_ms=150)
    body = loop.map(lambda e: (e[0], e[1], e[2] - 1))
    loop.close_with(body.filter(lambda e: e[2] > 0))
    rows = collect(body.key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of(10)).count())
    assert sorted((r["key"], r["window_start"], r["count"]) for r in rows) == [
        ("a", 0, 3), ("a", 10, 2), ("b", 0, 1)]


def test_iteration_errors(make_env):
    env = make_env(2)
    loop = env.from_collection([1]).iterate()
    body = loop.map(lambda v: v)
    loop.close_with(body)
    with pytest.raises(PlanError, match="already closed"):
        loop.close_with(body)
    env = make_env(2)
    loop = env.from_collection([1]).iterate()
    loop.close_with(loop.map(lambda v: v).set_parallelism(1))
    loop.map(lambda v: v).print()
    with pytest.raises(PlanError, match="feedback"):
        env.execute()
