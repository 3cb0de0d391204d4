"""The warm pool of worker processes, seen from the kernel.

Workers are fresh interpreters started with :mod:`subprocess` (fork and exec at
once, the "spawn" way): nothing of the kernel's threads or state is copied, and the
kernel's ``__main__`` is not re-imported. Each worker gets the kernel's ``sys.path``
and working directory, ignores SIGINT (a kernel interrupt stops jobs, not workers)
and talks to the kernel over one socket pair. The pool stays warm between jobs and
shuts down when the kernel exits; a worker whose kernel dies sees its socket close
and exits too.

Workers talk to each other directly: each listens on a Unix socket in the pool's
private folder (mode 0700, so only this user's processes get in) and a worker opens
a link to another the first time it has a message for it (see
:mod:`.worker`). Records between two workers never cross the kernel.

One *router* thread reads every worker's socket: messages for the kernel go to the
job they belong to. When a socket closes, the worker is gone: the router reaps it
and tells every job that had tasks on it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection, wait
from typing import Any, Dict, List, Optional, Sequence

from ...errors import JobFailedError
from . import wire
from .wire import HEADER, READY, SHUTDOWN

__all__ = ["Worker", "WorkerPool", "get_pool", "shutdown_pool", "pool_size", "warm_up"]

START_TIMEOUT_S = 60.0
BOOT = ("import json, os, sys; sys.path[:0] = json.loads(os.environ.pop('NBSTREAM_WORKER_PATH')); "
        "from nbstream.runtime.executors.worker import main; main(int(sys.argv[1]), int(sys.argv[2]))")


def pool_size() -> int:
    """How many workers the pool may start: ``NBSTREAM_WORKERS`` or the number of CPUs."""
    configured = os.environ.get("NBSTREAM_WORKERS", "")
    return max(1, int(configured) if configured.strip() else (os.cpu_count() or 1))


class Worker:
    """The kernel's handle of one worker process."""

    def __init__(self, wid: int, proc: "subprocess.Popen[bytes]", conn: Connection) -> None:
        self.id = wid
        self.proc = proc
        self.pid = proc.pid
        self.conn = conn
        self.lock = threading.Lock()
        self.alive = True

    def send(self, first: Any, rest: Sequence[Any] = ()) -> None:
        """Send one message (its frames back to back); a dead worker drops it."""
        with self.lock:
            if not self.alive:
                return
            try:
                self.conn.send_bytes(first)
                for frame in rest:
                    self.conn.send_bytes(frame)
            except OSError:  # it died: the router reports that
                pass

    def __repr__(self) -> str:
        return f"worker {self.id} (pid {self.pid})"


def describe_exit(returncode: Optional[int]) -> str:
    """How a worker ended, for error messages."""
    if returncode is None:
        return "closed its connection"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = " (out of memory, or killed from outside)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    return f"exited with code {returncode}"


class WorkerPool:
    """Worker processes kept warm between jobs. Jobs register a handler and receive
    the messages of their job number (``on_message``) and the loss of workers
    (``on_worker_lost``)."""

    def __init__(self, size: Optional[int] = None) -> None:
        self.size = size or pool_size()
        self.workers: Dict[int, Worker] = {}
        self._lock = threading.Lock()
        self._next_id = 1
        self._jobs: Dict[int, Any] = {}
        self._next_job = 1
        self._router: Optional[threading.Thread] = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._closed = False
        self.links_dir = private_folder("nbstream-links")  # 0700: this user only
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.arrow_dir = private_folder("nbstream-arrow", shm)  # wire.ARROW_FOLDER
        wire.ARROW_FOLDER[0] = self.arrow_dir

    # -- workers ----------------------------------------------------------------------------------
    def ensure(self, n: int) -> List[Worker]:
        """At least ``min(n, size)`` live workers (starting the missing ones); returns them."""
        with self._lock:
            if self._closed:
                raise JobFailedError("the worker pool was shut down")
            for w in [w for w in self.workers.values() if w.proc.poll() is not None]:
                w.alive = False  # died while idle; the router reports it to nobody
                del self.workers[w.id]
            want = max(1, min(n, self.size))
            missing = want - len(self.workers)
            if missing > 0:
                for w in self._spawn(missing):
                    self.workers[w.id] = w
                self._start_router()
                self._wake()
            return list(self.workers.values())[:want]

    def _spawn(self, n: int) -> List[Worker]:
        env = dict(os.environ)
        env["NBSTREAM_WORKER_PATH"] = json.dumps([p for p in sys.path if isinstance(p, str)])
        env["NBSTREAM_WORKER_LINKS"] = self.links_dir
        env[wire.ARROW_FOLDER_ENV] = self.arrow_dir
        started = []
        for _ in range(n):
            parent, child = socket.socketpair()
            wid, self._next_id = self._next_id, self._next_id + 1
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-c", BOOT, str(child.fileno()), str(wid)],
                    pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, cwd=os.getcwd(),
                    env=env, start_new_session=True)
            except BaseException:
                parent.close()
                raise
            finally:
                child.close()
            started.append(Worker(wid, proc, Connection(parent.detach())))
        ready = []
        try:
            for w in started:
                ready.append(self._handshake(w))
        except BaseException:
            for w in started:
                self._discard(w)
            raise
        return ready

    @staticmethod
    def _handshake(w: Worker) -> Worker:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not w.conn.poll(0.1):
            if w.proc.poll() is not None or time.monotonic() > deadline:
                code = w.proc.poll()
                raise JobFailedError(
                    f"worker {w.id} did not start: it {describe_exit(code)}"
                    + ("" if code is not None else f" within {START_TIMEOUT_S:.0f} s")
                    + "; its error output went to the kernel's standard error")
        try:
            data = w.conn.recv_bytes()
        except (EOFError, OSError):
            raise JobFailedError(f"worker {w.id} did not start: it "
                                 f"{describe_exit(w.proc.wait())}") from None
        kind = HEADER.unpack_from(data)[0]
        if kind != READY:
            raise JobFailedError(f"worker {w.id} sent {kind} instead of READY")
        return w

    @staticmethod
    def _discard(w: Worker) -> None:
        w.alive = False
        w.conn.close()
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait()

    def kill(self, worker: Worker) -> None:
        """Stop a worker at once (a task stuck in user code); the router reports it lost."""
        if worker.proc.poll() is None:
            worker.proc.kill()

    # -- jobs -------------------------------------------------------------------------------------
    def register(self, handler: Any) -> int:
        """A job number for ``handler``, which receives that job's messages."""
        with self._lock:
            job_no, self._next_job = self._next_job, self._next_job + 1
            self._jobs[job_no] = handler
            return job_no

    def unregister(self, job_no: int) -> None:
        with self._lock:
            self._jobs.pop(job_no, None)

    # -- the router ---------------------------------------------------------------------------------
    def _start_router(self) -> None:
        if self._router is None or not self._router.is_alive():
            self._router = threading.Thread(target=self._route, daemon=True,
                                            name="nbstream-pool router")
            self._router.start()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _route(self) -> None:
        while not self._closed:
            by_conn = {w.conn: w for w in list(self.workers.values()) if w.alive}
            try:
                ready = wait(list(by_conn) + [self._wake_r])
            except (OSError, ValueError):  # a connection closed under us (shutdown)
                continue
            for conn in ready:
                if conn is self._wake_r:
                    try:
                        self._wake_r.recv(4096)
                    except OSError:
                        pass
                    continue
                worker = by_conn[conn]
                try:
                    data = conn.recv_bytes()
                    kind, job_no, a, b, c, extra = HEADER.unpack_from(data)
                    rest = [conn.recv_bytes() for _ in range(extra)]
                except (EOFError, OSError):
                    self._lost(worker)
                    continue
                handler = self._jobs.get(job_no)
                if handler is not None:
                    try:
                        handler.on_message(worker, kind, a, b, c, data, rest)
                    except Exception as exc:  # a handler bug must not stop the router
                        handler.on_router_error(exc)

    def _lost(self, worker: Worker) -> None:
        with self._lock:
            self.workers.pop(worker.id, None)
            worker.alive = False
            handlers = list(self._jobs.values())
        with worker.lock:
            worker.conn.close()
        try:
            code: Optional[int] = worker.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            code = worker.proc.wait()
        if self._closed:
            return
        what = describe_exit(code)
        for handler in handlers:
            try:
                handler.on_worker_lost(worker, what)
            except Exception as exc:  # a handler bug must not stop the router
                handler.on_router_error(exc)

    # -- shutting down --------------------------------------------------------------------------------
    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop every worker (politely, then by force) and the router."""
        with self._lock:
            self._closed = True
            workers = list(self.workers.values())
            self.workers.clear()
        for w in workers:
            w.send(HEADER.pack(SHUTDOWN, 0, 0, 0, 0, 0))
        deadline = time.monotonic() + timeout
        for w in workers:
            try:
                w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
            with w.lock:
                w.alive = False
                w.conn.close()
        self._wake()
        router = self._router
        if router is not None and router is not threading.current_thread():
            router.join(timeout)
        self._wake_r.close()
        self._wake_w.close()
        shutil.rmtree(self.links_dir, ignore_errors=True)
        shutil.rmtree(self.arrow_dir, ignore_errors=True)  # batches no one read
        if wire.ARROW_FOLDER[0] == self.arrow_dir:
            wire.ARROW_FOLDER[0] = None


def private_folder(prefix: str, parent: Optional[str] = None) -> str:
    """A new 0700 folder ``<prefix>-<pid>-<random>`` in ``parent`` (the temp folder by default),
    after removing this user's folders of the same prefix whose process is gone (a kernel that
    was killed never removed its own).

    >>> path = private_folder("nbstream-doctest")
    >>> os.path.basename(path).startswith(f"nbstream-doctest-{os.getpid()}-")
    True
    >>> os.rmdir(path)
    """
    parent = parent or tempfile.gettempdir()
    for name in os.listdir(parent):
        pid = name[len(prefix) + 1:].partition("-")[0]
        if name.startswith(prefix + "-") and pid.isdigit() and not _alive(int(pid)):
            path = os.path.join(parent, name)
            try:
                if os.stat(path).st_uid == os.getuid():
                    shutil.rmtree(path, ignore_errors=True)
            except OSError:
                pass  # removed by another process meanwhile
    return tempfile.mkdtemp(prefix=f"{prefix}-{os.getpid()}-", dir=parent)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


_POOL: Optional[WorkerPool] = None
_POOL_LOCK = threading.Lock()


def get_pool() -> WorkerPool:
    """The kernel's worker pool (created on first use; started workers stay warm)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._closed:
            _POOL = WorkerPool()
        return _POOL


def warm_up() -> None:
    """Start the pool's workers in the background, so that the first process-mode job
    finds them ready (an environment set to process mode, ``%set_mode process``). A job
    that comes meanwhile waits for the start under way; an error starting them is left
    to that job to report."""
    pool = get_pool()
    if len(pool.workers) >= pool.size:
        return

    def start() -> None:
        try:
            pool.ensure(pool.size)
            import importlib  # what a job's start in the kernel needs, loaded meanwhile
            importlib.import_module(f"{__package__}.process")
            importlib.import_module("nbstream.runtime.registry").kinds()  # the operators
            importlib.import_module("cloudpickle")  # the steps are shipped with it
        except Exception:  # noqa: BLE001 - the job that needs the workers says why
            pass

    threading.Thread(target=start, daemon=True, name="nbstream pool warm-up").start()


def shutdown_pool() -> None:
    """Stop the worker processes (the next process-mode job starts new ones)."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown()


atexit.register(shutdown_pool)
