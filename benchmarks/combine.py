"""Combining before the keyed shuffle: a BATCH keyed sum over 1,000,000 integers with 5 and
with 10,000 keys, with and without the combiner (``nbstream.combine-before-shuffle``), in
thread mode at parallelism 1 and 2 and process mode at parallelism 2.

    integers (from_sequence) -> map to (key, 1) -> key_by -> sum(1) -> collect (BATCH)

``--windows``: the row path's event-time window aggregates instead (STREAMING), W2's shape:

    integers -> map to (key, ts = i ms, value) -> timestamps and watermarks (1 s out of
    order) -> key_by -> tumbling 10 s windows -> agg(count, sum) -> collect

Prints records/s and the ratio to a hand-written Python loop (a dict reduce calling the same
functions) measured in the same run: every configuration runs in turn, --runs rounds, and
the medians are printed, with the median ratio of combined to not combined per round. At parallelism 1 the key_by is
chained (no shuffle, so nothing to combine): both rows are the same plan.

    python benchmarks/combine.py
    python benchmarks/combine.py --records 200000 --runs 3 --keys 5
    python benchmarks/combine.py --windows --keys 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, table  # noqa: E402


def make_functions(keys: int):
    def to_pair(i):
        return i % keys, 1

    def key(t):
        return t[0]

    def add(a, b):
        return a[0], a[1] + b[1]

    return to_pair, key, add


def expected(n: int, keys: int):
    return sorted((k, n // keys + (1 if k < n % keys else 0)) for k in range(min(n, keys)))


def hand_loop(n: int, keys: int):
    """The same work as a plain Python loop: a dict reduce calling the same functions."""
    to_pair, key, add = make_functions(keys)
    acc = {}
    get = acc.get
    for i in range(n):
        r = to_pair(i)
        k = key(r)
        a = get(k)
        acc[k] = r if a is None else add(a, r)
    return list(acc.values())


def nbstream_sum(n: int, keys: int, parallelism: int, mode: str, combine: bool):
    from nbstream import RuntimeExecutionMode, StreamExecutionEnvironment

    to_pair, key, _ = make_functions(keys)
    env = StreamExecutionEnvironment.get_execution_environment(
        {"nbstream.combine-before-shuffle": str(combine).lower()})
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.set_parallelism(parallelism).set_execution_mode(mode)
    ds = env.from_sequence(0, n - 1).map(to_pair).key_by(key).sum(1)
    return list(ds.execute_and_collect("combine"))


def window_records(keys: int):
    def to_event(i):
        return i % keys, i, i % 97

    return to_event


def window_loop(n: int, keys: int):
    """The window workload as a plain loop: count and sum per (key, 10 s window)."""
    to_event = window_records(keys)
    acc: Dict[Any, List[int]] = {}
    get = acc.get
    for i in range(n):
        k, ts, v = to_event(i)
        slot = (k, ts - ts % 10_000)
        cell = get(slot)
        if cell is None:
            acc[slot] = [1, v]
        else:
            cell[0] += 1
            cell[1] += v
    return sorted((k, w, c, s) for (k, w), (c, s) in acc.items())


def nbstream_windows(n: int, keys: int, parallelism: int, mode: str, combine: bool):
    from nbstream import (Duration, StreamExecutionEnvironment, TumblingEventTimeWindows,
                          WatermarkStrategy)

    env = StreamExecutionEnvironment.get_execution_environment(
        {"nbstream.combine-before-shuffle": str(combine).lower()})
    env.set_parallelism(parallelism).set_execution_mode(mode)
    stamped = env.from_sequence(0, n - 1).map(window_records(keys)).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(1))
        .with_timestamp_assigner(lambda e, _: e[1]))
    out = (stamped.key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of(Duration.of_seconds(10)))
           .agg(count="count", total=(2, "sum")))
    return sorted((r["key"], r["window_start"], r["count"], r["total"])
                  for r in out.execute_and_collect("combine windows"))


def paired(fns: Dict[str, Callable[[], Any]], runs: int, check: Callable[[Any], bool]) -> Dict[str, List[float]]:
    """Wall times of each function, run in turn ``runs`` times (after one untimed round):
    on a shared machine every function sees the same load, run by run."""
    times: Dict[str, List[float]] = {name: [] for name in fns}
    for rnd in range(runs + 1):
        for name, fn in fns.items():
            t = time.perf_counter()
            out = fn()
            if rnd:
                times[name].append(time.perf_counter() - t)
            if not check(out):
                raise AssertionError(f"{name} produced a wrong result")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keys", default="5,10000", help="comma-separated numbers of keys")
    parser.add_argument("--windows", action="store_true",
                        help="event-time window aggregates (STREAMING) instead of a BATCH sum")
    args = parser.parse_args()
    n, runs = args.records, args.runs
    what = "tumbling 10 s window count+sum" if args.windows else "BATCH keyed sum"
    print(f"{what}, {n:,} records, median of {runs} runs; {machine()}")
    job, loop = (nbstream_windows, window_loop) if args.windows else (nbstream_sum, hand_loop)
    for keys in (int(k) for k in args.keys.split(",")):
        fns: Dict[str, Callable[[], Any]] = {"hand-written loop": lambda keys=keys: loop(n, keys)}
        for mode, p in (("thread", 1), ("thread", 2), ("process", 2)):
            for combine in (False, True):
                name = f"{mode} p={p} {'combined' if combine else 'not combined'}"
                fns[name] = lambda keys=keys, p=p, mode=mode, combine=combine: \
                    job(n, keys, p, mode, combine)
        want = window_loop(n, keys) if args.windows else expected(n, keys)
        times = paired(fns, runs, lambda out: sorted(out) == want)
        rows = [{"name": name, "records": n, "seconds": statistics.median(t)}
                for name, t in times.items()]
        print(f"\n{keys:,} keys")
        print(table(rows, "hand-written loop"))
        for mode, p in (("thread", 2), ("process", 2)):
            off, on = times[f"{mode} p={p} not combined"], times[f"{mode} p={p} combined"]
            gain = statistics.median(a / b for a, b in zip(off, on))
            print(f"{mode} p={p}: combined {gain:.2f}x as fast as not combined "
                  "(median of the runs' ratios)")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
