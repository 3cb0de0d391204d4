"""How cost grows with the work: curves over parallelism, distinct keys, open windows,
records and concurrent sessions, each with its fitted growth exponent and its goal.

Every point runs in a fresh process (so its peak RSS is its own) and prints one line;
the exponent is the slope of log(total time) over log(value): 1.0 is linear.

    python benchmarks/scaling.py --quick     # under two minutes
    python benchmarks/scaling.py             # the full curves (long: 10^7 keys, 10^8 records)
    python benchmarks/scaling.py --curves keys,records
    python benchmarks/scaling.py --curves threads   # thread mode, p = 16..256, medians of 5

Sliding 1 h / 1 s windows put every record into 3,600 windows: the full curve stops at
1,000 keys (3.6 million open windows, about 2.5 GB on the hash-map state); 10^5 keys
(3.6 * 10^8 windows) needs a state backend on disk, which nbstream does not have yet.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


# -- one point, in its own process -------------------------------------------------------------

def _env(mode: str = "thread", parallelism: int = 1) -> Any:
    from nbstream import StreamExecutionEnvironment

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    return env


def _run(env: Any) -> Dict[str, float]:
    started, cpu = time.perf_counter(), time.process_time()
    job = env.execute_async("scaling")
    set_up = time.perf_counter() - started
    job.result()
    return {"setup_s": set_up, "seconds": time.perf_counter() - started,
            "cpu_s": time.process_time() - cpu}


def point_parallelism(value: int, mode: str, records: int) -> Dict[str, float]:
    env = _env(mode, value)
    (env.from_sequence(1, records).map(lambda i: (WORDS[i % 5], 1)).key_by(lambda t: t[0])
        .sum(1).filter(lambda t: t[1] == records // 5).add_sink(lambda t: None))
    return {**_run(env), "records": records}


def point_keys(value: int, mode: str, records: int) -> Dict[str, float]:
    env = _env(mode)
    n = max(records, value)
    (env.from_sequence(1, n).map(lambda i: (i % value, 1)).key_by(lambda t: t[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1])).filter(lambda t: False).add_sink(lambda t: None))
    return {**_run(env), "records": n, "per": value}


def point_windows(value: int, mode: str, records: int) -> Dict[str, float]:
    from nbstream import SlidingEventTimeWindows, WatermarkStrategy

    env = _env(mode)
    n = 4 * value  # four records per key, one second apart: every key keeps its windows open
    (env.from_sequence(0, n - 1)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
                lambda i, _: (i // value) * 1000))
        .map(lambda i: (i % value, 1)).key_by(lambda t: t[0])
        .window(SlidingEventTimeWindows.of("1h", "1s")).reduce(lambda a, b: (a[0], a[1] + b[1]))
        .filter(lambda t: False).add_sink(lambda t: None))
    return {**_run(env), "records": n, "per": value * 3600}


def point_records(value: int, mode: str, records: int) -> Dict[str, float]:
    return point_parallelism(1, mode, value) | {"records": value}


def point_sessions(value: int, mode: str, records: int) -> Dict[str, float]:
    from nbstream import EventTimeSessionWindows, WatermarkStrategy

    env = _env(mode)
    n = 5 * value  # five records per session, 100 ms apart, all sessions open at once
    (env.from_sequence(0, n - 1)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
                lambda i, _: (i // value) * 100))
        .map(lambda i: (i % value, 1)).key_by(lambda t: t[0])
        .window(EventTimeSessionWindows.with_gap("1s")).reduce(lambda a, b: (a[0], a[1] + b[1]))
        .filter(lambda t: False).add_sink(lambda t: None))
    return {**_run(env), "records": n, "per": value}


def point_baseline_dict(value: int, mode: str, records: int) -> Dict[str, float]:
    """The Python objects a keyed reduce holds per key, alone: {key: (key, count)}."""
    held = {i: (i, 1) for i in range(value)}
    return {"seconds": 0.0, "records": len(held), "per": value}


POINTS: Dict[str, Callable[[int, str, int], Dict[str, float]]] = {
    "parallelism": point_parallelism, "keys": point_keys, "windows": point_windows,
    "records": point_records, "sessions": point_sessions, "dict": point_baseline_dict}


def run_point(curve: str, value: int, mode: str, records: int) -> None:
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = POINTS[curve](value, mode, records)
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["rss_delta_mb"] = out["rss_mb"] - base_rss / 1024
    print(json.dumps(out))


# -- the curves ---------------------------------------------------------------------------------

def measure(curve: str, value: int, mode: str, records: int, timeout: float,
            runs: int = 1) -> Dict[str, Any]:
    """One point, run ``runs`` times (each in a fresh process): the median of each figure."""
    cmd = [sys.executable, __file__, "--point", curve, str(value), mode, str(records)]
    found = []
    for _ in range(runs):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"skipped": f"over {timeout:.0f} s"}
        if out.returncode != 0:
            return {"skipped": (out.stderr.strip().splitlines() or ["failed"])[-1][:80]}
        found.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: statistics.median(r[k] for r in found) for k in found[0]}


def exponent(points: List[Tuple[float, float]]) -> float:
    """Least-squares slope of log(y) over log(x)."""
    pts = [(math.log(x), math.log(y)) for x, y in points if x > 0 and y > 0]
    if len(pts) < 2:
        return float("nan")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else float("nan")


def curve(name: str, values: List[int], mode: str, records: int, goal: str, timeout: float,
          key: str = "seconds", runs: int = 1) -> List[Dict[str, Any]]:
    print(f"\n{name} ({mode}; goal: {goal}{f'; medians of {runs} runs' if runs > 1 else ''})")
    print(f"  {'value':>12} {'set-up s':>9} {'total s':>9} {'CPU s':>7} {'us/record':>10}"
          f" {'peak RSS MB':>12} {'KB per unit':>12}")
    rows = []
    for v in values:
        r = measure(name, v, mode, records, timeout, runs)
        rows.append({"value": v, **r})
        if "skipped" in r:
            print(f"  {v:>12,} skipped: {r['skipped']}")
            continue
        per = r.get("per")
        kb = f"{r['rss_delta_mb'] * 1024 / per:>12.3f}" if per else f"{'':>12}"
        print(f"  {v:>12,} {r.get('setup_s', 0):>9.3f} {r['seconds']:>9.3f} {r.get('cpu_s', 0):>7.3f}"
              f" {r['seconds'] / r['records'] * 1e6:>10.3f} {r['rss_mb']:>12.0f} {kb}", flush=True)
    done = [(r["value"], r[key]) for r in rows if "skipped" not in r]
    print(f"  growth exponent of {'set-up' if key == 'setup_s' else 'total'} time: "
          f"{exponent(done):.2f}")
    cpu = [(r["value"], r["cpu_s"]) for r in rows if "cpu_s" in r]
    if cpu:  # less sensitive than wall time to what else the machine runs
        print(f"  growth exponent of CPU time: {exponent(cpu):.2f}")
    if key == "setup_s":
        print(f"  growth exponent of total time: "
              f"{exponent([(r['value'], r['seconds']) for r in rows if 'skipped' not in r]):.2f}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller curves (under two minutes)")
    ap.add_argument("--curves", default="threads,parallelism,keys,windows,records,sessions")
    ap.add_argument("--point", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.point:
        c, v, m, r = args.point
        run_point(c, int(v), m, int(r))
        return
    q = args.quick
    wanted = args.curves.split(",")
    print(f"nbstream scaling curves ({'quick' if q else 'full'}); {machine()}")
    t = 120 if q else 1800
    if "threads" in wanted:  # the keyed job of issue 25 at high parallelism, in thread mode
        curve("parallelism", [16, 64, 128, 256], "thread", 10_000,
              "a keyed job at p=256 under 0.3 s for 10,000 records; exponent about 1", t,
              runs=5)
    if "parallelism" in wanted:
        ps = [1, 4, 16, 64, 256]
        curve("parallelism", ps, "thread", 20_000 if q else 200_000,
              "set-up at p=256 under 1 s; no worse than p x p channels", t, key="setup_s")
        curve("parallelism", ps[:4] if q else ps, "process", 20_000 if q else 200_000,
              "set-up at p=256 under 1 s", t, key="setup_s")
    if "keys" in wanted:
        ks = [10**3, 10**4, 10**5] if q else [10**3, 10**4, 10**5, 10**6, 10**7]
        rows = curve("keys", ks, "thread", 100_000 if q else 1_000_000,
                     "time per record flat; memory per key within 2x of the objects held", t)
        held = measure("dict", ks[-1], "thread", 0, t)
        last = rows[-1]
        if "skipped" not in held and "skipped" not in last:
            print(f"  memory per key at {ks[-1]:,} keys: "
                  f"{last['rss_delta_mb'] * 1024 / ks[-1]:.3f} KB vs "
                  f"{held['rss_delta_mb'] * 1024 / ks[-1]:.3f} KB for the objects alone "
                  f"({last['rss_delta_mb'] / max(held['rss_delta_mb'], 1e-9):.1f}x)")
    if "windows" in wanted:
        curve("windows", [10, 30, 100] if q else [100, 300, 1000], "thread", 0,
              "sliding 1 h / 1 s windows: time per record flat across keys", t)
    if "records" in wanted:
        curve("records", [10**5, 10**6] if q else [10**5, 10**6, 10**7, 10**8], "thread", 0,
              "linear time (exponent <= 1.1), constant memory", t)
    if "sessions" in wanted:
        curve("sessions", [10**3, 10**4] if q else [10**3, 10**4, 10**5], "thread", 0,
              "merge cost per record flat up to 10^5 concurrent sessions", t)


if __name__ == "__main__":
    main()
