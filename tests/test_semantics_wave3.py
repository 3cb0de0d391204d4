"""Semantics a Flink user relies on (issue 25, "Semantics found wrong"): stop with a
savepoint suspends the job at the savepoint's barrier; a job refuses what Flink refuses
at submit (duplicate uids, parallelism above the max parallelism, absurd sliding
windows); NaN keys are one key; a cancelled thread-mode job says which function has not
returned."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, List

import pytest

from nbstream import (CheckpointError, Duration, JobStatus, SlidingEventTimeWindows,
                      SlidingProcessingTimeWindows, StreamExecutionEnvironment,
                      TumblingEventTimeWindows, WatermarkStrategy)
from nbstream.errors import PlanError


# -- stop with a savepoint ------------------------------------------------------------------------

def _slow(e: Any) -> Any:
    time.sleep(0.0005)
    return e


def _pipeline(env: StreamExecutionEnvironment, data: List[Any], out: List[Any],
              source: str = "collection") -> None:
    """Rolling counts per key and event-time window sums, both into a plain callable
    sink, which delivers at once (at least once): what it saw cannot be taken back.
    The source is a collection (read on the task's thread) or a generator function with a
    ``start`` (read on a thread of its own, handing over to the task)."""
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(lambda e, _ts: e[2]))

    def generated(start: int = 0) -> Any:
        yield from data[start:]

    ds = (env.from_collection(data) if source == "collection" else env.from_iterable(generated)) \
        .set_parallelism(1).uid("source") \
        .assign_timestamps_and_watermarks(strategy).uid("timestamps") \
        .map(_slow).uid("slow")
    counts = ds.map(lambda e: (e[0], 1)).uid("ones").key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts")
    sums = ds.key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of(Duration.of_millis(400))) \
        .reduce(lambda a, b: (a[0], a[1] + b[1], max(a[2], b[2]))).uid("windows") \
        .map(lambda e: ("window", e[0], e[1], e[2])).uid("labels")
    lock = threading.Lock()

    def sink(value: Any) -> None:
        with lock:
            out.append(value)

    counts.union(sums).add_sink(sink).uid("sink")


def _data(n: int = 3000) -> List[Any]:
    return [(f"k{i % 7}", 1, i) for i in range(n)]


def _env(tmp_path: Any, mode: str, parallelism: int = 2) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    env.enable_checkpointing(50)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    return env


def _wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.01)


@pytest.mark.parametrize("mode, source", [("thread", "collection"), ("process", "collection"),
                                          ("thread", "generator")])
def test_stop_with_savepoint_delivers_nothing_after_its_barrier(tmp_path, mode, source):
    """What an at-least-once sink saw before the stop and after the resume never overlaps,
    and together it is exactly a run without a stop: no record after the savepoint's
    barrier reached a sink (the sources stopped at it), and no window fired early (the
    stop emits no final MAX watermark)."""
    data = _data()
    whole: List[Any] = []
    plain = StreamExecutionEnvironment.get_execution_environment()
    _pipeline(plain, data, whole)
    plain.execute("whole")
    env = _env(tmp_path, mode)
    stopped: List[Any] = []
    _pipeline(env, data, stopped, source)
    job = env.execute_async("stopped")
    _wait_for(lambda: len(stopped) > len(data) // 4 and job.checkpoint_info().get("completed", 0) >= 1,
              "a quarter of the output and a checkpoint")
    path = job.stop_with_savepoint(str(tmp_path / "savepoint"))
    assert job.status is JobStatus.FINISHED
    before = list(stopped)
    assert 0 < len(before) < len(whole)

    env2 = _env(tmp_path, mode)
    resumed: List[Any] = []
    _pipeline(env2, data, resumed, source)
    env2.execute("resumed", savepoint_path=path)
    both = set(before) & set(resumed)
    assert not both, f"{len(both)} records delivered before the stop and again after the resume"
    assert Counter(before) + Counter(resumed) == Counter(whole)


@pytest.mark.parametrize("how", ["finished", "cancelled"])
def test_stop_with_savepoint_on_a_job_that_is_not_running_refuses_at_once(tmp_path, how):
    """As Flink, which answers that the job is not running: the call raises at once
    (not after its timeout), naming the job and its status."""
    env = _env(tmp_path, "thread", 1)
    if how == "finished":
        env.from_collection([1, 2, 3]).add_sink(lambda v: None)
        job = env.execute_async("done")
        assert job.wait(60)
    else:
        env.from_sequence(1, 10**9).add_sink(lambda v: None)
        job = env.execute_async("done")
        job.cancel()
        assert job.wait(60)
    for call in (job.stop_with_savepoint, job.trigger_savepoint):
        with pytest.raises(CheckpointError, match=r"job 'done' is not running \((FINISHED|CANCELED)\)"):
            call(str(tmp_path / "sp"), timeout=0.2)


def _loop_step(t: Any) -> Any:
    time.sleep(0.0002)
    return t[0], t[1] + 1


def _looping(env: StreamExecutionEnvironment, n: int, out: List[Any]) -> None:
    it = env.from_collection([(i, 0) for i in range(n)]).uid("source").iterate(max_wait_time_ms=300)
    body = it.map(_loop_step).uid("step")
    it.close_with(body.filter(lambda t: t[1] < 4).uid("again"))
    body.filter(lambda t: t[1] >= 4).uid("done").add_sink(out.append).uid("sink")


def test_stop_with_savepoint_inside_a_loop_resumes_with_what_was_going_round(tmp_path):
    """The loop's head holds what comes back around the loop after its snapshot (in the
    savepoint, not processed), so nothing goes out twice and nothing is lost."""
    env = _env(tmp_path, "thread", 1)
    stopped: List[Any] = []
    _looping(env, 1500, stopped)
    job = env.execute_async("loop")
    _wait_for(lambda: len(stopped) > 200 and job.checkpoint_info().get("completed", 0) >= 1,
              "some output and a checkpoint")
    path = job.stop_with_savepoint(str(tmp_path / "savepoint"))
    before = list(stopped)
    env2 = _env(tmp_path, "thread", 1)
    resumed: List[Any] = []
    _looping(env2, 1500, resumed)
    env2.execute("resumed", savepoint_path=path)
    assert not set(before) & set(resumed)
    assert sorted(before + resumed) == [(i, 4) for i in range(1500)]


def test_a_stop_whose_savepoint_fails_leaves_the_job_running(tmp_path):
    """As Flink: the stop raises, the tasks that held still for the savepoint go on, and
    the job ends with all its output."""
    data = _data(1500)
    whole: List[Any] = []
    plain = StreamExecutionEnvironment.get_execution_environment()
    _pipeline(plain, data, whole)
    plain.execute("whole")
    env = _env(tmp_path, "thread")
    out: List[Any] = []
    _pipeline(env, data, out)
    job = env.execute_async("goes on")
    _wait_for(lambda: len(out) > 100, "some output")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(CheckpointError, match="failed"):
        job.stop_with_savepoint(str(tmp_path / "a-file" / "savepoint"))
    job.result(120)
    assert job.status is JobStatus.FINISHED and job.stopped_with_savepoint is None
    assert Counter(out) == Counter(whole)


# -- what Flink refuses at submit -------------------------------------------------------------------

def test_a_uid_given_to_two_steps_is_refused_at_submit_naming_both():
    """A savepoint names state by uid: two steps with one uid would share (and lose) it."""
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection([("a", 1)]).map(lambda t: t).name("parse").uid("step")
    ds.key_by(lambda t: t[0]).sum(1).name("total").uid("step").add_sink(lambda v: None)
    with pytest.raises(PlanError, match=r"uid 'step' is given to two steps: 'parse' and 'total'"):
        env.execute()
    with pytest.raises(PlanError, match="uid 'step'"):
        env.explain()


@pytest.mark.parametrize("where", ["environment", "step", "configuration"])
def test_parallelism_above_the_max_parallelism_is_refused(where):
    env = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(PlanError, match=r"parallelism 40000 .*above the max parallelism 32768"):
        if where == "environment":
            env.set_parallelism(40000)
        elif where == "step":
            env.from_collection([1]).map(str).set_parallelism(40000)
        else:
            env.configure({"parallelism.default": "40000"})


def test_max_parallelism_is_bounded_as_flink_bounds_it():
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection([1]).key_by(lambda x: x).sum(0)
    for bad in (0, 32769):
        with pytest.raises(PlanError, match="max parallelism"):
            ds.set_max_parallelism(bad)
        with pytest.raises(PlanError, match="max parallelism"):
            env.set_max_parallelism(bad)
    ds.set_max_parallelism(32768)
    ds.set_max_parallelism(64).set_parallelism(100).add_sink(lambda v: None)
    with pytest.raises(PlanError, match="max parallelism 64 is below its parallelism 100"):
        env.execute()


def test_a_step_at_32768_is_accepted_with_an_automatic_max_parallelism():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(32768)
    env.from_collection([1]).key_by(lambda x: x).sum(0).add_sink(lambda v: None)
    plan = env._plan("big")
    assert max(plan.max_parallelism.values()) == 32768


@pytest.mark.parametrize("assigner", [SlidingEventTimeWindows, SlidingProcessingTimeWindows])
def test_sliding_windows_with_too_many_windows_per_record(assigner):
    """More than 1,000 windows per record warns (each record updates that many windows);
    more than 100,000 is refused, both with the figure."""
    assigner.of(Duration.of_seconds(10), Duration.of_millis(10))  # 1,000: no warning
    with pytest.warns(UserWarning, match=r"puts every record in 3,600 windows"):
        assigner.of(Duration.of_hours(1), Duration.of_seconds(1))
    with pytest.raises(ValueError, match=r"would put every record in 86,400,000 windows "
                                         r"\(more than 100,000\)"):
        assigner.of(Duration.of_days(1), Duration.of_millis(1))


# -- NaN keys ---------------------------------------------------------------------------------------

def _label(key: Any) -> str:  # the reduce emits its first record's NaN, whichever kind it was
    if isinstance(key, tuple):
        return f"({key[0]!r}, {_label(key[1])})"
    return "nan" if key != key else repr(key)


def _nan_keys(mode: str, parallelism: int) -> dict:
    import numpy as np

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    kinds = ["nan", "numpy", "tuple", "one"]
    data = [(i, kinds[i % 4]) for i in range(80)]

    def key(t: Any) -> Any:
        kind = t[1]
        if kind == "nan":
            return float("nan")  # a new NaN object each time
        if kind == "numpy":
            return np.float64("nan")
        if kind == "tuple":
            return ("t", float("-nan"))
        return 1.0

    counts = env.from_collection(data).map(lambda t: (key(t), 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).map(lambda t: (_label(t[0]), t[1]))
    finals: dict = {}
    for k, n in counts.execute_and_collect():  # rolling counts: a key's last is its largest
        finals[k] = max(n, finals.get(k, 0))
    return finals


@pytest.mark.parametrize("mode, parallelism", [("thread", 1), ("thread", 3), ("process", 3)])
def test_all_nan_keys_are_one_key(mode, parallelism):
    """As Flink, which compares keys by their serialized form (every NaN double the same):
    float('nan'), numpy's NaN and -NaN are one key, inside tuples too."""
    finals = _nan_keys(mode, parallelism)
    assert finals == {"nan": 40, "('t', nan)": 20, "1.0": 20}, finals


# -- cancel while a user function does not return (thread mode) -----------------------------------

def _wait_for_release(x: Any) -> Any:
    _ENTERED.set()
    _RELEASE.wait(120)
    return x


_ENTERED, _RELEASE = threading.Event(), threading.Event()


@pytest.fixture
def held(monkeypatch):
    """A function that blocks until the test releases it; a short stop grace."""
    from nbstream.runtime.executors import thread

    monkeypatch.setattr(thread, "STOP_GRACE_S", 0.3)
    _ENTERED.clear()
    _RELEASE.clear()
    yield
    _RELEASE.set()


def test_a_cancelled_job_names_the_function_that_has_not_returned_until_it_does(held):
    """Thread mode cannot stop a function that does not return: after the stop grace the
    job is CANCELED (its other tasks are gone, wait() returns), and ``still_running``
    names the step and the function, until the function returns."""
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_sequence(1, 5).map(_wait_for_release).name("held map").add_sink(lambda v: None)
    job = env.execute_async("held")
    assert _ENTERED.wait(60)
    assert job.still_running == []
    job.cancel()
    assert job.status is JobStatus.CANCELLING
    assert job.wait(60)
    assert job.status is JobStatus.CANCELED
    [running] = job.still_running
    assert running.startswith("step 'held map' (1/1): function _wait_for_release "
                              "(tests/test_semantics_wave3.py:"), running
    assert "has not returned" in running
    _RELEASE.set()
    _wait_for(lambda: job.still_running == [], "the function to return")


def test_stream_jobs_shows_a_stopped_job_whose_function_still_runs(held):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext nbstream")
    shell.user_ns["_wait_for_release"] = _wait_for_release
    result = shell.run_cell("%%stream --name held\n"
                            "env.from_sequence(1, 5).map(_wait_for_release).name('held map')")
    assert result.success, result.error_in_exec
    assert _ENTERED.wait(60)
    assert shell.run_cell("%stream_stop held").success

    def status() -> str:
        shell.run_cell("_jobs = %stream_jobs")
        return shell.user_ns["_jobs"].set_index("name").loc["held", "status"]

    assert status().startswith("stopped; still running: step 'held map' (1/1): function "
                               "_wait_for_release"), status()
    _RELEASE.set()
    _wait_for(lambda: status() == "stopped", "the function to return")
