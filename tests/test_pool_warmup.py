"""An environment set to process mode (what ``%set_mode process`` does) starts the worker
pool in the background: the workers are up before any job asks, and a job that comes while
they start waits for them rather than starting others."""

from __future__ import annotations

import time

from nbstream import StreamExecutionEnvironment
from nbstream.runtime.executors.pool import get_pool, shutdown_pool


def test_setting_the_process_mode_warms_the_pool_without_a_job():
    shutdown_pool()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("process")
    pool = get_pool()
    deadline = time.monotonic() + 60
    while len(pool.workers) < pool.size and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(pool.workers) == pool.size
    started = {w.pid for w in pool.workers.values()}
    assert sorted(env.from_collection([1, 2, 3]).map(lambda x: x * 2).execute_and_collect(limit=3)) \
        == [2, 4, 6]
    assert {w.pid for w in pool.workers.values()} == started  # the job used them


def test_a_job_right_after_the_mode_waits_for_the_starting_workers():
    shutdown_pool()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("process").set_parallelism(2)
    got = env.from_sequence(1, 100).map(lambda x: x + 1).execute_and_collect()
    assert sorted(got) == list(range(2, 102))
    pool = get_pool()
    assert len(pool.workers) == pool.size  # one start, not a second set beside the first
    assert [w.id for w in pool.workers.values()] == list(range(1, pool.size + 1))
