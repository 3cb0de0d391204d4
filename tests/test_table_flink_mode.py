"""Flink mode for the Table API and SQL: with ``python.execution-mode`` = ``flink`` the
query's plan runs as a job on a real Apache Flink mini-cluster (nbstream's flink executor,
its steps as PyFlink functions) and gives what the embedded runtime gives."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from nbstream.table import EnvironmentSettings, Schema, TableEnvironment

pytestmark = [pytest.mark.slow, pytest.mark.flink]

QUERIES = [
    "SELECT k, COUNT(*) AS c, SUM(v) AS s FROM ev GROUP BY k",
    "SELECT k, window_start, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), "
    "INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k",
]


def changelog(mode: str, sql: str) -> Counter:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("python.execution-mode", mode).set("parallelism.default", "1")
    t_env.get_config().set("nbstream.table.columnar", "false")
    events = pd.DataFrame({"k": [i % 3 for i in range(40)], "v": list(range(40)),
                           "ts": pd.to_datetime([i * 100 for i in range(40)], unit="ms")})
    t_env.create_temporary_view("ev", events, Schema.new_builder().watermark("ts", "ts").build())
    with t_env.execute_sql(sql).collect() as rows:
        return Counter((str(r.get_row_kind()), tuple(r)) for r in rows)


def test_a_sql_job_in_flink_mode_gives_the_embedded_results():
    for sql in QUERIES:
        assert changelog("flink", sql) == changelog("thread", sql)
