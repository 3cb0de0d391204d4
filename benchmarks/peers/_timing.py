"""Timing shared by the peer scripts (run under the peers' own interpreter)."""

import json
import statistics
import sys
import time


def main(run, warmup_records=10_000):
    """``run(n)`` once on a few records, then ``runs`` times on ``n``; print the median."""
    n, runs = int(sys.argv[1]), int(sys.argv[2])
    run(min(n, warmup_records))
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run(n)
        times.append(time.perf_counter() - t)
    print(json.dumps({"seconds": statistics.median(times)}))
