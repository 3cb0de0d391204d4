"""Automatic mode: each step is measured while the job runs and placed where it runs best.

How it decides (and says so in ``job.placement``, ``job.metrics()`` and the plan):

* Sources, sinks and keyed steps (state, timers, windows) run on threads in the
  kernel: the planner decides that up front (``env.explain()`` shows why). Steps
  pinned with ``set_execution_mode`` keep their mode.
* Every other chain of stateless steps (map, flat_map, filter, process, co-map ...)
  starts on threads in the kernel and *calibrates*: it processes its first records
  in small slices and times its calls: CPU time of the thread (``time.thread_time``)
  against wall time, minus time spent waiting for downstream (backpressure). The
  slice that cost the most CPU is left out: a garbage collection or a first call's
  imports land in one slice and tell nothing of the step. Once the chain has spent
  ``CALIBRATION_S`` in its other calls, or has seen ``CALIBRATION_RECORDS`` records,
  :func:`choose` decides for all its subtasks:

  - **process** when its calls spend at least ``CPU_BOUND_SHARE`` (5%) of their time
    on the CPU *and* cost at least ``MIN_CPU_PER_RECORD_S`` (50 µs) of CPU per record:
    they compute, and cost more than moving a record to a worker does. The share is
    low on purpose: waiting for the GIL, or for a core the machine gives to other
    programs, counts as wall time, so a CPU-bound step sharing the GIL with two
    others shows about a third, and on a busy machine less; a step that waits for
    I/O shows a few percent at most. Misplacing a waiting step in a worker costs
    little (workers run many tasks on threads); misplacing a computing one on a
    thread costs the parallelism;
  - **thread** otherwise: I/O-bound steps wait in parallel on threads for free.

  On free-threaded CPython (the GIL disabled) threads already run Python code in
  parallel, and with a single worker (one CPU, or ``NBSTREAM_WORKERS=1``) processes
  cannot: both stay on threads.
* A chain placed in processes keeps its task in the kernel (its channels,
  watermarks and order are unchanged) and sends the rest of its batches, one at a
  time, to a copy of its steps in a worker process (subtask i on worker i modulo the
  pool's size); the worker returns what the steps emitted. The copy is opened there with
  ``open()``; attributes a function changed on its first records in the kernel
  are not carried over (keep such data in state, as Flink requires for restarts).
  Workers are started when the first chain needs them.
* What needs no measuring is planned up front (:func:`planned_modes`): where threads
  suffice whatever a step costs (one CPU core, free-threaded CPython, or a job that
  checkpoints, whose chains are not moved while it runs), and for a step a measurement
  of an earlier job in this process placed on threads (the same code at the same place,
  with the same objects in its closure): such steps run on threads from the start,
  chained (and fused) with the steps around them as in thread mode, and ``explain()``
  says why. A step measured CPU-bound is measured again in each job.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ...errors import JobFailedError, PlanError
from ..records import Batch
from ..task import Task, TaskCancelled
from . import chain_label, gil_enabled
from .channels import TaskStats, message
from .pool import pool_size
from .process import (PROCESS_STOP_GRACE_S, KernelJob, ProcessExecutor, StaticPlacement,
                      remote_error, ship)
from .wire import OFFLOAD_CALL, OFFLOAD_CLOSE, OFFLOAD_OPEN, decode, encode

__all__ = ["AutoExecutor", "AutoPlacement", "choose", "planned_modes", "CPU_BOUND_SHARE", "MIN_CPU_PER_RECORD_S",
           "CALIBRATION_S", "CALIBRATION_RECORDS"]

CPU_BOUND_SHARE = 0.05
MIN_CPU_PER_RECORD_S = 50e-6
CALIBRATION_S = 0.1
CALIBRATION_RECORDS = 2000
FIRST_SLICE, MAX_SLICE, SLICE_S = 4, 256, 0.01


def choose(cpu_s: float, wall_s: float, records: int, cores: int,
           gil: bool = True) -> Tuple[str, str]:
    """Thread or process for a step whose calls took ``cpu_s`` of CPU and ``wall_s``
    of wall time over ``records`` records; and why.

    >>> choose(0.19, 0.2, 190, cores=2)[0], choose(0.001, 0.2, 20, cores=2)[0]
    ('process', 'thread')
    >>> choose(0.19, 0.2, 190, cores=2, gil=False)[1]
    'free-threaded CPython: threads run Python code in parallel'
    """
    reason = _threads_suffice(cores, gil)
    if reason is not None:
        return "thread", reason
    share = cpu_s / wall_s if wall_s > 0 else 0.0
    per_record = cpu_s / max(records, 1)
    measured = (f"{share:.0%} of its call time on the CPU, {per_record * 1e3:.3f} ms of CPU "
                f"per record over {records} records")
    if share < CPU_BOUND_SHARE:
        return "thread", f"I/O-bound: {measured}"
    if per_record < MIN_CPU_PER_RECORD_S:
        return "thread", f"CPU-bound but cheap: {measured}"
    return "process", f"CPU-bound: {measured}"


# a step's fingerprint -> why an earlier job's measurement put it on threads (newest last)
_ON_THREADS: "OrderedDict[Tuple[Any, ...], str]" = OrderedDict()
_REMEMBERED = 4096
_ON_THREADS_LOCK = threading.Lock()  # the subtasks of several jobs decide on their threads


def fingerprint(node: Any) -> Optional[Tuple[Any, ...]]:
    """What identifies a stateless step's work across jobs of this process: its kind and,
    per function it calls, the code (file, line, bytecode, constants) and the identities
    of the objects in its closure and defaults; None for a step calling something that
    is not a Python function (its cost cannot be told from its code)."""
    fn = getattr(node, "fn", None)
    if fn is None:
        return None
    parts: List[Any] = [node.kind]
    for call in fn.calls:
        func = getattr(call, "__func__", call)  # a Function object's bound method
        code = getattr(func, "__code__", None)
        if code is None:
            return None
        try:
            cells = tuple(id(c.cell_contents) for c in func.__closure__ or ())
        except ValueError:  # an empty cell: the function is not ready to be judged
            return None
        parts.append((code.co_filename, code.co_firstlineno, code.co_code, code.co_consts,
                      cells, tuple(map(id, func.__defaults__ or ())),
                      id(getattr(call, "__self__", None))))
    return tuple(parts)


def planned_modes(nodes: Mapping[int, Any], checkpoints: bool) -> Dict[int, Tuple[str, str]]:
    """The steps an auto job places on threads before it starts, and why (see the module
    documentation): every stateless step where threads suffice, else those an earlier
    job's measurement placed on threads. The planner applies this only to steps it would
    otherwise measure."""
    suffice = _threads_suffice(pool_size(), gil_enabled())
    if suffice is None and checkpoints:
        suffice = "the job checkpoints: chains are not moved while it runs"
    planned: Dict[int, Tuple[str, str]] = {}
    for nid, node in nodes.items():
        if suffice is not None:
            planned[nid] = ("thread", f"auto: {suffice}")
            continue
        key = fingerprint(node)
        with _ON_THREADS_LOCK:
            why = _ON_THREADS.get(key) if key is not None else None
        if why is not None:
            planned[nid] = ("thread", f"auto: measured in an earlier job: {why}")
    return planned


def _remember(plan: Any, chain_id: int, why: str) -> None:
    keys = [fingerprint(plan.nodes[nid]) for nid in plan.chain(chain_id).nodes]
    with _ON_THREADS_LOCK:
        for key in keys:
            if key is not None:
                _ON_THREADS[key] = why
                _ON_THREADS.move_to_end(key)
        while len(_ON_THREADS) > _REMEMBERED:
            _ON_THREADS.popitem(last=False)


def _threads_suffice(cores: int, gil: bool) -> Optional[str]:
    """Why no measurement could make worker processes worth it here, if so."""
    if not gil:
        return "free-threaded CPython: threads run Python code in parallel"
    if cores < 2:
        return "one CPU core: worker processes could not run in parallel"
    return None


class _Calibration:
    """The measurements of one auto chain, shared by its subtasks, and its decision."""

    def __init__(self, label: str, chain: int) -> None:
        self.label, self.chain = label, chain
        self.lock = threading.Lock()
        self.records, self.cpu, self.wall = 0, 0.0, 0.0  # the slices counted
        self.costliest: Tuple[int, float, float] = (0, 0.0, 0.0)  # the slice left out
        self.decision: Optional[str] = None
        self.reason = ""

    def add(self, records: int, cpu: float, wall: float, cores: int) -> Optional[str]:
        """Count one measured slice of ``records`` records; the decision once made."""
        with self.lock:
            if self.decision is None:
                measured = (records, cpu, max(wall, 0.0))
                if cpu > self.costliest[1]:
                    measured, self.costliest = self.costliest, measured
                self.records += measured[0]
                self.cpu += measured[1]
                self.wall += measured[2]
                if (self.wall >= CALIBRATION_S
                        or self.records + self.costliest[0] >= CALIBRATION_RECORDS):
                    self.decision, self.reason = choose(self.cpu, self.wall, self.records,
                                                        cores, gil_enabled())
                    left, cpu_left = self.costliest[:2]
                    if left:
                        self.reason += (f"; its costliest slice left out ({left} records, "
                                        f"{cpu_left * 1e3:.1f} ms of CPU)")
            return self.decision

    def settle(self, decision: str, reason: str) -> None:
        with self.lock:
            self.decision, self.reason = decision, reason


def _slice(batch: Batch, i: int, j: int) -> Batch:
    ts = batch.timestamps
    return Batch(batch.values[i:j], ts[i:j] if ts is not None else None)


class _AutoHead:
    """Stands in for the head operator of an auto chain's task: processes batches in
    measured slices, then on the thread or through a worker process."""

    def __init__(self, placement: "AutoPlacement", tid: int, task: Task,
                 calibration: _Calibration, stats: TaskStats) -> None:
        self.placement, self.kjob, self.tid, self.task = placement, placement.kjob, tid, task
        self.op = task.head
        self.ops = list(task.ops.values())
        self.calibration, self.stats = calibration, stats
        self.slice = FIRST_SLICE
        self.worker: Any = None          # the worker of this task's offload, once asked
        self.service = "none"            # none -> opening -> open | refused
        self.replies: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        plan = self.kjob.plan
        edges = [e for nid in plan.chain(task.chain.id).nodes for e in plan.out_edges(nid)
                 if not plan.is_chained(e)]
        self.targets = {e.index: t for e, t in zip(edges, task.network)}

    # what the task reads and writes on its head
    @property
    def records_in(self) -> int:
        return self.op.records_in

    @records_in.setter
    def records_in(self, value: int) -> None:
        self.op.records_in = value

    def process_watermark(self, timestamp: int) -> None:
        self.op.process_watermark(timestamp)

    def process_status(self, idle: bool) -> None:
        self.op.process_status(idle)

    # batches
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        decision = self.calibration.decision
        if decision == "thread":
            self.op.process_batch(batch, input_index)
            return
        if decision == "process" and self._service_ready():
            self._offload(batch, input_index)
            return
        n, i = len(batch.values), 0
        while i < n:
            decision = self.calibration.decision
            if decision == "thread":
                self.op.process_batch(_slice(batch, i, n), input_index)
                return
            if decision == "process" and self._service_ready():
                self._offload(_slice(batch, i, n), input_index)
                return
            j = min(n, i + self.slice)
            part = batch if (i, j) == (0, n) else _slice(batch, i, j)
            started = time.perf_counter()
            if decision is None:
                self._measured(part, input_index)
            else:  # moving to a worker: keep going here until it is ready
                self.op.process_batch(part, input_index)
            took = max(time.perf_counter() - started, 1e-6)
            i = j
            # slices of about SLICE_S: small enough to switch soon, big enough to be cheap
            self.slice = max(1, min(MAX_SLICE, int(self.slice * SLICE_S / took), self.slice * 2))

    def _measured(self, part: Batch, input_index: int) -> None:
        blocked, wall, cpu = self.stats.blocked_s, time.perf_counter(), time.thread_time()
        self.op.process_batch(part, input_index)
        cpu = time.thread_time() - cpu
        wall = time.perf_counter() - wall - (self.stats.blocked_s - blocked)
        if self.calibration.add(len(part.values), cpu, wall, self.placement.cores) is not None:
            self.placement.decided(self.calibration)

    # the worker side
    def _service_ready(self) -> bool:
        if self.service == "open":
            return True
        if self.service == "none":
            worker = self.placement.offload_worker(self.task.subtask)
            if worker is None:
                return False
            self.worker, self.service = worker, "opening"
            first, rest = message(OFFLOAD_OPEN, self.kjob.job_no, self.tid)
            worker.send(first, rest)
        if self.service == "opening":
            try:
                what, body, rest = self.replies.get_nowait()
            except queue.Empty:
                return False
            if what == "lost":
                raise self._lost(body)
            if decode(body, rest) is None:
                self.service = "open"
                self.placement.offloading(self.calibration, self.worker)
            else:
                self.service = "refused"
                self.placement.refused(self.calibration, remote_error(body, rest))
        return self.service == "open"

    def _lost(self, what: str) -> JobFailedError:
        return JobFailedError(f"{self.worker} {what} while running "
                              f"{self.kjob.task_name(self.tid)} (offloaded by the automatic "
                              "mode); the job was stopped")

    def _wait(self) -> Tuple[int, Any, Sequence[Any]]:
        while True:
            try:
                what, body, rest = self.replies.get(timeout=0.05)
            except queue.Empty:
                if self.kjob.job.cancelled:
                    raise TaskCancelled() from None
                continue
            if what == "lost":
                raise self._lost(body)
            return what, body, rest

    def _offload(self, batch: Batch, input_index: int) -> None:
        first, rest = message(OFFLOAD_CALL, self.kjob.job_no, self.tid, input_index,
                              frames=encode((self.op.current_watermark, batch)))
        self.worker.send(first, rest)
        _what, body, extra = self._wait()
        result = decode(body, extra)
        if isinstance(result, tuple) and len(result) == 4:  # an error (see failure_frames)
            raise remote_error(body, extra)
        outputs, deltas = result
        for edge, out in outputs:
            self.targets[edge].send(out)
        for op, (d_in, d_out) in zip(self.ops, deltas):
            if op is not self.op:
                op.records_in += d_in
            op.output.count += d_out

    def close(self) -> None:
        """After the task: close the copy in the worker and report its close() error.
        A copy that does not answer within the grace period after a cancel (stuck in a
        function) costs its worker, which is stopped (the pool starts another)."""
        if self.service not in ("open", "opening"):
            return
        first, rest = message(OFFLOAD_CLOSE, self.kjob.job_no, self.tid)
        self.worker.send(first, rest)
        deadline = time.monotonic() + PROCESS_STOP_GRACE_S
        while True:
            try:
                what, body, extra = self.replies.get(timeout=0.05)
            except queue.Empty:
                if not self.worker.alive:
                    return
                if self.kjob.job.cancelled and time.monotonic() > deadline:
                    self.kjob.job.warnings.append(
                        f"{self.worker} was stopped: {self.kjob.task_name(self.tid)} did not "
                        f"stop within {PROCESS_STOP_GRACE_S:.0f} s after the job was stopped")
                    self.kjob.killed.add(self.worker.id)
                    self.kjob.pool.kill(self.worker)
                    return
                continue
            if what == "lost":
                if self.kjob.job.cancelled:
                    return
                raise self._lost(body)
            if what == OFFLOAD_CLOSE:
                break
        if decode(body, extra) is not None and not self.kjob.job.cancelled:
            raise remote_error(body, extra)


class AutoPlacement(StaticPlacement):
    """The automatic mode's placement (see the module documentation): chains pinned to a
    mode stay where the plan put them; ``auto`` chains run on kernel threads, measured,
    and those found CPU-bound are offloaded to workers."""

    def bind(self, kjob: KernelJob) -> None:
        super().bind(kjob)
        plan = kjob.plan
        self.cores = pool_size()  # the processes it could use (NBSTREAM_WORKERS or the CPUs)
        self.calibrations: Dict[int, _Calibration] = {}
        self.heads: Dict[int, _AutoHead] = {}
        self.candidates: Set[int] = set()
        self._offload_workers: Optional[List[Any]] = None
        self._starting: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        for c in plan.chains:
            if plan.chain_mode(c.id) == "auto":
                self.calibrations[c.id] = _Calibration(chain_label(plan, c.id), c.id)
        suffice = _threads_suffice(self.cores, gil_enabled())
        if kjob.job.checkpoints is not None:  # a chain's state must stay where its barriers pass
            suffice = "the job checkpoints: chains are not moved while it runs"
        for cid, calibration in self.calibrations.items():
            if suffice is not None:
                calibration.settle("thread", suffice)
                continue
            try:
                ship(plan, {cid})
            except PlanError as exc:
                calibration.settle("thread", f"it cannot go to a worker process: {exc}")
                continue
            self.candidates.add(cid)

    def offloaded_chains(self) -> Set[int]:
        return set(self.candidates)

    def mode(self, tid: int) -> str:
        calibration = self.calibrations.get(self.kjob.layout.tasks[tid][0])
        if calibration is None:
            return super().mode(tid)
        return calibration.decision or "auto (measuring)"

    def kernel_task(self, tid: int) -> Task:
        chain = self.kjob.layout.tasks[tid][0]
        calibration = self.calibrations.get(chain)
        if calibration is None or chain not in self.candidates:
            return super().kernel_task(tid)
        stats = TaskStats()
        task = self.kjob.new_task(tid, stats)
        head = _AutoHead(self, tid, task, calibration, stats)
        task.head = head  # type: ignore[assignment]
        self.heads[tid] = head
        return task

    def describe(self) -> None:
        super().describe()
        for calibration in self.calibrations.values():
            self._tell(calibration)

    def _tell(self, calibration: _Calibration, where: str = "") -> None:
        if calibration.decision is None:
            text = "auto: measuring its first records"
        else:
            text = f"{calibration.decision}{where} (auto: {calibration.reason})"
        self.kjob.job.placement[calibration.label] = text

    # -- decisions --------------------------------------------------------------------------------
    def decided(self, calibration: _Calibration) -> None:
        self._tell(calibration)
        if calibration.decision == "thread":
            _remember(self.kjob.plan, calibration.chain, calibration.reason)
        if calibration.decision == "process":
            with self._start_lock:
                if self._starting is None:
                    plan = self.kjob.plan
                    widest = max(plan.chain(c).parallelism for c in self.candidates)
                    self._starting = threading.Thread(
                        target=self._start_workers, args=(widest,), daemon=True,
                        name=f"nbstream[{self.kjob.job.job_name}] starting workers")
                    self._starting.start()

    def _start_workers(self, n: int) -> None:
        try:
            workers = self.kjob.connect(n)
            self.kjob.install(workers)
        except BaseException as exc:  # noqa: BLE001 - no workers: stay on threads
            for calibration in self.calibrations.values():
                if calibration.decision == "process":
                    calibration.settle("thread", f"worker processes did not start: {exc}")
                    self._tell(calibration)
            self._offload_workers = []
            return
        self._offload_workers = workers

    def offload_worker(self, subtask: int) -> Any:
        workers = self._offload_workers
        if not workers:
            return None
        return workers[subtask % len(workers)]

    def offloading(self, calibration: _Calibration, worker: Any) -> None:
        kjob = self.kjob
        on = sorted({h.worker.id for t, h in self.heads.items()
                     if kjob.layout.tasks[t][0] == calibration.chain and h.service == "open"})
        names = ", ".join(str(kjob.workers[i]) for i in on if i in kjob.workers)
        self._tell(calibration, f" on {names}")

    def refused(self, calibration: _Calibration, error: BaseException) -> None:
        calibration.settle("thread", f"its copy could not start in a worker process: {error}")
        self._tell(calibration)

    # -- messages and the end -------------------------------------------------------------------------
    def on_reply(self, tid: int, what: int, body: Any, rest: Sequence[Any]) -> None:
        head = self.heads.get(tid)
        if head is not None:
            head.replies.put((what, body, rest))

    def on_worker_lost(self, worker: Any, what: str) -> None:
        for head in self.heads.values():
            if head.worker is worker:
                head.replies.put(("lost", what, ()))

    def offloaded_on(self, worker_id: int) -> List[int]:
        pending = self.kjob.pending
        return [t for t, h in self.heads.items()
                if h.worker is not None and h.worker.id == worker_id and t in pending]

    def task_ended(self, tid: int) -> None:
        head = self.heads.get(tid)
        if head is not None:
            head.close()

    def finish(self) -> None:
        starting = self._starting
        if starting is not None:
            starting.join()


class AutoExecutor(ProcessExecutor):
    """The process executor with the automatic placement (see
    :mod:`nbstream.runtime.executors.auto`)."""

    name = "auto"

    def __init__(self) -> None:
        super().__init__(AutoPlacement)
