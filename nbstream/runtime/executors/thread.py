"""Thread mode: every task on its own thread in this process; the channels are those of
process mode (``channels.py``: an inbox per task, credits per channel), all local.

No serialization: records are passed by reference. A task without credit on a channel
waits (backpressure), checking every 50 ms whether the job was cancelled. When the job
stops, a supervisor thread joins every task thread. A thread cannot be stopped from
outside: one stuck in a user function beyond the grace period (``STOP_GRACE_S``) is left
running (a daemon thread), and the job ends CANCELED with ``job.still_running`` naming
the step and the function, until it returns (:func:`stuck_in`).
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import sys
import threading
import time
from typing import Any, Iterator, List, Optional

from ...errors import where_in
from ..job import JobClient, as_job_error
from ..operators import Operator
from ..records import TaskCancelled
from ..task import CANCEL, MAIL, TICK, Task
from . import Executor, chain_label
from .channels import JobChannels, Layout

__all__ = ["ThreadExecutor", "run_task", "stuck_in"]

STOP_GRACE_S = 5.0
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _nowhere(node: int, first: bytes, rest: Any) -> None:
    raise AssertionError("thread mode has one process: every channel is local")


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection while a job's tasks are made: they are thousands of new
    objects at high parallelism, which would start collections over everything the
    kernel holds (half of the set-up time at p=256)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def run_task(task: Task, job: JobClient, go: Optional[threading.Event] = None) -> None:
    """Run a task once ``go`` is set, reporting its failure to the job (the first failure
    wins)."""
    try:
        if go is not None:
            go.wait()
        task.run()
    except TaskCancelled:
        pass
    except BaseException as exc:  # noqa: BLE001 - everything must reach the job
        job.fail(as_job_error(exc))


class ThreadExecutor(Executor):
    name = "thread"

    def start(self, plan: Any, job: JobClient, clock: Any) -> None:
        with _collector_paused():
            layout = Layout(plan)
            channels = JobChannels(plan, layout, [0] * len(layout.tasks), 0, 0, job, _nowhere)
            tasks = [Task(plan, chain, sub, job, channels.inboxes.get(tid),
                          channels.writer_factory(tid), clock, {"stdout": job.stdout})
                     for tid, (chain, sub) in enumerate(layout.tasks)]
        self._wire_wakeups(tasks, channels, job, clock)
        for c in plan.chains:
            why = plan.mode_reasons.get(c.id, "the job's mode")
            job.placement[chain_label(plan, c.id)] = f"thread ({why})"
        job._start(lambda: [m for t in tasks for m in t.metrics()])
        # Each thread runs in a copy of the submitter's context variables (as an asyncio
        # task does): output of user functions goes where the submitting code's output
        # goes -- in Jupyter, to the cell that started the job, even after it returned.
        # Every thread waits for ``go`` until all are started: a thread that ran at once
        # would hold the GIL while the next start waits for it (up to a switch interval,
        # 5 ms, per thread: seconds at p=256).
        go = threading.Event()
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(run_task, t, job, go),
                                    daemon=True, name=f"nbstream[{job.job_name}] {t.display_name}")
                   for t in tasks]
        supervisor = threading.Thread(target=contextvars.copy_context().run,
                                      args=(self._supervise, threads, tasks, job, go),
                                      daemon=True, name=f"nbstream[{job.job_name}] supervisor")
        supervisor.start()

    @staticmethod
    def _wire_wakeups(tasks: List[Task], channels: JobChannels, job: JobClient,
                      clock: Any) -> None:
        def wake_for_cancel() -> None:
            channels.poke(CANCEL)
            for t in tasks:
                t.cancel()

        job.add_waker(wake_for_cancel)
        for tid, t in enumerate(tasks):  # checkpoint messages wake a task waiting on its inbox
            inbox = channels.inboxes.get(tid)
            if inbox is not None:
                t.wake = lambda inbox=inbox: inbox.put((-1, MAIL))
        if clock.manual:
            tick = lambda: channels.poke(TICK)  # noqa: E731
            clock.subscribe(tick)
            job.on_done(lambda _job: clock.unsubscribe(tick))

    @staticmethod
    def _supervise(threads: List[threading.Thread], tasks: List[Task], job: JobClient,
                   go: threading.Event) -> None:
        for t in threads:
            t.start()
        go.set()
        cancelled_at: Optional[float] = None
        pending = list(threads)
        while pending:
            pending[0].join(timeout=0.1)
            pending = [t for t in pending if t.is_alive()]
            if job.cancelled and cancelled_at is None:
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > STOP_GRACE_S:
                task_of = dict(zip(threads, tasks))
                for t in pending:
                    where = (lambda t=t: stuck_in(t, task_of[t]))  # noqa: E731
                    job._linger(where)
                    job.warnings.append(f"{where() or t.name} {STOP_GRACE_S:g} s after the "
                                        "job was stopped: a thread cannot be stopped from "
                                        "outside; it runs on until the function returns")
                break
        job._finish()


def _ours(frame: Any) -> bool:
    return frame.f_code.co_filename.startswith(_PACKAGE_DIR)


def stuck_in(thread: threading.Thread, task: Task) -> Optional[str]:
    """Where a task thread that did not stop is, None once it has ended: the step and the
    user function nbstream called that has not returned (the outermost frame of the
    user's below nbstream's), and the line it is at now."""
    frame = sys._current_frames().get(thread.ident) if thread.is_alive() else None
    if frame is None:
        return None
    now, called = frame, None
    while frame is not None:
        if not _ours(frame) and frame.f_back is not None and _ours(frame.f_back):
            called = frame
            break
        frame = frame.f_back
    if called is None:  # not in a user function: somewhere in nbstream's waits
        return f"task '{task.display_name}' has not stopped (at {where_in(now.f_code, now.f_lineno)})"
    step = task.name
    caller = called.f_back
    while caller is not None and _ours(caller):
        op = next((v for v in caller.f_locals.values() if isinstance(v, Operator)), None)
        if op is not None:
            step = op.name
            break
        caller = caller.f_back
    code = called.f_code
    name = getattr(code, "co_qualname", code.co_name)
    return (f"step '{step}' ({task.subtask + 1}/{task.chain.parallelism}): function {name} "
            f"({where_in(code)}) has not returned (now at {where_in(now.f_code, now.f_lineno)})")
