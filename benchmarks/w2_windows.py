"""W2: 1,000,000 events (key = i % 100, timestamp = i ms, value = i % 97) -> event-time
timestamps -> key_by key -> tumbling 10 s windows -> count and sum per key and window.

Prints records/s of nbstream's row path (records as tuples), its columnar path (the
same events as a DataFrame, ``from_dataframe(..., columnar=True)`` with a watermark
strategy) and the natural spelling (``from_dataframe(df, timestamp_column="ts")
.key_by("key").window(...).agg(...)``, no flag), per execution mode at
parallelism 1 and 2, with the ratio to a hand-written incremental Python loop and to a
vectorized pandas groupby over the same data, measured in the same run (medians of
--runs runs), then a one-line summary. ``--parquet`` also writes the events to a
Parquet file, measures nbstream's columnar path on it beside polars (``scan_parquet``) and
DuckDB (``read_parquet``) on the same file, and reports the peak RSS of a fresh process that
streams it through the columnar window.

    python benchmarks/w2_windows.py            # 1,000,000 events, 5 runs
    python benchmarks/w2_windows.py --quick    # 100,000 events, 3 runs
    python benchmarks/w2_windows.py --records 10000000 --columnar-only --parquet --runs 3
    python benchmarks/w2_windows.py --modes thread,process
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, median_seconds, table  # noqa: E402

WINDOW_MS = 10_000
KEYS = 100


def events(n: int):
    """The input, built once and shared by every contender: (key, timestamp ms, value)."""
    return [(i % KEYS, i, i % 97) for i in range(n)]


def expected(n: int):
    out = {}
    for i in range(n):
        slot = (i % KEYS, i - i % WINDOW_MS)
        c, s = out.get(slot, (0, 0))
        out[slot] = (c + 1, s + i % 97)
    return out


def hand_loop(data):
    """Incremental count and sum per (key, window) in a dict, as a person would write it."""
    acc = {}
    get = acc.get
    for key, ts, value in data:
        slot = (key, ts - ts % WINDOW_MS)
        a = get(slot)
        if a is None:
            acc[slot] = [1, value]
        else:
            a[0] += 1
            a[1] += value
    return {slot: (c, s) for slot, (c, s) in acc.items()}


def hand_loop_with_functions(data):
    """The same loop calling the two functions nbstream calls per record (the timestamp
    assigner and the key selector), to show what the framework itself costs."""
    timestamp, key_of = (lambda e, _: e[1]), (lambda e: e[0])
    acc = {}
    get = acc.get
    for e in data:
        ts = timestamp(e, None)
        slot = (key_of(e), ts - ts % WINDOW_MS)
        a = get(slot)
        if a is None:
            acc[slot] = [1, e[2]]
        else:
            a[0] += 1
            a[1] += e[2]
    return {slot: (c, s) for slot, (c, s) in acc.items()}


def pandas_groupby(frame):
    """Vectorized: one groupby over the whole (already built) DataFrame."""
    window = frame["ts"] - frame["ts"] % WINDOW_MS
    g = frame.groupby([frame["key"], window])["value"].agg(["count", "sum"])
    return {(k, w): (int(c), int(s)) for (k, w), c, s in
            zip(g.index, g["count"].to_numpy(), g["sum"].to_numpy())}


def w2_stream(env, data):
    """W2's pipeline on the row path: counts and totals per key and 10 s window."""
    from nbstream import TumblingEventTimeWindows, WatermarkStrategy

    return (env.from_collection(data)
            .assign_timestamps_and_watermarks(
                WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda e, _: e[1]))
            .key_by(lambda e: e[0])
            .window(TumblingEventTimeWindows.of("10s"))
            .agg(count="count", total=(2, "sum")))


def nbstream_w2(data, parallelism: int, mode: str = "thread"):
    from nbstream import DataFrameSink, StreamExecutionEnvironment

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    sink = DataFrameSink()
    w2_stream(env, data).add_sink(sink)
    env.execute("W2")
    return {(r["key"], r["window_start"]): (r["count"], r["total"]) for r in sink.rows()}


def nbstream_columnar(source, parallelism: int, mode: str = "thread"):
    """The columnar path: ``source`` is a DataFrame or a Parquet file's path."""
    from nbstream import StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkStrategy

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    stream = env.read_parquet(source, "ts") if isinstance(source, str) \
        else env.from_dataframe(source, timestamp_column="ts", columnar=True)
    out = (stream.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps())
           .key_by("key").window(TumblingEventTimeWindows.of("10s"))
           .agg(count="count", total=("value", "sum")).to_arrow("W2 columnar"))
    # to_numpy().tolist(): Arrow's to_pylist makes a scalar object per value, ~5x slower,
    # which would time the check's conversion rather than the query (polars' to_list is fast)
    key, start, count, total = (out[c].to_numpy().tolist() for c in
                                ("key", "window_start", "count", "total"))
    return dict(zip(zip(key, start), zip(count, total)))


def nbstream_natural(frame, parallelism: int, mode: str = "thread"):
    """The spelling a user writes: no flag, no watermark strategy (the windows fire at the
    end of the input); the DataFrame takes the columnar path by itself."""
    from nbstream import StreamExecutionEnvironment, Time, TumblingEventTimeWindows

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    out = (env.from_dataframe(frame, timestamp_column="ts")
           .key_by("key").window(TumblingEventTimeWindows.of(Time.seconds(10)))
           .agg(count="count", total=("value", "sum")).to_pandas())
    return {(k, w): (c, t) for k, w, c, t in zip(out["key"].tolist(), out["window_start"].tolist(),
                                                out["count"].tolist(), out["total"].tolist())}


def polars_parquet(path: str):
    """A peer on the same file: polars' lazy scan, 10 s buckets, count and sum per key."""
    import polars as pl

    out = (pl.scan_parquet(path)
           .group_by([pl.col("key"), (pl.col("ts") - pl.col("ts") % WINDOW_MS).alias("w")])
           .agg(pl.len().alias("count"), pl.col("value").sum().alias("total")).collect())
    return dict(zip(zip(out["key"].to_list(), out["w"].to_list()),
                    zip(out["count"].to_list(), out["total"].to_list())))


def duckdb_parquet(path: str):
    """A peer on the same file: DuckDB's read_parquet and GROUP BY."""
    import duckdb

    out = duckdb.sql(f"SELECT key, ts - ts % {WINDOW_MS} AS w, count(*) AS c, sum(value) AS s "
                     f"FROM read_parquet('{path}') GROUP BY ALL").fetchall()
    return {(k, w): (c, int(s)) for k, w, c, s in out}


def parquet_rows(frame, n: int, runs: int, ok) -> list:
    """nbstream's columnar path, polars and DuckDB on one Parquet file of the events."""
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w2.parquet")
        frame.to_parquet(path, row_group_size=1 << 20)
        contenders = {"nbstream columnar from Parquet": lambda: nbstream_columnar(path, 1),
                      "polars scan_parquet": lambda: polars_parquet(path),
                      "DuckDB read_parquet": lambda: duckdb_parquet(path)}
        for name, fn in contenders.items():
            try:
                rows.append({"name": name, "records": n, "seconds": median_seconds(fn, runs, ok)})
            except ImportError as exc:
                rows.append({"name": name, "records": n, "skipped": f"{exc.name} not installed"})
    return rows


def parquet_peak_rss(frame) -> str:
    """Peak RSS (MB) of a fresh process streaming the events from a Parquet file."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w2.parquet")
        frame.to_parquet(path, row_group_size=1 << 20)
        del frame
        # VmHWM, not ru_maxrss: the latter keeps the forking parent's pages counted
        code = ("import sys; sys.path.insert(0, sys.argv[2]); "
                "from benchmarks.w2_windows import nbstream_columnar; "
                "n = len(nbstream_columnar(sys.argv[1], 1)); "
                "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]; "
                "print(n, int(hwm.split()[1]) // 1024)")
        out = subprocess.run([sys.executable, "-c", code, path, os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))], capture_output=True, text=True,
            check=True).stdout.split()
        return f"{int(out[1])} MB peak RSS ({out[0]} windows, file {os.path.getsize(path) >> 20} MB)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="100,000 events, 3 runs")
    parser.add_argument("--modes", default="thread", help="comma-separated execution modes")
    parser.add_argument("--columnar-only", action="store_true",
                        help="skip nbstream's row path (slow at 10 M events)")
    parser.add_argument("--parquet", action="store_true",
                        help="also report the peak RSS of streaming the events from Parquet")
    args = parser.parse_args()
    n = args.records or (100_000 if args.quick else 1_000_000)
    runs = args.runs or (3 if args.quick else 5)
    import numpy as np
    import pandas as pd

    data = events(n)
    i = np.arange(n, dtype=np.int64)
    frame = pd.DataFrame({"key": i % KEYS, "ts": i, "value": i % 97})
    want = expected(n)
    ok = want.__eq__
    print(f"W2 tumbling-window count+sum, {n:,} events, {KEYS} keys, 10 s windows, "
          f"median of {runs} runs; {machine()}")
    rows = [{"name": "hand-written loop", "records": n,
             "seconds": median_seconds(lambda: hand_loop(data), runs, ok)},
            {"name": "pandas groupby (vectorized)", "records": n,
             "seconds": median_seconds(lambda: pandas_groupby(frame), runs, ok)}]
    if not args.columnar_only:
        rows.insert(1, {"name": "hand-written loop + the 2 lambdas", "records": n,
                        "seconds": median_seconds(lambda: hand_loop_with_functions(data), runs, ok)})
    data = None  # the tuples are not needed any more: free them before the nbstream runs
    for mode in args.modes.split(","):
        for p in (1, 2):
            if not args.columnar_only:
                secs = median_seconds(lambda: nbstream_w2(events(n), p, mode), runs, ok)
                rows.append({"name": f"nbstream rows {mode} p={p}", "records": n, "seconds": secs})
            secs = median_seconds(lambda: nbstream_columnar(frame, p, mode), runs, ok)
            rows.append({"name": f"nbstream columnar {mode} p={p}", "records": n, "seconds": secs})
            secs = median_seconds(lambda: nbstream_natural(frame, p, mode), runs, ok)
            rows.append({"name": f"nbstream natural {mode} p={p}", "records": n, "seconds": secs})
    print(table(rows, "hand-written loop"))
    rate = {r["name"]: r["records"] / r["seconds"] for r in rows}
    pandas_rate = rate["pandas groupby (vectorized)"]
    for name in [r for r in rate if r.startswith(("nbstream columnar", "nbstream natural"))]:
        rows_name = name.replace("columnar", "rows").replace("natural", "rows")
        vs_rows = f", {rate[name] / rate[rows_name]:.1f}x the row path" if rows_name in rate else ""
        print(f"{name}: {rate[name] / pandas_rate:.2f}x pandas groupby{vs_rows}")
    if "nbstream columnar process p=2" in rate and "nbstream columnar thread p=1" in rate:
        print(f"columnar process p=2 / thread p=1: "
              f"{rate['nbstream columnar process p=2'] / rate['nbstream columnar thread p=1']:.2f}x")
    if args.parquet:
        found = parquet_rows(frame, n, runs, ok)
        print(table(found, "nbstream columnar from Parquet"))
        prate = {r["name"]: r["records"] / r["seconds"] for r in found if "seconds" in r}
        ours = prate["nbstream columnar from Parquet"]
        for peer in ("polars scan_parquet", "DuckDB read_parquet"):
            if peer in prate:
                print(f"nbstream columnar from Parquet: {ours / prate[peer]:.2f}x {peer}")
        print(f"Parquet, {n:,} events, columnar thread p=1: {parquet_peak_rss(frame)}")
    best = max((name for name in rate if name.startswith("nbstream")), key=rate.get)
    print(f"summary: W2 {best} {rate[best]:,.0f} events/s = "
          f"{rate[best] / rate['hand-written loop']:.2f}x the hand-written loop, "
          f"{rate[best] / rate['pandas groupby (vectorized)']:.3f}x pandas groupby")


if __name__ == "__main__":
    main()
