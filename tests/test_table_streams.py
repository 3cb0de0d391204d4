"""Tables and DataStreams (StreamTableEnvironment), and savepoints of SQL jobs: a savepoint
taken from a GROUP BY query restores into the same query with another projection and
filter after the aggregation (the uids come from the stateful parts of the query)."""

from __future__ import annotations

import itertools

from nbstream import RowKind, StreamExecutionEnvironment, Types
from nbstream.runtime.row import Row
from nbstream.table import DataTypes, Schema, StreamTableEnvironment, col


def test_a_data_stream_becomes_a_table_and_a_table_a_data_stream():
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection([("a", 1), ("b", 2), ("a", 3)],
                             Types.ROW_NAMED(["k", "n"], [Types.STRING(), Types.INT()]))
    t_env = StreamTableEnvironment.create(env)
    table = t_env.from_data_stream(ds)
    assert table.get_schema().get_field_names() == ["k", "n"]
    doubled = t_env.to_data_stream(table.select(col("k"), (col("n") * 2).alias("m")))
    rows = doubled.execute_and_collect(limit=3)
    assert [(r.k, r.m) for r in rows] == [("a", 2), ("b", 4), ("a", 6)]
    assert repr(rows[0]) == "Row(k='a', m=2)"


def test_a_changelog_goes_out_and_comes_back():
    env = StreamExecutionEnvironment.get_execution_environment()
    t_env = StreamTableEnvironment.create(env)
    t_env.create_temporary_view("t", t_env.from_elements([("a", 1), ("a", 2)], ["k", "n"]))
    totals = t_env.sql_query("SELECT k, SUM(n) AS s FROM t GROUP BY k")
    out = t_env.to_changelog_stream(totals).execute_and_collect(limit=3)
    assert [(str(r.get_row_kind()), tuple(r)) for r in out] == [
        ("+I", ("a", 1)), ("-U", ("a", 1)), ("+U", ("a", 3))]
    rows = []
    for kind, values in ((RowKind.INSERT, ("x", 1)), (RowKind.UPDATE_BEFORE, ("x", 1)),
                         (RowKind.UPDATE_AFTER, ("x", 5)), (RowKind.INSERT, ("y", 2))):
        r = Row(*values)
        r.set_row_kind(kind)
        rows.append(r)
    env2 = StreamExecutionEnvironment.get_execution_environment()
    t_env2 = StreamTableEnvironment.create(env2)
    changes = env2.from_collection(rows, Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.INT()]))
    table = t_env2.from_changelog_stream(changes)
    assert table.to_pandas().sort_values("k").values.tolist() == [["x", 5], ["y", 2]]


def test_from_data_stream_with_a_schema_makes_a_rowtime():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    ds = env.from_collection([(1000, "a"), (4000, "b"), (6500, "a")],
                             Types.ROW([Types.LONG(), Types.STRING()]))
    t_env = StreamTableEnvironment.create(env)
    table = t_env.from_data_stream(ds, Schema.new_builder()
                                   .column_by_expression("ts", "TO_TIMESTAMP_LTZ(f0, 3)")
                                   .column("f1", DataTypes.STRING())
                                   .watermark("ts", "ts - INTERVAL '1' SECOND").build())
    assert [t.summary_string() for t in table.get_schema().get_field_data_types()] == [
        "TIMESTAMP_LTZ(3) *ROWTIME*", "STRING"]
    t_env.create_temporary_view("ev", table)
    out = t_env.execute_sql("SELECT window_start, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE ev, "
                            "DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY window_start, "
                            "window_end").to_pandas()
    assert out["c"].tolist() == [2, 1]


def test_a_savepoint_of_a_sql_job_restores_after_an_edit_after_the_aggregation(tmp_path):
    from nbstream.table import EnvironmentSettings, TableEnvironment

    def environment(**config):
        t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
        t_env.get_config().set("execution.checkpointing.interval", "50 ms")
        t_env.get_config().set("execution.checkpointing.dir", str(tmp_path / "cp"))
        for k, v in config.items():
            t_env.get_config().set(k, v)
        t_env.execute_sql("CREATE TABLE ticks (k INT, n INT) WITH ('connector' = 'datagen', "
                          "'rows-per-second' = '500', 'fields.k.min' = '0', "
                          "'fields.k.max' = '1', 'fields.n.kind' = 'sequence', "
                          "'fields.n.start' = '1', 'fields.n.end' = '1000000')")
        return t_env

    first = environment().execute_sql("SELECT k, COUNT(*) AS c FROM ticks GROUP BY k")
    seen = {}
    with first.collect() as rows:
        for r in itertools.islice(rows, 200):
            seen[r[0]] = r[1]
        savepoint = first.get_job_client().stop_with_savepoint(str(tmp_path / "sp"))
    # the same aggregation, another projection and filter after it: its state comes back
    again = environment(**{"execution.savepoint.path": savepoint}).execute_sql(
        "SELECT k, c * 10 AS c10 FROM (SELECT k, COUNT(*) AS c FROM ticks GROUP BY k) "
        "WHERE c > 0")
    with again.collect() as rows:
        first_rows = list(itertools.islice(rows, 2))
        again.get_job_client().cancel()
    assert all(r.get_row_kind() in (RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER)
               or r[1] > 10 for r in first_rows), first_rows  # counts went on, not from 1
    assert max(r[1] for r in first_rows) >= 10 * max(seen.values())
