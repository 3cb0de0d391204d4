"""Checkpoints: what they cost while nothing fails, and how fast a job is back after a failure.

    python benchmarks/checkpoints.py                  # W1 10,000,000 records, W2 5,000,000, 5 runs
    python benchmarks/checkpoints.py --quick          # W1 2,500,000, W2 1,250,000, 2 runs (< 60 s)
    python benchmarks/checkpoints.py --only W1 --modes thread --runs 9

* W1  word count as ``w1_wordcount.py`` builds it (map -> key_by -> reduce -> filter) and
* W2  the tumbling-window count+sum of ``w2_windows.py``'s row path, each at parallelism 2
      in thread and process mode, with exactly-once checkpoints every --interval-ms (1 s)
      and without, one after the other in every run so that both share the machine's
      noise: records/s (median of --runs) and the ratio with/without (goal >= 0.9), plus
      the hand-written Python loop of W1 so that figures compare with the other benchmarks,
      and the ratio of CPU seconds used (kernel and pool workers), which other programs on
      a busy machine disturb less than wall time.
      Records end in a plain ``add_sink(function)`` that counts them: a function sink
      does not hold records back until the next checkpoint (collect and DataFrame sinks
      do, see ``_HeldUntilCheckpoint``), so the figures are the pipeline's own.
* CP  every checkpoint of those runs (``job.checkpoint_info()`` polled every 20 ms):
      duration (trigger to stored on disk), size on disk, alignment time (the longest
      wait of a task for the barrier of its other input channel; parallelism 2).
* R   recovery at parallelism 2: an unbounded keyed reduce over --recovery-keys keys
      (checkpointed state of a few MB, well under 10 MB; its size is printed) with
      checkpoints every --interval-ms and ``fixed_delay_restart(n, 0)`` so that no restart
      delay is counted. Process mode: ``os.kill(worker, SIGKILL)`` of a pool worker; thread
      mode: a map function that raises once. Measured: failure -> the job notices it
      (``job.restarts`` becomes 1), and failure -> the first record that reaches the sink
      from a task of the new attempt (goal < 1 s). Records replayed from the checkpoint
      count as new output: this is the time until the job produces again.

Nothing is asserted, and the test suite does not run this file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, table  # noqa: E402
from benchmarks.modes import cpu_seconds  # noqa: E402
from benchmarks.w1_wordcount import expected as w1_expected  # noqa: E402
from benchmarks.w1_wordcount import hand_loop, make_functions  # noqa: E402
from benchmarks.w2_windows import events as w2_events  # noqa: E402
from benchmarks.w2_windows import expected as w2_expected  # noqa: E402
from benchmarks.w2_windows import w2_stream  # noqa: E402

PARALLELISM = 2


# -- environments ------------------------------------------------------------------------------------

def make_env(mode: str, interval_ms: int, directory: Optional[str], restarts: int = 0):
    from nbstream import CheckpointingMode, RestartStrategies, StreamExecutionEnvironment

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM).set_execution_mode(mode)
    if interval_ms > 0:
        env.enable_checkpointing(interval_ms, CheckpointingMode.EXACTLY_ONCE)
        env.get_checkpoint_config().set_checkpoint_storage_dir(directory)
        # no delay: a restart's delay is the user's choice, not recovery work
        env.set_restart_strategy(RestartStrategies.fixed_delay_restart(restarts, 0))
    return env


class Counter:
    """A sink function that counts (runs in the kernel in every mode, holds nothing back)."""

    def __init__(self) -> None:
        self.n = 0
        self.values: List[Any] = []
        self.lock = threading.Lock()

    def keep(self, value: Any) -> None:
        with self.lock:
            self.values.append(value)


def run_job(env, name: str) -> Dict[str, Any]:
    """Execute asynchronously; poll the checkpoint metrics until the end. Returns the wall
    time and the distinct checkpoints seen (their duration, size and alignment)."""
    cpu, start = cpu_seconds(), time.perf_counter()
    job = env.execute_async(name)
    seen: Dict[int, Dict[str, Any]] = {}
    while not job.wait(0.02):
        note_checkpoint(job, seen)
    took = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    note_checkpoint(job, seen)
    if job.error is not None:
        raise RuntimeError(f"{name} failed: {job.error}")
    return {"seconds": took, "cpu": cpu, "checkpoints": list(seen.values()), "job": job}


def note_checkpoint(job, seen: Dict[int, Dict[str, Any]]) -> None:
    info = job.checkpoint_info()
    if info.get("id") is not None and info["id"] not in seen:
        seen[info["id"]] = {k: info[k] for k in ("duration_s", "size", "alignment_s")}


# -- W1, W2 -------------------------------------------------------------------------------------------

def w1(n: int, mode: str, interval_ms: int, directory: Optional[str]) -> Dict[str, Any]:
    to_word, key, add, is_final = make_functions(n)
    env = make_env(mode, interval_ms, directory)
    sink = Counter()
    env.from_sequence(0, n - 1).map(to_word).key_by(key).reduce(add).filter(is_final) \
        .add_sink(sink.keep)
    out = run_job(env, "W1")
    if sorted(sink.values) != w1_expected(n):
        raise AssertionError(f"W1 {mode} produced a wrong result: {sorted(sink.values)}")
    return out


_W2_INPUT: Dict[int, Any] = {}


def w2_input(n: int):
    """The events and the expected windows, built once per size and shared by the runs."""
    if n not in _W2_INPUT:
        _W2_INPUT.clear()
        _W2_INPUT[n] = (w2_events(n), w2_expected(n))
    return _W2_INPUT[n]


def w2(n: int, mode: str, interval_ms: int, directory: Optional[str]) -> Dict[str, Any]:
    data, want = w2_input(n)

    env = make_env(mode, interval_ms, directory)
    sink = Counter()
    w2_stream(env, data).add_sink(sink.keep)  # a function sink: it does not hold results back
    out = run_job(env, "W2")
    got = {(r["key"], r["window_start"]): (r["count"], r["total"]) for r in sink.values}
    if got != want:
        raise AssertionError(f"W2 {mode} produced a wrong result ({len(got)} windows)")
    return out


# -- recovery -----------------------------------------------------------------------------------------

class _Probe:
    """Shared by the sink instances (a SinkFunction is deep-copied per parallel instance):
    when the failure happened, and the first record from a task opened after it."""
    failed_at: Optional[float] = None
    first_new: Optional[float] = None
    outputs = 0


def _probe_sink():
    from nbstream import SinkFunction

    class ProbeSink(SinkFunction):
        def open(self, ctx):
            self.opened = time.perf_counter()

        def invoke(self, value, context):
            _Probe.outputs += 1
            if _Probe.first_new is None and _Probe.failed_at is not None \
                    and self.opened > _Probe.failed_at:
                _Probe.first_new = time.perf_counter()

    return ProbeSink()


class FailOnce:
    """A map function that raises once when armed (thread mode: the flag is shared)."""
    armed = False

    def __init__(self, keys: int) -> None:
        self.keys = keys

    def __call__(self, i):
        if FailOnce.armed:
            FailOnce.armed = False
            _Probe.failed_at = time.perf_counter()
            raise RuntimeError("injected failure")
        return i % self.keys, 1


def recovery(mode: str, keys: int, interval_ms: int, directory: str,
             timeout: float = 30.0) -> Dict[str, Any]:
    """One failure in an unbounded keyed reduce, after two completed checkpoints."""
    from nbstream.runtime.executors.pool import get_pool

    _Probe.failed_at = _Probe.first_new = None
    FailOnce.armed = False
    env = make_env(mode, interval_ms, directory, restarts=3)
    env.from_sequence(0, 10**12).map(FailOnce(keys)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).add_sink(_probe_sink())
    job = env.execute_async("recovery")
    try:
        deadline = time.monotonic() + timeout
        # two completed checkpoints with every key in the state
        while job.checkpoint_info().get("completed", 0) < 2:
            if job.done or time.monotonic() > deadline:
                raise RuntimeError(f"no checkpoints: {job.checkpoint_info()} {job.error}")
            time.sleep(0.01)
        size = job.checkpoint_info()["size"]
        pool = get_pool()
        before = {w.pid for w in pool.workers.values()}
        if mode == "process":
            victim = next(iter(pool.workers.values()))
            _Probe.failed_at = time.perf_counter()
            os.kill(victim.pid, signal.SIGKILL)
        else:
            FailOnce.armed = True
        noticed = replaced = None
        while _Probe.first_new is None:
            if noticed is None and job.restarts:
                noticed = time.perf_counter()
            if mode == "process" and replaced is None and \
                    {w.pid for w in pool.workers.values()} - before:
                replaced = time.perf_counter()
            if job.done or time.monotonic() > deadline:
                raise RuntimeError(f"no output after the failure: {job.checkpoint_info()}")
            time.sleep(0.001)
        if noticed is None:
            noticed = _Probe.first_new
        return {"size": size, "noticed_s": noticed - _Probe.failed_at,
                "replaced_s": (replaced or _Probe.first_new) - _Probe.failed_at,
                "first_output_s": _Probe.first_new - _Probe.failed_at,
                "failure": job.last_failure}
    finally:
        job.cancel()
        job.wait(30)


# -- main ---------------------------------------------------------------------------------------------

def med(values: List[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=None,
                        help="W1 records (W2 has half as many: each costs about twice as much)")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="2,500,000 records, 2 runs")
    parser.add_argument("--modes", default="thread,process", help="comma-separated modes")
    parser.add_argument("--only", default="W1,W2,R", help="comma-separated: W1, W2, R")
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--recovery-keys", type=int, default=100_000)
    args = parser.parse_args()
    # several seconds per job at least, so that checkpoints every second happen in it
    n = args.records or (2_500_000 if args.quick else 10_000_000)
    runs = args.runs or (2 if args.quick else 5)
    modes = args.modes.split(",")
    only = set(args.only.split(","))
    interval = args.interval_ms
    print(f"$ {os.path.basename(sys.executable)} {' '.join(sys.argv)}")
    print(f"checkpoints every {interval} ms vs none, parallelism {PARALLELISM}, W1 {n:,} records, "
          f"W2 {n // 2:,} events, median of {runs} runs; {machine()}", flush=True)
    root = tempfile.mkdtemp(prefix="nbstream-bench-checkpoints-")
    try:
        measure(args, n, runs, modes, only, interval, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def measure(args, n: int, runs: int, modes: List[str], only: set, interval: int,
            root: str) -> None:
    workloads: Dict[str, Callable[..., Dict[str, Any]]] = {}
    if "W1" in only:
        workloads["W1"] = w1
    if "W2" in only:
        workloads["W2"] = w2
    times: Dict[str, List[float]] = {}
    cpus: Dict[str, List[float]] = {}
    cps: Dict[str, List[Dict[str, Any]]] = {}
    per_run: Dict[str, List[int]] = {}
    for run in range(runs + 1):  # run 0 (a tenth of the records) warms up, not counted
        size = n if run else max(10_000, n // 10)
        if "W1" in only:
            start = time.perf_counter()
            out = hand_loop(size)
            took = time.perf_counter() - start
            assert sorted(out) == w1_expected(size)
            if run:
                times.setdefault("W1 hand-written loop", []).append(took)
        for wl, fn in workloads.items():
            for mode in modes:
                for with_cp in (False, True):
                    name = f"{wl} {mode} p={PARALLELISM} " + ("checkpoints" if with_cp else "none")
                    directory = os.path.join(root, f"{wl}-{mode}-{run}")
                    out = fn(size if wl == "W1" else size // 2, mode,
                             interval if with_cp else 0, directory)
                    shutil.rmtree(directory, ignore_errors=True)
                    if not run:
                        continue
                    times.setdefault(name, []).append(out["seconds"])
                    cpus.setdefault(name, []).append(out["cpu"])
                    if with_cp:
                        cps.setdefault(f"{wl} {mode}", []).extend(out["checkpoints"])
                        per_run.setdefault(f"{wl} {mode}", []).append(len(out["checkpoints"]))
                    print(f"  run {run}: {name:<32} {out['seconds']:7.3f} s  "
                          f"{out['cpu']:7.2f} s of CPU ({len(out['checkpoints'])} checkpoints; load average "
                          f"{os.getloadavg()[0]:.2f})", flush=True)
    medians = {k: med(v) for k, v in times.items()}
    for wl in workloads:
        rows = [{"name": k, "records": n if wl == "W1" else n // 2, "seconds": v}
                for k, v in medians.items()
                if k.startswith(wl)]
        base = f"{wl} hand-written loop" if wl == "W1" else rows[0]["name"]
        print("\n" + table(rows, base))
        for mode in modes:
            without = medians[f"{wl} {mode} p={PARALLELISM} none"]
            with_ = medians[f"{wl} {mode} p={PARALLELISM} checkpoints"]
            cpu_without = med(cpus[f"{wl} {mode} p={PARALLELISM} none"])
            cpu_with = med(cpus[f"{wl} {mode} p={PARALLELISM} checkpoints"])
            print(f"{wl} {mode} p={PARALLELISM}: throughput with/without checkpoints "
                  f"{without / with_:.2f} (goal >= 0.9); CPU seconds with/without "
                  f"{cpu_with / cpu_without:.2f} (less sensitive to other programs)")
    if cps:
        print("\ncheckpoints of those runs (median over all; max in brackets):")
        print(f"{'':<16}{'per run':>8}{'duration ms':>18}{'size KB':>14}{'alignment ms':>20}")
        for name, items in cps.items():
            def col(key: str, scale: float, digits: int = 1) -> str:
                vals = [c[key] * scale for c in items]
                return f"{med(vals):.{digits}f} [{max(vals):.{digits}f}]" if vals else "-"
            print(f"{name:<16}{med(per_run[name]):>8.0f}{col('duration_s', 1000):>18}"
                  f"{col('size', 1 / 1024):>14}{col('alignment_s', 1000, 2):>20}")
    if "R" in only:
        rec_runs = 2 if args.quick else max(runs, 3)
        print(f"\nrecovery, parallelism {PARALLELISM}, keyed reduce over "
              f"{args.recovery_keys:,} keys, fixed_delay_restart(3, 0) (no delay counted), "
              f"median of {rec_runs} failures:", flush=True)
        for mode in modes:
            what = "SIGKILL of a pool worker" if mode == "process" else \
                "a map function raising once"
            got = []
            for i in range(rec_runs + 1):  # the first one warms up
                r = recovery(mode, args.recovery_keys, interval, os.path.join(root, f"R{mode}{i}"))
                if i:
                    got.append(r)
                    new = f"new worker in the pool after {r['replaced_s'] * 1000:.0f} ms, " \
                        if mode == "process" else ""
                    print(f"  {mode} failure {i}: noticed after {r['noticed_s'] * 1000:.0f} ms, {new}"
                          f"first new output after {r['first_output_s'] * 1000:.0f} ms "
                          f"(state {r['size'] / 1024:.0f} KB)", flush=True)
            print(f"{mode:<8} {what:<28}: first new output after "
                  f"{med([g['first_output_s'] for g in got]) * 1000:.0f} ms (goal < 1000 ms); "
                  f"noticed after {med([g['noticed_s'] for g in got]) * 1000:.0f} ms; "
                  + (f"new worker after {med([g['replaced_s'] for g in got]) * 1000:.0f} ms; "
                     if mode == "process" else "") +
                  f"checkpoint size {med([g['size'] for g in got]) / 2**20:.2f} MB; "
                  f"failure: {got[-1]['failure'].splitlines()[0][:80]!r}")


if __name__ == "__main__":
    main()
