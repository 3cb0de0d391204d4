"""A SQL job with a window aggregation and a join keeps its state in checkpoints: a worker
killed in the middle of the job (process mode) restarts it from the last checkpoint and the
results are exactly once (the same multiset as a run without the failure)."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from nbstream.table import EnvironmentSettings, Schema, TableEnvironment
from tests.workers import kill_a_worker_of

N = 6000
QUERY = ("SELECT w.k, w.window_start, w.c, w.s, d.label FROM ("
         "SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s FROM TABLE(TUMBLE(TABLE ev, "
         "DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k) w "
         "JOIN dims d ON w.k = d.k")


def environment(**config: str) -> TableEnvironment:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in config.items():
        t_env.get_config().set(key, value)
    t_env.get_config().set("nbstream.table.columnar", "false")  # the row path's state
    events = pd.DataFrame({"k": [i % 5 for i in range(N)], "v": list(range(N)),
                           "ts": pd.to_datetime([i * 5 for i in range(N)], unit="ms")})
    t_env.create_temporary_view("ev", events, Schema.new_builder()
                                .watermark("ts", "ts - INTERVAL '1' SECOND").build())
    t_env.create_temporary_view("dims", t_env.from_elements(
        [(k, f"key-{k}") for k in range(5)], ["k", "label"]))
    return t_env


def test_a_killed_worker_restarts_the_sql_job_from_its_checkpoint_exactly_once(tmp_path):
    with environment().execute_sql(QUERY).collect() as rows:
        expected = Counter(tuple(r) for r in rows)
    assert sum(c for (_, _, c, _, _) in expected) == N
    t_env = environment(**{
        "python.execution-mode": "process", "parallelism.default": "2",
        "nbstream.batch-size": "20", "execution.checkpointing.interval": "30 ms",
        "execution.checkpointing.dir": str(tmp_path / "cp"),
        "restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "2",
        "restart-strategy.fixed-delay.delay": "0 ms"})
    got, victim = Counter(), None
    with t_env.execute_sql(QUERY).collect() as rows:
        job = rows._source.job
        for r in rows:
            got[tuple(r)] += 1
            if victim is None and job.checkpoint_info().get("completed", 0) >= 2:
                victim = kill_a_worker_of(job)
    assert victim is not None, "the job ended before two checkpoints completed"
    assert job.restarts == 1 and "SIGKILL" in job.last_failure
    assert got == expected
