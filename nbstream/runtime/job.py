"""A running job: its status, metrics, cancellation, results.

:class:`JobClient` is what ``execute_async`` returns (PyFlink's name). It is also
the object executors report to: they call :meth:`JobClient.fail` on the first error,
and :meth:`JobClient._finish` once every task has stopped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..errors import JobCancelledError, JobFailedError, NbstreamError
from .histogram import Histogram
from .keygroups import canonical_key, hashable_key, subtask_for_key
from .metrics import DistributionSummary
from .queries import QueryError, TaskQueries

__all__ = ["JobStatus", "JobClient", "JobExecutionResult", "as_job_error"]


STOP_WITH_SAVEPOINT_GRACE_S = 5.0
_BASE_METRICS = frozenset({"id", "name", "records_in", "records_out", "watermark"})


class JobStatus(Enum):
    """Lifecycle of a job (Flink's names)."""

    CREATED = "CREATED"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    RESTARTING = "RESTARTING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.CANCELED)


@dataclass(frozen=True)
class JobExecutionResult:
    """What a finished job reports: id, name, wall time and per-operator record counts."""

    job_id: str
    job_name: str
    wall_time_s: float
    metrics: Dict[str, Dict[str, Any]] = field(default_factory=dict)

    def get_job_id(self) -> str:
        return self.job_id

    def get_net_runtime(self) -> int:
        """Wall time in milliseconds (Flink's name)."""
        return int(self.wall_time_s * 1000)

    def get_job_execution_result(self) -> "JobExecutionResult":
        return self

    def get_all_accumulator_results(self) -> Dict[str, Any]:
        """Flink's accumulators: nbstream has none (metrics are in ``metrics``)."""
        return {}

    def get_accumulator_result(self, name: str) -> Any:
        """None: no accumulator of that name (nbstream has none)."""
        return None

    def __str__(self) -> str:
        lines = [f"Job '{self.job_name}' ({self.job_id}) finished in {self.wall_time_s:.3f} s"]
        for name, m in self.metrics.items():
            lines.append(f"  {name}: {m['records_in']} in, {m['records_out']} out")
        return "\n".join(lines)


class JobClient:
    """Handle of a submitted job.

    ``status``, ``metrics()``, ``cancel()``, ``wait(timeout)``, ``result(timeout)``;
    ``await job`` works too. PyFlink's names (``get_job_id()``, ``get_job_status()``,
    ``get_job_execution_result()``) are there as well. ``placement`` tells where each
    chain of the job runs and why (the automatic mode fills it in as it decides).
    """

    def __init__(self, job_name: str, mode: str = "thread",
                 stdout: Any = None, stderr: Any = None) -> None:
        self.job_id = uuid.uuid4().hex
        self.job_name = job_name
        self.mode = mode
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.placement: Dict[str, str] = {}
        self._status = JobStatus.CREATED
        self._error: Optional[BaseException] = None
        self._cancel_requested = False
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._wakers: List[Callable[[], None]] = []
        self._on_done: List[Callable[["JobClient"], None]] = []
        self._before_done: List[Callable[["JobClient"], None]] = []  # run before wait() returns
        self._metrics_source: Callable[[], List[Dict[str, Any]]] = lambda: []
        self._started = time.monotonic()
        self._ended: Optional[float] = None
        self.warnings: List[str] = []
        self.cancelled = False  # read on the hot path by tasks: a plain attribute
        # fault tolerance: the checkpoint coordinator (tasks read it), the restart policy
        # and how to start the tasks again (set by whoever submits the job)
        self.checkpoints: Any = None
        self.restart_policy: Any = None
        self._restarter: Optional[Callable[[], None]] = None
        self._restart_timer: Optional[threading.Timer] = None  # set while waiting to restart
        self.restarts = 0
        self.last_failure: Optional[str] = None
        self.stopped_with_savepoint: Optional[str] = None
        # task threads that did not stop (thread mode cannot stop a function that does not
        # return): each says where it is, or None once it has ended
        self._stragglers: List[Callable[[], Optional[str]]] = []
        # reading state while the job runs: the plan (set on submit), each task's mailbox
        self.plan: Any = None
        self.mailboxes: Dict[Tuple[int, int], Any] = {}
        self.queries = TaskQueries()

    # -- state for the public -------------------------------------------------------------
    @property
    def status(self) -> JobStatus:
        return self._status

    @property
    def still_running(self) -> List[str]:
        """What of this job has not stopped although the job has: a user function that did
        not return when the job was cancelled (a thread cannot be stopped from outside),
        as ``step 'parse' (1/2): function parse (cell.py:3) has not returned (now at
        cell.py:5)``; an entry goes once its function returns."""
        return [found for found in (where() for where in list(self._stragglers)) if found]

    def _linger(self, where: Callable[[], Optional[str]]) -> None:
        """An executor's: a task thread outlives the job; ``where()`` says where it is."""
        self._stragglers.append(where)

    @property
    def error(self) -> Optional[BaseException]:
        return self._error

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def elapsed_s(self) -> float:
        end = self._ended if self._ended is not None else time.monotonic()
        return end - self._started

    def metrics(self) -> Dict[str, Dict[str, Any]]:
        """Records in and out per operator, summed over its parallel instances (live),
        the lowest watermark, operator counters such as ``late_records`` and
        ``late_records_dropped`` of windows and interval joins, latencies an operator
        measures (``<name> p50 ms``, ``<name> p99 ms``, over every instance), statuses as
        text (a live feed's ``feed_status``: connected, reconnecting...), and under
        ``user_metrics`` the metrics of the step's function
        (``runtime_context.get_metrics_group()``: counters, meters and numeric gauges
        summed, distributions as count/sum/min/max/mean)."""
        out: Dict[str, Dict[str, Any]] = {}
        for m in self._metrics_source():
            key = f"{m['id']}:{m['name']}"
            entry = out.setdefault(key, {"records_in": 0, "records_out": 0,
                                         "watermark": None, "parallelism": 0})
            entry["records_in"] += m["records_in"]
            entry["records_out"] += m["records_out"]
            entry["parallelism"] += 1
            if "mode" in m:
                entry["mode"] = m["mode"]
            wm = m.get("watermark")
            if wm is not None:
                entry["watermark"] = wm if entry["watermark"] is None else min(entry["watermark"], wm)
            for name, value in m.items():  # operator counters (late_records_dropped, ...)
                if name == "user_metrics":
                    user = entry.setdefault("user_metrics", {})
                    for metric, v in value.items():
                        _merge(user, metric, v)
                elif name not in _BASE_METRICS and name != "mode":
                    _merge(entry, name, value)
        for entry in out.values():
            for name in [n for n, v in entry.items() if isinstance(v, Histogram)]:
                histogram = entry.pop(name)
                entry[f"{name} p50 ms"] = round(histogram.quantile(0.5) * 1000, 3)
                entry[f"{name} p99 ms"] = round(histogram.quantile(0.99) * 1000, 3)
            user = entry.get("user_metrics", {})
            for name in [n for n, v in user.items() if isinstance(v, DistributionSummary)]:
                user[name] = user[name].summary()
        return out

    # -- reading state while the job runs -----------------------------------------------------
    def query_key(self, node_id: int, key: Any, method: str, timeout: float = 10.0) -> Any:
        """``method(key)`` of keyed step ``node_id``'s function, called with ``key`` as the
        current key by the task that owns ``key``, between two of its batches (see
        :mod:`nbstream.runtime.queries`)."""
        if self.done:
            raise QueryError(f"the job has stopped ({self._status.value}): its state is gone")
        plan = self.plan
        if plan is None or node_id not in plan.nodes:
            raise QueryError(f"this job has no step {node_id}")
        chain = plan.chain_of[node_id]
        # as the keyed steps see it: a list as its hashable stand-in, a NaN as the one NaN key
        key = canonical_key(hashable_key(key))
        subtask = subtask_for_key(key, plan.max_parallelism[node_id], plan.parallelism[node_id])
        task = self.mailboxes.get((chain, subtask))
        if task is None:
            raise QueryError(f"the task of step '{plan.nodes[node_id].name}' that owns the key "
                             f"{key!r} is not running yet")
        return self.queries.ask(task.post, node_id, key, method, timeout)

    def answer(self, query_id: int, ok: bool, value: Any) -> None:
        """A task's answer to :meth:`query_key` (its control's ``answer``)."""
        self.queries.answer(query_id, ok, value)

    def statefun_state(self, typename: str, id: str, timeout: float = 10.0) -> Dict[str, Any]:
        """The persisted values of the stateful function instance (``typename``, ``id``) in
        this running job, by name (None: not set, or expired); read by the task that runs
        the address between two invocations, so never half-applied (see
        :mod:`nbstream.statefun.datastream`)."""
        for nid, node in (self.plan.nodes.items() if self.plan is not None else ()):
            serves = getattr(getattr(node.fn, "owner", None), "serves", None)
            if serves is not None and serves(typename):
                return self.query_key(nid, typename + "\x00" + id, "read_address", timeout)
        raise QueryError(f"no stateful function of this job serves the function type {typename}")

    def cancel(self) -> None:
        """Stop the job; returns at once (``wait()`` to block until it has stopped). A job
        waiting to restart has no task running: it is CANCELED at once."""
        with self._lock:
            if self._done.is_set() or self._cancel_requested:
                return
            self._cancel_requested = True
            if self._status in (JobStatus.RUNNING, JobStatus.RESTARTING):
                self._status = JobStatus.CANCELLING
            waiting, self._restart_timer = self._restart_timer, None
        if waiting is not None:
            waiting.cancel()
            self._finish()
            return
        self._stop_tasks()

    stop = cancel

    # -- savepoints -------------------------------------------------------------------------
    def trigger_savepoint(self, path: Optional[str] = None, timeout: float = 60.0) -> str:
        """Take a savepoint (a checkpoint that is kept) into folder ``path`` (default: a
        new folder under the checkpoint directory's ``savepoints``); returns its path.
        Start a job from it with ``env.execute(savepoint_path=...)``. A job that is not
        running (finished, cancelled, failed) refuses at once, as Flink's does."""
        return self._savepoint(path, timeout, stop=False)

    def _savepoint(self, path: Optional[str], timeout: float, stop: bool) -> str:
        from .checkpoints import CheckpointError

        coordinator = self.checkpoints
        if coordinator is None or coordinator.settings is None:
            raise CheckpointError("savepoints need checkpointing: call env.enable_checkpointing"
                                  "(interval) before starting the job")
        with self._lock:
            if self._done.is_set() or self._cancel_requested:
                status = self._status.value if self._done.is_set() else JobStatus.CANCELLING.value
                raise CheckpointError(f"job '{self.job_name}' is not running ({status}): "
                                      "no savepoint")
        if path is None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = os.path.join(coordinator.settings.directory, "savepoints",
                                f"savepoint-{self.job_id[:8]}-{stamp}-{time.monotonic_ns() % 10**6}")
        self.warnings.extend(coordinator.uid_warnings())
        return coordinator.savepoint(os.path.abspath(os.path.expanduser(path)), timeout,
                                     stop=stop).path

    def stop_with_savepoint(self, path: Optional[str] = None, timeout: float = 60.0) -> str:
        """Stop the job with a savepoint (Flink's ``stop`` without ``--drain``): the sources
        stop at the savepoint's barrier and every task holds still once it took its
        snapshot, so no record after the barrier reaches a sink, no timer fires and no
        final watermark flushes windows; once the savepoint completed, the sinks commit
        what it covers and the job ends FINISHED. A job resumed from the savepoint goes
        on from exactly there. If the savepoint fails, the job goes on and this raises;
        a job that is not running refuses at once."""
        saved = self._savepoint(path, timeout, stop=True)
        with self._lock:
            self.stopped_with_savepoint = saved
            self._cancel_requested = True
        self.checkpoints.stop_tasks()  # each task commits, then stops
        if not self.wait(STOP_WITH_SAVEPOINT_GRACE_S):
            self._stop_tasks()  # a task that does not look at its mailbox (blocked source)
            self.wait(timeout)
        return saved

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job has stopped; True if it has. Interruptible (Ctrl-C)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:  # short waits, so that an interrupt is handled promptly
            step = 0.1 if deadline is None else min(0.1, max(0.0, deadline - time.monotonic()))
            if self._done.wait(step):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def result(self, timeout: Optional[float] = None) -> JobExecutionResult:
        """Wait for the job and return its result; raise its error if it failed."""
        if not self.wait(timeout):
            raise TimeoutError(f"job '{self.job_name}' still running after {timeout} s")
        if self._status is JobStatus.FAILED:
            raise self._error  # type: ignore[misc]
        if self._status is JobStatus.CANCELED:
            raise JobCancelledError(f"job '{self.job_name}' was cancelled")
        return JobExecutionResult(self.job_id, self.job_name, self.elapsed_s, self.metrics())

    def __await__(self):
        return self._result_async().__await__()

    async def _result_async(self) -> JobExecutionResult:
        # no thread parked on the job: the loop is woken when the job stops
        loop = asyncio.get_running_loop()
        stopped = loop.create_future()

        def wake(_job: "JobClient") -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(lambda: stopped.done() or stopped.set_result(None))
        self.on_done(wake)
        await stopped
        return self.result()

    # PyFlink's JobClient names
    def get_job_id(self) -> str:
        return self.job_id

    def get_job_status(self) -> JobStatus:
        return self._status

    def get_job_execution_result(self) -> "concurrent.futures.Future[JobExecutionResult]":
        """A future of the job's result, as PyFlink's: ``.result(timeout)`` waits for it
        (and raises the job's error), ``.done()`` tells whether the job has stopped."""
        future: "concurrent.futures.Future[JobExecutionResult]" = concurrent.futures.Future()

        def settle(job: "JobClient") -> None:
            try:
                future.set_result(job.result())
            except BaseException as exc:  # noqa: BLE001 - the job's error, for the future
                future.set_exception(exc)
        self.on_done(settle)
        return future

    def __repr__(self) -> str:
        return (f"<JobClient '{self.job_name}' {self._status.value} mode={self.mode} "
                f"{self.elapsed_s:.1f}s>")

    # -- for executors ------------------------------------------------------------------
    def _start(self, metrics_source: Callable[[], List[Dict[str, Any]]]) -> None:
        self._metrics_source = metrics_source
        with self._lock:
            if self._status in (JobStatus.CREATED, JobStatus.RESTARTING):
                self._status = JobStatus.RUNNING

    def checkpoint_info(self) -> Dict[str, Any]:
        """Fault tolerance at a glance: restarts, the last failure, and the checkpoints
        (completed, the last one's id, size in bytes, duration, alignment time, path)."""
        info: Dict[str, Any] = {"restarts": self.restarts, "last_failure": self.last_failure}
        if self.checkpoints is not None:
            info.update(self.checkpoints.metrics())
        return info

    def add_waker(self, wake: Callable[[], None]) -> None:
        """Called on cancel to wake blocked tasks (at once if the job is cancelled
        already: tasks started while a cancel came must hear of it)."""
        self._wakers.append(wake)
        if self.cancelled:
            wake()

    def on_done(self, callback: Callable[["JobClient"], None]) -> None:
        """Run ``callback(job)`` once the job has stopped (at once if it has)."""
        with self._lock:
            if not self._done.is_set():
                self._on_done.append(callback)
                return
        callback(self)

    def fail(self, error: BaseException, attempt: Optional[int] = None) -> None:
        """Record the job's first error and stop every task. ``attempt``: the job's
        ``restarts`` when the failing work began; the failure of an attempt that is over
        (the job restarts already) is dropped."""
        with self._lock:
            if attempt is not None and attempt != self.restarts:
                return
            if self._error is None and not self._cancel_requested:
                self._error = error
        self._stop_tasks()

    def _stop_tasks(self) -> None:
        self.cancelled = True
        for wake in list(self._wakers):
            try:
                wake()
            except Exception:  # a waker must never block a cancel
                pass

    def _finish(self) -> None:
        """Every task has stopped: restart if the policy says so, else settle the final
        status and notify."""
        if self._should_restart():
            return
        with self._lock:
            self._ended = time.monotonic()
            if self._error is not None:
                self._status = JobStatus.FAILED
            elif self._cancel_requested and self.stopped_with_savepoint is None:
                self._status = JobStatus.CANCELED
            else:
                self._status = JobStatus.FINISHED
            before, self._before_done = self._before_done, []
        for cb in before:  # e.g. removing a finished job's checkpoints: done once wait() returns
            try:
                cb(self)
            except Exception as exc:
                self.warnings.append(f"clean-up failed: {exc!r}")
        self.queries.close(f"the job has stopped ({self._status.value})")
        with self._lock:
            callbacks, self._on_done = self._on_done, []
            self._done.set()
        for cb in callbacks:
            try:
                cb(self)
            except Exception as exc:  # report, never mask the job's own outcome
                self.warnings.append(f"on_done callback failed: {exc!r}")


    # -- restarts -------------------------------------------------------------------------
    def _should_restart(self) -> bool:
        with self._lock:
            error = self._error
            if error is None or self._cancel_requested or self._restarter is None \
                    or self.restart_policy is None or getattr(error, "no_restart", False):
                return False
            delay = self.restart_policy.next_delay_s()
            if delay is None:
                if self.restarts:
                    self.warnings.append(f"no restart left after {self.restarts} restart(s)")
                return False
            self._status = JobStatus.RESTARTING
            self.restarts += 1
            self.last_failure = f"{type(error).__name__}: {error}"
            self._error = None
            timer = self._restart_timer = threading.Timer(delay, self._restart)
        timer.daemon = True
        timer.start()
        return True

    def _restart(self) -> None:
        with self._lock:
            if self._restart_timer is None:  # cancel() came first and ended the job
                return
            self._restart_timer = None
            cancelled = self._cancel_requested
            if not cancelled:
                self._wakers = []
                self.cancelled = False
        if cancelled:
            self._finish()
            return
        try:
            self._restarter()  # type: ignore[misc]
        except BaseException as exc:  # noqa: BLE001
            # a fault while starting the tasks again (a worker that died while it was
            # being started) is one more failure: the restart policy decides what follows
            with self._lock:
                if self._error is None and not self._cancel_requested:
                    self._error = as_job_error(exc)
            self._finish()


def _merge(entry: Dict[str, Any], name: str, value: Any) -> None:
    """Add one instance's ``value`` of metric ``name`` to the step's ``entry``: numbers
    summed, histograms and distributions merged, anything else as the first instance says."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        entry[name] = entry.get(name, 0) + value
    elif isinstance(value, (Histogram, DistributionSummary)):
        entry.setdefault(name, type(value)()).merge(value)
    else:
        entry.setdefault(name, value)


def as_job_error(exc: BaseException) -> NbstreamError:
    """Wrap a non-nbstream error escaping a task (a bug or a system error)."""
    if isinstance(exc, NbstreamError):
        return exc
    err = JobFailedError(f"{type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err
