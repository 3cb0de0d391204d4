"""A worker process: runs the tasks the kernel gives it, each on its own thread.

The main thread only reads the connection to the kernel and dispatches: it installs
jobs, hands messages to task inboxes (never blocking: channels are credit-bounded),
gives credits back to writers, cancels. Everything a worker says goes to the kernel,
which forwards what is meant for other workers.

``print`` and ``logging`` in a worker go to the kernel: each output line is sent to
the job of the thread that wrote it, and log records are handed to the kernel's
loggers (the worker's loggers take the kernel's levels at each job's start), so they
appear where the job's output goes.
"""

from __future__ import annotations

import dataclasses
import gc
import io
import logging
import os
import pickle
import queue
import signal
import socket
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ...errors import JobFailedError, UserFunctionError
from ..clock import ManualClock, SystemClock
from ..job import as_job_error
from ..partitioners import Forward
from ..checkpoints import WorkerCoordinator
from ..task import CANCEL, MAIL, TICK, Task, TaskCancelled
from .channels import JobChannels, Layout, message
from .imports import apply_driver_imports, remember_loaded
from .wire import (ACK, ANSWER, CANCEL as CANCEL_MSG, CLOCK, CREDIT, DATA, DONE, END_JOB, FAILED, HEADER,
                   LOG, MAILBOX, METRICS, OFFLOAD_CALL, OFFLOAD_CLOSE, OFFLOAD_OPEN, OFFLOAD_REPLY, OUT,
                   READY, RUN, SHUTDOWN, START, decode, dumps, encode)

__all__ = ["main", "failure_frames"]

REPORT_EVERY_S = 0.25


class _Control:
    __slots__ = ("cancelled", "checkpoints", "answer")

    def __init__(self, answer: Callable[[int, bool, Any], None]) -> None:
        self.cancelled = False
        self.checkpoints: Any = None  # a WorkerCoordinator when the job checkpoints
        self.answer = answer  # a task's answer to a question of the job's client


def _answer(worker: Any, job_no: int) -> Callable[[int, bool, Any], None]:
    def answer(query_id: int, ok: bool, value: Any) -> None:
        try:
            frames = encode((ok, value))
        except Exception as exc:  # noqa: BLE001 - the asker gets the reason
            frames = encode((False, f"the answer does not pickle: {exc!r}"))
        worker.send(ANSWER, job_no, query_id, frames=frames)
    return answer


def failure_frames(exc: BaseException, where: str) -> List[Any]:
    """An error as it travels to the kernel: the pickled error if it pickles, its
    message, and the traceback as text (``where`` says which worker and task)."""
    error = as_job_error(exc)
    # a user function's error: its own traceback is what matters (the kernel rebuilds the rest)
    shown = exc.__cause__ if isinstance(exc, UserFunctionError) and exc.__cause__ else exc
    text = "".join(traceback.format_exception(type(shown), shown, shown.__traceback__))
    frames = [(f.filename, f.lineno or 1, f.name, getattr(f, "colno", None),
               getattr(f, "end_colno", None) if getattr(f, "end_lineno", None) == f.lineno
               else None)
              for f in traceback.extract_tb(shown.__traceback__)]
    try:
        blob: Optional[bytes] = dumps(error)
        pickle.loads(blob)  # must also come back (exceptions with odd __init__ do not)
    except Exception:
        blob = None
    return encode((blob, str(error), f"raised {where}:\n{text}", frames))


class _JobStream(io.TextIOBase):
    """One job's stdout or stderr in this worker: whole lines go to the kernel."""

    def __init__(self, worker: "WorkerProcess", job_no: int, which: int) -> None:
        self._worker, self._job_no, self._which = worker, job_no, which
        self._pending = ""
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            data = self._pending + text
            cut = data.rfind("\n") + 1
            self._pending = data[cut:]
            if cut:
                self._send(data[:cut])
        return len(text)

    def flush(self) -> None:
        with self._lock:
            data, self._pending = self._pending, ""
            if data:
                self._send(data)

    def _send(self, text: str) -> None:
        self._worker.send(OUT, self._job_no, self._which, frames=[text.encode("utf-8", "replace")])


class _ThreadStream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of a worker: writes go to the stream of the job
    whose thread writes (or of the latest job, for threads a function started)."""

    def __init__(self, worker: "WorkerProcess", which: int, fallback: Any) -> None:
        self._worker, self._which, self._fallback = worker, which, fallback

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def _target(self) -> Any:
        job = self._worker.current_job()
        return job.streams[self._which] if job is not None else self._fallback

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()


class _ForwardHandler(logging.Handler):
    """Sends log records to the kernel, whose loggers handle them."""

    def __init__(self, worker: "WorkerProcess") -> None:
        super().__init__()
        self._worker = worker

    def emit(self, record: logging.LogRecord) -> None:
        try:
            job = self._worker.current_job()
            if job is None:
                return
            fields = {k: v for k, v in record.__dict__.items()
                      if isinstance(v, (str, int, float, bool, type(None)))}
            fields["msg"] = record.getMessage()
            fields["args"] = None
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            fields["exc_info"] = None
            self._worker.send(LOG, job.no, frames=encode(fields))
        except Exception:
            self.handleError(record)


class _Capture:
    """Stands in for a channel in an offloaded chain: keeps what the chain emitted."""

    __slots__ = ("edge", "outbox")

    def __init__(self, edge: int, outbox: List[Any]) -> None:
        self.edge, self.outbox = edge, outbox

    def put(self, msg: Any) -> None:
        self.outbox.append((self.edge, msg))


class WorkerJob:
    """One job's tasks in this worker."""

    def __init__(self, worker: "WorkerProcess", no: int, spec: Dict[str, Any]) -> None:
        self.worker, self.no, self.name = worker, no, spec["name"]
        self.control = _Control(_answer(worker, no))
        self.clock: Any = ManualClock(spec["clock"]) if spec["clock"] is not None else SystemClock()
        self.streams = {1: _JobStream(worker, no, 1), 2: _JobStream(worker, no, 2)}
        self.tasks: Dict[int, Task] = {}
        self.running: Dict[int, Task] = {}
        self.offloads: Dict[int, "_Offload"] = {}
        self.plan = self._load(spec)
        self.layout = Layout(self.plan)
        self.channels = JobChannels(self.plan, self.layout, spec["node_of"], worker.id, no,
                                    self.control, worker.send_raw)
        cp = spec.get("checkpoints")
        if cp is not None:
            self.control.checkpoints = WorkerCoordinator(
                cp["uids"], cp["restore"], cp["tid_of"],
                lambda tid, report: worker.send(ACK, no, tid, frames=encode(report)),
                cp.get("shared_dir"))

    @staticmethod
    def _load(spec: Dict[str, Any]) -> Any:
        skeleton = pickle.loads(spec["skeleton"])
        nodes = dict(skeleton.nodes)
        for nid, blob in spec["nodes"].items():
            try:
                nodes[nid] = pickle.loads(blob)
            except Exception as exc:
                raise JobFailedError(f"step '{nodes[nid].name}' could not be loaded in a worker "
                                     f"process: {type(exc).__name__}: {exc}") from exc
        edges = []
        for e in skeleton.edges:
            blob = spec["edges"].get(e.index)
            if blob is not None:
                try:
                    e = dataclasses.replace(e, partitioning=pickle.loads(blob))
                except Exception as exc:
                    raise JobFailedError(f"the key selector or partitioner before step "
                                         f"'{nodes[e.target].name}' could not be loaded in a "
                                         f"worker process: {type(exc).__name__}: {exc}") from exc
            edges.append(e)
        return dataclasses.replace(skeleton, nodes=nodes, edges=tuple(edges))

    def build_tasks(self, tids: Sequence[int]) -> None:
        extras = {"stdout": self.streams[1]}
        for tid in tids:
            chain, sub = self.layout.tasks[tid]
            try:
                task = Task(self.plan, chain, sub, self.control,
                            self.channels.inboxes.get(tid), self.channels.writer_factory(tid),
                            self.clock, extras)
            except BaseException as exc:
                self.worker.send(FAILED, self.no, tid, frames=failure_frames(exc, self.where(tid)))
                self.worker.send(DONE, self.no, tid, frames=encode([]))
                continue
            self.tasks[tid] = self.running[tid] = task
            if task.inbox is not None:  # woken for its mailbox (checkpoints, questions)
                task.wake = lambda: self.channels.poke(MAIL)

    def mail(self, tid: int, msg: Any) -> None:
        task = self.tasks.get(tid)
        if task is not None:
            task.post(msg)

    def run_tasks(self) -> None:
        for tid, task in list(self.tasks.items()):
            threading.Thread(target=self._run, args=(tid, task), daemon=True,
                             name=f"nbstream[{self.name}] {task.display_name}").start()

    def where(self, tid: int) -> str:
        task = self.tasks.get(tid)
        what = f", task '{task.display_name}'" if task is not None else ""
        return f"in worker {self.worker.id} (pid {os.getpid()}){what}"

    def _run(self, tid: int, task: Task) -> None:
        self.worker.local.job = self
        try:
            task.run()
        except TaskCancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - everything must reach the kernel
            self.worker.send(FAILED, self.no, tid, frames=failure_frames(exc, self.where(tid)))
        finally:
            for stream in self.streams.values():
                stream.flush()
            self.running.pop(tid, None)
            # before DONE: the driver may edit a module as soon as the job ends
            remember_loaded(self.worker.module_versions)
            self.worker.send(DONE, self.no, tid, frames=encode(task.metrics()))

    def cancel(self) -> None:
        self.control.cancelled = True
        self.channels.poke(CANCEL)
        for task in list(self.running.values()):  # a source's cancel() is user code: not here
            threading.Thread(target=task.cancel, daemon=True, name="nbstream cancel").start()

    def set_clock(self, now_ms: int) -> None:
        if isinstance(self.clock, ManualClock) and now_ms > self.clock.now_ms():
            self.clock.set(now_ms)
            self.channels.poke(TICK)

    def end(self) -> None:
        self.control.cancelled = True
        for off in self.offloads.values():
            off.requests.put(None)


class _Offload:
    """Runs batches through a copy of one chain's operators, for a task in the kernel
    (the automatic mode). The copy's network edges capture what it emits; the kernel
    partitions and sends it on."""

    def __init__(self, job: WorkerJob, tid: int) -> None:
        self.job, self.tid = job, tid
        self.requests: "queue.SimpleQueue[Any]" = queue.SimpleQueue()
        threading.Thread(target=self._serve, daemon=True,
                         name=f"nbstream[{job.name}] offload {tid}").start()

    def _reply(self, what: int, frames: List[Any]) -> None:
        self.job.worker.send(OFFLOAD_REPLY, self.job.no, self.tid, what, frames=frames)

    def _serve(self) -> None:
        job = self.job
        job.worker.local.job = job
        chain, sub = job.layout.tasks[self.tid]
        outbox: List[Any] = []
        opened: List[Any] = []
        where = (f"in worker {job.worker.id} (pid {os.getpid()}), offloaded by the automatic "
                 "mode")
        try:
            task = Task(job.plan, chain, sub, job.control, None,
                        lambda edge, _r: _Capture(edge.index, outbox), job.clock,
                        {"stdout": job.streams[1]})
            for target in task.network:
                target.partitioner, target.writers = Forward(1), target.writers[:1]
            for op in reversed(list(task.ops.values())):
                op.open()
                opened.append(op)
        except BaseException as exc:  # noqa: BLE001
            self._reply(OFFLOAD_OPEN, failure_frames(exc, where))
            return
        self._reply(OFFLOAD_OPEN, encode(None))
        ops = list(task.ops.values())
        counts = [(op.records_in, op.records_out) for op in ops]
        while True:
            request = self.requests.get()
            if request is None:
                break
            input_index, data, buffers = request
            watermark, batch = decode(data, buffers)
            try:
                for op in ops:
                    op.current_watermark = watermark
                task.head.records_in += len(batch.values)
                task.head.process_batch(batch, input_index)
            except BaseException as exc:  # noqa: BLE001
                outbox.clear()
                self._reply(OFFLOAD_CALL, failure_frames(exc, where))
                continue
            now = [(op.records_in, op.records_out) for op in ops]
            deltas = [(i - a, o - b) for (i, o), (a, b) in zip(now, counts)]
            counts = now
            for stream in job.streams.values():
                stream.flush()
            self._reply(OFFLOAD_CALL, encode((list(outbox), deltas)))
            outbox.clear()
        errors = []
        for op in reversed(opened):
            try:
                op.close()
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
        for stream in job.streams.values():
            stream.flush()
        self._reply(OFFLOAD_CLOSE, failure_frames(errors[0], where) if errors else encode(None))


class _Links:
    """Direct links to the other workers of the pool: a Unix socket this worker listens
    on in the pool's private folder, and one connection per peer, opened the first time
    a task here has a message for it. What arrives on a link is handed to the job it
    belongs to; a message for a job whose START has not been read yet (the kernel's
    socket and a peer's link are not ordered with each other) waits for it."""

    def __init__(self, worker: "WorkerProcess", folder: str) -> None:
        self.worker, self.folder = worker, folder
        self.peers: Dict[int, Tuple[Connection, threading.Lock]] = {}
        self.lock = threading.Lock()
        self.early: Dict[int, List[Tuple[int, int, int, int, Any, List[Any]]]] = {}
        self.ended: set = set()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.path(worker.id))
        server.listen(64)
        threading.Thread(target=self._accept, args=(server,), daemon=True,
                         name="nbstream-worker links").start()

    def path(self, wid: int) -> str:
        return os.path.join(self.folder, f"w{wid}.sock")

    def send(self, node: int, first: Any, rest: Sequence[Any]) -> None:
        peer = self.peers.get(node)
        if peer is None:
            peer = self._connect(node)
        conn, lock = peer
        with lock:
            try:
                conn.send_bytes(first)
                for frame in rest:
                    conn.send_bytes(frame)
            except OSError:  # the peer died: the kernel sees it and fails the job
                pass

    def _connect(self, node: int) -> Tuple[Connection, threading.Lock]:
        with self.lock:
            peer = self.peers.get(node)
            if peer is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(self.path(node))
                except OSError:
                    sock.close()
                    raise JobFailedError(f"worker {self.worker.id} could not reach worker "
                                         f"{node} (it is gone)") from None
                peer = self.peers[node] = (Connection(sock.detach()), threading.Lock())
            return peer

    def _accept(self, server: socket.socket) -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=self._read, args=(Connection(conn.detach()),), daemon=True,
                             name="nbstream-worker link reader").start()

    def _read(self, conn: Connection) -> None:
        recv = conn.recv_bytes
        while True:
            try:
                data, (kind, job_no, a, b, c), rest = _receive(recv)
            except (EOFError, OSError):  # the peer is gone
                return
            with self.lock:  # (handing over never blocks: an inbox put, a credit)
                job = self.worker.jobs.get(job_no)
                if job is not None:
                    _deliver(job, kind, a, b, c, memoryview(data)[HEADER.size:], rest)
                elif job_no not in self.ended:
                    self.early.setdefault(job_no, []).append((kind, a, b, c, data, rest))
                job = None  # an idle link must not keep an ended job alive

    def started(self, job: "WorkerJob") -> None:
        """``job`` is installed: register it and hand it what came before, in order."""
        with self.lock:
            self.worker.jobs[job.no] = job
            for kind, a, b, c, data, rest in self.early.pop(job.no, []):
                _deliver(job, kind, a, b, c, memoryview(data)[HEADER.size:], rest)

    def ended_job(self, job_no: int) -> None:
        with self.lock:
            self.ended.add(job_no)
            self.early.pop(job_no, None)


def _receive(recv: Any) -> Tuple[Any, Tuple[int, int, int, int, int], List[Any]]:
    """One message: its first frame, the header's fields, the frames that follow it."""
    data = recv()
    kind, job_no, a, b, c, extra = HEADER.unpack_from(data)
    return data, (kind, job_no, a, b, c), [recv() for _ in range(extra)]


def _deliver(job: "WorkerJob", kind: int, a: int, b: int, c: int, body: Any,
             rest: Sequence[Any]) -> None:
    if kind == DATA:
        job.channels.deliver(a, b, body, rest)
    elif kind == CREDIT:
        job.channels.credit(a, c)


class WorkerProcess:
    def __init__(self, conn: Connection, wid: int) -> None:
        self.conn, self.id = conn, wid
        self.lock = threading.Lock()
        self.jobs: Dict[int, WorkerJob] = {}
        self.local = threading.local()
        self.latest: Optional[WorkerJob] = None
        self.main = threading.current_thread()
        self.deferred: Optional["queue.SimpleQueue[Any]"] = None
        self.links = _Links(self, os.environ["NBSTREAM_WORKER_LINKS"])
        self.module_versions: Dict[str, Any] = {}  # the user's modules, as imported here

    # -- sending ---------------------------------------------------------------------------------
    def send_raw(self, node: int, first: Any, rest: Sequence[Any] = ()) -> None:
        """Send a message to ``node``: the kernel (0) or another worker (its direct link)."""
        if node:
            self.links.send(node, first, rest)
            return
        if threading.current_thread() is self.main:
            # the reader must never block on a send (the kernel may be blocked sending to it):
            # what it has to say goes through a helper thread, in order
            if self.deferred is None:
                self.deferred = queue.SimpleQueue()
                threading.Thread(target=self._send_deferred, daemon=True,
                                 name="nbstream-worker sender").start()
            self.deferred.put((first, rest))
            return
        self._send_now(first, rest)

    def _send_deferred(self) -> None:
        while True:
            first, rest = self.deferred.get()
            self._send_now(first, rest)

    def _send_now(self, first: Any, rest: Sequence[Any]) -> None:
        with self.lock:
            try:
                self.conn.send_bytes(first)
                for frame in rest:
                    self.conn.send_bytes(frame)
            except OSError:  # the kernel is gone
                os._exit(0)

    def send(self, kind: int, job: int, a: int = 0, b: int = 0, c: int = 0,
             frames: Optional[List[Any]] = None) -> None:
        first, rest = message(kind, job, a, b, c, frames)
        self.send_raw(0, first, rest)

    def current_job(self) -> Optional[WorkerJob]:
        job = getattr(self.local, "job", None)
        if job is not None and job.no in self.jobs:
            return job
        return self.latest if self.latest is not None and self.latest.no in self.jobs else None

    # -- serving ----------------------------------------------------------------------------------
    def serve(self) -> None:
        first, rest = message(READY, 0, os.getpid())
        self._send_now(first, rest)
        threading.Thread(target=self._report, daemon=True, name="nbstream-worker report").start()
        threading.Thread(target=_preload, daemon=True, name="nbstream-worker preload").start()
        recv = self.conn.recv_bytes
        while True:
            try:
                data, (kind, job_no, a, b, c), rest = _receive(recv)
            except (EOFError, OSError):  # the kernel is gone
                os._exit(0)
            body = memoryview(data)[HEADER.size:]
            if kind == SHUTDOWN:
                os._exit(0)
            if kind == START:
                self._start(job_no, body)
                continue
            job = self.jobs.get(job_no)
            if job is None:  # a late message for a job that ended here
                continue
            if kind == DATA or kind == CREDIT:
                _deliver(job, kind, a, b, c, body, rest)
            elif kind == RUN:
                job.run_tasks()
            elif kind == CANCEL_MSG:
                job.cancel()
            elif kind == CLOCK:
                job.set_clock(decode(body))
            elif kind == MAILBOX:
                job.mail(a, decode(body, rest))
            elif kind == END_JOB:
                remember_loaded(self.module_versions)  # what the job's functions imported
                job.end()
                self.links.ended_job(job_no)
                del self.jobs[job_no]
                if self.latest is job:
                    self.latest = None
                job = None
                gc.unfreeze()
                if not self.jobs:
                    # a job's tasks, operators and contexts refer to each other: only a full
                    # collection frees them. Done here, while the worker is idle, not by the
                    # collector in the middle of the next job, whose every full collection
                    # would walk them too (a StateFun job: 2.4 s -> 5.2 s over five runs)
                    gc.collect()
            elif kind == OFFLOAD_OPEN:
                job.offloads[a] = _Offload(job, a)
            elif kind == OFFLOAD_CALL:
                job.offloads[a].requests.put((b, body, rest))
            elif kind == OFFLOAD_CLOSE:
                off = job.offloads.pop(a, None)
                if off is not None:
                    off.requests.put(None)

    def _start(self, job_no: int, body: Any) -> None:
        spec = pickle.loads(body)
        for name, level in spec["log_levels"].items():
            logging.getLogger(name or None).setLevel(level)
        # the kernel may have changed directory, extended sys.path, installed module aliases
        # (the PyFlink layer) or edited its modules since this worker started
        apply_driver_imports(spec, self.module_versions)
        # the loaded plan (a source's collection too) lives as long as the job: loaded with
        # the collector off (unpickling 100,000 records otherwise triggers ~10 full
        # collections) and then kept out of its way until the job ends
        collecting = gc.isenabled()
        gc.disable()
        try:
            job = WorkerJob(self, job_no, spec)
        except BaseException as exc:  # noqa: BLE001
            where = f"in worker {self.id} (pid {os.getpid()}), loading the job"
            self.send(FAILED, job_no, -1, frames=failure_frames(exc, where))
            for tid in spec["run"]:
                self.send(DONE, job_no, tid, frames=encode([]))
            return
        finally:
            if collecting:
                gc.enable()
        gc.freeze()
        remember_loaded(self.module_versions)
        self.latest = job
        self.links.started(job)
        job.build_tasks(spec["run"])

    def _report(self) -> None:
        while True:
            time.sleep(REPORT_EVERY_S)
            for job in list(self.jobs.values()):
                self._report_job(job)
            job = None  # a sleeping reporter must not keep an ended job alive

    def _report_job(self, job: WorkerJob) -> None:
        running = dict(job.running)
        if not running:
            return
        try:  # one bad round must not end the reports for the worker's life
            frames = encode({tid: t.metrics() for tid, t in running.items()})
        except Exception:  # noqa: BLE001 - the next round tries again
            return
        self.send(METRICS, job.no, frames=frames)


def _preload() -> None:
    """Load what every job needs while the worker waits for its first (a warm worker's
    first job then starts as fast as its next)."""
    import cloudpickle  # noqa: F401 - a job's steps come pickled with it

    from ..registry import kinds
    kinds()  # every operator module


def main(fd: int, wid: int) -> None:
    """Entry point of a worker process (see :mod:`nbstream.runtime.executors.pool`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # a worker makes and drops records by the million: a young collection every 10,000
    # objects rather than 700 (a StateFun job at p=2: 1.8 -> 1.4-1.6 s)
    gc.set_threshold(10_000, 10, 10)
    worker = WorkerProcess(Connection(fd), wid)
    sys.stdout = _ThreadStream(worker, 1, sys.__stdout__)
    sys.stderr = _ThreadStream(worker, 2, sys.__stderr__)
    root = logging.getLogger()
    root.handlers[:] = [_ForwardHandler(worker)]
    worker.serve()
