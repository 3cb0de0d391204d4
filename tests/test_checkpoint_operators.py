"""Every operator checkpointed: interval joins, broadcast state, async I/O and columnar
windows recover exactly once, and resume at another parallelism.

Each test compares a run that fails with a run that does not: in thread mode a step
raises once, on the first record past a point seen after a checkpoint has completed
(so the restore has state to take back); in process mode a worker is killed (SIGKILL)
once two checkpoints have completed. Results go through the exactly-once collect sink
and must equal the run without failure, as multisets.
"""

from __future__ import annotations

import asyncio
import glob
import os
import time
from collections import Counter
from typing import Any, Callable, List, Optional, Tuple

import pyarrow as pa
import pytest

from nbstream import (CheckpointingMode, Duration, EventTimeSessionWindows, JobStatus,
                      KeyedBroadcastProcessFunction,
                      MapStateDescriptor, ProcessJoinFunction, RestartStrategies,
                      StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkStrategy)
from nbstream.api.async_io import AsyncDataStream, AsyncFunction
from tests.workers import kill_a_worker_of


# -- the harness ---------------------------------------------------------------------------------

class FailAfterCheckpoint:
    """A step that takes ``delay_s`` per call and raises once: on the first call whose
    ``index(value)`` is at least ``at`` once a checkpoint of the job has completed.
    "Once" is a marker file, so it holds across restarts and worker processes."""

    def __init__(self, folder: str, at: Optional[int], index: Callable[[Any], int],
                 delay_s: float = 0.0003) -> None:
        self.folder, self.at, self.index, self.delay_s = folder, at, index, delay_s

    def __call__(self, value: Any) -> Any:
        time.sleep(self.delay_s)
        if self.at is not None and self.index(value) >= self.at:
            marker = os.path.join(self.folder, "failed")
            if not os.path.exists(marker) and glob.glob(os.path.join(self.folder, "*", "chk-*")):
                open(marker, "w").close()
                raise RuntimeError(f"injected failure at {self.index(value)}")
        return value


def plain_env(parallelism: int) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_parallelism(parallelism)
    return env


def checkpointed_env(mode: str, parallelism: int, folder: str,
                     restarts: int = 3) -> StreamExecutionEnvironment:
    env = plain_env(parallelism)
    env.set_execution_mode(mode)
    env.enable_checkpointing(20, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir(folder)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(restarts, 0))
    return env


Build = Callable[[StreamExecutionEnvironment, FailAfterCheckpoint], Any]


def expected(build: Build, parallelism: int) -> Counter:
    no_failure = FailAfterCheckpoint("/nonexistent", None, int, delay_s=0)
    return Counter(as_rows(build(plain_env(parallelism), no_failure).execute_and_collect()))


def as_rows(results: Any) -> List[Any]:
    return [tuple(r.values()) if isinstance(r, dict) else r for r in results]


def recovered(build: Build, mode: str, parallelism: int, tmp_path: Any, at: int) -> Tuple[Counter, Any]:
    """Run ``build`` with checkpoints: in thread mode a step fails once at ``at``, in
    process mode a worker is killed once two checkpoints have completed."""

    folder = str(tmp_path / "checkpoints")
    os.makedirs(folder, exist_ok=True)
    env = checkpointed_env(mode, parallelism, folder)
    kill = mode == "process"
    it = build(env, FailAfterCheckpoint(folder, None if kill else at, FailAfterCheckpoint.index_of))
    it = it.execute_and_collect()
    got, victim = [], None
    for record in it:
        got.append(record)
        if kill and victim is None and it.job.checkpoint_info().get("completed", 0) >= 2:
            victim = kill_a_worker_of(it.job)
    job = it.job
    assert job.status is JobStatus.FINISHED, job.error
    assert job.restarts == 1, (job.restarts, job.last_failure)
    assert ("SIGKILL" if kill else "injected failure") in job.last_failure
    return Counter(as_rows(got)), job


def stop_with_savepoint_after(it: Any, checkpoints: int, path: str) -> Tuple[List[Any], str]:
    """Stop the job of ``it`` with a savepoint to ``path`` once ``checkpoints`` have
    completed, reading its results meanwhile: (the results, the savepoint's path)."""
    import threading

    saved: List[str] = []

    def stop() -> None:
        deadline = time.monotonic() + 60
        while it.job.checkpoint_info().get("completed", 0) < checkpoints:
            if it.job.done or time.monotonic() > deadline:
                return
            time.sleep(0.005)
        saved.append(it.job.stop_with_savepoint(path))

    stopper = threading.Thread(target=stop)
    stopper.start()
    results = list(it)
    stopper.join(60)
    assert saved, f"the job ended before {checkpoints} checkpoints completed"
    return results, saved[0]


def _index(value: Any) -> int:
    if isinstance(value, pa.RecordBatch):
        return int(max(value.column("i").to_pylist()))
    return value[-1] if isinstance(value, tuple) else value


FailAfterCheckpoint.index_of = staticmethod(_index)  # type: ignore[attr-defined]


def bounded(ms: int, field: int = 2) -> WatermarkStrategy:
    return (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(ms))
            .with_timestamp_assigner(lambda e, _: e[field]))


# -- interval join ---------------------------------------------------------------------------------

N_JOIN = 2400
LEFT = [(f"k{i % 5}", i, 2 * i, i) for i in range(N_JOIN)]
RIGHT = [(f"k{(i * 3) % 5}", -i, 2 * i + 1, i) for i in range(N_JOIN)]


class Pairs(ProcessJoinFunction):
    def process_element(self, left, right, ctx):
        yield left[3], right[3], ctx.get_timestamp()


def interval_join(env: StreamExecutionEnvironment, fail: FailAfterCheckpoint) -> Any:
    left = env.from_collection(LEFT).set_parallelism(1).assign_timestamps_and_watermarks(
        bounded(3)).map(fail).set_parallelism(1).key_by(lambda e: e[0])
    right = env.from_collection(RIGHT).set_parallelism(1).assign_timestamps_and_watermarks(
        bounded(3)).key_by(lambda e: e[0])
    return left.interval_join(right).between(Duration.of_millis(-6), Duration.of_millis(6)) \
        .process(Pairs()).uid("pairs")


# -- broadcast state -------------------------------------------------------------------------------

RULES = MapStateDescriptor("rules")
N_BROADCAST = 2400
READINGS = [(f"s{i % 7}", i % 50, 2 * i, i) for i in range(N_BROADCAST)]
# a new factor every 100 ms of event time: each reading takes the newest one not after it
VERSIONS = [(t, t // 100 + 2, t) for t in range(0, 2 * N_BROADCAST, 100)]


class Scale(KeyedBroadcastProcessFunction):
    """Readings wait for the watermark (an event-time timer) and are then scaled by the
    rule version of their time: the rules' watermark is part of the operator's, so every
    version up to a reading's time has come in by then, whatever the interleaving."""

    def open(self, ctx):
        self.waiting = ctx.get_map_state(MapStateDescriptor("waiting"))

    def process_element(self, value, ctx):
        self.waiting.put(value[3], value)
        ctx.timer_service().register_event_time_timer(value[2])
        return []

    def process_broadcast_element(self, value, ctx):
        ctx.get_broadcast_state(RULES).put(value[0], value[1])
        return []

    def on_timer(self, ts, ctx):
        rules = ctx.get_broadcast_state(RULES)
        for i, e in sorted(self.waiting.items()):
            if e[2] <= ts:
                version = max(v for v in rules.keys() if v <= e[2])
                yield e[0], i, e[1] * rules.get(version)
                self.waiting.remove(i)


def broadcast(env: StreamExecutionEnvironment, fail: FailAfterCheckpoint) -> Any:
    rules = env.from_collection(VERSIONS).set_parallelism(1) \
        .assign_timestamps_and_watermarks(bounded(3)).broadcast(RULES)
    readings = env.from_collection(READINGS).set_parallelism(1) \
        .assign_timestamps_and_watermarks(bounded(3)).map(fail).set_parallelism(1)
    return readings.key_by(lambda e: e[0]).connect(rules).process(Scale()).uid("scale")


# -- async I/O --------------------------------------------------------------------------------------

N_ASYNC = 1500


class SlowLookup(AsyncFunction):
    """An awaited lookup of 2-8 ms: tens of calls are in flight at any barrier."""

    async def async_invoke(self, value):
        await asyncio.sleep(0.002 + (value % 7) * 0.001)
        return [(value, value * value % 1009)]


def async_io(ordered: bool) -> Build:
    def build(env: StreamExecutionEnvironment, fail: FailAfterCheckpoint) -> Any:
        numbers = env.from_collection(list(range(N_ASYNC))).set_parallelism(1).map(fail) \
            .set_parallelism(1)
        wait = AsyncDataStream.ordered_wait if ordered else AsyncDataStream.unordered_wait
        return wait(numbers, SlowLookup(), Duration.of_seconds(20), 30).uid("lookup")
    return build


# -- columnar windows ---------------------------------------------------------------------------------

N_COLUMNAR = 3000
TABLE = pa.table({"k": [f"k{i * 7 % 11}" for i in range(N_COLUMNAR)],
                  "ts": [i for i in range(N_COLUMNAR)],
                  "v": [i % 13 for i in range(N_COLUMNAR)],
                  "i": list(range(N_COLUMNAR))})


def columnar(phase: str) -> Build:
    """``phase`` "partial": pre-aggregated before the shuffle, then merged ("final");
    "whole": allowed lateness, so every row is seen after the shuffle; "sessions": session
    windows (a key's rows come every 11 ms, a gap of 20 keeps each key's session open
    until the data ends)."""
    def build(env: StreamExecutionEnvironment, fail: FailAfterCheckpoint) -> Any:
        stream = env.from_arrow(TABLE, timestamp_column="ts", batch_rows=20).set_parallelism(1) \
            .assign_timestamps_and_watermarks(WatermarkStrategy.for_bounded_out_of_orderness(5)) \
            .map_batches(lambda rb: fail(rb), format="arrow")
        if phase == "sessions":
            return stream.key_by("k").window(EventTimeSessionWindows.with_gap(20)) \
                .agg(n="count", s=("v", "sum"), lo=("v", "min"))
        windowed = stream.key_by("k").window(TumblingEventTimeWindows.of(50))
        if phase == "whole":
            windowed = windowed.allowed_lateness(20)
        return windowed.agg(n="count", s=("v", "sum"), hi=("v", "max"), m=("v", "mean"))
    return build


OPERATORS = {"interval join": interval_join, "broadcast": broadcast,
             "async ordered": async_io(True), "async unordered": async_io(False),
             "columnar partial/final": columnar("partial"), "columnar whole": columnar("whole"),
             "columnar sessions": columnar("sessions")}
AT = {"interval join": N_JOIN // 2, "broadcast": N_BROADCAST // 2, "async ordered": N_ASYNC // 2,
      "async unordered": N_ASYNC // 2, "columnar partial/final": N_COLUMNAR // 2,
      "columnar whole": N_COLUMNAR // 2, "columnar sessions": N_COLUMNAR // 2}


@pytest.mark.parametrize("name", list(OPERATORS))
def test_thread_mode_recovers_exactly_once_from_a_failing_step(tmp_path, name):
    build = OPERATORS[name]
    got, job = recovered(build, "thread", 2, tmp_path, AT[name])
    assert got == expected(build, 2)
    if name.startswith("async"):  # the restored queue's calls were issued again
        lookup = next(m for step, m in job.metrics().items() if "AsyncWait" in step)
        assert lookup["async_reissued"] > 0


@pytest.mark.parametrize("name", ["interval join", "broadcast", "async ordered",
                                  "columnar partial/final"])
def test_process_mode_recovers_exactly_once_from_a_killed_worker(tmp_path, name):
    build = OPERATORS[name]
    got, _ = recovered(build, "process", 2, tmp_path, AT[name])
    assert got == expected(build, 2)


@pytest.mark.parametrize("name", list(OPERATORS))
def test_a_savepoint_resumes_at_another_parallelism(tmp_path, name):
    """Stopped with a savepoint at parallelism 2, resumed at 3: what the first run
    committed and what the second adds are the whole answer, once. Keyed buffers and
    window partials go to the instance that owns their key, each instance gets a copy of
    the broadcast state, the async queue's records are dealt out."""
    build = OPERATORS[name]
    folder = str(tmp_path / "checkpoints")
    slow = FailAfterCheckpoint(folder, None, int, delay_s=0.002)
    it = build(checkpointed_env("thread", 2, folder), slow).execute_and_collect()
    first, path = stop_with_savepoint_after(it, 2, str(tmp_path / "savepoint"))
    env = checkpointed_env("thread", 3, folder)
    env.configure({"execution.savepoint.path": path})
    fast = FailAfterCheckpoint(folder, None, int, delay_s=0)
    second = list(build(env, fast).execute_and_collect(job_execution_name="resumed"))
    assert second, "the savepoint fell at the end"  # (session windows fire only there)
    assert Counter(as_rows(first)) + Counter(as_rows(second)) == expected(build, 2)
