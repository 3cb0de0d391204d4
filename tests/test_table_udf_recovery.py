"""Python UDF steps keep their place in checkpoints: a pandas UDF (a bundle step, which
emits its open bundle before a barrier goes on) feeding a window aggregation with a Python
aggregate function, in process mode, with a worker killed in the middle of the job: the job
restarts from its last checkpoint and the results are exactly once."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from nbstream.table import DataTypes, EnvironmentSettings, Schema, TableEnvironment
from nbstream.table.udf import AggregateFunction, udaf, udf
from tests.workers import kill_a_worker_of

N = 6000
QUERY = ("SELECT k, window_start, my_sum(tripled) AS s, COUNT(*) AS c FROM TABLE(TUMBLE("
         "TABLE tripled_events, DESCRIPTOR(ts), INTERVAL '1' SECOND)) "
         "GROUP BY window_start, window_end, k")


class Sum(AggregateFunction):
    def create_accumulator(self):
        return [0]

    def accumulate(self, acc, v):
        acc[0] += v

    def get_value(self, acc):
        return acc[0]

    def get_result_type(self):
        return DataTypes.BIGINT()

    def get_accumulator_type(self):
        return DataTypes.ARRAY(DataTypes.BIGINT())


def environment(**config: str) -> TableEnvironment:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in config.items():
        t_env.get_config().set(key, value)
    t_env.get_config().set("nbstream.table.columnar", "false")  # the row path's bundles
    events = pd.DataFrame({"k": [i % 5 for i in range(N)], "v": list(range(N)),
                           "ts": pd.to_datetime([i * 5 for i in range(N)], unit="ms")})
    t_env.create_temporary_view("ev", events, Schema.new_builder()
                                .watermark("ts", "ts - INTERVAL '1' SECOND").build())
    t_env.create_temporary_function(
        "triple", udf(lambda s: s * 3, result_type="BIGINT", func_type="pandas"))
    t_env.create_temporary_function("my_sum", udaf(Sum()))
    t_env.create_temporary_view("tripled_events", t_env.sql_query(
        "SELECT k, triple(v) AS tripled, ts FROM ev"))
    return t_env


def test_a_killed_worker_restarts_a_job_of_python_udfs_from_its_checkpoint(tmp_path):
    with environment().execute_sql(QUERY).collect() as rows:
        expected = Counter(tuple(r) for r in rows)
    assert sum(r[3] * n for r, n in expected.items()) == N
    assert sum(r[2] * n for r, n in expected.items()) == 3 * sum(range(N))
    t_env = environment(**{
        "python.execution-mode": "process", "parallelism.default": "2",
        "nbstream.batch-size": "20", "python.fn-execution.bundle.size": "50",
        "execution.checkpointing.interval": "30 ms",
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
