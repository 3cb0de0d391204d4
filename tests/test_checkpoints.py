"""Checkpoints and recovery: a job that fails and restarts from its last checkpoint gives
the same results as one that never failed (exactly-once), in every execution mode.

Failures are injected by a step that raises once at a chosen record; "once" is a marker
file, so it holds across restarts and across worker processes.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import (CheckpointingMode, Duration, EventTimeSessionWindows, JobStatus,
                      KeyedProcessFunction, RestartStrategies, SlidingEventTimeWindows,
                      StreamExecutionEnvironment, TumblingEventTimeWindows, ValueStateDescriptor,
                      WatermarkStrategy, CheckpointError, Types)
from nbstream.runtime.checkpoint_storage import latest_checkpoint, read_checkpoint
from tests.workers import kill_a_worker_of

EXAMPLES = int(os.environ.get("NBSTREAM_EXAMPLES", "40")) // 5 or 1
SETTINGS = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


class FailOnce:
    """A map step: slow enough that checkpoints complete during the job, and raising
    once when it sees record number ``at`` (counted per marker file)."""

    def __init__(self, marker: str, at: int, delay_s: float = 0.0003) -> None:
        self.marker, self.at, self.delay_s = marker, at, delay_s

    def __call__(self, event):
        time.sleep(self.delay_s)
        if event[3] == self.at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError(f"injected failure at record {self.at}")
        return event


class CountWithTimer(KeyedProcessFunction):
    """Keyed state and event-time timers: counts per key, emits the count 5 ms after
    each record's time."""

    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count", Types.INT()))

    def process_element(self, value, ctx):
        self.count.update((self.count.value() or 0) + 1)
        ctx.timer_service().register_event_time_timer(value[2] + 5)
        yield value[0], self.count.value()

    def on_timer(self, ts, ctx):
        yield (ctx.get_current_key(), ts)


def events(n: int, keys: int, seed: int, disorder: int = 7):
    """(key, value, timestamp, index): timestamps mostly rising, some ``disorder`` ms
    behind (late, beyond the watermark's 3 ms bound, when more than 3)."""
    out = []
    for i in range(n):
        ts = i * 2 - (disorder * ((i * 31 + seed) % 5 == 0))
        out.append((f"k{(i * 11 + seed) % keys}", (i * 13 + seed) % 100, max(ts, 0), i))
    return out


def pipeline(env, data, shape, marker=None, at=-1):
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(3))
                .with_timestamp_assigner(lambda e, ts: e[2]))
    # keyed all the way: every key's records keep their order at any parallelism, so
    # the results of a run without failure are deterministic
    ds = env.from_collection(data).assign_timestamps_and_watermarks(strategy)
    ds = ds.key_by(lambda e: e[0]).map(FailOnce(marker or "/nonexistent/never", at))
    keyed = ds.key_by(lambda e: e[0])
    if shape == "reduce":
        out = keyed.map(lambda e: (e[0], e[1])).key_by(lambda t: t[0]) \
            .reduce(lambda a, b: (a[0], a[1] + b[1]))
    elif shape == "tumbling":
        out = keyed.window(TumblingEventTimeWindows.of(Duration.of_millis(20))) \
            .allowed_lateness(4).reduce(lambda a, b: (a[0], a[1] + b[1], max(a[2], b[2]), 0))
    elif shape == "sliding":
        out = keyed.window(SlidingEventTimeWindows.of(Duration.of_millis(30), Duration.of_millis(10))) \
            .reduce(lambda a, b: (a[0], a[1] + b[1], max(a[2], b[2]), 0))
    elif shape == "session":
        out = keyed.window(EventTimeSessionWindows.with_gap(Duration.of_millis(6))) \
            .reduce(lambda a, b: (a[0], a[1] + b[1], max(a[2], b[2]), 0))
    elif shape == "join":  # a window join with a second source (both replayed)
        other = env.from_collection(data[::3]).assign_timestamps_and_watermarks(strategy)
        out = ds.join(other).where(lambda e: e[0]).equal_to(lambda e: e[0]) \
            .window(TumblingEventTimeWindows.of(Duration.of_millis(20))) \
            .apply(lambda left, right: (left[3], right[3]))
    else:
        out = keyed.process(CountWithTimer())
    return out


def run(mode, parallelism, data, shape, tmp_path, at=-1, interval=20, restarts=3):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    env.enable_checkpointing(interval, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(restarts, 0))
    marker = str(tmp_path / f"failed-{time.monotonic_ns()}")
    it = pipeline(env, data, shape, marker, at).execute_and_collect()
    results = list(it)
    return results, it.job


def plain(parallelism, data, shape):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_parallelism(parallelism)
    return list(pipeline(env, data, shape).execute_and_collect())


SHAPES = ["reduce", "tumbling", "sliding", "session", "process", "join"]


@pytest.mark.parametrize("shape", SHAPES)
@given(seed=st.integers(0, 1000), at=st.integers(100, 1100), parallelism=st.sampled_from([1, 2]))
@SETTINGS
def test_thread_mode_recovers_exactly_once(tmp_path, shape, seed, at, parallelism):
    # late records are late whatever the interleaving of channels only at parallelism 1
    data = events(1200, 5, seed, disorder=7 if parallelism == 1 and shape != "join" else 2)
    expected = Counter(plain(parallelism, data, shape))
    got, job = run("thread", parallelism, data, shape, tmp_path, at=at)
    assert job.status is JobStatus.FINISHED
    assert job.restarts == 1 and "injected failure" in job.last_failure
    assert Counter(got) == expected


def test_a_job_restarts_from_a_completed_checkpoint_not_from_the_start(tmp_path):
    data = events(3000, 4, 1)
    got, job = run("thread", 1, data, "reduce", tmp_path, at=2500)
    info = job.checkpoint_info()
    assert info["restarts"] == 1 and info["completed"] >= 2
    assert info["sources_after_restore"] == {
        "Source: Collection Source": "replayed from its position (exactly once)"}
    assert Counter(got) == Counter(plain(1, data, "reduce"))
    # the restored source resumed at its checkpointed position: its position ends at the
    # number of records, while the last attempt emitted only those after the checkpoint
    source = next(m for name, m in job.metrics().items() if "Collection" in name)
    assert source["records_in"] == len(data)
    assert 0 < source["records_out"] < len(data)


def test_without_restarts_left_the_job_fails_with_the_last_error(tmp_path):
    data = events(600, 3, 2)

    class AlwaysFails:
        def __call__(self, e):
            if e[3] == 300:
                raise ValueError("always at 300")
            return e

    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    job = env.from_collection(data).map(AlwaysFails()).add_sink(lambda v: None) \
        and env.execute_async()
    job.wait(30)
    assert job.status is JobStatus.FAILED and job.restarts == 2
    assert "always at 300" in str(job.error)


def test_checkpoints_are_folders_with_a_manifest_and_the_last_n_are_kept(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.enable_checkpointing(20)
    cfg = env.get_checkpoint_config()
    cfg.set_checkpoint_storage_dir(str(tmp_path)).set_num_retained_checkpoints(2)
    cfg.set_externalized_checkpoint_retention(
        __import__("nbstream").ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
    ds = env.from_sequence(1, 10**7).map(lambda x: (x % 3, 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
    job = ds.add_sink(lambda v: None) and env.execute_async()
    deadline = time.monotonic() + 20
    while job.checkpoint_info().get("completed", 0) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    job.cancel()
    job.wait(10)
    root = next(p for p in tmp_path.iterdir())
    kept = sorted(p.name for p in root.iterdir())
    assert len(kept) == 2 and all(name.startswith("chk-") for name in kept), kept
    cp = latest_checkpoint(str(root))
    reduce_state = next(v for uid, v in cp.operators.items() if uid.startswith("Reduce"))
    assert reduce_state["parallelism"] == env.get_parallelism()


def test_a_corrupt_checkpoint_is_skipped_with_a_warning_naming_it(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.enable_checkpointing(20)
    cfg = env.get_checkpoint_config()
    cfg.set_checkpoint_storage_dir(str(tmp_path)).set_num_retained_checkpoints(3)
    cfg.set_externalized_checkpoint_retention(
        __import__("nbstream").ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
    job = env.from_sequence(1, 10**7).map(lambda x: x).add_sink(lambda v: None) \
        and env.execute_async()
    deadline = time.monotonic() + 20
    while job.checkpoint_info().get("completed", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    job.cancel()
    job.wait(10)
    root = next(p for p in tmp_path.iterdir())
    newest = sorted(root.iterdir(), key=lambda p: int(p.name.split("-")[1]))[-1]
    victim = next(p for p in newest.iterdir() if p.suffix == ".state")
    victim.write_bytes(victim.read_bytes()[:-3])
    with pytest.warns(UserWarning, match=f"skipping checkpoint {newest}.*corrupt"):
        cp = latest_checkpoint(str(root))
    assert cp is not None and cp.path != str(newest)
    with pytest.raises(Exception, match="corrupt"):
        read_checkpoint(str(newest))


def test_a_state_value_that_cannot_be_pickled_fails_the_checkpoint_naming_the_step(tmp_path):
    import threading

    class Holds(KeyedProcessFunction):
        def open(self, ctx):
            self.s = ctx.get_state(ValueStateDescriptor("lock", Types.PICKLED_BYTE_ARRAY()))

        def process_element(self, value, ctx):
            self.s.update(threading.Lock())
            time.sleep(0.001)
            yield value

    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 10})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
    env.set_restart_strategy(RestartStrategies.no_restart())
    env.from_sequence(1, 5000).key_by(lambda x: x % 2).process(Holds()).name("Holder") \
        .add_sink(lambda v: None)
    with pytest.raises(CheckpointError, match="state of step 'Holder' cannot be serialized"):
        env.execute()


@pytest.mark.parametrize("shape", SHAPES)
@given(seed=st.integers(0, 1000), at=st.integers(100, 1100), parallelism=st.sampled_from([1, 2]))
@settings(SETTINGS, max_examples=max(1, EXAMPLES // 2))
def test_process_mode_recovers_exactly_once(tmp_path, shape, seed, at, parallelism):
    data = events(1200, 5, seed, disorder=7 if parallelism == 1 and shape != "join" else 2)
    expected = Counter(plain(parallelism, data, shape))
    got, job = run("process", parallelism, data, shape, tmp_path, at=at)
    assert job.status is JobStatus.FINISHED and job.restarts == 1
    assert Counter(got) == expected


class Slow:
    def __call__(self, e):
        time.sleep(0.0005)
        return e


@pytest.mark.parametrize("shape", ["reduce", "tumbling"])
def test_a_killed_worker_is_replaced_and_the_job_recovers_exactly_once(tmp_path, shape):

    from nbstream.runtime.executors.pool import get_pool

    data = events(6000, 6, 5, disorder=2)
    expected = Counter(plain(2, data, shape))
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode("process")
    env.set_parallelism(2)
    env.enable_checkpointing(50)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    it = pipeline(env, data, shape).execute_and_collect()
    job = it.job
    got = []
    victim = None
    for record in it:
        got.append(record)
        if victim is None and job.checkpoint_info().get("completed", 0) >= 2:
            victim = kill_a_worker_of(job)
    assert victim is not None, "the job ended before two checkpoints completed"
    assert job.status is JobStatus.FINISHED and job.restarts == 1
    assert "SIGKILL" in job.last_failure
    assert Counter(got) == expected
    assert victim.pid not in {w.pid for w in get_pool().workers.values()}


# -- savepoints ------------------------------------------------------------------------------------

def savepoint_env(tmp_path, parallelism, mode="thread"):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    env.enable_checkpointing(30)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    return env


def counting(env, data, extra_step=False, window=False):
    ds = env.from_collection(data).set_parallelism(1)
    if extra_step:  # an edit of the pipeline: a new stateless step
        ds = ds.filter(lambda e: True).name("Added filter")
    ds = ds.map(Slow()).uid("slow")
    keyed = ds.key_by(lambda e: e[0])
    if window:
        strategy = (WatermarkStrategy.for_monotonous_timestamps()
                    .with_timestamp_assigner(lambda e, ts: e[3]))
        return ds.assign_timestamps_and_watermarks(strategy).uid("ts") \
            .key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of(Duration.of_millis(50))) \
            .reduce(lambda a, b: (a[0], a[1] + b[1], 0, max(a[3], b[3]))).uid("windows")
    return keyed.map(lambda e: (e[0], 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts")


def stop_then_resume(tmp_path, data, p_before, p_after, **pipeline_edits):
    env = savepoint_env(tmp_path, p_before)
    it = counting(env, data, window=pipeline_edits.get("window", False)).execute_and_collect()
    first = []
    path = None
    for record in it:
        first.append(record)
        if it.job.checkpoint_info().get("completed", 0) >= 2 and path is None:
            path = it.job.stop_with_savepoint(str(tmp_path / "sp"))
            break
    first.extend(it)  # what was committed before the stop
    assert path is not None and it.job.status is JobStatus.FINISHED
    env2 = savepoint_env(tmp_path, p_after)
    env2.configure({"execution.savepoint.path": path})  # PyFlink's way to resume
    second = counting(env2, data, **pipeline_edits) \
        .execute_and_collect(job_execution_name="resumed")
    second = list(second)
    return first, second


@pytest.mark.parametrize("before, after", [(1, 1), (1, 3), (3, 1), (2, 2)])
def test_stop_with_savepoint_then_resume_counts_as_one_run(tmp_path, before, after):
    data = events(6000, 7, 9)
    whole = Counter(plain_counts(data))
    first, second = stop_then_resume(tmp_path, data, before, after, extra_step=True)
    assert first and second, "the savepoint fell at an end"
    assert Counter(first) + Counter(second) == whole


def plain_counts(data):
    env = StreamExecutionEnvironment.get_execution_environment()
    return list(counting(env, data).execute_and_collect())


def test_open_windows_continue_after_a_resume_at_another_parallelism(tmp_path):
    data = [(f"k{i % 5}", 1, 0, i) for i in range(3000)]
    env = StreamExecutionEnvironment.get_execution_environment()
    whole = Counter(counting(env, data, window=True).execute_and_collect())
    first, second = stop_then_resume(tmp_path, data, 2, 3, window=True)
    assert Counter(first) + Counter(second) == whole


def test_a_savepoint_with_state_for_an_unknown_step_is_refused_by_name(tmp_path):
    data = events(2000, 3, 1)
    env = savepoint_env(tmp_path, 1)
    it = counting(env, data).execute_and_collect()
    next(it)
    path = it.job.stop_with_savepoint(str(tmp_path / "sp"))
    it.close()
    env2 = savepoint_env(tmp_path, 1)
    ds = env2.from_collection(data).map(lambda e: (e[0], 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("renamed")
    ds.add_sink(lambda v: None)
    with pytest.raises(CheckpointError, match=r"holds state for steps this job does not have: "
                                              r"\[.*'counts'"):
        env2.execute(savepoint_path=path)
    ds2 = env2.from_collection(data[:10]).map(lambda e: (e[0], 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("renamed")
    ds2.add_sink(lambda v: None)
    env2.execute(savepoint_path=path, allow_non_restored_state=True)


def test_savepoint_errors_name_the_file(tmp_path):
    env = savepoint_env(tmp_path, 1)
    env.from_collection([1]).add_sink(lambda v: None)
    with pytest.raises(Exception, match=f"no checkpoint or savepoint at {tmp_path / 'nope'}"):
        env.execute(savepoint_path=str(tmp_path / "nope"))
    bad = tmp_path / "old"
    bad.mkdir()
    (bad / "_metadata.json").write_text('{"format": 99, "operators": {}}')
    env.from_collection([1]).add_sink(lambda v: None)
    with pytest.raises(Exception, match=f"{bad}: format version 99"):
        env.execute(savepoint_path=str(bad))


def test_savepoints_need_checkpointing(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_sequence(1, 10**9).add_sink(lambda v: None)
    job = env.execute_async()
    try:
        with pytest.raises(CheckpointError, match="savepoints need checkpointing"):
            job.trigger_savepoint(str(tmp_path / "sp"))
    finally:
        job.cancel()
        job.wait(10)


# -- failures of every kind ----------------------------------------------------------------------

class FailAt:
    """Raises once at each of the given record numbers (markers in a folder)."""

    def __init__(self, folder: str, at) -> None:
        self.folder, self.at = folder, set(at)

    def __call__(self, event):
        time.sleep(0.0002)
        if event[3] in self.at:
            marker = os.path.join(self.folder, str(event[3]))
            if not os.path.exists(marker):
                open(marker, "w").close()
                raise RuntimeError(f"injected failure at record {event[3]}")
        return event


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_twenty_failures_in_one_job_still_give_exactly_once_results(tmp_path, mode):
    import random

    data = events(4000, 6, 4, disorder=2)
    at = sorted(random.Random(7).sample(range(50, 4000), 20))
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode(mode)
    env.set_parallelism(2)
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(25, 0))
    (tmp_path / "markers").mkdir()
    # the failing step runs as one instance, so that each failure is one restart
    ds = env.from_collection(data).map(FailAt(str(tmp_path / "markers"), at)) \
        .set_parallelism(1).key_by(lambda e: e[0]) \
        .map(lambda e: (e[0], e[1])).key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
    it = ds.execute_and_collect()
    got = list(it)
    assert it.job.restarts == 20 and it.job.status is JobStatus.FINISHED
    assert len(list((tmp_path / "markers").iterdir())) == 20
    env2 = StreamExecutionEnvironment.get_execution_environment()
    expected = env2.from_collection(data).map(lambda e: (e[0], e[1])).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).execute_and_collect()
    assert Counter(got) == Counter(expected)


def test_a_crash_while_writing_a_checkpoint_restarts_from_the_one_before(tmp_path):
    data = events(3000, 5, 8)
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    it = pipeline(env, data, "reduce").execute_and_collect()
    got = []
    crashed = False
    for record in it:
        got.append(record)
        if not crashed and it.job.checkpoint_info().get("completed", 0) >= 2:
            it.job.checkpoints.storage.fail_next_writes = 1
            crashed = True
    assert crashed
    assert it.job.restarts == 1 and "could not be written" in it.job.last_failure
    assert Counter(got) == Counter(plain(1, data, "reduce"))


def test_tolerated_checkpoint_failures_do_not_restart_the_job(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.enable_checkpointing(20)
    cfg = env.get_checkpoint_config()
    cfg.set_checkpoint_storage_dir(str(tmp_path)).set_tolerable_checkpoint_failure_number(5)
    env.from_sequence(1, 6000).map(Slow()).add_sink(lambda v: None)
    job = env.execute_async()
    job.checkpoints.storage.fail_next_writes = 3
    assert job.wait(60) and job.status is JobStatus.FINISHED
    assert job.restarts == 0 and sum("could not be written" in w for w in job.warnings) == 3


# -- CheckpointedFunction: operator state of user functions ----------------------------------------

class OffsetSource(__import__("nbstream").SourceFunction):
    """A source that remembers its own offset (Flink's CheckpointedFunction pattern)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.offset = 0
        self.running = True

    def initialize_state(self, context):
        from nbstream import ListStateDescriptor
        self.state = context.get_operator_state_store().get_list_state(
            ListStateDescriptor("offset", Types.LONG()))
        restored = self.state.get()
        self.offset = restored[0] if restored else 0
        self.restored = context.is_restored()

    def snapshot_state(self, context):
        self.state.update([self.offset])

    def run(self, ctx):
        while self.running and self.offset < self.n:
            with ctx.get_checkpoint_lock():
                ctx.collect(self.offset)
                self.offset += 1

    def cancel(self):
        self.running = False


class CountingMap(__import__("nbstream").MapFunction):
    """Counts the records its instance saw, in operator (union) state; raises once."""

    def __init__(self, marker: str, at: int) -> None:
        self.marker, self.at = marker, at

    def initialize_state(self, context):
        from nbstream import ListStateDescriptor
        self.seen = context.get_operator_state_store().get_union_list_state(
            ListStateDescriptor("seen", Types.LONG()))
        self.count = sum(self.seen.get())

    def snapshot_state(self, context):
        self.seen.update([self.count])

    def map(self, value):
        time.sleep(0.0002)
        if value == self.at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError("once")
        self.count += 1
        return self.count


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_checkpointed_functions_keep_their_own_state_across_a_restart(tmp_path, mode):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 25})
    env.set_execution_mode(mode)
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 0))
    ds = env.add_source(OffsetSource(3000)).map(CountingMap(str(tmp_path / "m"), 2100)) \
        .set_parallelism(1)
    it = ds.execute_and_collect()
    got = list(it)
    assert it.job.restarts == 1
    # the source's offset and the map's count both came back: 1..3000, each once
    assert sorted(got) == list(range(1, 3001))


def test_operator_list_state_is_dealt_out_when_the_parallelism_changes():
    from nbstream.runtime.operator_state import redistribute
    old = [{"a": ("split", [1, 2, 3]), "u": ("union", ["x"])},
           {"a": ("split", [4, 5]), "u": ("union", ["y"])}]
    parts = [redistribute(old, i, 3) for i in range(3)]
    assert sorted(v for p in parts for v in p["a"][1]) == [1, 2, 3, 4, 5]
    assert all(p["u"][1] == ["x", "y"] for p in parts)


def test_explain_says_what_each_source_gives_after_a_restore(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(1000)

    def numbers(start=0):
        yield from range(start, 10)

    def gen():
        yield 1

    env.from_iterable(numbers).union(env.from_iterable(gen()), env.from_iterable(gen),
                                     env.socket_text_stream("127.0.0.1", 9).map(int)) \
        .add_sink(lambda v: None)
    text = env.explain()
    assert "called again with start=<position> (exactly once)" in text
    assert "goes on from where the generator is (at most once" in text
    assert "run again, records before its position dropped" in text
    assert "reconnects and reads on (at most once)" in text


def test_a_generator_function_with_a_start_parameter_resumes_at_its_position(tmp_path):
    calls = []

    def numbers(start=0):
        calls.append(start)
        for i in range(start, 3000):
            yield ("k", 1, i, i)

    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 30})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 0))
    ds = env.from_iterable(numbers).map(FailOnce(str(tmp_path / "m"), 2000)) \
        .map(lambda e: e[3])
    got = list(ds.execute_and_collect())
    assert sorted(got) == list(range(3000))
    assert calls[0] == 0 and len(calls) == 2 and 0 < calls[1] <= 2000


# -- loops: the feedback in flight is part of the checkpoint ---------------------------------------

class LoopStep:
    def __init__(self, marker: str, at) -> None:
        self.marker, self.at = marker, at

    def __call__(self, t):
        time.sleep(0.0002)
        if t == self.at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError("once, inside the loop")
        return t[0], t[1] + 1


def looping(env, n, marker="/nonexistent/never", at=None):
    it = env.from_collection([(i, 0) for i in range(n)]).iterate(max_wait_time_ms=300)
    body = it.map(LoopStep(marker, at))
    it.close_with(body.filter(lambda t: t[1] < 4))
    return body.filter(lambda t: t[1] >= 4)


@pytest.mark.parametrize("mode", ["thread", "process"])
@given(at=st.integers(300, 1400), rounds=st.integers(1, 3))
@settings(SETTINGS, max_examples=max(1, EXAMPLES // 2))
def test_a_loop_recovers_exactly_once_with_its_feedback_in_flight(tmp_path, mode, at, rounds):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.set_execution_mode(mode)
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 0))
    marker = str(tmp_path / f"m{time.monotonic_ns()}")
    it = looping(env, 1500, marker, (at, rounds)).execute_and_collect()
    got = sorted(it)
    assert it.job.restarts == 1
    assert got == [(i, 4) for i in range(1500)]


def echo_negated(context, message):
    """A StateFun function: sends the negated int it gets to the egress example/out."""
    from nbstream.statefun import IntType, egress_message_builder
    context.send_egress(egress_message_builder("example/out", -message.as_int(), IntType))


class statefun_egress:
    """The ints that a StateFun job sends to example/out, read as it runs: ``n`` messages
    to example/counter over ``ids`` addresses (iterate it; ``.job`` is the job)."""

    def __init__(self, env, functions, n: int, ids: int) -> None:
        from nbstream.statefun import StatefulFunctionDataStreamBuilder, message_builder
        messages = [message_builder("example/counter", str(i % ids), int_value=i)
                    for i in range(n)]
        out = (StatefulFunctionDataStreamBuilder.builder("count")
               .with_data_stream_as_ingress(env.from_collection(messages))
               .with_functions(functions).with_egress_id("example/out")
               .with_feedback_timeout(2000).build(env))
        self._it = out.get_data_stream_for_egress_id("example/out").execute_and_collect()
        self.job = self._it.job

    def __iter__(self):
        from nbstream.statefun import IntType
        decode = IntType.serializer().deserialize
        return (decode(e.raw_value()) for e in self._it)


def test_stateful_functions_recover_exactly_once(tmp_path):
    from nbstream.statefun import (IntType, StatefulFunctions,
                                   ValueSpec, egress_message_builder, message_builder)

    functions = StatefulFunctions()
    marker = str(tmp_path / "failed")

    @functions.bind("example/counter", [ValueSpec("n", IntType)])
    def counter(context, message):
        time.sleep(0.0003)
        value = message.as_int()
        if value == 1700 and not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("the function failed once")
        context.storage.n = n = (context.storage.n or 0) + 1
        if value % 2 == 0:  # half of the messages go on to a second function
            context.send(message_builder("example/echo", context.address.id, int_value=n))
        context.send_egress(egress_message_builder("example/out", n, IntType))

    functions.register("example/echo", echo_negated)

    def job(env):
        return list(statefun_egress(env, functions, 2500, 7))

    open(marker, "w").close()  # no failure in the run to compare with
    expected = Counter(job(StreamExecutionEnvironment.get_execution_environment()
                           .set_parallelism(2)))
    os.remove(marker)
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 25})
    env.set_parallelism(2)
    env.enable_checkpointing(30)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 0))
    assert Counter(job(env)) == expected and os.path.exists(marker)


def test_a_finished_jobs_checkpoints_are_gone_when_execute_returns(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
    env.from_sequence(1, 3000).map(Slow()).add_sink(lambda v: None)
    env.execute()
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_source_at_another_parallelism_is_refused_up_front(tmp_path):
    env = savepoint_env(tmp_path, 2)
    job = env.from_sequence(1, 10**8).map(Slow()).add_sink(lambda v: None) and env.execute_async()
    path = job.stop_with_savepoint(str(tmp_path / "sp"))
    env2 = savepoint_env(tmp_path, 3)
    env2.from_sequence(1, 10**8).map(Slow()).add_sink(lambda v: None)
    with pytest.raises(CheckpointError, match="source 'Source: Sequence Source' ran at "
                                              "parallelism 2, this job runs it at 3"):
        env2.execute(savepoint_path=path)


def test_state_of_another_kind_of_step_is_refused_before_the_job_starts(tmp_path):
    data = events(3000, 3, 1)
    env = savepoint_env(tmp_path, 1)
    it = counting(env, data).execute_and_collect()
    next(it)
    path = it.job.stop_with_savepoint(str(tmp_path / "sp"))
    it.close()
    env2 = savepoint_env(tmp_path, 1)  # checkpointing on: the default strategy restarts forever
    env2.from_collection(data).map(Slow()).uid("slow").key_by(lambda e: e[0]) \
        .window(TumblingEventTimeWindows.of(Duration.of_millis(5))) \
        .reduce(lambda a, b: a).uid("counts").add_sink(lambda v: None)
    with pytest.raises(CheckpointError, match=r"step 'Window.* is a window step, but the state "
                                              r"stored under its uid 'counts' is a reduce step's"):
        env2.execute_async(savepoint_path=path, allow_non_restored_state=True)


def test_auto_mode_recovers_exactly_once_and_keeps_chains_in_place(tmp_path):
    data = events(3000, 5, 3, disorder=2)
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode("auto")
    env.set_parallelism(2)
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 0))
    it = pipeline(env, data, "reduce", str(tmp_path / "m"), 2500).execute_and_collect()
    got = list(it)
    assert it.job.restarts == 1 and Counter(got) == Counter(plain(2, data, "reduce"))
    assert all(where.startswith("thread") for where in it.job.placement.values())
    env2 = StreamExecutionEnvironment.get_execution_environment()
    env2.set_execution_mode("auto")
    env2.set_parallelism(2)
    env2.enable_checkpointing(1000)
    env2.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp2"))
    job = env2.from_sequence(1, 100).rebalance().map(lambda x: x * 2).add_sink(lambda v: None) \
        and env2.execute_async()
    job.wait(30)
    assert any("the job checkpoints: chains are not moved" in where
               for where in job.placement.values()), job.placement


def test_stateful_functions_survive_a_killed_worker_with_delayed_messages(tmp_path):
    from datetime import timedelta

    from nbstream.statefun import (IntType, StatefulFunctions,
                                   ValueSpec, egress_message_builder, message_builder)

    functions = StatefulFunctions()

    @functions.bind("example/counter", [ValueSpec("n", IntType)])
    def counter(context, message):
        time.sleep(0.0005)
        context.storage.n = n = (context.storage.n or 0) + 1
        if message.as_int() % 3 == 0:  # a delayed echo of every third message
            context.send_after(timedelta(milliseconds=5),
                               message_builder("example/echo", context.address.id, int_value=n))
        context.send_egress(egress_message_builder("example/out", n, IntType))

    functions.register("example/echo", echo_negated)

    def job(env):
        return statefun_egress(env, functions, 3000, 5)

    expected = Counter(job(StreamExecutionEnvironment.get_execution_environment()
                           .set_parallelism(2)))
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 25})
    env.set_execution_mode("process")
    env.set_parallelism(2)
    env.enable_checkpointing(30)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    it = job(env)
    got, victim = [], None
    for value in it:
        got.append(value)
        if victim is None and it.job.checkpoint_info().get("completed", 0) >= 2:
            victim = kill_a_worker_of(it.job)
    assert victim is not None and it.job.restarts == 1 and "SIGKILL" in it.job.last_failure
    assert Counter(got) == expected


# -- alignment keeps its buffer bounded --------------------------------------------------------

def test_alignment_blocks_the_channel_that_delivered_its_barrier():
    """While a task waits for a checkpoint's barrier on a slow channel, the messages of a
    channel that already delivered it are held and keep their credit: that channel's
    sender stops after `capacity` messages (no unbounded buffer), and after the
    alignment every held message arrives, in order."""
    import queue
    import threading

    from nbstream.runtime.checkpoints import AligningInbox
    from nbstream.runtime.executors.channels import Credits, Inbox, _LocalWriter
    from nbstream.runtime.records import Barrier, Batch

    class Running:
        cancelled = False

    capacity, total = 3, 200
    credits = [Credits(capacity), Credits(capacity)]
    inbox = Inbox(lambda ch: credits[ch].give)
    fast_writer, slow_writer = (_LocalWriter(credits[ch], inbox, ch, Running(), None) for ch in (0, 1))
    aligner = AligningInbox(inbox, 2, [False, False], aligned=True)
    sent = []

    def fast() -> None:  # its barrier at once, then as many messages as it may send
        fast_writer.put(Barrier(1))
        for i in range(total):
            fast_writer.put(Batch([i]))
            sent.append(i)

    sender = threading.Thread(target=fast, daemon=True)
    sender.start()
    slow_writer.put(Batch(["slow"]))
    ch, first = aligner.get(timeout=5)  # the fast channel's messages are held meanwhile
    assert (ch, first.values) == (1, ["slow"])
    with pytest.raises(queue.Empty):
        aligner.get(timeout=0.3)
    assert len(sent) == capacity  # blocked on credit, not buffered without bound
    slow_writer.put(Barrier(1))
    assert aligner.get(timeout=5) == (-1, Barrier(1))
    received = [aligner.get(timeout=5)[1].values[0] for _ in range(total)]
    sender.join(5)
    assert received == list(range(total)) and len(sent) == total


def test_every_checkpoint_holds_the_state_of_every_task(tmp_path):
    """A checkpoint is triggered only once every task of the attempt is there: one made
    while the tasks were being made left out those made after it (restoring it would
    have lost their state while the sources went on after their position)."""
    import json

    from nbstream import EmbeddedRocksDBStateBackend, ExternalizedCheckpointRetention

    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.set_parallelism(16)
    rocks = EmbeddedRocksDBStateBackend()  # a database per task: slow to make
    rocks.set_db_storage_paths(str(tmp_path / "db"))
    env.set_state_backend(rocks)
    env.enable_checkpointing(10)
    cfg = env.get_checkpoint_config()
    cfg.set_checkpoint_storage_dir(str(tmp_path / "cp")).set_num_retained_checkpoints(1000)
    cfg.set_externalized_checkpoint_retention(ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
    env.from_sequence(1, 10**7).map(lambda x: (x % 7, 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).add_sink(lambda v: None)
    job = env.execute_async()
    deadline = time.monotonic() + 20
    while job.checkpoint_info().get("completed", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    job.cancel()
    job.wait(10)
    root = next((tmp_path / "cp").iterdir())
    for chk in (p for p in root.iterdir() if p.name.startswith("chk-")):
        operators = json.loads((chk / "_metadata.json").read_text())["operators"]
        assert any(uid.startswith("Reduce") for uid in operators), chk.name
        for uid, entry in operators.items():
            assert len(entry["files"]) == entry["parallelism"], (chk.name, uid)



class SawACheckpoint:
    """A map step: whether a checkpoint of the job was on disk when it took the record;
    10 ms per record until then (a job of seconds, if none ever completes)."""

    def __init__(self, folder: str) -> None:
        self.folder, self.saw = folder, False

    def __call__(self, value):
        import glob

        if not self.saw:
            self.saw = bool(glob.glob(os.path.join(self.folder, "*", "chk-*")))
            if not self.saw:
                time.sleep(0.01)
        return self.saw


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_checkpoint_triggered_as_soon_as_every_task_is_there_completes(tmp_path, mode,
                                                                         monkeypatch):
    """The timer may fire the moment the last task is attached (under load, it did): its
    barrier must reach every source. A worker drops a message of a job it has not yet
    been sent, so a task in a worker counts only from then; before, such a barrier was
    lost and its checkpoint stayed pending (every later one waiting behind it, and all
    the exactly-once sinks' output with it) until the job ended."""
    from nbstream.runtime.checkpoints import CheckpointCoordinator

    attach = CheckpointCoordinator.attach

    def attach_then_trigger(self, key, task):  # the earliest moment the timer could fire
        attach(self, key, task)
        self.trigger()  # None until every task is there

    monkeypatch.setattr(CheckpointCoordinator, "attach", attach_then_trigger)
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 5})
    env.set_execution_mode(mode)
    env.set_parallelism(1)
    env.enable_checkpointing(3_600_000)  # only the one triggered at the attach
    folder = str(tmp_path / "cp")
    env.get_checkpoint_config().set_checkpoint_storage_dir(folder)
    # a source of data (not of code) runs in a worker in process mode, as its step
    saw = list(env.from_collection(range(3000)).map(SawACheckpoint(folder)).execute_and_collect())
    assert len(saw) == 3000 and saw[-1], "no checkpoint completed while the job ran"
