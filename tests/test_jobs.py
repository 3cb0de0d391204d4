"""Running jobs: results, handles, metrics, cancellation, failures, backpressure."""

import asyncio
import os
import signal
import threading
import time

import pytest

from nbstream import (JobCancelledError, JobStatus, SourceFunction, UserFunctionError)
from tests.conftest import collect


def test_execute_returns_id_wall_time_and_per_step_counts(make_env):
    env = make_env(2)
    env.from_sequence(1, 1000).filter(lambda x: x % 10 == 0).name("tenths").map(str).print()
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        result = env.execute("counting")
    assert len(result.get_job_id()) == 32 and result.job_name == "counting"
    assert result.wall_time_s > 0 and result.get_net_runtime() == int(result.wall_time_s * 1000)
    metrics = {k.split(":", 1)[1]: v for k, v in result.metrics.items()}
    assert metrics["tenths"]["records_in"] == 1000 and metrics["tenths"]["records_out"] == 100
    assert metrics["tenths"]["parallelism"] == 2
    assert metrics["Print to Std. Out"]["records_in"] == 100
    assert "tenths: 1000 in, 100 out" in str(result)


def test_execute_async_handle_lifecycle(env):
    gate = threading.Event()

    def gen():
        yield 1
        gate.wait(10)
        yield 2

    out = []
    env.from_iterable(gen).add_sink(out.append)
    job = env.execute_async("handle")
    assert job.get_job_status() is JobStatus.RUNNING and not job.wait(0.05)
    gate.set()
    result = job.result(10)
    assert job.status is JobStatus.FINISHED and job.done and out == [1, 2]
    assert result.job_id == job.get_job_id() and job.get_job_execution_result().result(10).job_id == job.job_id


def test_cancel_stops_an_endless_job_and_result_says_so(env):
    class Forever(SourceFunction):
        def __init__(self):
            self.running = True

        def run(self, ctx):
            while self.running:
                ctx.collect(0)
                time.sleep(0.001)

        def cancel(self):
            self.running = False

    env.add_source(Forever()).map(lambda x: x).add_sink(lambda v: None)
    job = env.execute_async()
    time.sleep(0.1)
    t = time.monotonic()
    job.cancel()
    assert job.wait(3) and time.monotonic() - t < 2
    assert job.status is JobStatus.CANCELED
    with pytest.raises(JobCancelledError):
        job.result()


def test_d19_function_error_fails_the_job(make_env):
    env = make_env(2)

    def boom(value):
        raise ValueError("flat_map_func error")

    env.from_collection([1, 2, 3]).flat_map(boom).print()
    with pytest.raises(UserFunctionError, match="flat_map_func error"):
        env.execute()


def test_a_failure_stops_the_other_tasks_fast(make_env):
    env = make_env(2)

    def endless():
        while True:
            yield 1
            time.sleep(0.0005)

    env.from_iterable(endless).map(lambda x: x).add_sink(lambda v: None)
    env.from_collection([1]).map(lambda x: 1 / 0).add_sink(lambda v: None)
    t = time.monotonic()
    with pytest.raises(UserFunctionError, match="ZeroDivisionError"):
        env.execute()
    assert time.monotonic() - t < 3


def test_cancel_waits_for_a_slow_function_then_stops(env):
    def slow(x):
        time.sleep(0.3)
        return x

    def endless():
        while True:
            yield 1

    env.from_iterable(endless).map(slow).add_sink(lambda v: None)
    job = env.execute_async()
    time.sleep(0.2)
    job.cancel()
    assert job.wait(5) and job.status is JobStatus.CANCELED


def test_backpressure_keeps_the_source_close_to_a_slow_sink(env):
    env.get_config().set_batch_size(16).set_channel_capacity(2)
    produced = []

    def gen():
        for i in range(100_000):
            produced.append(i)
            yield i

    consumed = []

    def slow_sink(v):
        consumed.append(v)
        time.sleep(0.0005)

    env.from_iterable(gen).key_by(lambda x: x % 3).map(lambda x: x).add_sink(slow_sink)
    job = env.execute_async()
    time.sleep(0.8)
    ahead = len(produced) - len(consumed)
    job.cancel()
    job.wait(5)
    assert 0 < len(consumed) < 100_000
    # in flight at most: hand-off batch + sealed batches + channel slots + batches in hand
    assert ahead < 16 * 12, f"source ran {ahead} records ahead of the sink"


def test_keyboard_interrupt_cancels_a_blocking_execute(env):
    def endless():
        while True:
            yield 1
            time.sleep(0.001)

    env.from_iterable(endless).add_sink(lambda v: None)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        env.execute("interrupted")
    timer.join()


def test_await_a_job(env):
    out = []
    env.from_collection([1, 2]).add_sink(out.append)
    job = env.execute_async()

    async def main():
        return await job

    result = asyncio.run(main())
    assert result.job_id == job.job_id and out == [1, 2]


def test_metrics_are_live_while_running(env):
    gate = threading.Event()

    def gen():
        yield from range(10)
        gate.wait(10)

    env.from_iterable(gen).map(lambda x: x).name("m").add_sink(lambda v: None)
    job = env.execute_async()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        m = {k.split(":", 1)[1]: v for k, v in job.metrics().items()}
        if m.get("m", {}).get("records_out") == 10:
            break
        time.sleep(0.01)
    assert m["m"]["records_in"] == 10
    gate.set()
    job.result(5)


def test_results_are_identical_at_any_parallelism(make_env):
    data = [(f"k{i % 13}", i) for i in range(3000)]
    runs = []
    for p in (1, 2, 4):
        env = make_env(p)
        got = collect(env.from_collection(data).key_by(lambda t: t[0])
                      .reduce(lambda a, b: (a[0], a[1] + b[1])).filter(lambda t: t[1] % 2 == 0))
        per_key = {}
        for k, v in got:
            per_key.setdefault(k, []).append(v)
        runs.append(per_key)
    assert runs[0] == runs[1] == runs[2]
