"""Kill storm: one job, many random SIGKILLs of its worker processes, exactly-once output.

    python benchmarks/kill_storm.py                       # 10 seeds x 20 kills, 2,000,000 records
    python benchmarks/kill_storm.py --seeds 3 --kills 5 --records 300000   # a quick look

Process mode at parallelism 2, exactly-once checkpoints every --interval-ms (150), a
fixed-delay restart strategy with --attempts (10,000) attempts and --delay-ms (0) apart.
While the job runs a killer thread sends SIGKILL to a random worker process every
0.5-2 s (seeded), --kills times; kills land wherever they land: in a running task, in a
worker being started for a restart, in an idle worker the pool just handed out. With
--aim-starting every second kill waits for the worker started to replace the last victim
and kills it before it is ready (the moment the issue's "worker N did not start" came from).

The job: ``from_sequence`` -> ``(key, i)`` with event time ``i`` ms -> per key

* a rolling count (keyed ``reduce``): ``("r", key, n)`` for every record, and
* a tumbling 1 s event-time window count: ``("w", key, window start, count)``,

both going to an exactly-once collect sink (``execute_and_collect``) and to an exactly-once
``FileSink`` (part files, committed on checkpoints). Checked per sink kind: every key's
rolling counts are exactly 1..n, each once (lost = missing numbers, duplicated = numbers
seen twice); the window results equal those of a run without failures (computed in plain
Python). Printed: runs finished, kills survived, records lost / duplicated per sink kind,
and the time overhead over the same job without kills (median).

Nothing is asserted, and the test suite runs a short variant
(``tests/test_fault_recovery.py``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nbstream import (CheckpointingMode, Duration, ProcessWindowFunction,  # noqa: E402
                      RestartStrategies, StreamExecutionEnvironment, TumblingEventTimeWindows,
                      WatermarkStrategy)
from nbstream.connectors.files import BucketAssigner, FileSink  # noqa: E402

KEYS = 8
WINDOW_MS = 1000


def keyed(i: int) -> Tuple[str, int]:
    return (f"k{i % KEYS}", i)


def event_time(e: Tuple[str, int], _ts: int) -> int:
    return e[1]


def rolling(e: Tuple[str, int]) -> Tuple[str, str, int]:
    return ("r", e[0], 1)


def add(a: Tuple[str, str, int], b: Tuple[str, str, int]) -> Tuple[str, str, int]:
    return (a[0], a[1], a[2] + b[2])


def build(env: StreamExecutionEnvironment, records: int, out_dir: str) -> Any:
    """The storm's job on ``env``; returns the stream to collect (the FileSink is added)."""
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(event_time))
    events = env.from_sequence(0, records - 1).map(keyed).uid("keyed") \
        .assign_timestamps_and_watermarks(strategy).uid("ts")
    counts = events.map(rolling).uid("rolling").key_by(lambda t: t[1]).reduce(add).uid("counts")
    windows = events.key_by(lambda e: e[0]) \
        .window(TumblingEventTimeWindows.of(Duration.of_millis(WINDOW_MS))) \
        .process(_WindowCount()).uid("windows")
    out = counts.union(windows)
    sink = (FileSink.for_row_format(out_dir)
            .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
    out.map(repr).uid("text").sink_to(sink).uid("file sink")
    return out


class _WindowCount(ProcessWindowFunction):
    def process(self, key, context, elements):
        yield ("w", key, context.window().start, sum(1 for _ in elements))


def expected_windows(records: int) -> Counter:
    counts: Counter = Counter()
    for i in range(records):
        counts[(f"k{i % KEYS}", i - i % WINDOW_MS)] += 1
    return Counter(("w", k, start, n) for (k, start), n in counts.items())


def check(results: List[Any], records: int, windows: Counter) -> Dict[str, int]:
    """Lost and duplicated records of one sink's output (rolling counts and windows)."""
    seen: Dict[str, Counter] = {}
    got_windows: Counter = Counter()
    for r in results:
        if r[0] == "r":
            seen.setdefault(r[1], Counter())[r[2]] += 1
        else:
            got_windows[tuple(r)] += 1
    lost = duplicated = 0
    for k in range(KEYS):
        n = len(range(k, records, KEYS))
        counts = seen.get(f"k{k}", Counter())
        lost += sum(1 for c in range(1, n + 1) if counts[c] == 0)
        duplicated += sum(v - 1 for v in counts.values() if v > 1)
        duplicated += sum(v for c, v in counts.items() if not 1 <= c <= n)
    lost += sum((windows - got_windows).values())
    duplicated += sum((got_windows - windows).values())
    return {"lost": lost, "duplicated": duplicated}


def read_file_sink(out_dir: str) -> List[Any]:
    import ast
    lines: List[Any] = []
    for name in sorted(os.listdir(out_dir)):
        if name.startswith("."):
            continue  # hidden: in progress or pending, not committed output
        with open(os.path.join(out_dir, name), encoding="utf-8") as f:
            lines.extend(ast.literal_eval(line) for line in f if line.strip())
    return lines


def worker_pids() -> List[int]:
    """This process's worker processes, in every state: also those being started (the
    pool lists a worker only once it has said it is ready)."""
    me, pids = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == me and b"nbstream.runtime.executors.worker" in cmdline:
            pids.append(int(name))
    return sorted(pids)


class Killer(threading.Thread):
    """SIGKILLs a random worker process every ``gap`` seconds (uniform), ``kills`` times.
    With ``starting``, every second kill waits for a worker that is being started (the
    pool's replacement for the last victim, not yet ready) and kills that one."""

    def __init__(self, seed: int, kills: int, gap: Tuple[float, float] = (0.5, 2.0),
                 starting: bool = False) -> None:
        super().__init__(daemon=True, name="kill storm")
        self.rng = random.Random(seed)
        self.kills, self.gap, self.starting = kills, gap, starting
        self.done = 0
        self.while_starting = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while self.done < self.kills and not self.stop.wait(self.rng.uniform(*self.gap)):
            pids = worker_pids()
            if pids and self._kill(self.rng.choice(pids)) and self.starting:
                pid = self._next_starting()
                if pid is not None and self._kill(pid):
                    self.while_starting += 1

    def _kill(self, pid: int) -> bool:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.done += 1
        return True

    def _next_starting(self, within_s: float = 5.0) -> Optional[int]:
        from nbstream.runtime.executors.pool import get_pool
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline and not self.stop.is_set():
            ready = {w.pid for w in list(get_pool().workers.values())}
            fresh = [p for p in worker_pids() if p not in ready]
            if fresh:
                return fresh[0]
            time.sleep(0.005)
        return None


def run_once(seed: int, records: int, kills: int, interval_ms: int = 150,
             attempts: int = 10_000, delay_ms: int = 0, timeout_s: float = 600.0,
             gap: Tuple[float, float] = (0.5, 2.0), starting: bool = False,
             workdir: Optional[str] = None) -> Dict[str, Any]:
    """One job under a storm of ``kills`` SIGKILLs; what each sink got, checked."""
    root = tempfile.mkdtemp(prefix="kill-storm-", dir=workdir)
    out_dir = os.path.join(root, "out")
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 500})
    env.set_execution_mode("process")
    env.set_parallelism(2)
    env.enable_checkpointing(interval_ms, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir(os.path.join(root, "checkpoints"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(attempts, delay_ms))
    stream = build(env, records, out_dir)
    killer = Killer(seed, kills, gap, starting) if kills else None
    started = time.monotonic()
    it = stream.execute_and_collect(f"kill storm {seed}")
    job = it.job
    got: List[Any] = []
    if killer is not None:
        killer.start()
    reader = threading.Thread(target=lambda: got.extend(_drain(it)), daemon=True)
    reader.start()
    finished = job.wait(timeout_s)
    elapsed = time.monotonic() - started
    if killer is not None:
        killer.stop.set()
        killer.join()
    status = job.status.value
    if not finished:  # hung: say so, then try to stop it
        job.cancel()
        status = f"HUNG ({status}; after cancel(): " \
            f"{job.status.value if job.wait(30) else 'still ' + job.status.value})"
    reader.join(30)
    windows = expected_windows(records)
    out = {"seed": seed, "finished": status == "FINISHED", "status": status, "kills": killer.done if killer else 0,
           "kills while starting": killer.while_starting if killer else 0,
           "restarts": job.restarts, "last failure": job.last_failure, "seconds": elapsed,
           "error": repr(job.error) if job.error is not None else None,
           "collect": check(got, records, windows)}
    if os.path.isdir(out_dir):
        out["file"] = check(read_file_sink(out_dir), records, windows)
    shutil.rmtree(root, ignore_errors=True)
    return out


def _drain(it: Any) -> List[Any]:
    out: List[Any] = []
    try:
        for record in it:
            out.append(record)
    except Exception:  # the job failed (its error is reported): what came is checked
        pass
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--records", type=int, default=2_000_000)
    ap.add_argument("--interval-ms", type=int, default=150)
    ap.add_argument("--attempts", type=int, default=10_000)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--baseline-runs", type=int, default=2)
    ap.add_argument("--aim-starting", action="store_true",
                    help="every second kill hits a worker being started for a restart")
    args = ap.parse_args()
    from benchmarks.common import machine
    print(machine())
    base = [run_once(1000 + i, args.records, 0, args.interval_ms, args.attempts,
                     args.delay_ms, args.timeout)["seconds"] for i in range(args.baseline_runs)]
    base_s = statistics.median(base) if base else float("nan")
    print(f"without kills: {base_s:.1f} s (median of {len(base)})")
    runs = []
    for seed in range(args.seeds):
        r = run_once(seed, args.records, args.kills, args.interval_ms, args.attempts,
                     args.delay_ms, args.timeout, starting=args.aim_starting)
        runs.append(r)
        print(f"seed {seed}: {r['status']} in {r['seconds']:.1f} s, {r['kills']} kills "
              f"({r['kills while starting']} while starting), "
              f"{r['restarts']} restarts, collect {r['collect']}, file {r.get('file')}"
              + (f", error {r['error']}" if r["error"] else ""), flush=True)
        print(f"  last failure: {r['last failure']}", flush=True)
    finished = [r for r in runs if r["finished"]]
    print(f"\nruns finished: {len(finished)}/{len(runs)}")
    print(f"kills survived: {sum(r['kills'] for r in finished)} "
          f"(of {sum(r['kills'] for r in runs)} sent; "
          f"{sum(r['kills while starting'] for r in runs)} aimed at starting workers)")
    for kind in ("collect", "file"):
        lost = sum(r.get(kind, {}).get("lost", 0) for r in runs)
        dup = sum(r.get(kind, {}).get("duplicated", 0) for r in runs)
        print(f"{kind} sink: lost {lost}, duplicated {dup}")
    if finished:
        med = statistics.median(r["seconds"] for r in finished)
        print(f"time: {med:.1f} s median with kills, {base_s:.1f} s without "
              f"({med / base_s:.2f}x)")


if __name__ == "__main__":
    main()
