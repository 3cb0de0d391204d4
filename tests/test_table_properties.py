"""Property tests: for random rows (keys with NULLs, values with NULLs, event times out of
order within the watermark bound) the final result of a streaming GROUP BY, window
aggregation, join and Top-N, with its changelog applied, equals DuckDB's batch result over
the same rows; the changelog is well formed (no -U/-D of a row not there); thread and
process mode and parallelism 1, 2 and 4 agree."""

from __future__ import annotations

from collections import Counter
from typing import Any, List, Tuple

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream.table import EnvironmentSettings, Schema, TableEnvironment

BOUND_S = 3  # the watermark's out-of-orderness bound, seconds
KEYS = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
VALUES = st.one_of(st.none(), st.integers(-50, 50))


@st.composite
def events(draw, max_size: int = 40) -> pd.DataFrame:
    """Rows (k, v, ts): event times increase overall but each may lag by up to the bound."""
    n = draw(st.integers(1, max_size))
    rows, t = [], 0
    for i in range(n):
        t += draw(st.integers(0, 4000))
        lag = draw(st.integers(0, BOUND_S * 1000))
        rows.append((draw(KEYS), draw(VALUES), max(0, t - lag), i))
    frame = pd.DataFrame(rows, columns=["k", "v", "ms", "id"])
    frame["ts"] = pd.to_datetime(frame["ms"], unit="ms")
    frame["v"] = frame["v"].astype("Int64")
    return frame.drop(columns=["ms"])


def environment(frame: pd.DataFrame, mode: str = "thread", parallelism: int = 1,
                columnar: bool = False) -> TableEnvironment:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    config.set("python.execution-mode", mode).set("parallelism.default", str(parallelism))
    config.set("table.local-time-zone", "UTC").set("nbstream.table.columnar", str(columnar).lower())
    t_env.create_temporary_view("ev", frame, Schema.new_builder()
                                .watermark("ts", f"ts - INTERVAL '{BOUND_S}' SECOND").build())
    return t_env


def changelog(t_env: TableEnvironment, sql: str) -> List[Tuple[str, tuple]]:
    with t_env.execute_sql(sql).collect() as rows:
        return [(str(r.get_row_kind()), tuple(r)) for r in rows]


def final(log: List[Tuple[str, tuple]]) -> Counter:
    """The rows a changelog leaves; it must be well formed: a -U/-D takes away a row there."""
    rows: Counter = Counter()
    for kind, values in log:
        if kind in ("+I", "+U"):
            rows[values] += 1
        else:
            assert rows[values] > 0, f"{kind}{list(values)} retracts a row that is not there"
            rows[values] -= 1
    return +rows


def duck(frame: pd.DataFrame, sql: str) -> Counter:
    ev = frame  # noqa: F841  (DuckDB reads the frame by its name)
    out = duckdb.query(sql).fetchall()
    return Counter(tuple(_plain(v) for v in r) for r in out)


def _plain(v: Any) -> Any:
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    return v


def normalized(rows: Counter) -> Counter:
    return Counter(tuple(_plain(v) for v in r) for r in rows.elements())


PROPERTY = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

GROUP_SQL = ("SELECT k, COUNT(*) AS c, COUNT(v) AS cv, SUM(v) AS s, MIN(v) AS mn, MAX(v) AS mx "
             "FROM ev GROUP BY k")
WINDOW_SQL = ("SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s, MAX(v) AS mx FROM TABLE("
              "TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND)) "
              "GROUP BY window_start, window_end, k")
WINDOW_DUCK = ("SELECT k, time_bucket(INTERVAL '5 seconds', ts) AS ws, COUNT(*), SUM(v), MAX(v) "
               "FROM ev GROUP BY ALL")


@PROPERTY
@given(events())
def test_group_by_final_result_equals_duckdb(frame):
    got = final(changelog(environment(frame), GROUP_SQL))
    assert normalized(got) == duck(frame, GROUP_SQL)


@PROPERTY
@given(events(), st.booleans())
def test_window_aggregation_equals_duckdb(frame, columnar):
    log = changelog(environment(frame, columnar=columnar), WINDOW_SQL)
    assert all(kind == "+I" for kind, _ in log)  # a window aggregation only inserts
    assert normalized(final(log)) == duck(frame, WINDOW_DUCK)


@PROPERTY
@given(events())
def test_window_aggregation_to_pandas_on_arrow_equals_duckdb(frame):
    """to_pandas() of a columnar window aggregation is computed on Arrow batches."""
    out = environment(frame, columnar=True).sql_query(WINDOW_SQL).to_pandas()
    assert str(out["window_start"].dtype) == "datetime64[ms]"
    rows = Counter(tuple(None if pd.isna(v) else _plain(v) for v in r)
                   for r in out.itertuples(index=False, name=None))
    assert rows == duck(frame, WINDOW_DUCK)


@PROPERTY
@given(events(20), events(20))
def test_join_final_result_equals_duckdb(left, right):
    t_env = environment(left)
    t_env.create_temporary_view("r", right.rename(columns={"k": "rk", "v": "rv", "ts": "rts",
                                                           "id": "rid"}))
    sql = "SELECT k, v, rv FROM ev JOIN r ON k = rk"
    got = final(changelog(t_env, sql))
    ev, r = left, right  # noqa: F841
    want = Counter(duckdb.query("SELECT ev.k, ev.v, r.v FROM ev JOIN r ON ev.k = r.k").fetchall())
    assert normalized(got) == want


@PROPERTY
@given(events(30))
def test_left_join_final_result_equals_duckdb(left):
    right = left.sample(frac=0.5, random_state=1)
    t_env = environment(left)
    t_env.create_temporary_view("r", right.rename(columns={"k": "rk", "v": "rv", "ts": "rts",
                                                           "id": "rid"}))
    got = final(changelog(t_env, "SELECT id, rid FROM ev LEFT JOIN r ON k = rk AND id = rid"))
    ev, r = left, right  # noqa: F841
    want = Counter(duckdb.query("SELECT ev.id, r.id FROM ev LEFT JOIN r ON ev.k = r.k "
                                "AND ev.id = r.id").fetchall())
    assert normalized(got) == want


@PROPERTY
@given(events())
def test_top_n_final_result_equals_duckdb(frame):
    sql = ("SELECT k, id, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, "
           "id) AS rn FROM ev) WHERE rn <= 2")
    got = final(changelog(environment(frame), sql))
    want = duck(frame, "SELECT k, id, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k "
                       "ORDER BY v DESC NULLS FIRST, id) AS rn FROM ev) WHERE rn <= 2")
    assert normalized(got) == want


FIXED = pd.DataFrame({"k": [None if i % 7 == 0 else "abcd"[i % 4] for i in range(60)],
                      "v": pd.array([None if i % 11 == 0 else i % 13 for i in range(60)],
                                    dtype="Int64"),
                      "id": range(60),
                      "ts": pd.to_datetime([i * 700 - (i % 3) * 900 for i in range(60)],
                                           unit="ms")})


@pytest.mark.parametrize("mode, parallelism", [("thread", 1), ("thread", 2), ("thread", 4),
                                               ("process", 2)])
def test_modes_and_parallelism_agree(mode, parallelism):
    base = environment(FIXED)
    want_group = final(changelog(base, GROUP_SQL))
    want_window = final(changelog(base, WINDOW_SQL))
    t_env = environment(FIXED, mode, parallelism)
    assert final(changelog(t_env, GROUP_SQL)) == want_group
    assert final(changelog(t_env, WINDOW_SQL)) == want_window
    assert normalized(want_group) == duck(FIXED, GROUP_SQL)
