"""Time to the first row of a small process-mode job (``from_collection(...).map(f)``,
read with ``execute_and_collect``), as a notebook user meets it:

* cold: a fresh interpreter sets the process mode and runs the job at once (the worker
  pool starts with it; since the mode warms the pool in the background, part of that is
  already done when the job asks);
* after a pause: a fresh interpreter sets the process mode (what ``%set_mode process``
  calls), pauses ``--pause`` seconds, then runs its first job;
* next jobs: the jobs after that one, each after the same pause.

Each cold run is a fresh process; medians are printed with the load. Nothing is asserted.

    python benchmarks/first_row.py
    python benchmarks/first_row.py --runs 9 --pause 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from nbstream import StreamExecutionEnvironment

def first_row(env):
    started = time.perf_counter()
    it = env.from_collection(list(range(100))).map(lambda x: x + 1).execute_and_collect()
    next(it)
    took = time.perf_counter() - started
    it.close()
    return took

env = StreamExecutionEnvironment.get_execution_environment()
env.set_execution_mode("process")
if sys.argv[4] == "cold":
    print(json.dumps({"cold": first_row(env)}))
    raise SystemExit
warm = []
for _ in range(int(sys.argv[3])):
    time.sleep(float(sys.argv[2]))
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("process")
    warm.append(first_row(env))
print(json.dumps({"paused": warm[0], "next": warm[1:]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="fresh processes (cold runs)")
    parser.add_argument("--warm-jobs", type=int, default=5, help="warm jobs per process")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds before a warm job")
    args = parser.parse_args()
    root = os.path.dirname(HERE)
    cold, paused, warm = [], [], []

    def probe(kind: str) -> dict:
        return json.loads(subprocess.run(
            [sys.executable, "-c", PROBE, root, str(args.pause), str(args.warm_jobs), kind],
            capture_output=True, text=True, check=True, cwd=root).stdout.strip().splitlines()[-1])

    for _ in range(args.runs):
        cold.append(probe("cold")["cold"])
        out = probe("paused")
        paused.append(out["paused"])
        warm.extend(out["next"])
    load = os.getloadavg()[0]
    print(f"first row of a process-mode job, medians (load average {load:.2f}, "
          f"{os.cpu_count()} cores)")
    print(f"  cold (mode set, job at once): {statistics.median(cold) * 1000:8.1f} ms "
          f"over {len(cold)} fresh processes")
    print(f"  first job, mode set {args.pause:g} s before: {statistics.median(paused) * 1000:8.1f} ms "
          f"over {len(paused)} fresh processes")
    print(f"  next jobs ({args.pause:g} s pause each):  {statistics.median(warm) * 1000:8.1f} ms "
          f"over {len(warm)} jobs (p90 {sorted(warm)[int(len(warm) * 0.9)] * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
