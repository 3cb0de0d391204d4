"""The Table API and SQL end to end on the runtime: from_elements / VALUES / a DataFrame ->
select / where / group_by -> print() / collect() / to_pandas(), with Flink's names, types,
changelog and printing; the same results in thread and process mode."""

from __future__ import annotations

import decimal

import pandas as pd
import pytest

from nbstream.table import (DataTypes, EnvironmentSettings, TableEnvironment, ValidationError,
                            col, lit)
from nbstream.table.sql.dialect import SqlParseError


def streaming(**config):
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for k, v in config.items():
        t_env.get_config().set(k.replace("_", "."), v)
    return t_env


def batch():
    return TableEnvironment.create(EnvironmentSettings.in_batch_mode())


def printed(capsys, result) -> str:
    result.print()
    return capsys.readouterr().out


def test_from_elements_infers_pyflink_types_and_default_names():
    t = streaming().from_elements([(1, "a", 1.5, True)])
    schema = t.get_schema()
    assert schema.get_field_names() == ["_1", "_2", "_3", "_4"]
    assert [x.summary_string() for x in schema.get_field_data_types()] == [
        "BIGINT", "STRING", "DOUBLE", "BOOLEAN"]
    assert [str(x) for x in schema.get_field_data_types()] == ["BIGINT", "VARCHAR", "DOUBLE",
                                                               "BOOLEAN"]


def test_group_by_prints_flinks_changelog_in_streaming_mode(capsys):
    t = streaming().from_elements([(1, "Germany"), (2, "China"), (3, "USA"), (4, "China")],
                                  ["id", "country"])
    out = printed(capsys, t.group_by(col("country"))
                  .select(col("country"), col("id").count, col("id").max).execute())
    assert out == """\
+----+--------------------------------+----------------------+----------------------+
| op |                        country |               EXPR$0 |               EXPR$1 |
+----+--------------------------------+----------------------+----------------------+
| +I |                        Germany |                    1 |                    1 |
| +I |                          China |                    1 |                    2 |
| +I |                            USA |                    1 |                    3 |
| -U |                          China |                    1 |                    2 |
| +U |                          China |                    2 |                    4 |
+----+--------------------------------+----------------------+----------------------+
5 rows in set
"""


def test_sql_over_a_view_with_where_and_aggregates(capsys):
    t_env = streaming()
    t_env.create_temporary_view("t", t_env.from_elements(
        [(1, "a"), (2, "b"), (3, "a"), (30, "b")], ["n", "k"]))
    out = printed(capsys, t_env.execute_sql(
        "SELECT k, SUM(n) AS s, COUNT(*) FROM t WHERE n < 10 GROUP BY k"))
    assert out.splitlines()[1] == ("| op |                              k |                    s |"
                                   "               EXPR$2 |")
    assert [line.split("|")[1].strip() for line in out.splitlines()[3:-2]] == [
        "+I", "+I", "-U", "+U"]
    assert out.endswith("4 rows in set\n")


def test_batch_mode_prints_final_rows_without_op_column(capsys):
    t_env = batch()
    t_env.create_temporary_view("t", t_env.from_elements([(1, "a"), (2, "b"), (3, "a")],
                                                         ["n", "k"]))
    out = printed(capsys, t_env.execute_sql("SELECT k, SUM(n) AS s FROM t GROUP BY k"))
    lines = out.splitlines()
    assert lines[1] == "|                              k |                    s |"
    assert sorted(lines[3:5]) == ["|                              a |                    4 |",
                                  "|                              b |                    2 |"]
    assert lines[-1] == "2 rows in set"


def test_batch_global_aggregate_over_no_rows_gives_one_row(capsys):
    out = printed(capsys, batch().execute_sql(
        "SELECT COUNT(*), SUM(a) FROM (VALUES (1, 'x'), (2, 'y')) AS t(a, b) WHERE a > 5"))
    assert out.splitlines()[3] == "|                    0 |      <NULL> |"


def test_empty_result_prints_empty_set(capsys):
    t = streaming().from_elements([(1,)], ["a"])
    assert printed(capsys, t.where(col("a") > 5).execute()) == "Empty set\n"


def test_collected_rows_have_kinds_and_no_field_names():
    t = streaming().from_elements([(1, "x")], ["a", "b"])
    with t.select(col("a") * 2, col("b")).execute().collect() as rows:
        got = list(rows)
    assert repr(got[0]) == "<Row(2, 'x')>"
    assert str(got[0].get_row_kind()) == "+I"
    with pytest.raises((AttributeError, KeyError)):
        got[0]["b"]


def test_sql_arithmetic_and_decimal_scales(capsys):
    out = printed(capsys, batch().execute_sql(
        "SELECT 7 / 2, -7 / 2, 7.0 / 2, 7 / 2.0, CAST(10 AS DECIMAL(10,2)) / 3, 1.1 + 2.20, "
        "0.1 + 0.2, ROUND(-2.5, 0), MOD(-7, 3), CAST(-3.99 AS INT), 2147483647 + 1"))
    cells = [c.strip() for c in out.splitlines()[3].split("|")[1:-1]]
    assert cells == ["3", "-3", "3.500000000000", "3.500000", "3.3333333333333", "3.30", "0.3",
                     "-3", "-1", "-3", "-2147483648"]


def test_null_logic_and_case(capsys):
    out = printed(capsys, batch().execute_sql(
        "SELECT NULL + 1, TRUE AND NULL, FALSE AND NULL, NULL IS DISTINCT FROM 1, "
        "CASE WHEN 1 > 2 THEN 'x' END, COALESCE(NULL, 'b'), NULLIF(1, 1)"))
    cells = [c.strip() for c in out.splitlines()[3].split("|")[1:-1]]
    assert cells == ["<NULL>", "<NULL>", "FALSE", "TRUE", "<NULL>", "b", "<NULL>"]


def test_dataframe_in_and_out_with_pyflink_dtypes():
    t_env = streaming()
    df = pd.DataFrame({"k": ["a", "b", None], "v": [1.5, None, 3.0], "n": [1, 2, 3]})
    t = t_env.from_pandas(df)
    assert [x.summary_string() for x in t.get_schema().get_field_data_types()] == [
        "STRING", "DOUBLE", "BIGINT"]
    out = t.select(col("k"), col("v"), col("n").cast(DataTypes.INT()).alias("i")).to_pandas()
    assert list(out.columns) == ["k", "v", "i"]
    assert str(out["i"].dtype) == "int32"
    assert out["k"].tolist() == ["a", "b", None]
    assert out["v"].isna().tolist() == [False, True, False]


def test_to_pandas_applies_the_changelog():
    t = streaming().from_elements([(1, "a"), (2, "a"), (3, "b")], ["n", "k"])
    out = t.group_by(col("k")).select(col("k"), col("n").sum.alias("s")).to_pandas()
    assert sorted(out.itertuples(index=False, name=None)) == [("a", 3), ("b", 3)]


def test_decimals_come_back_as_decimal_with_full_scale():
    t_env = batch()
    rows = list(t_env.execute_sql("SELECT CAST(3 AS DECIMAL(10, 2)), 1.50").collect())
    assert tuple(rows[0]) == (decimal.Decimal("3.00"), decimal.Decimal("1.50"))


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_modes_and_parallelism_agree(mode):
    t_env = streaming(**{"python_execution-mode": mode, "parallelism_default": "2"})
    t_env.create_temporary_view("t", t_env.from_elements(
        [(i % 3, i) for i in range(30)], ["k", "v"]))
    result = t_env.execute_sql("SELECT k, SUM(v), COUNT(DISTINCT v % 4) FROM t GROUP BY k")
    final = result.to_pandas()
    assert sorted(final.itertuples(index=False, name=None)) == [(0, 135, 4), (1, 145, 4),
                                                               (2, 155, 4)]


# -- errors a user meets -------------------------------------------------------------------------
def test_unknown_column_lists_the_candidates():
    t_env = streaming()
    t_env.create_temporary_view("t", t_env.from_elements([(1, "a")], ["amount", "kind"]))
    with pytest.raises(ValidationError, match=r"Column 'amont' not found.*'amount'.*amount, kind"):
        t_env.sql_query("SELECT amont FROM t")


def test_unknown_table_lists_the_tables():
    t_env = streaming()
    t_env.create_temporary_view("orders", t_env.from_elements([(1,)], ["a"]))
    with pytest.raises(ValidationError, match=r"Object 'order' not found.*'orders'"):
        t_env.sql_query("SELECT * FROM `order`")


def test_type_error_names_the_expression_and_the_types():
    t = streaming().from_elements([("x", 1)], ["s", "n"])
    with pytest.raises(ValidationError, match=r"Cannot apply '\+' to arguments of type "
                                              r"'<STRING> \+ <INT>'.*in 'plus\(s, 1\)'"):
        t.select(col("s") + lit(1))  # resolved (and checked) at once
    t_env = streaming()
    t_env.create_temporary_view("t", t)
    with pytest.raises(ValidationError, match=r"Cannot apply.*<STRING> \+ <INT>.*in 's \+ 1'"):
        t_env.sql_query("SELECT s + 1 FROM t")


def test_syntax_error_points_at_line_and_column_with_a_caret():
    t_env = streaming()
    with pytest.raises(SqlParseError) as info:
        t_env.execute_sql("SELECT a,\n  b FROM t WHERE (a > 1")
    message = str(info.value)
    assert "line 2" in message and "column" in message
    assert message.splitlines()[-1].strip() == "^"


def test_unsupported_features_are_refused_by_name():
    t_env = streaming()
    with pytest.raises(ValidationError, match="MATCH_RECOGNIZE .* is not supported"):
        t_env.execute_sql("SELECT * FROM t MATCH_RECOGNIZE (PARTITION BY a ORDER BY ts "
                          "MEASURES A.x AS x PATTERN (A) DEFINE A AS A.x > 0)")
