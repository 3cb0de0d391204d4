"""State backends: a ValueState count over many distinct keys on the hash-map backend
and on the embedded RocksDB backend, each run in its own process.

Every record's key is seen ``--visits`` times (records = keys * visits); a
KeyedProcessFunction counts per key in a ValueState and emits a key's count when it
reaches ``--visits`` (for one key in 100,000, so the output stays small). Prints, per
backend, the medians over ``--runs`` runs of: records/s, the process's peak RSS
(VmHWM from /proc/self/status) and that peak minus the RSS before the job (the job's
own memory), then RocksDB's ratios to the hash-map backend. Goal (issue 10): RocksDB's
peak RSS well under the hash-map backend's at 5,000,000 keys.

    python benchmarks/state_backends.py                   # 5,000,000 keys, 1 visit, 3 runs
    python benchmarks/state_backends.py --keys 200000     # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.common import machine  # noqa: E402


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def child(backend: str, keys: int, visits: int, root: str) -> None:
    """One run in this process: prints JSON with seconds, peak and baseline RSS."""
    from nbstream import (EmbeddedRocksDBStateBackend, HashMapStateBackend,
                          KeyedProcessFunction, StreamExecutionEnvironment, ValueStateDescriptor)

    class Count(KeyedProcessFunction):
        def open(self, ctx):
            self.count = ctx.get_state(ValueStateDescriptor("count"))

        def process_element(self, key, ctx):
            n = (self.count.value() or 0) + 1
            self.count.update(n)
            if n == visits and key % 100_000 == 0:
                yield key, n

    env = StreamExecutionEnvironment.get_execution_environment()
    if backend == "rocksdb":
        rocks = EmbeddedRocksDBStateBackend()
        rocks.set_db_storage_paths(root)
        env.set_state_backend(rocks)
    else:
        env.set_state_backend(HashMapStateBackend())
    records = keys * visits
    stream = (env.from_sequence(0, records - 1).map(lambda i: i % keys)
              .key_by(lambda k: k).process(Count()))
    baseline = _status_kb("VmRSS")
    t = time.perf_counter()
    out = list(stream.execute_and_collect())
    seconds = time.perf_counter() - t
    expected = len(range(0, keys, 100_000))
    if len(out) != expected or any(n != visits for _, n in out):
        raise SystemExit(f"wrong result: {len(out)} rows, expected {expected}")
    print(json.dumps({"seconds": seconds, "records": records, "peak_kb": _status_kb("VmHWM"),
                      "baseline_kb": baseline, "left": os.listdir(root)}))


def run(backend: str, keys: int, visits: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="nbstream-bench-") as root:
        cmd = [sys.executable, os.path.abspath(__file__), "--child", backend, "--keys", str(keys),
               "--visits", str(visits), "--root", root]
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            raise SystemExit(f"{backend} run failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=5_000_000)
    p.add_argument("--visits", type=int, default=1, help="records per key")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", choices=["hashmap", "rocksdb"])
    p.add_argument("--root", default="")
    a = p.parse_args()
    if a.child:
        child(a.child, a.keys, a.visits, a.root)
        return
    print(f"# state backends: {a.keys:,} keys x {a.visits} visit(s), medians of {a.runs} runs; "
          f"{machine()}")
    results = {}
    for backend in ("hashmap", "rocksdb"):
        runs = []
        for _ in range(a.runs):  # alternate nothing: each run is a fresh process anyway
            runs.append(run(backend, a.keys, a.visits))
        leaks = [r["left"] for r in runs if r["left"]]
        results[backend] = {
            "rate": statistics.median(r["records"] / r["seconds"] for r in runs),
            "peak_mb": statistics.median(r["peak_kb"] for r in runs) / 1024,
            "job_mb": statistics.median(r["peak_kb"] - r["baseline_kb"] for r in runs) / 1024,
            "leaks": leaks,
        }
        r = results[backend]
        print(f"{backend:8s} {r['rate']:>12,.0f} records/s   peak RSS {r['peak_mb']:8.1f} MB   "
              f"job's own {r['job_mb']:8.1f} MB" + (f"   LEFT FOLDERS {leaks}" if leaks else ""))
    h, r = results["hashmap"], results["rocksdb"]
    print(f"rocksdb / hashmap: throughput {r['rate'] / h['rate']:.2f}x, "
          f"peak RSS {r['peak_mb'] / h['peak_mb']:.2f}x, job's own memory "
          f"{r['job_mb'] / max(h['job_mb'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
