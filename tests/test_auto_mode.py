"""Automatic mode: the decision rule, and jobs that measure and place their steps."""

from __future__ import annotations

import os
import re
import sys
import threading
import time

import pytest

from tests.conftest import collect
from nbstream import (JobFailedError, KeyedProcessFunction, OutputTag, ProcessFunction,
                      SourceFunction, StreamExecutionEnvironment, UserFunctionError)
from nbstream.runtime.executors.auto import CPU_BOUND_SHARE, MIN_CPU_PER_RECORD_S, choose


KERNEL = os.getpid()


@pytest.fixture
def two_workers(monkeypatch):
    """Offloading needs two processes to gain anything: grant them whatever the machine."""
    monkeypatch.setenv("NBSTREAM_WORKERS", "2")


def auto_env(parallelism: int = 1) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": "auto"})
    return env.set_parallelism(parallelism)


def burn(ms: float) -> int:
    """About ``ms`` milliseconds of pure-Python CPU work."""
    end = time.thread_time() + ms / 1000
    n = 0
    while time.thread_time() < end:
        n += 1
    return n


def placement_of(job, step: str) -> str:
    """Where the chain holding ``step`` runs, and why."""
    return next(v for k, v in job.placement.items() if step in k.split(": ", 1)[1].split(" -> "))


# -- the rule ------------------------------------------------------------------------------------

def test_choose_places_cpu_bound_steps_in_processes():
    mode, why = choose(cpu_s=0.09, wall_s=0.1, records=90, cores=2)
    assert mode == "process" and why.startswith("CPU-bound") and "90%" in why


def test_choose_keeps_waiting_steps_on_threads():
    mode, why = choose(cpu_s=0.002, wall_s=0.1, records=10, cores=8)
    assert mode == "thread" and why.startswith("I/O-bound")


def test_choose_keeps_cheap_steps_on_threads():
    per_record = MIN_CPU_PER_RECORD_S / 2
    mode, why = choose(cpu_s=per_record * 2000, wall_s=per_record * 2000, records=2000, cores=2)
    assert mode == "thread" and "cheap" in why


def test_choose_counts_waiting_for_the_gil_or_a_core_as_wall_time():
    # three CPU-bound steps sharing the GIL each show about a third of their time on the CPU,
    # less on a busy machine: still CPU-bound
    assert choose(cpu_s=0.02, wall_s=0.1, records=10, cores=2)[0] == "process"
    assert CPU_BOUND_SHARE <= 0.1


def test_choose_knows_free_threading_and_single_cores():
    assert choose(0.1, 0.1, 100, cores=4, gil=False) == (
        "thread", "free-threaded CPython: threads run Python code in parallel")
    assert choose(0.1, 0.1, 100, cores=1)[1].startswith("one CPU core")


# -- jobs ------------------------------------------------------------------------------------------

def test_explain_shows_what_auto_decides_up_front():
    env = auto_env(2)
    (env.from_collection([("a", 1)]).map(lambda t: t).key_by(lambda t: t[0])
        .reduce(lambda a, b: a).map(lambda t: t).print())
    text = env.explain()
    assert "thread (auto: sources and sinks run in the kernel)" in text
    assert "thread (auto: keyed state and timers stay on threads)" in text
    assert "auto (measured on its first records" in text


@pytest.mark.usefixtures("two_workers")
def test_a_cpu_bound_step_moves_to_worker_processes():
    warm = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": "process"})
    collect(warm.from_collection([1]).map(lambda x: x))  # a warm pool: workers are ready sooner
    env = auto_env()
    data = list(range(400))
    it = env.from_collection(data).map(heavy).name("heavy").execute_and_collect()
    got = list(it)
    assert sorted(v for v, _, _ in got) == [x * x for x in data]
    where = placement_of(it.job, "heavy")
    assert where.startswith("process on worker") and "CPU-bound" in where, where
    pids = [p for _, _, p in got]
    in_kernel = pids.count(os.getpid())
    assert in_kernel > 0  # the first records were measured in the kernel
    assert len(pids) - in_kernel >= 100  # the others went to workers
    modes = {k: v["mode"] for k, v in it.job.metrics().items()}
    assert [m for k, m in modes.items() if "heavy" in k] == ["process"]
    # a step measured CPU-bound is measured again in the next job, not placed up front
    again = auto_env()
    again.from_collection(data).map(heavy).name("heavy").print()  # planned, not run
    assert "auto (measured on its first records" in again.explain()


def heavy(x):
    return x * x, burn(2), os.getpid()


def test_a_waiting_step_stays_on_threads():
    env = auto_env(4)
    it = env.from_collection(list(range(60))).map(
        lambda x: (time.sleep(0.005), os.getpid())[1]).name("waits").execute_and_collect()
    pids = set(it)
    assert pids == {os.getpid()}
    where = placement_of(it.job, "waits")
    assert where.startswith("thread (auto: I/O-bound"), where


@pytest.mark.usefixtures("two_workers")
def test_a_step_measured_cheap_is_placed_on_threads_up_front_in_the_next_job():
    def run(step):
        env = auto_env()
        stream = env.from_collection(list(range(3000))).map(step).name("cheap").key_by(
            lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).name("sum")
        return env, stream.execute_and_collect()

    def cheap(x):
        return x % 3, 1

    env, it = run(cheap)
    first = list(it)
    where = placement_of(it.job, "cheap")
    # cheap, or I/O-bound where other threads of this process hold the GIL: threads either way
    assert where.startswith("thread (auto: CPU-bound but cheap") or where.startswith(
        "thread (auto: I/O-bound"), where
    why = where[len("thread (auto: "):-1]
    assert len(it.job.placement) >= 2  # measured in a chain of its own
    env, it = run(cheap)  # the same function: planned on threads, chained with the others
    text = env.explain()
    assert f"'cheap': auto: measured in an earlier job: {why}" in text, (text, why)
    assert list(it) == first
    assert len(it.job.placement) == 1, it.job.placement
    assert "fused" in env.explain(code=True)

    def other(x):  # other code: measured again
        return x % 3, 1

    env, _ = run(other)
    assert "auto (measured on its first records" in env.explain()


def test_one_costly_call_of_a_cheap_step_does_not_send_it_to_processes():
    """A garbage collection, or the imports of a first call, lands in one measured slice:
    seen in a full test run, where a collection of the whole heap made a cheap step look
    CPU-bound. The slice that cost the most is left out of the decision."""
    calls = [0]

    def cheap_but_once(x):
        calls[0] += 1
        if calls[0] == 50:
            burn(300)  # 0.3 s on one record: about 2.4 ms a record over the first 124
        return x % 3, 1

    env = auto_env()
    it = env.from_collection(list(range(5000))).map(cheap_but_once).name("once").key_by(
        lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1])).name("sum").execute_and_collect()
    assert dict(it) == {0: 1667, 1: 1667, 2: 1666}  # the last sum of each key
    where = placement_of(it.job, "once")
    assert where.startswith("thread (auto: "), where
    left_out = re.search(r"its costliest slice left out \(\d+ records, ([\d.]+) ms of CPU\)", where)
    assert left_out and float(left_out.group(1)) >= 299, where


def test_a_step_is_known_again_by_its_code_and_its_closure_objects():
    from nbstream.plan.logical import Node, UserFn
    from nbstream.runtime.executors.auto import fingerprint

    def make(table):
        return lambda x: table[x]

    def node(call):
        return Node(1, "map", "m", fn=UserFn((call,)))

    small, large = [1], [2]
    same = make(small)
    assert fingerprint(node(same)) == fingerprint(node(make(small)))  # a cell run again
    assert fingerprint(node(make(small))) != fingerprint(node(make(large)))
    first = lambda x: x  # noqa: E731
    second = lambda x: x  # noqa: E731 - the same code on another line
    assert fingerprint(node(first)) != fingerprint(node(second))
    assert fingerprint(node(str)) is None  # not Python code: its cost cannot be told


def test_a_job_that_checkpoints_places_its_steps_on_threads_up_front(tmp_path):
    env = auto_env()
    env.enable_checkpointing(50)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
    it = env.from_collection(list(range(500))).map(lambda x: x + 1).name("inc").execute_and_collect()
    assert sorted(it) == list(range(1, 501))
    where = placement_of(it.job, "inc")
    assert "'inc': auto: the job checkpoints: chains are not moved while it runs" in where, where
    assert len(it.job.placement) == 1, it.job.placement  # chained with its source and sink
    assert "auto (measured" not in env.explain()


def test_an_unpicklable_step_stays_on_threads_without_failing():
    env = auto_env()
    lock = threading.Lock()
    it = env.from_collection([1, 2, 3]).map(lambda x: (x, lock.locked())).name(
        "locky").execute_and_collect()
    assert sorted(it) == [(1, False), (2, False), (3, False)]
    assert "cannot go to a worker process" in placement_of(it.job, "locky")


def test_free_threaded_python_keeps_threads(monkeypatch):
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    env = auto_env()
    it = env.from_collection([1, 2]).map(lambda x: x).name("any").execute_and_collect()
    assert sorted(it) == [1, 2]
    # placed up front, so chained with its source as in thread mode
    where = placement_of(it.job, "any")
    assert where.startswith("thread (") and (
        "'any': auto: free-threaded CPython: threads run Python code in parallel" in where), where
    assert len(it.job.placement) == 1, it.job.placement


class _Stamped(SourceFunction):
    def run(self, ctx):
        for i in range(400):
            ctx.collect_with_timestamp((f"k{i % 3}", i), 1000 + i)
            if i % 50 == 49:
                ctx.emit_watermark(1000 + i)


class _Totals(KeyedProcessFunction):
    def open(self, runtime_context):
        self.total = {}

    def process_element(self, value, ctx):
        key = ctx.get_current_key()
        self.total[key] = self.total.get(key, 0) + value[1]
        ctx.timer_service().register_event_time_timer(1399)
        return []

    def on_timer(self, timestamp, ctx):
        yield (ctx.get_current_key(), self.total[ctx.get_current_key()], timestamp)


class _SplitHeavy(ProcessFunction):
    def process_element(self, value, ctx):
        burn(1)
        if value[1] % 10 == 0:
            yield OUT_TAG, (value, ctx.timestamp())
        yield value


OUT_TAG = OutputTag("tens")


@pytest.mark.usefixtures("two_workers")
@pytest.mark.parametrize("mode", ["thread", "auto"])
def test_auto_gives_the_results_of_thread_mode(mode):
    """Timestamps, side outputs and watermarks pass an offloaded step unchanged."""
    warm = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": "process"})
    collect(warm.from_collection([1]).map(lambda x: x))  # ready workers: offloading starts soon
    env = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": mode})
    heavy = env.add_source(_Stamped()).process(_SplitHeavy()).name("split")
    totals = heavy.key_by(lambda v: v[0]).process(_Totals())
    tens = heavy.get_side_output(OUT_TAG)
    from nbstream import DataFrameSink

    side = DataFrameSink()
    tens.add_sink(side)
    it = totals.execute_and_collect()
    got = sorted(it)
    if mode == "auto":
        assert placement_of(it.job, "split").startswith("process on worker")
    expected_totals = {f"k{j}": sum(i for i in range(400) if i % 3 == j) for j in range(3)}
    assert got == sorted((k, v, 1399) for k, v in expected_totals.items())
    assert sorted(side.rows()) == sorted(((f"k{i % 3}", i), 1000 + i) for i in range(0, 400, 10))


@pytest.mark.usefixtures("two_workers")
def test_an_error_in_an_offloaded_step_names_it():
    env = auto_env()

    def heavy(x):
        burn(2)
        if x == 150:
            raise KeyError("missing")
        return x

    it = env.from_collection(list(range(200))).map(heavy).name("offloaded").execute_and_collect()
    with pytest.raises(UserFunctionError) as info:
        list(it)
    assert info.value.step == "offloaded" and "150" in str(info.value)
    assert isinstance(info.value.__cause__, KeyError)
    assert placement_of(it.job, "offloaded").startswith("process")


@pytest.mark.usefixtures("two_workers")
def test_a_worker_dying_under_an_offloaded_step_fails_the_job():
    env = auto_env()

    def fragile(x):
        burn(2)
        if os.getpid() != KERNEL:  # the first record offloaded to a worker (never the test's)
            os._exit(9)
        return x

    # enough records that the workers are there before the end, on a busy machine too
    it = env.from_collection(list(range(3000))).map(fragile).name("fragile").execute_and_collect()
    with pytest.raises(JobFailedError) as info:
        list(it)
    text = str(info.value)
    assert "exited with code 9" in text and "fragile" in text
    assert collect(auto_env().from_collection([1]).map(lambda x: x)) == [1]
