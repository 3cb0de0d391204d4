"""Python UDFs of the Table API: a scalar UDF ``x * 2 + 1`` over 10 M rows of a DataFrame,
as a general UDF and as a pandas UDF in thread and process mode, against the same
expression in plain pandas, a hand-written Python loop and DuckDB's Python UDFs (scalar and
Arrow-vectorized) on the same data; and a CPU-bound general UDF in process mode (2 workers)
against thread mode.

    python benchmarks/udf.py                     # 10 M rows, median of 3 runs each
    python benchmarks/udf.py --rows 1000000 --runs 5

Every result is checked against plain pandas before it counts. Nothing is asserted; the
goals (pandas UDF >= 0.5x plain pandas, general UDF >= 0.5x the loop, CPU-bound UDF in
process mode with 2 workers >= 1.6x thread mode) are printed next to the ratios.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Dict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from benchmarks.common import machine, median_seconds  # noqa: E402
from nbstream.table import DataTypes, EnvironmentSettings, TableEnvironment  # noqa: E402
from nbstream.table.udf import udf  # noqa: E402


def f(x):
    return x * 2 + 1


def busy(x):
    """About 40 us of arithmetic per row: a CPU-bound UDF."""
    s = 0
    for i in range(400):
        s += (x * i) % 7
    return s


def table_env(mode: str, parallelism: int = 1) -> TableEnvironment:
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("python.execution-mode", mode)
    env.get_config().set("parallelism.default", str(parallelism))
    return env


def nbstream_udf(df: pd.DataFrame, mode: str, func_type: str) -> Callable[[], Any]:
    fn = udf(f if func_type == "general" else (lambda s: s * 2 + 1),
             result_type=DataTypes.BIGINT(), func_type=func_type)
    env = table_env(mode)
    t = env.from_pandas(df)

    def run() -> Any:
        return t.select(fn(t.x).alias("y")).to_pandas()["y"]
    return run


def duckdb_udf(df: pd.DataFrame, kind: str) -> Callable[[], Any]:
    import duckdb
    import pyarrow.compute as pc
    try:
        from duckdb.sqltypes import BIGINT
    except ImportError:  # duckdb < 1.4
        from duckdb.typing import BIGINT
    con = duckdb.connect()
    if kind == "native":
        con.create_function("f", f, [BIGINT], BIGINT, type="native")
    else:
        con.create_function("f", lambda x: pc.add(pc.multiply(x, 2), 1), [BIGINT], BIGINT,
                            type="arrow")
    con.register("df", df)

    def run() -> Any:
        return con.sql("SELECT f(x) AS y FROM df").df()["y"]
    return run


def cpu_bound(rows: int, mode: str, parallelism: int) -> Callable[[], Any]:
    env = table_env(mode, parallelism)
    t = env.from_elements([(i,) for i in range(rows)], ["x"])
    fn = udf(busy, result_type=DataTypes.BIGINT())

    def run() -> Any:
        return sorted(r[0] for r in t.select(fn(t.x)).execute().collect())
    return run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu-rows", type=int, default=100_000)
    args = parser.parse_args()
    print(machine())
    df = pd.DataFrame({"x": np.arange(args.rows, dtype=np.int64)})
    expected = df["x"] * 2 + 1

    def same(out: Any) -> bool:
        return len(out) == len(expected) and bool((np.asarray(out) == expected.values).all())

    cases: Dict[str, Callable[[], Any]] = {
        "plain pandas (x * 2 + 1)": lambda: df["x"] * 2 + 1,
        "Python loop calling f": lambda: [f(x) for x in df["x"].tolist()],
        "Python loop, inline": lambda: [x * 2 + 1 for x in df["x"].tolist()],
        "DuckDB scalar Python UDF": duckdb_udf(df, "native"),
        "DuckDB Arrow UDF": duckdb_udf(df, "arrow"),
        "nbstream general UDF, thread": nbstream_udf(df, "thread", "general"),
        "nbstream general UDF, process": nbstream_udf(df, "process", "general"),
        "nbstream pandas UDF, thread": nbstream_udf(df, "thread", "pandas"),
        "nbstream pandas UDF, process": nbstream_udf(df, "process", "pandas"),
    }
    seconds = {}
    print(f"{args.rows:,} rows, median of {args.runs} runs")
    print(f"{'':34} {'seconds':>8} {'M rows/s':>9}")
    for name, fn in cases.items():
        seconds[name] = median_seconds(fn, args.runs, check=same)
        print(f"{name:34} {seconds[name]:8.3f} {args.rows / seconds[name] / 1e6:9.2f}", flush=True)
    print()
    pandas_s, loop_s = seconds["plain pandas (x * 2 + 1)"], seconds["Python loop calling f"]
    for mode in ("thread", "process"):
        print(f"pandas UDF, {mode:7}: {pandas_s / seconds[f'nbstream pandas UDF, {mode}']:.2f}x "
              "plain pandas (goal >= 0.5x)")
    for mode in ("thread", "process"):
        print(f"general UDF, {mode:7}: {loop_s / seconds[f'nbstream general UDF, {mode}']:.2f}x "
              "the Python loop calling f (goal >= 0.5x)")
    print()
    reference = sorted(busy(i) for i in range(args.cpu_rows))
    cpu = {}
    for mode, p in (("thread", 1), ("thread", 2), ("process", 2)):
        cpu[(mode, p)] = median_seconds(cpu_bound(args.cpu_rows, mode, p), args.runs,
                                        check=lambda out: out == reference)
        print(f"CPU-bound general UDF ({args.cpu_rows:,} rows, ~40 us each), {mode}, "
              f"parallelism {p}: {cpu[(mode, p)]:.3f} s", flush=True)
    best_thread = min(cpu[("thread", 1)], cpu[("thread", 2)])
    print(f"process mode with 2 workers: {best_thread / cpu[('process', 2)]:.2f}x thread mode "
          "(goal >= 1.6x)")


if __name__ == "__main__":
    main()
