"""Thread mode at high parallelism: set-up and end of input cost what the channels in use
cost, not p x p (DESIGN.md 8: "cost grows with the work, never with p squared").

Growth is asserted through counts (objects made, Python lines run), never timings:
``benchmarks/scaling.py --curves parallelism`` prints the time curve.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from typing import Any, Callable

import pytest

from nbstream import StreamExecutionEnvironment
from nbstream.runtime import partitioners
from nbstream.runtime.executors import channels
from nbstream.runtime.records import MAX_TIMESTAMP, Batch
from nbstream.runtime.task import InputWatermarks

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def _lines_run(fn: Callable[[], Any], module_file: str) -> int:
    """How many Python lines of ``module_file`` run (on this thread) while ``fn`` runs."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename == module_file else None

    sys.settrace(tracer)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def _keyed_job(parallelism: int, records: int = 2_000) -> Counter:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    out: Counter = Counter()
    lock = threading.Lock()

    def sink(t: Any) -> None:
        with lock:
            out[t] += 1

    (env.from_sequence(1, records).map(lambda i: (WORDS[i % 5], 1)).key_by(lambda t: t[0])
        .sum(1).add_sink(sink))
    env.execute(f"p{parallelism}")
    return out


def test_channel_objects_are_made_for_the_channels_in_use_only(monkeypatch):
    """At p=64 with five keys, each source task sends records to at most five receivers:
    credits and writers exist for those channels, not for all 4,096 (the end of input on
    a channel that carried nothing needs neither)."""
    expected = _keyed_job(1)
    made: Counter = Counter()
    for cls in (channels.Credits, channels._LocalWriter):
        init = cls.__init__

        def counting(self: Any, *args: Any, _init: Any = init, _name: str = cls.__name__,
                     **kwargs: Any) -> None:
            made[_name] += 1
            _init(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    p = 64
    assert _keyed_job(p) == expected  # the same rolling sums as at parallelism 1
    assert made["Credits"] <= 5 * p, made
    assert made["_LocalWriter"] <= 5 * p, made


@pytest.mark.parametrize("ending", ["end", "update"])
def test_the_input_watermark_costs_o_p_for_a_round_over_p_channels(ending):
    """Every channel ending (or advancing to the same watermark) once: the minimum is kept
    incrementally, not recomputed over p channels per message (that was O(p^2) per task and
    O(p^3) per job)."""
    def round_over(p: int) -> int:
        marks = InputWatermarks(p)

        def run() -> None:
            for ch in range(p):
                if ending == "end":
                    marks.end(ch)
                else:
                    marks.update(ch, 1_000)
            assert marks.current == (MAX_TIMESTAMP if ending == "end" else 1_000)
        return _lines_run(run, InputWatermarks.__init__.__code__.co_filename)

    small, large = round_over(64), round_over(1024)
    assert large <= 16 * small * 1.5, (small, large)  # 16x the channels: about 16x the lines


def test_the_input_watermark_is_the_minimum_over_active_channels():
    marks = InputWatermarks(3)
    assert marks.update(0, 10) is None and marks.update(1, 5) is None
    assert marks.update(2, 7) == 5
    assert marks.set_idle(1, True) == 7  # the idle channel no longer holds it back
    assert marks.update(1, 6) is None  # active again, below the combined mark: it never goes back
    assert marks.update(1, 12) is None and marks.update(2, 11) == 10
    assert marks.end(0) == 11 and marks.end(2) == 12
    assert marks.set_idle(1, True) == MAX_TIMESTAMP  # only ended channels are active
    assert not marks.all_idle()
    idle = InputWatermarks(2)
    assert idle.set_idle(0, True) is None and not idle.all_idle()
    assert idle.set_idle(1, True) is None and idle.all_idle()
    assert idle.update(1, 3) == 3 and not idle.all_idle()
    together = InputWatermarks(3)  # channels that carried nothing end together
    assert together.update(0, 5) is None
    assert together.end_all([1, 2]) == 5
    assert together.end(0) == MAX_TIMESTAMP
    assert InputWatermarks(2).end_all([0, 1]) == MAX_TIMESTAMP


@pytest.mark.parametrize("kind", ["hash", "rebalance"])
def test_routing_a_small_batch_costs_the_same_for_64_or_4096_receivers(kind):
    """A batch of ten records reaches at most ten channels: routing it builds no list
    (and visits no channel) per receiver."""
    def route_over(n: int) -> int:
        if kind == "hash":
            part: Any = partitioners.Hash(n, lambda v: v, 32768, "key_by", "<lambda>")
        else:
            part = partitioners.RoundRobin(n, start=3)
        batch = Batch(list(range(10)), list(range(10)))
        routed: list = []
        lines = _lines_run(lambda: routed.extend(part.route(batch)),
                           partitioners.__file__)
        assert sorted(v for _, b in routed for v in b.values) == list(range(10))
        assert all(b.timestamps == b.values for _, b in routed)
        return lines

    small, large = route_over(64), route_over(4096)
    assert large <= small * 1.5, (small, large)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_high_parallelism_results_equal_parallelism_one(mode):
    """A keyed job with a rebalance and a hash edge at p=32 (3 in process mode) gives the
    final sums of p=1, each key's rolling sums rising in steps of its own records."""
    def job(p: int, mode: str) -> dict:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_execution_mode(mode)
        env.set_parallelism(p)
        rolling: dict = {}
        for key, total in (env.from_sequence(1, 3_000).rebalance().map(lambda i: (i % 7, i))
                           .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
                           .execute_and_collect()):
            rolling.setdefault(key, []).append(total)
        assert all(len(v) == 3_000 // 7 + (k in range(1, 3_000 % 7 + 1)) for k, v in rolling.items())
        return {k: max(v) for k, v in rolling.items()}

    p = 32 if mode == "thread" else 3
    assert job(p, mode) == job(1, "thread")


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_loop_ends_when_a_head_got_nothing_but_the_end(mode):
    """A loop's head whose only input channel carried nothing still ends: its feedback
    channels (open until the loop drains) do not hold back the end of its input."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.set_parallelism(2)
    it = env.from_collection([(1, 0)]).iterate(max_wait_time_ms=100)
    body = it.map(lambda t: (t[0], t[1] + 1))
    it.close_with(body.filter(lambda t: t[1] < 3))
    assert list(body.filter(lambda t: t[1] >= 3).execute_and_collect()) == [(1, 3)]
