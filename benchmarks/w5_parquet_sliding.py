"""W5: a Parquet file of N rows (default 10,000,000; timestamps every 6 ms with up to 2 s
of disorder, 10,000 keys, two value columns) -> sliding 1 min / 10 s event-time windows
-> mean of ``a`` and max of ``b`` per key and window.

Contenders, measured in the same run on the same file (medians of --runs runs):
nbstream's columnar path (streaming the file batch by batch, watermarks with a 2 s
bound), polars ``group_by_dynamic`` (lazy scan, sort, dynamic groups) and DuckDB (each row
joined to its 6 windows, then GROUP BY). polars and DuckDB are peers measured against,
not dependencies: ``pip install polars duckdb`` into the interpreter that runs this
(a missing one is reported, not faked). Every contender's answer is checked against
DuckDB's: same number of windows, same sum of the maxima, same sum of the means.

    python benchmarks/w5_parquet_sliding.py                 # 10,000,000 rows, 3 runs
    python benchmarks/w5_parquet_sliding.py --quick         # 1,000,000 rows, 3 runs
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any, Dict, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, median_seconds, table  # noqa: E402

SIZE_MS, SLIDE_MS, KEYS, DISORDER_MS = 60_000, 10_000, 10_000, 2_000
Answer = Tuple[int, int, float]  # windows, sum of max(b), sum of mean(a)


def write_file(path: str, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    ts = np.arange(n, dtype=np.int64) * 6 - rng.integers(0, DISORDER_MS, n)
    ts = np.maximum(ts, 0)
    table_ = pa.table({"key": rng.integers(0, KEYS, n), "ts": ts,
                       "a": rng.random(n), "b": rng.integers(0, 1000, n)})
    pq.write_table(table_, path, row_group_size=1 << 20)


def answer(frame_like: Dict[str, Any]) -> Answer:
    return (len(frame_like["max_b"]), int(frame_like["max_b"].sum()),
            round(float(frame_like["mean_a"].sum()), 3))


def nbstream_w5(path: str) -> Answer:
    from nbstream import SlidingEventTimeWindows, StreamExecutionEnvironment, WatermarkStrategy

    env = StreamExecutionEnvironment.get_execution_environment()
    out = (env.read_parquet(path, "ts")
           .assign_timestamps_and_watermarks(
               WatermarkStrategy.for_bounded_out_of_orderness(DISORDER_MS))
           .key_by("key").window(SlidingEventTimeWindows.of(SIZE_MS, SLIDE_MS))
           .agg(mean_a=("a", "mean"), max_b=("b", "max")).to_arrow("W5"))
    return answer({"max_b": out["max_b"].to_numpy(), "mean_a": out["mean_a"].to_numpy()})


def polars_w5(path: str) -> Answer:
    import polars as pl

    out = (pl.scan_parquet(path).sort("ts")
           .group_by_dynamic("ts", every=f"{SLIDE_MS}i", period=f"{SIZE_MS}i",
                             offset=f"-{SIZE_MS - SLIDE_MS}i", group_by="key",
                             closed="left", label="left")
           .agg(pl.col("a").mean().alias("mean_a"), pl.col("b").max().alias("max_b"))
           .collect())
    return answer({"max_b": out["max_b"].to_numpy(), "mean_a": out["mean_a"].to_numpy()})


def duckdb_w5(path: str) -> Answer:
    import duckdb

    per = SIZE_MS // SLIDE_MS
    out = duckdb.sql(f"""
        SELECT key, ts - (ts % {SLIDE_MS}) - j * {SLIDE_MS} AS start,
               avg(a) AS mean_a, max(b) AS max_b
        FROM read_parquet('{path}'), range({per}) r(j)
        GROUP BY key, start""").to_arrow_table()
    return answer({"max_b": out["max_b"].to_numpy(), "mean_a": out["mean_a"].to_numpy()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000,000 rows")
    args = parser.parse_args()
    n = args.records or (1_000_000 if args.quick else 10_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "w5.parquet")
        write_file(path, n)
        print(f"W5 sliding 1 min / 10 s, mean(a) and max(b) per key, {n:,} rows from Parquet "
              f"({os.path.getsize(path) >> 20} MB), {KEYS:,} keys, median of {args.runs} runs; "
              f"{machine()}")
        contenders = {"DuckDB (join to windows, GROUP BY)": duckdb_w5,
                      "polars group_by_dynamic": polars_w5,
                      "nbstream columnar thread p=1": nbstream_w5}
        reference = None
        rows = []
        for name, fn in contenders.items():
            try:
                got = fn(path)
            except ImportError as exc:
                print(f"{name}: not measured ({exc.name} is not installed: pip install {exc.name})")
                continue
            if reference is None:
                reference = got
            agrees = got[0] == reference[0] and got[1] == reference[1] \
                and abs(got[2] - reference[2]) < 1e-3 * max(1.0, abs(reference[2]))
            secs = median_seconds(lambda: fn(path), args.runs, warmup=0)
            rows.append({"name": name + ("" if agrees else f"  (DIFFERS: {got} vs {reference})"),
                         "records": n, "seconds": secs})
        print(table(rows, rows[0]["name"]))
        rate = {r["name"]: r["records"] / r["seconds"] for r in rows}
        ours = rate.get("nbstream columnar thread p=1")
        peers = [v for k, v in rate.items() if not k.startswith("nbstream")]
        if ours and peers:
            print(f"summary: W5 nbstream {ours:,.0f} rows/s = {ours / max(peers):.2f}x the faster "
                  f"peer")


if __name__ == "__main__":
    main()
