"""Execution modes: what processes buy and what they cost.

    python benchmarks/modes.py                 # every workload, 3 rounds
    python benchmarks/modes.py --rounds 5 --only W3,W4

Workloads (each round runs every variant once, interleaved, so they share the
machine's noise; the table shows medians over the rounds and ratios of medians):

* W1  1,000,000 integers -> map to (word, 1) over 5 words -> key_by word -> rolling
      reduce sum -> filter the final counts -> collect: thread vs process (the cost
      of moving every record between processes), and a hand-written loop.
* W3  a CPU-bound pure-Python function (about 1 ms of work per record), 5,000
      records, parallelism 2: process vs thread, and auto.
* W4  an I/O-bound function (10 ms sleep per record), 2,000 records: thread mode at
      parallelism 8 vs parallelism 1, process and auto at parallelism 8.
* F   time from ``execute_async`` to the first result, process mode with a cold
      pool (no workers) and a warm one, thread mode for reference.

The machine's load average is printed before and after: numbers measured while
other work runs are noisy (process mode most of all). Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nbstream import StreamExecutionEnvironment  # noqa: E402
from nbstream.runtime.executors.pool import shutdown_pool  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]
W1_N = 1_000_000


def env_in(mode: str, parallelism: int = 1) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": mode})
    return env.set_parallelism(parallelism)


def timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


# -- W1 -----------------------------------------------------------------------------------------
def w1(mode: str, parallelism: int) -> None:
    n = W1_N
    env = env_in(mode, parallelism)
    got = list(env.from_sequence(0, n - 1).map(lambda i: (WORDS[i % 5], 1))
               .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
               .filter(lambda t: t[1] == n // 5).execute_and_collect())
    assert sorted(got) == sorted((w, n // 5) for w in WORDS), got


def w1_loop() -> None:
    counts: Dict[str, int] = {}
    out = []
    for i in range(W1_N):
        w = WORDS[i % 5]
        c = counts[w] = counts.get(w, 0) + 1
        if c == W1_N // 5:
            out.append((w, c))
    assert len(out) == 5


# -- W3 -----------------------------------------------------------------------------------------
def calibrate_work(target_s: float = 0.001) -> int:
    """Loop length of about ``target_s`` of pure-Python work on this machine."""
    n = 1000
    while True:
        start = time.perf_counter()
        for _ in range(20):
            cpu_work(0, n)
        took = (time.perf_counter() - start) / 20
        if took > target_s / 4:
            return max(1, int(n * target_s / took))
        n *= 2


def cpu_work(x: int, n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i % 7
    return x + s % 3


def w3(mode: str, n_work: int) -> None:
    env = env_in(mode)
    got = list(env.from_collection(list(range(5000))).map(lambda x: cpu_work(x, n_work))
               .set_parallelism(2).execute_and_collect())
    assert len(got) == 5000


# -- W4 -----------------------------------------------------------------------------------------
def io_work(x: int) -> int:
    time.sleep(0.01)
    return x


def w4(mode: str, parallelism: int) -> None:
    env = env_in(mode)
    got = list(env.from_collection(list(range(2000))).map(io_work)
               .set_parallelism(parallelism).execute_and_collect())
    assert len(got) == 2000


# -- F ------------------------------------------------------------------------------------------
def first_result(mode: str, cold: bool) -> float:
    if cold:
        shutdown_pool()
    env = env_in(mode)
    start = time.perf_counter()
    it = env.from_collection(list(range(10))).map(lambda x: x + 1).execute_and_collect()
    next(it)
    took = time.perf_counter() - start
    it.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="W1,W3,W4,F")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"cpus={os.cpu_count()} load average before: {os.getloadavg()}", flush=True)
    n_work = calibrate_work()
    runs: Dict[str, List[float]] = {}

    def record(name: str, seconds: float) -> None:
        runs.setdefault(name, []).append(seconds)
        print(f"  {name:<28} {seconds:8.3f} s", flush=True)

    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", flush=True)
        if "F" in only:
            for cold in (True, False):
                record(f"F process {'cold' if cold else 'warm'}", first_result("process", cold))
            record("F thread", first_result("thread", False))
        if "W1" in only:
            record("W1 loop", timed(w1_loop))
            for mode in ("thread", "process"):
                for p in (1, 2):
                    record(f"W1 {mode} p={p}", timed(lambda: w1(mode, p)))
        if "W3" in only:
            for mode in ("thread", "process", "auto"):
                record(f"W3 {mode}", timed(lambda: w3(mode, n_work)))
        if "W4" in only:
            record("W4 thread p=1", timed(lambda: w4("thread", 1)))
            for mode in ("thread", "process", "auto"):
                record(f"W4 {mode} p=8", timed(lambda: w4(mode, 8)))
    med = {k: statistics.median(v) for k, v in runs.items()}
    print(f"\nload average after: {os.getloadavg()}")
    print(f"medians over {args.rounds} rounds (seconds):")
    for k, v in med.items():
        print(f"  {k:<28} {v:8.3f}")
    ratios = {}
    if "W1" in only:
        ratios["W1 process/thread p=1 (cost of IPC)"] = med["W1 process p=1"] / med["W1 thread p=1"]
        ratios["W1 process/thread p=2"] = med["W1 process p=2"] / med["W1 thread p=2"]
        ratios["W1 thread p=1 / hand-written loop"] = med["W1 thread p=1"] / med["W1 loop"]
    if "W3" in only:
        ratios["W3 speed-up process vs thread (goal >= 1.8)"] = med["W3 thread"] / med["W3 process"]
        best = min(med["W3 thread"], med["W3 process"])
        ratios["W3 auto / better fixed mode (goal <= 1.15)"] = med["W3 auto"] / best
    if "W4" in only:
        ratios["W4 speed-up thread p=8 vs p=1 (goal >= 6)"] = (med["W4 thread p=1"]
                                                             / med["W4 thread p=8"])
        best = min(med["W4 thread p=8"], med["W4 process p=8"])
        ratios["W4 auto / better fixed mode (goal <= 1.15)"] = med["W4 auto p=8"] / best
    print("ratios of medians:")
    for k, v in ratios.items():
        print(f"  {k:<48} {v:6.2f}")
    print(json.dumps({"medians_s": med, "ratios": ratios, "rounds": args.rounds,
                      "cpus": os.cpu_count(), "load_after": os.getloadavg()}))


if __name__ == "__main__":
    main()
