"""W2: 1,000,000 events (key = i % 100, timestamp = i ms, value = i % 97) -> event-time
timestamps -> key_by key -> tumbling 10 s windows -> count and sum per key and window.

Prints records/s of nbstream (thread mode, parallelism 1 and 2) with its ratio to a
hand-written incremental Python loop and to a vectorized pandas groupby over the same
data, measured in the same run (medians of --runs runs), then a one-line summary.

    python benchmarks/w2_windows.py            # 1,000,000 events, 5 runs
    python benchmarks/w2_windows.py --quick    # 100,000 events, 3 runs
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


def nbstream_w2(data, parallelism: int, mode: str = "thread"):
    from nbstream import (DataFrameSink, StreamExecutionEnvironment, TumblingEventTimeWindows,
                          WatermarkStrategy)

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    sink = DataFrameSink()
    (env.from_collection(data)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda e, _: e[1]))
        .key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of("10s"))
        .agg(count="count", total=(2, "sum"))
        .add_sink(sink))
    env.execute("W2")
    return {(r["key"], r["window_start"]): (r["count"], r["total"]) for r in sink.rows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="100,000 events, 3 runs")
    parser.add_argument("--modes", default="thread", help="comma-separated execution modes")
    args = parser.parse_args()
    n = args.records or (100_000 if args.quick else 1_000_000)
    runs = args.runs or (3 if args.quick else 5)
    import pandas as pd

    data = events(n)
    frame = pd.DataFrame(data, columns=["key", "ts", "value"])
    want = expected(n)
    ok = want.__eq__
    print(f"W2 tumbling-window count+sum, {n:,} events, {KEYS} keys, 10 s windows, "
          f"median of {runs} runs; {machine()}")
    rows = [{"name": "hand-written loop", "records": n,
             "seconds": median_seconds(lambda: hand_loop(data), runs, ok)},
            {"name": "hand-written loop + the 2 lambdas", "records": n,
             "seconds": median_seconds(lambda: hand_loop_with_functions(data), runs, ok)},
            {"name": "pandas groupby (vectorized)", "records": n,
             "seconds": median_seconds(lambda: pandas_groupby(frame), runs, ok)}]
    for mode in args.modes.split(","):
        for p in (1, 2):
            secs = median_seconds(lambda: nbstream_w2(data, p, mode), runs, ok)
            rows.append({"name": f"nbstream {mode} p={p}", "records": n, "seconds": secs})
    print(table(rows, "hand-written loop"))
    rate = {r["name"]: r["records"] / r["seconds"] for r in rows}
    best = max((name for name in rate if name.startswith("nbstream")), key=rate.get)
    print(f"summary: W2 {best} {rate[best]:,.0f} events/s = "
          f"{rate[best] / rate['hand-written loop']:.2f}x the hand-written loop, "
          f"{rate[best] / rate['pandas groupby (vectorized)']:.3f}x pandas groupby")


if __name__ == "__main__":
    main()
