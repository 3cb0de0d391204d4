"""W1 and W3 of two versions of nbstream in one run: an earlier commit ("before") and this
tree ("after"), each measurement in a fresh process, the two versions alternating so that
they share the machine's noise. Prints medians and the after/before ratio.

    python benchmarks/before_after.py --before 86709d8          # the start of the redesign
    python benchmarks/before_after.py --before HEAD~3 --runs 7 --records 2000000

``--before`` is checked out into a temporary git worktree (removed at the end). W1 is the
word count of ``w1_wordcount.py`` (thread and process mode, parallelism 1 and 2, with the
hand-written loop measured in the same process as a reference); W3 is ``modes.py``'s CPU-bound
function (5,000 records of about 1 ms) at parallelism 2 in thread and process mode (its
speedup is process over thread).
Nothing is asserted.
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

# run inside the measured tree: prints {"variant": seconds, ...} as JSON
PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from benchmarks import w1_wordcount as w1, modes
n = int(sys.argv[2])
out = {}
def timed(name, fn):
    start = time.perf_counter(); fn(); out[name] = time.perf_counter() - start
timed("hand-written loop", lambda: w1.hand_loop(n))
for mode in ("thread", "process"):
    w1.nbstream_w1(1000, 2, mode)  # the pool started and warm
    for p in (1, 2):
        timed(f"W1 {mode} p={p}", lambda: w1.nbstream_w1(n, p, mode))
work = modes.calibrate()
for mode in ("thread", "process"):
    timed(f"W3 {mode} p=2", lambda: modes.w3(mode, work))
print(json.dumps(out))
"""


def measure(tree: str, records: int) -> Dict[str, float]:
    result = subprocess.run([sys.executable, "-c", PROBE, tree, str(records)],
                            cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="a git revision")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="nbstream-before-")
    subprocess.run(["git", "worktree", "add", "--detach", folder, args.before], cwd=ROOT,
                   check=True, capture_output=True)
    try:
        samples: Dict[str, Dict[str, List[float]]] = {"before": {}, "after": {}}
        for run in range(args.runs):
            for label, tree in (("before", folder), ("after", ROOT)):
                for name, seconds in measure(tree, args.records).items():
                    samples[label].setdefault(name, []).append(seconds)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", folder], cwd=ROOT, check=False)
    print(f"W1 {args.records:,} records, W3 5,000 records; medians of {args.runs} "
          f"runs; load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'':24}{'before':>12}{'after':>12}  after/before")
    med = {label: {k: statistics.median(v) for k, v in s.items()} for label, s in samples.items()}
    for name in med["after"]:
        if name not in med["before"]:
            continue
        b, a = med["before"][name], med["after"][name]
        if name.startswith("W1") or name.startswith("hand"):
            loop_b, loop_a = med["before"]["hand-written loop"], med["after"]["hand-written loop"]
            print(f"{name:24}{loop_b / b:>11.2f}x{loop_a / a:>11.2f}x  {b / a:.2f} "
                  "(vs the loop; ratio of speeds)")
        else:
            print(f"{name:24}{b:>11.2f}s{a:>11.2f}s  {b / a:.2f} (speed ratio)")
    for label in ("before", "after"):
        speedup = med[label]["W3 thread p=2"] / med[label]["W3 process p=2"]
        print(f"W3 speedup of process over thread mode, {label}: {speedup:.2f}x")


if __name__ == "__main__":
    main()
