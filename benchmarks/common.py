"""Shared helpers of the benchmarks: timing by median, subprocess peers, a result table.

Benchmarks never assert: they print records/s and ratios measured in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS_PYTHON = os.environ.get("NBSTREAM_PEERS_PYTHON",
                              os.path.join(HERE, ".venv-peers", "bin", "python"))


def median_seconds(fn: Callable[[], Any], runs: int, check: Optional[Callable[[Any], bool]] = None,
                   warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``runs`` runs (after ``warmup`` untimed runs)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if check is not None and not check(out):
            raise AssertionError(f"{getattr(fn, '__name__', fn)} produced a wrong result: {out!r}")
    return statistics.median(times)


def run_peer(script: str, records: int, runs: int, python: str = PEERS_PYTHON,
             timeout: float = 1800) -> Dict[str, Any]:
    """Run ``peers/<script>`` under ``python``; it prints JSON with ``seconds`` (median)."""
    if not os.path.exists(python):
        return {"skipped": f"no peers interpreter at {python} (run benchmarks/setup_peers.sh)"}
    cmd = [python, os.path.join(HERE, "peers", script), str(records), str(runs)]
    try:
        # PyFlink's thread mode embeds the Python found on PATH: make it the peers' one
        env = dict(os.environ, PATH=os.path.dirname(python) + os.pathsep + os.environ.get("PATH", ""))
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"skipped": f"failed: {last}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"python {sys.version.split()[0]}, {os.cpu_count()} cores, "
            f"load average {load:.2f} at start")


def table(rows: List[Dict[str, Any]], baseline: str) -> str:
    """Rows with ``name``, ``records``, ``seconds`` (or ``skipped``) -> aligned text with ratios."""
    base = next(r for r in rows if r["name"] == baseline)
    base_rate = base["records"] / base["seconds"]
    lines = [f"{'':<34}{'records/s':>14}   vs {baseline}"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['name']:<34}{'-':>14}   ({r['skipped']})")
            continue
        rate = r["records"] / r["seconds"]
        lines.append(f"{r['name']:<34}{rate:>14,.0f}   {rate / base_rate:.2f}x")
    return "\n".join(lines)
