"""Disk full: checkpoints fail for a while (tolerated), then the space comes back.

    python benchmarks/disk_full.py                # 32 MB disk full for 30 s; 6,000,000 records at 100,000/s
    python benchmarks/disk_full.py --full-s 10 --records 2000000 --mode process

The checkpoint directory is a real tmpfs of --size-mb mounted for the run (``mount -t
tmpfs``, which needs root; without it the run says so and fails the writes with the
storage's test hook instead: its real partial folders are written, then the write
raises before the rename). A job reads --records records at --rate per second (a
generator that resumes at its position after a restore), counts per key (keyed
``reduce``: ``(key, n)`` for every record) into an exactly-once collect sink, with checkpoints every --interval-ms and
``set_tolerable_checkpoint_failure_number`` large. Once two checkpoints have completed,
a filler file takes every free byte of the disk; --full-s later it is removed.

Printed: records delivered while the disk was full and in total (checked: every key's
counts are exactly 1..n, each once), checkpoints completed after the space came back,
peak RSS of the kernel process (and of the pool's workers) before / while full / after,
the most partial ``.tmp`` folders seen at once and those left at the end, and the time.
Nothing is asserted; ``tests/test_fault_recovery.py`` runs a short variant.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Dict, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nbstream import CheckpointingMode, StreamExecutionEnvironment  # noqa: E402

KEYS = 16


class Disk:
    """A small disk for the checkpoints: a tmpfs when this process may mount one."""

    def __init__(self, root: str, size_mb: int) -> None:
        self.path = os.path.join(root, "disk")
        os.makedirs(self.path)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                               self.path], capture_output=True, text=True)
        self.real = done.returncode == 0
        self.why = "" if self.real else (done.stderr.strip() or "mount failed")
        self.filler = os.path.join(self.path, "filler")
        self.storage: Any = None  # the job's CheckpointStorage, for the hook

    def fill(self) -> None:
        if not self.real:
            self.storage.fail_next_writes = 10**9
            return
        with open(self.filler, "wb", buffering=0) as f:
            for chunk in (1 << 20, 4096, 1):
                block = b"\0" * chunk
                try:
                    while True:
                        f.write(block)
                except OSError as exc:
                    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise

    def free(self) -> None:
        if not self.real:
            self.storage.fail_next_writes = 0
            return
        os.remove(self.filler)

    def partial_folders(self) -> int:
        found = 0
        for _dir, dirs, _files in os.walk(self.path):
            found += sum(1 for d in dirs if d.endswith(".tmp"))
        return found

    def close(self) -> None:
        if self.real:
            subprocess.run(["umount", "-l", self.path], capture_output=True)


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def workers_rss_mb() -> float:
    from nbstream.runtime.executors.pool import _POOL
    if _POOL is None:
        return 0.0
    return sum(rss_mb(w.pid) for w in list(_POOL.workers.values()))


def keyed(i: int) -> Any:
    return (f"k{i % KEYS}", 1)


def paced(records: int, rate: float) -> Any:
    """A generator function of ``0..records-1`` at ``rate`` records per second."""
    def numbers(start: int = 0) -> Any:
        began = time.monotonic()
        for i in range(start, records):
            if i % 1000 == 0:
                ahead = (i - start) / rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)
            yield i
    return numbers


def build(env: StreamExecutionEnvironment, records: int, rate: float) -> Any:
    return env.from_iterable(paced(records, rate)).map(keyed).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1]))


class Tally:
    """Every key's counts as they come (a byte per count, not the records: the run's
    memory is the job's): at the end, each of 1..n must have come exactly once."""

    def __init__(self, records: int) -> None:
        self.sizes = {f"k{k}": len(range(k, records, KEYS)) for k in range(KEYS)}
        self.seen = {key: bytearray(n + 1) for key, n in self.sizes.items()}
        self.total = self.strange = 0

    def add(self, record: Any) -> None:
        self.total += 1
        key, n = record
        seen = self.seen.get(key)
        if seen is None or not 1 <= n < len(seen):
            self.strange += 1
        else:
            seen[n] = min(seen[n] + 1, 255)

    def result(self) -> Dict[str, int]:
        lost = sum(seen[1:].count(0) for seen in self.seen.values())
        duplicated = self.strange + sum(c - 1 for seen in self.seen.values() for c in seen if c > 1)
        return {"lost": lost, "duplicated": duplicated}


def run(records: int = 6_000_000, rate: float = 100_000, full_s: float = 30.0,
        size_mb: int = 32, mode: str = "thread", interval_ms: int = 150,
        max_held: Optional[int] = None, free_when_held_back: bool = False,
        timeout_s: float = 600.0, workdir: Optional[str] = None) -> Dict[str, Any]:
    """One job whose checkpoint disk is full for ``full_s`` seconds (or, with
    ``free_when_held_back``, until the collect sink has held the pipeline back for a
    second); what came out."""
    root = tempfile.mkdtemp(prefix="disk-full-", dir=workdir)
    disk = Disk(root, size_mb)
    try:
        return _run(disk, records, rate, full_s, mode, interval_ms, max_held,
                    free_when_held_back, timeout_s)
    finally:
        disk.close()
        shutil.rmtree(root, ignore_errors=True)


def sink_metrics(job: Any) -> Dict[str, Any]:
    return next((m for name, m in job.metrics().items() if "Collect Sink" in name), {})


def held_back(job: Any, within_s: float, still_s: float = 1.0) -> bool:
    """True once the sink has taken no record for ``still_s`` while holding results."""
    deadline = time.monotonic() + within_s
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline and not job.done:
        m = sink_metrics(job)
        seen = m.get("records_in", 0)
        if seen != last:
            last, since = seen, time.monotonic()
        elif m.get("held_records", 0) and time.monotonic() - since >= still_s:
            return True
        time.sleep(0.05)
    return False


def _run(disk: Disk, records: int, rate: float, full_s: float, mode: str, interval_ms: int,
         max_held: Optional[int], free_when_held_back: bool,
         timeout_s: float) -> Dict[str, Any]:
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 500})
    env.set_execution_mode(mode)
    env.set_parallelism(2)
    env.enable_checkpointing(interval_ms, CheckpointingMode.EXACTLY_ONCE)
    cfg = env.get_checkpoint_config()
    cfg.set_checkpoint_storage_dir(disk.path).set_tolerable_checkpoint_failure_number(10**9)
    if max_held is not None:
        cfg.set_max_held_records(max_held)
    started = time.monotonic()
    it = build(env, records, rate).execute_and_collect("disk full")
    job = it.job
    disk.storage = job.checkpoints.storage
    tally = Tally(records)
    phase = ["before"]
    peak = {p: 0.0 for p in ("before", "full", "after")}
    peak_workers = dict(peak)
    peak_held = dict.fromkeys(peak, 0)
    delivered = dict.fromkeys(peak, 0)
    most_partial = [0]
    completed_after = [0]
    stop = threading.Event()

    def watch() -> None:
        me = os.getpid()
        while not stop.wait(0.05):
            p = phase[0]
            peak[p] = max(peak[p], rss_mb(me))
            peak_workers[p] = max(peak_workers[p], workers_rss_mb())
            peak_held[p] = max(peak_held[p], sink_metrics(job).get("held_records", 0))
            most_partial[0] = max(most_partial[0], disk.partial_folders())

    def read() -> None:
        try:
            for record in it:
                tally.add(record)
                delivered[phase[0]] += 1
        except Exception:  # noqa: BLE001 - the job failed: its status says so
            pass

    threading.Thread(target=watch, daemon=True, name="disk watch").start()
    reader = threading.Thread(target=read, daemon=True, name="disk reader")
    reader.start()
    while job.checkpoint_info().get("completed", 0) < 2 and not job.done:
        time.sleep(0.01)
    disk.fill()
    phase[0] = "full"
    full_at_completed = job.checkpoint_info().get("completed", 0)
    was_held_back = None
    if free_when_held_back:
        was_held_back = held_back(job, full_s)
    else:
        job.wait(full_s)
    completed_while_full = job.checkpoint_info().get("completed", 0) - full_at_completed
    partial_when_freed = disk.partial_folders()
    disk.free()
    freed_at = job.checkpoint_info().get("completed", 0)
    phase[0] = "after"
    finished = job.wait(timeout_s)
    sink = sink_metrics(job)
    completed_after[0] = job.checkpoint_info().get("completed", 0) - freed_at
    status = job.status.value
    if not finished:
        job.cancel()
        job.wait(30)
    reader.join(30)
    stop.set()
    return {"disk": "tmpfs" if disk.real else f"storage hook ({disk.why})",
            "status": status, "seconds": time.monotonic() - started,
            "delivered": dict(delivered), "total": tally.total, **tally.result(),
            "completed while full": completed_while_full,
            "completed after freed": completed_after[0],
            "checkpoint failures": sum("could not be written" in w for w in job.warnings),
            "held back": was_held_back, "held records (sampled)": peak_held,
            "held records peak": sink.get("held_records_peak"),
            "peak rss MB": {p: round(v) for p, v in peak.items()},
            "peak workers rss MB": {p: round(v) for p, v in peak_workers.items()},
            "most partial folders": most_partial[0],
            "partial folders when freed": partial_when_freed,
            "partial folders left": disk.partial_folders()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=6_000_000)
    ap.add_argument("--rate", type=float, default=100_000)
    ap.add_argument("--full-s", type=float, default=30.0)
    ap.add_argument("--size-mb", type=int, default=32)
    ap.add_argument("--mode", default="thread")
    ap.add_argument("--interval-ms", type=int, default=150)
    ap.add_argument("--max-held", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    from benchmarks.common import machine
    print(machine())
    result = run(args.records, args.rate, args.full_s, args.size_mb, args.mode,
                 args.interval_ms, args.max_held, timeout_s=args.timeout)
    for name, value in result.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
