"""Execution modes: what worker processes buy, and what the automatic mode chooses.

    python benchmarks/modes.py                     # W3, W4 and the first result, 3 rounds
    python benchmarks/modes.py --runs 5 --only W3
    python benchmarks/w1_wordcount.py --modes thread,process   # W1: the cost of moving records

* W3  a CPU-bound pure-Python function (about 1 ms of work per record, calibrated on this
      machine), 5,000 records, parallelism 2: thread, process, auto.
* W4  an I/O-bound function (a 10 ms sleep per record), 2,000 records: thread mode at
      parallelism 1 and 8, process and auto at parallelism 8.
* F   time from ``execute_async`` to the first result: process mode with a cold pool
      (no workers yet) and a warm one; thread mode for reference.

Each run measures every variant once, one after the other, so that variants share the
machine's noise; the tables show medians over the runs and ratios of medians. Process
mode needs idle cores: the load average is printed before and after. Nothing is asserted.
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


def env_in(mode: str) -> Any:
    from nbstream import StreamExecutionEnvironment

    return StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": mode})


def cpu_work(x: int, n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i % 7
    return x + s % 3


def calibrate(target_s: float = 0.001) -> int:
    """Loop length of about ``target_s`` of CPU time of ``cpu_work`` on this machine
    (CPU time, so that other programs running now do not shorten the work)."""
    n = 1000
    while True:
        start = time.thread_time()
        for _ in range(20):
            cpu_work(0, n)
        took = (time.thread_time() - start) / 20
        if took > target_s / 4:
            return max(1, int(n * target_s / took))
        n *= 2


def w3(mode: str, n_work: int) -> int:
    ds = env_in(mode).from_collection(list(range(5000))).map(lambda x: cpu_work(x, n_work))
    return len(list(ds.set_parallelism(2).execute_and_collect("W3")))


def io_work(x: int) -> int:
    time.sleep(0.01)
    return x


def w4(mode: str, parallelism: int) -> int:
    ds = env_in(mode).from_collection(list(range(2000))).map(io_work)
    return len(list(ds.set_parallelism(parallelism).execute_and_collect("W4")))


def first_result(mode: str, cold: bool) -> float:
    from nbstream.runtime.executors.pool import shutdown_pool

    if cold:
        shutdown_pool()
    start = time.perf_counter()
    it = env_in(mode).from_collection(list(range(10))).map(lambda x: x + 1).execute_and_collect()
    next(it)
    took = time.perf_counter() - start
    it.close()
    return took


def cpu_seconds() -> float:
    """CPU time used so far by this process and the pool's workers (Linux; else 0)."""
    from nbstream.runtime.executors.pool import get_pool

    total = 0.0
    for pid in [os.getpid()] + [w.pid for w in get_pool().workers.values()]:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def timed(fn: Callable[[], int], records: int, cores: List[float]) -> float:
    cpu, start = cpu_seconds(), time.perf_counter()
    got = fn()
    took = time.perf_counter() - start
    cores.append((cpu_seconds() - cpu) / took)
    if got != records:
        raise AssertionError(f"{records} records expected, {got} came out")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="W3,W4,F", help="comma-separated: W3, W4, F")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"execution modes, median of {args.runs} runs; {machine()}", flush=True)
    n_work = calibrate()
    start = time.thread_time()
    cpu_work(0, n_work)
    print(f"W3 work: {(time.thread_time() - start) * 1000:.2f} ms of CPU per record", flush=True)
    w3_variants = {f"W3 {m}": (lambda m=m: w3(m, n_work)) for m in ("thread", "process", "auto")}
    w4_variants = {"W4 thread p=1": lambda: w4("thread", 1)}
    w4_variants.update({f"W4 {m} p=8": (lambda m=m: w4(m, 8)) for m in ("thread", "process", "auto")})
    times: Dict[str, List[float]] = {}
    cores: Dict[str, List[float]] = {}  # CPU seconds per wall second: the cores a run kept busy
    for run in range(args.runs):
        if "F" in only:
            for name, mode, cold in (("F process, cold pool", "process", True),
                                     ("F process, warm pool", "process", False),
                                     ("F thread", "thread", False)):
                times.setdefault(name, []).append(first_result(mode, cold))
        for tag, variants, records in (("W3", w3_variants, 5000), ("W4", w4_variants, 2000)):
            if tag in only:
                for name, fn in variants.items():
                    times.setdefault(name, []).append(timed(fn, records,
                                                            cores.setdefault(name, [])))
                    print(f"  run {run + 1}: {name:<18} {times[name][-1]:8.3f} s  "
                          f"{cores[name][-1]:4.2f} cores busy  (load average "
                          f"{os.getloadavg()[0]:.2f})", flush=True)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if "W3" in only:
        print("\n" + table([{"name": k, "records": 5000, "seconds": med[k]} for k in w3_variants],
                           "W3 thread"))
        best = min(med["W3 thread"], med["W3 process"])
        print(f"W3 process vs thread: {med['W3 thread'] / med['W3 process']:.2f}x (goal >= 1.8); "
              f"auto / better fixed mode: {med['W3 auto'] / best:.2f} (goal <= 1.15)")
        print("cores kept busy (median): " + ", ".join(
            f"{k[3:]} {statistics.median(cores[k]):.2f}" for k in w3_variants)
            + f" of {os.cpu_count()}; fewer than the process mode could use means other "
            "programs had the rest")
    if "W4" in only:
        print("\n" + table([{"name": k, "records": 2000, "seconds": med[k]} for k in w4_variants],
                           "W4 thread p=1"))
        best = min(med["W4 thread p=8"], med["W4 process p=8"])
        print(f"W4 thread p=8 vs p=1: {med['W4 thread p=1'] / med['W4 thread p=8']:.2f}x "
              f"(goal >= 6); auto / better fixed mode: {med['W4 auto p=8'] / best:.2f} "
              "(goal <= 1.15)")
    if "F" in only:
        print("\ntime from execute_async to the first result (median):")
        for name in ("F process, cold pool", "F process, warm pool", "F thread"):
            print(f"  {name:<24} {med[name] * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
