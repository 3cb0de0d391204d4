"""SQL on nbstream against DuckDB, polars and a hand-written loop, in one run.

1. W2 as SQL: ``TUMBLE`` 10 s windows, COUNT(*) and SUM per key, over N events (key =
   i % 100, timestamp = i ms, value = i % 97) from a pandas DataFrame and from a Parquet
   file, vs DuckDB and polars on the same data (results checked equal). The SQL runs on
   nbstream's columnar path (DataFrame / Parquet sources, built-in aggregates).
2. A streaming GROUP BY (COUNT, SUM per key, its changelog +I/-U/+U) over M rows vs a
   hand-written Python loop keeping the same dict and changelog.
3. Peak RSS of a fresh process running the Parquet query over N events.

    python benchmarks/sql.py                          # 10,000,000 events, 1,000,000 group-by rows
    python benchmarks/sql.py --events 1000000 --rows 200000 --runs 3   # quicker
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, median_seconds  # noqa: E402

KEYS, WINDOW_MS = 100, 10_000
W2_SQL = ("SELECT k, window_start, COUNT(*) AS c, SUM(v) AS s FROM TABLE(TUMBLE(TABLE events, "
          "DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, k")


def events(n: int):
    import numpy as np
    import pandas as pd
    i = np.arange(n, dtype=np.int64)
    return pd.DataFrame({"k": i % KEYS, "ts": pd.to_datetime(i, unit="ms"), "v": i % 97})


def as_dict(frame) -> dict:
    import pandas as pd
    starts = pd.to_datetime(frame["window_start"]).dt.as_unit("ms").astype("int64")
    return dict(zip(zip(frame["k"].tolist(), starts.tolist()),
                    zip(frame["c"].tolist(), frame["s"].tolist())))


def nbstream_sql(source):
    """W2 in SQL on nbstream: ``source`` is a DataFrame or a Parquet file's path."""
    from nbstream.table import EnvironmentSettings, Schema, TableEnvironment
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    if isinstance(source, str):
        t_env.execute_sql(f"CREATE TABLE events (k BIGINT, ts TIMESTAMP(3), v BIGINT, "
                          f"WATERMARK FOR ts AS ts) WITH ('connector' = 'filesystem', "
                          f"'path' = '{source}', 'format' = 'parquet')")
    else:
        t_env.create_temporary_view("events", source, Schema.new_builder()
                                    .watermark("ts", "ts").build())
    return as_dict(t_env.sql_query(W2_SQL).to_pandas())


def duckdb_sql(frame):
    import duckdb
    q = ("SELECT k, time_bucket(INTERVAL '10 seconds', ts) AS window_start, COUNT(*) AS c, "
         "SUM(v) AS s FROM frame GROUP BY ALL")
    return as_dict(duckdb.query(q).df())


def polars_query(frame):
    import polars as pl
    df = pl.from_pandas(frame)
    out = (df.group_by([pl.col("k"), pl.col("ts").dt.truncate("10s").alias("window_start")])
           .agg(pl.len().alias("c"), pl.col("v").sum().alias("s")))
    return as_dict(out.to_pandas())


# -- streaming GROUP BY with its changelog -----------------------------------------------------------
def group_rows(m: int):
    return [(i % 1000, i % 97) for i in range(m)]


def nbstream_group_by(rows):
    from nbstream.table import EnvironmentSettings, TableEnvironment
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.create_temporary_view("t", t_env.from_elements(rows, ["k", "v"]))
    changes = 0
    with t_env.execute_sql("SELECT k, COUNT(*) AS c, SUM(v) AS s FROM t GROUP BY k").collect() as it:
        for _ in it:
            changes += 1
    return changes


def hand_loop(rows):
    """The same GROUP BY by hand: a dict of (count, sum) per key and the changelog list."""
    acc = {}
    out = []
    append = out.append
    for k, v in rows:
        old = acc.get(k)
        if old is None:
            new = acc[k] = (1, v)
            append(("+I", k, new))
        else:
            new = acc[k] = (old[0] + 1, old[1] + v)
            append(("-U", k, old))
            append(("+U", k, new))
    return len(out)


def peak_rss(path: str) -> str:
    code = ("import sys; sys.path.insert(0, sys.argv[2]); "
            "from benchmarks.sql import nbstream_sql; n = len(nbstream_sql(sys.argv[1])); "
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
            "print(n, int(hwm.split()[1]) // 1024)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code, path, root], capture_output=True,
                         text=True, check=True, env=dict(os.environ, PYTHONPATH=root)).stdout.split()
    return f"{int(out[1])} MB peak RSS ({out[0]} windows)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    n, m = args.events, args.rows
    frame = events(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "events.parquet")
        frame.assign(ts=frame["ts"].astype("datetime64[ms]")).to_parquet(path, row_group_size=1 << 20)
        expected = duckdb_sql(frame)
        check = lambda out: out == expected  # noqa: E731
        timings = {
            "nbstream SQL, DataFrame": median_seconds(lambda: nbstream_sql(frame), args.runs, check),
            "nbstream SQL, Parquet": median_seconds(lambda: nbstream_sql(path), args.runs, check),
            "DuckDB": median_seconds(lambda: duckdb_sql(frame), args.runs, check),
            "polars": median_seconds(lambda: polars_query(frame), args.runs, check),
        }
        print(f"\nW2 as SQL (TUMBLE 10 s, COUNT and SUM per key), {n:,} events, median of "
              f"{args.runs}")
        duck = timings["DuckDB"]
        pol = timings["polars"]
        for name, s in timings.items():
            print(f"  {name:<26}{n / s:>14,.0f} events/s   {duck / s:5.2f}x DuckDB   "
                  f"{pol / s:5.2f}x polars")
        print(f"  Parquet, fresh process: {peak_rss(path)}")
    rows = group_rows(m)
    loop_n = hand_loop(rows)
    ours = median_seconds(lambda: nbstream_group_by(rows), args.runs, lambda c: c == loop_n)
    loop = median_seconds(lambda: hand_loop(rows), args.runs)
    print(f"\nStreaming GROUP BY (COUNT, SUM per key of 1000, changelog of {loop_n:,} rows), "
          f"{m:,} rows, median of {args.runs}")
    print(f"  nbstream SQL              {m / ours:>14,.0f} rows/s   {loop / ours:5.2f}x the loop")
    print(f"  hand-written loop         {m / loop:>14,.0f} rows/s")


if __name__ == "__main__":
    main()
