"""Flink mode for the Table API and SQL: with ``python.execution-mode`` = ``flink`` a Table
program runs on real Apache Flink (a mini-cluster): its SQL text and Table API calls are
replayed on PyFlink's own TableEnvironment and planned by Flink's planner, the tables over
notebook objects are fed from this process, and the results are the embedded runtime's."""

from __future__ import annotations

import glob
import os
from collections import Counter

import pandas as pd
import pytest

from nbstream.table import DataTypes, EnvironmentSettings, Schema, TableEnvironment, col, lit
from nbstream.table.result import materialize
from nbstream.table.udf import udf
from nbstream.table.window import Tumble

pytestmark = [pytest.mark.slow, pytest.mark.flink]

EVENTS = pd.DataFrame({"k": [i % 3 for i in range(40)], "v": list(range(40)),
                       "ts": pd.to_datetime([i * 100 for i in range(40)], unit="ms")})
clicks = pd.DataFrame({"user": ["a", "b", "a", "c", "b", "a"], "n": [1, 2, 3, 4, 5, 6]})
plus_ten = udf(lambda x: x + 10, result_type=DataTypes.BIGINT())


def environment(mode: str) -> TableEnvironment:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("python.execution-mode", mode).set("parallelism.default", "1")
    t_env.create_temporary_view("ev", EVENTS, Schema.new_builder().watermark("ts", "ts").build())
    t_env.create_temporary_view("names", t_env.from_elements([("a", "Ann"), ("b", "Bob")],
                                                             ["uid", "name"]))
    t_env.create_temporary_system_function("plus_ten", plus_ten)
    return t_env


def run(result, flink: bool):
    """(the changelog, the rows it leaves); a flink-mode job must have run on Flink's planner."""
    job = result.get_job_client()
    assert ("flink" in job.placement) == flink, job.placement
    with result.collect() as it:
        log = [(int(r.get_row_kind().value), *r) for r in it]
    return Counter(log), Counter(materialize(log))


def programs(t_env: TableEnvironment):
    ev = t_env.from_path("ev")
    return {
        "group by": t_env.execute_sql("SELECT k, COUNT(*) AS c, SUM(v) AS s FROM ev GROUP BY k"),
        "tumble": t_env.execute_sql(
            "SELECT k, window_start, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), "
            "INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k"),
        "table api window": ev.where(col("v") > 5)
        .window(Tumble.over(lit(1).seconds).on(col("ts")).alias("w"))
        .group_by(col("k"), col("w"))
        .select(col("k"), col("w").start.alias("s"), col("v").sum.alias("total")).execute(),
        # a DataFrame named in SQL, a view of from_elements, a UDF, an outer join
        "udf and join": t_env.execute_sql(
            "SELECT c.`user`, plus_ten(c.n) AS p, nm.name FROM clicks AS c "
            "LEFT JOIN names AS nm ON c.`user` = nm.uid"),
        "table api udf": t_env.from_pandas(clicks)
        .join(t_env.from_path("names"), col("user") == col("uid"))
        .select(col("name"), plus_ten(col("n")).alias("x")).execute(),
    }


def batch_programs(mode: str):
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    t_env.get_config().set("python.execution-mode", mode).set("parallelism.default", "1")
    t = t_env.from_elements([(1, "a"), (2, "b"), (3, "a")], ["n", "k"])
    return {"batch group by": t.group_by(col("k")).select(col("k"), col("n").sum).execute(),
            "batch sql": t_env.execute_sql("SELECT `user`, COUNT(*) AS c FROM clicks "
                                           "GROUP BY `user`")}


def test_sql_and_table_api_run_on_flinks_planner_with_the_embedded_results():
    flink = {**programs(environment("flink")), **batch_programs("flink")}
    embedded = {**programs(environment("thread")), **batch_programs("thread")}
    for name in flink:
        got_log, got_rows = run(flink[name], flink=True)
        want_log, want_rows = run(embedded[name], flink=False)
        assert got_rows == want_rows, name
        if name != "udf and join":  # an outer join's changelog depends on arrival order
            assert got_log == want_log, name


def test_inserts_run_on_flink_and_write_the_embedded_runtimes_files(tmp_path):
    written = {}
    for mode in ("flink", "thread"):
        t_env = environment(mode)
        for sink in ("big", "small"):
            t_env.execute_sql(f"CREATE TABLE {sink} (k BIGINT, v BIGINT) WITH ("
                              f"'connector' = 'filesystem', 'path' = '{tmp_path}/{mode}/{sink}',"
                              f" 'format' = 'csv')")
        statements = t_env.create_statement_set()
        statements.add_insert_sql("INSERT INTO big SELECT k, v FROM ev WHERE v >= 30")
        small = t_env.from_path("ev").where(col("v") < 3).select(col("k"), col("v") * 2)
        statements.add_insert("small", small)
        result = statements.execute()
        assert ("flink" in result.get_job_client().placement) == (mode == "flink")
        result.wait()
        written[mode] = {sink: sorted("".join(open(f).read() for f in glob.glob(
            os.path.join(tmp_path, mode, sink, "*"))).splitlines()) for sink in ("big", "small")}
    assert written["flink"] == written["thread"]
    assert written["thread"]["small"] == ["0,0", "1,2", "2,4"]
