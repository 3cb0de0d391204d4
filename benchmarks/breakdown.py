"""Where W1's time goes, per record: the hand-written loop, the four user calls alone, and
nbstream thread mode at parallelism 1 split into the job's start and end, the source,
each step (or fused run) and the rest (channels, threads, the collecting iterator).

Each step's time is its own (CPU time of its thread, minus the steps it calls), from
wrappers around ``process_batch`` installed by this script (a few calls per batch of
2,048 records: nothing per record), in a second run, scaled to the first (unwrapped) one. ``--before REV`` runs the same probe in a worktree of
an earlier commit, alternating with this tree, and prints both side by side.

    python benchmarks/breakdown.py
    python benchmarks/breakdown.py --before main --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PROBE = r"""
import json, sys, threading, time
sys.path.insert(0, sys.argv[1])
from benchmarks import w1_wordcount as w1
from nbstream.runtime import adapters, operators

n = int(sys.argv[2])
spent = {}
local = threading.local()

def timed(name, method):
    def wrapper(self, *args, **kw):
        stack = getattr(local, "stack", None)
        if stack is None:
            stack = local.stack = []
        start = time.thread_time()
        stack.append(0.0)
        try:
            return method(self, *args, **kw)
        finally:
            inner = stack.pop()
            took = time.thread_time() - start
            spent[name] = spent.get(name, 0.0) + took - inner
            if stack:
                stack[-1] += took
    return wrapper

out = {}
w1.nbstream_w1(1000, 1)
start = time.perf_counter(); w1.nbstream_w1(n, 1); out["nbstream"] = time.perf_counter() - start

classes = {"map": adapters.MapOperator, "reduce": adapters.ReduceOperator,
           "filter": adapters.FilterOperator, "collect sink": operators.SinkOperator}
try:
    from nbstream.runtime.fused import FusedRun
    classes["fused run (map, key, reduce, filter)"] = FusedRun
except ImportError:
    pass
for name, cls in classes.items():
    cls.process_batch = timed(name, cls.process_batch)
source_cls = operators.SourceOperator
source_cls.run = timed("source (reading, batching)", source_cls.run)

def calls_alone():
    to_word, key, add, is_final = w1.make_functions(n)
    r, a = ("alpha", 1), ("alpha", 1)
    best = []
    for f, args in ((to_word, (7,)), (key, (r,)), (add, (a, r)), (is_final, (r,))):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(200_000):
                f(*args)
            times.append((time.perf_counter() - start) / 200_000)
        best.append(min(times))
    empty = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200_000):
            pass
        empty.append((time.perf_counter() - start) / 200_000)
    return sum(best) - 4 * min(empty)

out["calls"] = calls_alone()
start = time.perf_counter(); w1.hand_loop(n); out["loop"] = time.perf_counter() - start
start = time.perf_counter(); w1.nbstream_w1(10, 1); out["job start and end"] = time.perf_counter() - start
spent.clear()
start = time.perf_counter(); w1.nbstream_w1(n, 1); instrumented = time.perf_counter() - start
scale = out["nbstream"] / instrumented  # the wrappers' own cost taken out, pro rata
out.update({k: v * scale for k, v in spent.items()})
print(json.dumps(out))
"""


def probe(tree: str, records: int) -> Dict[str, float]:
    result = subprocess.run([sys.executable, "-c", PROBE, tree, str(records)], cwd=tree,
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def per_record(samples: List[Dict[str, float]], records: int) -> Dict[str, float]:
    keys = {k for s in samples for k in s}
    med = {k: statistics.median(s.get(k, 0.0) for s in samples) for k in keys}
    ns = {k: v * 1e9 / records for k, v in med.items() if k != "calls"}
    ns["calls"] = med["calls"] * 1e9
    steps = [k for k in ns if k not in ("calls", "loop", "nbstream", "job start and end")]
    ns["other (channels, threads, the iterator)"] = ns["nbstream"] - ns["job start and end"] - sum(
        ns[k] for k in steps)
    ns["runtime's own (nbstream - the calls)"] = ns["nbstream"] - ns["calls"]
    return ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", help="a git revision to compare with")
    args = parser.parse_args()
    trees = {"after": ROOT}
    folder = None
    if args.before:
        folder = tempfile.mkdtemp(prefix="nbstream-before-")
        subprocess.run(["git", "worktree", "add", "--detach", folder, args.before], cwd=ROOT,
                       check=True, capture_output=True)
        trees = {"before": folder, "after": ROOT}
    try:
        samples: Dict[str, List[Dict[str, float]]] = {label: [] for label in trees}
        for _ in range(args.runs):
            for label, tree in trees.items():
                samples[label].append(probe(tree, args.records))
    finally:
        if folder is not None:
            subprocess.run(["git", "worktree", "remove", "--force", folder], cwd=ROOT, check=False)
    table = {label: per_record(s, args.records) for label, s in samples.items()}
    rows = sorted({k for t in table.values() for k in t},
                  key=lambda k: ["calls", "loop", "nbstream"].index(k) if k in
                  ("calls", "loop", "nbstream") else 3)
    print(f"W1, {args.records:,} records, thread mode p=1, ns per record, medians of "
          f"{args.runs} runs; load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'':44}" + "".join(f"{label:>10}" for label in table))
    for k in rows:
        print(f"{k:44}" + "".join(f"{t.get(k, float('nan')):>10.0f}" for t in table.values()))
    for label, t in table.items():
        print(f"{label}: nbstream = {t['loop'] / t['nbstream']:.2f}x the hand-written loop")


if __name__ == "__main__":
    main()
