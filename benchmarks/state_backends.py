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

``--checkpoints``: RocksDB checkpoints, full against incremental (issue 25). A ValueState
holds ``--keys`` keys (default 1,000,000); between two checkpoints ``--changed`` of them
(default 1 %, random keys) get a new value. Each checkpoint goes the way a task's does
(the operator's snapshot serialized, RocksDB's files written for the incremental one)
and is stored by the checkpoint storage (which also prunes what the kept checkpoint no
longer needs). Prints the medians over ``--rounds`` checkpoints after the first of:
seconds per checkpoint and bytes it added to the storage (state files plus new shared
files; their mean too: a new base every ``MAX_INCREMENTS + 1`` checkpoints), and the
seconds to restore the last one into a fresh store.

    python benchmarks/state_backends.py --checkpoints     # 1,000,000 keys, 1 %, 10 rounds
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


def checkpoints(keys: int, changed: float, rounds: int, incremental: bool) -> dict:
    """One backend's checkpoints (see the module text), in this process."""
    import random

    from nbstream.runtime.checkpoint_storage import CheckpointStorage
    from nbstream.runtime.checkpoints import dump_state, load_state
    from nbstream.runtime.state import KeyedStateBackend, StateSpec
    from nbstream.runtime.state_backends import (SHARED_FILES, RocksDBStore, stored_entries)

    rng = random.Random(25)
    with tempfile.TemporaryDirectory(prefix="nbstream-bench-") as root:
        store = RocksDBStore(root, "bench", incremental=incremental)
        backend = KeyedStateBackend(store=store.scoped(""))
        count = backend.get(StateSpec("count", "value"))
        for key in range(keys):
            backend.current_key = key
            count.update(key)
        storage = CheckpointStorage(root, "job", retained=1)

        def on_disk() -> dict:
            found = {}
            for folder, _, files in os.walk(storage.root):
                for name in files:
                    path = os.path.join(folder, name)
                    found[(os.stat(path).st_ino, name)] = os.path.getsize(path)
            return found

        seconds, sizes = [], []
        for cid in range(1, rounds + 2):
            before = on_disk()
            t = time.perf_counter()
            snap = {}
            if incremental:  # first the files, then the states' markers (as an operator)
                snap["rocksdb"] = store.checkpoint(storage.shared_dir)
                snap[SHARED_FILES] = snap["rocksdb"]["chain"]
            snap["keyed"] = backend.snapshot()
            part = {"finished": False, "state": dump_state(snap, "count")}
            if snap.get(SHARED_FILES):
                part["shared"] = snap[SHARED_FILES]
            cp = storage.write(cid, {"count": {"parallelism": 1, "subtasks": {0: part}}}, "bench")
            storage.prune()
            seconds.append(time.perf_counter() - t)
            sizes.append(sum(size for f, size in on_disk().items() if f not in before))
            for key in rng.sample(range(keys), int(keys * changed)):
                backend.current_key = key
                count.update(-key)
        t = time.perf_counter()
        fresh = RocksDBStore(root, "restored", incremental=incremental)
        restored = KeyedStateBackend(store=fresh.scoped(""))

        class Op:  # what stored_entries reads of an operator
            _rocksdb_store = fresh
            task = type("Task", (), {"config": None})

        snaps = [load_state(cp.operators["count"]["subtasks"][0]["state"])]
        with stored_entries(Op, snaps, True, cp.shared_dir):
            restored.restore(snaps[0]["keyed"])
        restore_s = time.perf_counter() - t
        backend.current_key = restored.current_key = keys - 1
        assert restored.get(StateSpec("count", "value")).value() == count.value()
        fresh.dispose()
        store.dispose()
    later = slice(1, None)  # the first checkpoint is a full one either way
    return {"first_s": seconds[0], "first_bytes": sizes[0],
            "seconds": statistics.median(seconds[later]), "bytes": statistics.median(sizes[later]),
            "mean_bytes": statistics.mean(sizes[later]), "restore_s": restore_s}


def checkpoint_main(keys: int, changed: float, rounds: int) -> None:
    print(f"# RocksDB checkpoints: {keys:,} keys, {changed:.0%} changed between checkpoints, "
          f"medians of {rounds} checkpoints after the first; {machine()}")
    results = {}
    for kind in ("full", "incremental"):
        r = results[kind] = checkpoints(keys, changed, rounds, kind == "incremental")
        print(f"{kind:12s} {r['seconds']:7.3f} s  {r['bytes'] / 1e6:8.2f} MB per checkpoint   "
              f"(mean {r['mean_bytes'] / 1e6:.2f} MB; first {r['first_s']:.3f} s, "
              f"{r['first_bytes'] / 1e6:.2f} MB)   restore {r['restore_s']:.2f} s")
    f, i = results["full"], results["incremental"]
    print(f"incremental / full: time {i['seconds'] / f['seconds']:.3f}x, "
          f"size {i['bytes'] / f['bytes']:.3f}x")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keys", type=int, default=5_000_000)
    p.add_argument("--visits", type=int, default=1, help="records per key")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", choices=["hashmap", "rocksdb"])
    p.add_argument("--root", default="")
    p.add_argument("--checkpoints", action="store_true", help="full vs incremental checkpoints")
    p.add_argument("--changed", type=float, default=0.01)
    p.add_argument("--rounds", type=int, default=10)
    a = p.parse_args()
    if a.checkpoints:
        checkpoint_main(a.keys if a.keys != p.get_default("keys") else 1_000_000, a.changed,
                        a.rounds)
        return
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
