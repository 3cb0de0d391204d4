"""Process mode: chains in mode ``process`` run in the warm pool of worker processes;
chains in mode ``thread`` (sinks that hand records to kernel objects, sources that
run the user's code, steps pinned to threads) run on threads in the kernel, in the
same job.

Before anything starts, every step that goes to a worker is pickled (cloudpickle):
one that cannot be fails the job up front, naming the step and the object. Tasks
are spread over the workers round-robin; a keyed task lives in exactly one worker,
so each key is handled by one process. Channels are credit-bounded
(:mod:`.channels`); records travel as pickled batches (:mod:`.wire`).

The job's *supervisor* thread in the kernel collects what workers report (task done,
task failed with its traceback, output lines, log records, metrics). It fails the
job when a worker dies, and after a cancel it gives remote tasks
``PROCESS_STOP_GRACE_S`` to stop before it kills the workers they are stuck in (the
pool starts fresh ones for the next job).
"""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import pickle
import queue
import subprocess
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Set

from ...errors import JobFailedError, PlanError
from ...plan.logical import Partitioning
from ..job import JobClient, as_job_error
from ..checkpoints import RemoteTask
from ..task import CANCEL, MAIL, TICK, Task, TaskCancelled
from . import Executor, chain_label
from .channels import JobChannels, Layout, message
from .imports import driver_imports
from .pool import Worker, describe_exit, get_pool
from .thread import STOP_GRACE_S
from .wire import (ACK, ANSWER, CANCEL as CANCEL_MSG, CLOCK, CREDIT, DATA, DONE, END_JOB, FAILED, HEADER,
                   LOG, MAILBOX, METRICS, OFFLOAD_REPLY, OUT, RUN, START, check_picklable,
                   decode, dumps, encode)

__all__ = ["ProcessExecutor", "KernelJob", "StaticPlacement", "RemoteTraceback", "remote_error", "ship"]

PROCESS_STOP_GRACE_S = 3.0
DEAD_WORKER_GRACE_S = 2.0  # the router's time to read a dead worker's last messages
CHECK_WORKERS_S = 0.5  # how often the supervisor looks whether its workers are alive


class RemoteTraceback(Exception):
    """The traceback of an error raised in a worker process, as text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""' if "\n" in self.text else self.text


def remote_error(body: Any, buffers: Sequence[Any] = ()) -> BaseException:
    """Rebuild an error a worker sent (see ``worker.failure_frames``): the user's
    exception gets a traceback with the frames it had in the worker (file, line and
    function, so a notebook shows the source lines); the worker's own account of it
    is the exception's cause."""
    blob, text, tb, frames = decode(body, buffers)
    error: Optional[BaseException] = None
    if blob is not None:
        try:
            error = pickle.loads(blob)
        except Exception:
            error = None
    if error is None:
        error = JobFailedError(text)
    inner = error.__cause__ if error.__cause__ is not None else error
    rebuilt = _traceback(frames)
    if rebuilt is not None and inner is not error:
        inner.__traceback__ = rebuilt
        tb = tb.splitlines()[0][:-1]  # "raised in worker ...": the frames are on the exception
    inner.__cause__ = RemoteTraceback(tb)
    return error


def _traceback(frames: Sequence[Any]) -> Any:
    """A traceback whose frames show ``(file, line, function)`` as they were in a worker,
    and the columns of the expression that raised (``colno``, ``end_colno``, when the
    worker knew them), so a traceback's caret underlines the same expression."""
    tb = None
    try:
        for filename, lineno, name, *columns in reversed(frames):
            code = compile(_raising_source(int(lineno), *columns), filename, "exec")
            try:
                exec(code.replace(co_name=name), {})
            except NameError as exc:
                frame_tb = exc.__traceback__.tb_next  # the frame of the compiled code
            frame_tb.tb_next = tb
            tb = frame_tb
    except Exception:  # a frame that cannot be rebuilt: keep the text only
        return None
    return tb


def _raising_source(lineno: int, colno: Optional[int] = None,
                    end_colno: Optional[int] = None) -> str:
    """Source that raises NameError at line ``lineno``, from column ``colno`` to
    ``end_colno`` (an undefined name of that width, inside parentheses so it may stand
    anywhere on its line)."""
    if colno is None or end_colno is None or end_colno <= colno:
        return "\n" * (lineno - 1) + "_"
    name = "_" * (end_colno - colno)
    if lineno == 1:
        return "(" + " " * (colno - 1) + name + ")" if colno else name
    return "(" + "\n" * (lineno - 1) + " " * colno + name + ")"


def _log_levels() -> Dict[str, int]:
    """The kernel's logger levels (root as ""), which workers copy: a record reaches the
    kernel only if the kernel's logger of that name would take it."""
    levels = {"": logging.getLogger().getEffectiveLevel()}
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            levels[name] = logger.level
    return levels


def _stub(node: Any) -> Any:
    return node.replace(fn=None, params={}, output_type=None)


def ship(plan: Any, chain_ids: Set[int]) -> Dict[str, Any]:
    """What workers need to run the chains ``chain_ids``: the plan's shape (steps of
    other chains reduced to their names), and those chains' steps and outgoing
    partitionings pickled one by one. Raises :class:`PlanError` naming the step
    and the object that cannot be pickled."""
    nodes: Dict[int, bytes] = {}
    for cid in sorted(chain_ids):
        for nid in plan.chain(cid).nodes:
            node = plan.nodes[nid]
            try:
                nodes[nid] = dumps(node)
            except Exception as exc:
                _diagnose(node)
                raise PlanError(f"step '{node.name}' cannot run in a worker process: it cannot "
                                f"be pickled ({type(exc).__name__}: {exc})") from exc
    edges: Dict[int, bytes] = {}
    for e in plan.edges:
        part = e.partitioning
        if plan.chain_of[e.source] in chain_ids and (part.key_selector or part.partitioner):
            step = plan.nodes[e.target].name
            for fn, what in ((part.key_selector, "its key selector"),
                             (part.partitioner, "its partitioner")):
                if fn is not None:
                    check_picklable(fn.owner if fn.owner is not None else fn.call, step, what)
            edges[e.index] = dumps(part)
    skeleton = dataclasses.replace(
        plan, nodes={nid: _stub(n) for nid, n in plan.nodes.items()},
        edges=tuple(dataclasses.replace(e, partitioning=Partitioning(e.partitioning.kind))
                    for e in plan.edges))
    return {"skeleton": dumps(skeleton), "nodes": nodes, "edges": edges}


def _diagnose(node: Any) -> None:
    """Raise the precise error for the part of ``node`` that does not pickle."""
    if node.fn is not None:
        fn = node.fn
        check_picklable(fn.owner if fn.owner is not None else fn.call, node.name,
                        "its function")
    for key, value in node.params.items():
        check_picklable(value, node.name, f"its {key}")
    check_picklable(node.output_type, node.name, "its output type")


class StaticPlacement:
    """Where a job's chains run, as the plan says: ``process`` chains as tasks in worker
    processes, the others as tasks on threads in the kernel (process mode).

    The executor gives each :class:`KernelJob` a placement, which the job asks what the plan
    alone does not say. A placement may *offload*: keep a chain's task in the kernel and
    have a copy of its steps in a worker run (some of) its batches (``OFFLOAD_*`` messages);
    :class:`~nbstream.runtime.executors.auto.AutoPlacement` does, after measuring.
    This one offloads nothing.
    """

    kjob: "KernelJob"

    def bind(self, kjob: "KernelJob") -> None:
        """Take the job (its plan and layout are set, nothing has started)."""
        self.kjob = kjob

    def offloaded_chains(self) -> Set[int]:
        """Chains whose steps every worker of the job gets, to run batches that kernel
        tasks hand them (the plan's ``process`` chains travel anyway)."""
        return set()

    def kernel_task(self, tid: int) -> Task:
        """The task ``tid`` that runs on a thread in the kernel."""
        return self.kjob.new_task(tid)

    def mode(self, tid: int) -> str:
        """Where kernel task ``tid`` runs, as its metrics say."""
        kjob = self.kjob
        return kjob.plan.chain_mode(kjob.layout.tasks[tid][0])

    def describe(self) -> None:
        """Say in ``job.placement`` where each chain runs, and why."""
        kjob = self.kjob
        plan, layout = kjob.plan, kjob.layout
        for c in plan.chains:
            mode = plan.chain_mode(c.id)
            if mode == "process":
                ids = sorted({kjob.node_of[layout.tid[(c.id, s)]] for s in range(c.parallelism)})
                where = ", ".join(str(kjob.workers[i]) for i in ids)
                text = f"process on {where} ({plan.mode_reasons.get(c.id, '')})"
            else:
                text = f"{mode} ({plan.mode_reasons.get(c.id, '')})"
            kjob.job.placement[chain_label(plan, c.id)] = text

    # offloading: nothing to do when nothing is offloaded
    def on_reply(self, tid: int, what: int, body: Any, rest: Sequence[Any]) -> None:
        """A worker answered kernel task ``tid``'s offload (on the router thread: never block)."""

    def on_worker_lost(self, worker: Worker, what: str) -> None:
        """``worker`` died or was stopped (on the router thread)."""

    def offloaded_on(self, worker_id: int) -> List[int]:
        """Kernel tasks whose work runs on that worker."""
        return []

    def task_ended(self, tid: int) -> None:
        """Kernel task ``tid`` stopped (on its thread); an error raised fails the job."""

    def finish(self) -> None:
        """Every task stopped; the job is about to end."""


class KernelJob:
    """The kernel's side of one job run by the process (or auto) executor; where its
    chains run is its ``placement``'s business (:class:`StaticPlacement`)."""

    def __init__(self, plan: Any, job: JobClient, clock: Any,
                 placement: Optional[StaticPlacement] = None) -> None:
        self.plan, self.job, self.clock = plan, job, clock
        self.layout = Layout(plan)
        self.events: "queue.Queue[Any]" = queue.Queue()
        self.remote_tids = [tid for tid, (c, _s) in enumerate(self.layout.tasks)
                            if plan.chain_mode(c) == "process"]
        self.node_of: List[int] = [0] * len(self.layout.tasks)
        self.workers: Dict[int, Worker] = {}
        self.local: Dict[int, Task] = {}
        self.remote_metrics: Dict[int, List[Dict[str, Any]]] = {}
        self.pending: Set[int] = set(range(len(self.layout.tasks)))
        self.killed: Set[int] = set()
        self.pool: Any = None
        self.job_no = 0
        self.shipped: Optional[Dict[str, Any]] = None
        self.channels: Optional[JobChannels] = None
        self._tick: Any = None
        self._installed: Set[int] = set()
        self._dead_since: Dict[int, float] = {}  # worker id -> when first seen gone
        self.placement = placement if placement is not None else StaticPlacement()
        self.placement.bind(self)

    def new_task(self, tid: int, stats: Any = None) -> Task:
        """A kernel task ``tid`` wired to the job's channels (``stats``: its send statistics)."""
        chain, sub = self.layout.tasks[tid]
        assert self.channels is not None
        return Task(self.plan, chain, sub, self.job, self.channels.inboxes.get(tid),
                    self.channels.writer_factory(tid, stats), self.clock,
                    {"stdout": self.job.stdout})

    # -- starting ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.shipped = self.ship()
        try:
            if self.remote_tids:
                workers = self.connect(len(self.remote_tids))
                for i, tid in enumerate(self.remote_tids):
                    self.node_of[tid] = workers[i % len(workers)].id
            self.channels = JobChannels(self.plan, self.layout, self.node_of, 0, self.job_no,
                                        self.job, self._send)
            for tid, node in enumerate(self.node_of):
                if node == 0:
                    self.local[tid] = self.placement.kernel_task(tid)
            for task in self.local.values():  # woken for their mailbox while on their inbox
                if task.inbox is not None:
                    task.wake = lambda: self.channels.poke(MAIL)
            self.placement.describe()
            self.install(list(self.workers.values()), self._join_mailboxes)
        except BaseException:
            if self.pool is not None:
                self.pool.unregister(self.job_no)
            raise
        self.job.add_waker(self._wake)
        if self.clock.manual:
            self._tick = self._clock_moved
            self.clock.subscribe(self._tick)
            self._clock_moved()
        self.job._start(self._metrics)
        # as in thread mode, the job's threads run in a copy of the submitter's context:
        # in Jupyter, output (the workers' too) goes to the cell that started the job
        threading.Thread(target=contextvars.copy_context().run, args=(self._supervise,),
                         daemon=True, name=f"nbstream[{self.job.job_name}] supervisor").start()

    def _join_mailboxes(self) -> None:
        """The job's client (questions) and the checkpoint coordinator get a handle on every
        remote task. Only once its worker has the job's START: a worker drops a message of a
        job it does not know, and a barrier lost so would keep its checkpoint, and every
        result of the exactly-once sinks, pending until the job ends."""
        coordinator = self.job.checkpoints
        for tid in self.remote_tids:
            chain, sub = self.layout.tasks[tid]
            is_source = self.plan.nodes[self.plan.chain(chain).head].is_source
            handle = RemoteTask(is_source, lambda msg, tid=tid: self._mail(tid, msg))
            self.job.mailboxes[(chain, sub)] = handle
            if coordinator is not None:
                coordinator.attach((chain, sub), handle)

    def _mail(self, tid: int, msg: Any) -> None:
        first, rest = message(MAILBOX, self.job_no, tid, frames=encode(msg))
        self._send(self.node_of[tid], first, rest)

    def _checkpoint_spec(self, run: Sequence[int]) -> Optional[Dict[str, Any]]:
        coordinator = self.job.checkpoints
        if coordinator is None:
            return None
        keys = {self.layout.tasks[t]: t for t in run}
        return {"uids": coordinator.uids, "tid_of": keys, "shared_dir": coordinator.shared_dir,
                "restore": {key: coordinator.restored_state(*key) for key in keys}}

    def ship(self) -> Optional[Dict[str, Any]]:
        chains = {c.id for c in self.plan.chains if self.plan.chain_mode(c.id) == "process"}
        chains |= self.placement.offloaded_chains()
        return ship(self.plan, chains) if chains else None

    def connect(self, n: int) -> List[Worker]:
        """Register the job with the pool, then take ``n`` workers (at most its size).
        One that died on the way (after the pool handed it out, before the job knew it)
        is lost to the job as any other: registered first, the job hears of every loss
        the pool sees from then on, and one seen before is found here."""
        pool = get_pool()
        if self.pool is None:
            self.pool = pool
            self.job_no = pool.register(self)
        workers = pool.ensure(n)
        self.workers = {**self.workers, **{w.id: w for w in workers}}
        for w in workers:
            if not w.alive:
                self.events.put(("lost", w, 0, _exit_of(w), ()))
        return workers

    def install(self, workers: Sequence[Worker],
                before_run: Optional[Callable[[], None]] = None) -> None:
        """Send the job to those of ``workers`` that do not have it yet, with the tasks
        each of them runs, then (once all have it) call ``before_run`` and start those
        tasks."""
        workers = [w for w in workers if w.id not in self._installed]
        self._installed |= {w.id for w in workers}
        if self.shipped is None:  # nothing runs in a worker
            if before_run is not None:
                before_run()
            return
        plan, shipped = self.plan, self.shipped
        source_of = {e.index: e.source for e in plan.edges}
        offloaded = self.placement.offloaded_chains()
        imports = driver_imports()  # sys_path, cwd, aliases, the user's modules
        for w in workers:
            run = [t for t in self.remote_tids if self.node_of[t] == w.id]
            chains = {self.layout.tasks[t][0] for t in run} | offloaded
            spec = dict(skeleton=shipped["skeleton"],
                        nodes={n: b for n, b in shipped["nodes"].items()
                               if plan.chain_of[n] in chains},
                        edges={i: b for i, b in shipped["edges"].items()
                               if plan.chain_of[source_of[i]] in chains},
                        name=self.job.job_name, node_of=self.node_of, run=run,
                        clock=self.clock.now_ms() if self.clock.manual else None,
                        log_levels=_log_levels(), checkpoints=self._checkpoint_spec(run),
                        **imports)
            first, rest = message(START, self.job_no, frames=[pickle.dumps(spec, protocol=5)])
            w.send(first, rest)
        if before_run is not None:
            before_run()
        first, rest = message(RUN, self.job_no)
        for w in workers:
            w.send(first, rest)

    # -- talking to workers ---------------------------------------------------------------------------
    def _send(self, node: int, first: Any, rest: Sequence[Any] = ()) -> None:
        worker = self.workers.get(node)
        if worker is not None:
            worker.send(first, rest)

    def _broadcast(self, kind: int, frames: Optional[List[Any]] = None) -> None:
        first, rest = message(kind, self.job_no, frames=frames)
        for w in list(self.workers.values()):
            w.send(first, rest)

    def on_message(self, worker: Worker, kind: int, a: int, b: int, c: int, data: Any,
                   rest: Sequence[Any]) -> None:
        """A message of this job arrived (on the pool's router thread: never block).
        Workers send the kernel only what is for the kernel's own tasks: records between
        two workers go over their direct link."""
        channels = self.channels
        if kind == DATA:
            channels.deliver(a, b, memoryview(data)[HEADER.size:], rest)
        elif kind == CREDIT:
            channels.credit(a, c)
        elif kind == OFFLOAD_REPLY:
            self.placement.on_reply(a, b, memoryview(data)[HEADER.size:], rest)
        else:
            self.events.put((kind, worker, a, memoryview(data)[HEADER.size:], rest))

    def on_worker_lost(self, worker: Worker, what: str) -> None:
        if worker.id in self.workers:
            self.events.put(("lost", worker, 0, what, ()))
        self.placement.on_worker_lost(worker, what)

    def on_router_error(self, exc: BaseException) -> None:
        self.job.fail(as_job_error(exc))

    def _wake(self) -> None:
        if self.workers:
            self._broadcast(CANCEL_MSG)
        if self.channels is not None:
            self.channels.poke(CANCEL)
        for task in self.local.values():
            task.cancel()

    def _clock_moved(self) -> None:
        if self.workers:
            self._broadcast(CLOCK, encode(self.clock.now_ms()))
        if self.channels is not None:
            self.channels.poke(TICK)

    def _metrics(self) -> List[Dict[str, Any]]:
        out = []
        for tid, task in list(self.local.items()):
            mode = self.placement.mode(tid)
            out.extend(dict(m, mode=mode) for m in task.metrics())
        for tid, metrics in list(self.remote_metrics.items()):
            out.extend(dict(m, mode="process") for m in metrics)
        return out

    def task_name(self, tid: int) -> str:
        chain, sub = self.layout.tasks[tid]
        names = " -> ".join(self.plan.nodes[n].name for n in self.plan.chain(chain).nodes)
        return f"'{names}' ({sub + 1}/{self.plan.chain(chain).parallelism})"

    # -- supervising ------------------------------------------------------------------------------------
    def _run_local(self, tid: int, task: Task) -> None:
        try:
            task.run()
        except TaskCancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - everything must reach the job
            self.job.fail(as_job_error(exc))
        finally:
            try:
                self.placement.task_ended(tid)
            except BaseException as exc:  # noqa: BLE001
                self.job.fail(as_job_error(exc))
            self.events.put(("local done", None, tid, None, ()))

    def _supervise(self) -> None:
        job = self.job
        threads = [threading.Thread(target=contextvars.copy_context().run,
                                    args=(self._run_local, tid, task), daemon=True,
                                    name=f"nbstream[{job.job_name}] {task.display_name}")
                   for tid, task in self.local.items()]
        for t in threads:
            t.start()
        stopping_since: Optional[float] = None
        next_check = time.monotonic() + CHECK_WORKERS_S
        while self.pending:
            try:
                event = self.events.get(timeout=0.1)
            except queue.Empty:
                event = None
            if event is not None:
                self._handle(*event)
            if time.monotonic() >= next_check:
                self._check_workers()
                next_check = time.monotonic() + CHECK_WORKERS_S
            if job.cancelled and stopping_since is None:
                stopping_since = time.monotonic()
            if stopping_since is not None:
                self._stop_stragglers(time.monotonic() - stopping_since)
        while True:  # output that arrived with the last task's end
            try:
                self._handle(*self.events.get_nowait())
            except queue.Empty:
                break
        self._finish()

    def _handle(self, kind: Any, worker: Any, a: int, body: Any, rest: Sequence[Any]) -> None:
        job = self.job
        if kind == "local done":
            self.pending.discard(a)
        elif kind == DONE:
            if a in self.pending:
                self.remote_metrics[a] = decode(body, rest)
                self.pending.discard(a)
        elif kind == FAILED:
            job.fail(remote_error(body, rest))
        elif kind == OUT:
            stream = job.stdout if a == 1 else job.stderr
            stream.write(bytes(body).decode("utf-8", "replace"))
            flush = getattr(stream, "flush", None)
            if flush is not None:
                flush()
        elif kind == LOG:
            self._log(decode(body, rest))
        elif kind == ACK:
            if job.checkpoints is not None:
                job.checkpoints.report(self.layout.tasks[a], decode(body, rest))
        elif kind == ANSWER:
            job.answer(a, *decode(body, rest))
        elif kind == METRICS:
            for tid, metrics in decode(body, rest).items():
                if tid in self.pending:
                    self.remote_metrics[tid] = metrics
        elif kind == "lost":
            self._lost(worker, body)

    def _log(self, fields: Dict[str, Any]) -> None:
        record = logging.makeLogRecord(fields)
        logger = logging.getLogger(record.name)
        if not logger.isEnabledFor(record.levelno):
            return
        if logger.hasHandlers():
            logger.handle(record)
        elif record.levelno >= logging.WARNING:  # what logging's last resort would print
            text = record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "")
            self.job.stderr.write(text + "\n")

    def _lost(self, worker: Worker, what: str) -> None:
        if worker.id not in self.workers:  # told twice (the pool and connect, or the check)
            return
        lost = sorted(t for t in self.pending if self.node_of[t] == worker.id)
        self.workers = {i: w for i, w in self.workers.items() if i != worker.id}
        self.pending.difference_update(lost)
        if worker.id in self.killed:
            return
        running = ", ".join(self.task_name(t) for t in lost + self.placement.offloaded_on(worker.id))
        running = running or "no task of this job any more"
        self.job.fail(JobFailedError(f"{worker} {what} while running {running}; the job was "
                                     "stopped (the pool starts a new worker for the next job)"))

    def _check_workers(self) -> None:
        """A worker process that is gone ends the wait for its tasks even if the pool's
        router never reported it (its reports go to jobs registered at that moment)."""
        now = time.monotonic()
        for w in list(self.workers.values()):
            if w.alive and w.proc.poll() is None:
                continue
            since = self._dead_since.setdefault(w.id, now)
            if now - since > DEAD_WORKER_GRACE_S:
                self._lost(w, _exit_of(w))

    def _stop_stragglers(self, waited: float) -> None:
        if waited > PROCESS_STOP_GRACE_S:
            for wid in sorted({self.node_of[t] for t in self.pending} - {0} - self.killed):
                worker = self.workers.get(wid)
                if worker is None:
                    continue
                stuck = [self.task_name(t) for t in self.pending if self.node_of[t] == wid]
                self.job.warnings.append(
                    f"{worker} was stopped: {', '.join(stuck)} did not stop within "
                    f"{PROCESS_STOP_GRACE_S:.0f} s after the job was stopped")
                self.killed.add(wid)
                self.pool.kill(worker)
        if waited > STOP_GRACE_S:
            stuck_local = [t for t in self.pending if self.node_of[t] == 0]
            for tid in stuck_local:
                self.job.warnings.append(
                    f"task thread {self.task_name(tid)} did not stop within {STOP_GRACE_S:.0f} s "
                    "(blocked in user code?); it is a daemon thread and ends with the process")
                self.pending.discard(tid)

    def _finish(self) -> None:
        self.placement.finish()
        if self._tick is not None:
            self.clock.unsubscribe(self._tick)
        if self.pool is not None:
            self._broadcast(END_JOB)
            self.pool.unregister(self.job_no)
        self.job._finish()


def _exit_of(worker: Worker) -> str:
    """How a worker whose connection closed ended (it is gone, or about to be)."""
    try:
        return describe_exit(worker.proc.wait(timeout=1.0))
    except subprocess.TimeoutExpired:
        return describe_exit(None)


class ProcessExecutor(Executor):
    """Runs ``process`` chains in worker processes and ``thread`` chains in the kernel;
    ``placement`` makes each job's placement strategy (:class:`StaticPlacement`)."""

    name = "process"

    def __init__(self, placement: Callable[[], StaticPlacement] = StaticPlacement) -> None:
        self.placement = placement

    def start(self, plan: Any, job: JobClient, clock: Any) -> None:
        KernelJob(plan, job, clock, self.placement()).start()
