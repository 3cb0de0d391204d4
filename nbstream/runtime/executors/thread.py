"""Thread mode: every task on its own thread in this process; channels are bounded queues.

No serialization: records are passed by reference. A task blocked on a full channel
waits (backpressure), checking every 50 ms whether the job was cancelled. When the job
stops, a supervisor thread joins every task thread; one that stays stuck in user code
beyond the grace period is named in ``job.warnings``.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from ..job import JobClient, as_job_error
from ..records import TaskCancelled
from ..task import CANCEL, MAIL, TICK, Task
from . import Executor, chain_label

__all__ = ["ThreadExecutor", "QueueWriter", "FeedbackWriter", "run_task"]

STOP_GRACE_S = 5.0


class QueueWriter:
    """One channel into a task's inbox: puts ``(channel, message)``, blocking when full."""

    __slots__ = ("inbox", "channel", "job")

    def __init__(self, inbox: "queue.Queue[Any]", channel: int, job: JobClient) -> None:
        self.inbox = inbox
        self.channel = channel
        self.job = job

    def put(self, message: Any) -> None:
        item = (self.channel, message)
        try:
            self.inbox.put_nowait(item)
            return
        except queue.Full:
            pass
        while True:
            if self.job.cancelled:
                raise TaskCancelled()
            try:
                self.inbox.put(item, timeout=0.05)
                return
            except queue.Full:
                continue


class FeedbackWriter(QueueWriter):
    """The channel closing an iteration: it never blocks (past the inbox's bound), so a
    loop cannot deadlock on its own backpressure."""

    __slots__ = ()

    def put(self, message: Any) -> None:
        inbox = self.inbox
        with inbox.mutex:
            inbox.queue.append((self.channel, message))
            inbox.unfinished_tasks += 1
            inbox.not_empty.notify()


def _poke(inbox: "queue.Queue[Any]", signal: Any) -> None:
    try:
        inbox.put_nowait((-1, signal))
    except queue.Full:  # busy: it looks at its mailbox after each message
        pass


def run_task(task: Task, job: JobClient) -> None:
    """Run a task, reporting its failure to the job (the first failure wins)."""
    try:
        task.run()
    except TaskCancelled:
        pass
    except BaseException as exc:  # noqa: BLE001 - everything must reach the job
        job.fail(as_job_error(exc))


class ThreadExecutor(Executor):
    name = "thread"

    def start(self, plan: Any, job: JobClient, clock: Any) -> None:
        inboxes = self._inboxes(plan)
        tasks: List[Task] = []
        for chain in plan.chains:
            for sub in range(chain.parallelism):
                writer = self._writer_factory(plan, inboxes, sub, job)
                tasks.append(Task(plan, chain.id, sub, job, inboxes.get((chain.id, sub)),
                                  writer, clock, {"stdout": job.stdout}))
        self._wire_wakeups(tasks, inboxes, job, clock)
        for c in plan.chains:
            why = plan.mode_reasons.get(c.id, "the job's mode")
            job.placement[chain_label(plan, c.id)] = f"thread ({why})"
        job._start(lambda: [m for t in tasks for m in t.metrics()])
        # Each thread runs in a copy of the submitter's context variables (as an asyncio
        # task does): output of user functions goes where the submitting code's output
        # goes -- in Jupyter, to the cell that started the job, even after it returned.
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(run_task, t, job),
                                    daemon=True, name=f"nbstream[{job.job_name}] {t.display_name}")
                   for t in tasks]
        supervisor = threading.Thread(target=contextvars.copy_context().run,
                                      args=(self._supervise, threads, job, clock, inboxes),
                                      daemon=True, name=f"nbstream[{job.job_name}] supervisor")
        supervisor.start()

    @staticmethod
    def _inboxes(plan: Any) -> Dict[Tuple[int, int], "queue.Queue[Any]"]:
        inboxes = {}
        for chain in plan.chains:
            for sub in range(chain.parallelism):
                channels = len(plan.input_channels(chain.id, sub))
                if channels:
                    inboxes[(chain.id, sub)] = queue.Queue(
                        maxsize=plan.config.channel_capacity * channels)
        return inboxes

    @staticmethod
    def _writer_factory(plan: Any, inboxes: Dict[Tuple[int, int], Any], sender: int,
                        job: JobClient) -> Any:
        def make(edge: Any, receiver: int) -> QueueWriter:
            inbox = inboxes[(plan.chain_of[edge.target], receiver)]
            cls = FeedbackWriter if edge.feedback else QueueWriter
            return cls(inbox, plan.channel_index(edge, sender, receiver), job)
        return make

    @staticmethod
    def _wire_wakeups(tasks: List[Task], inboxes: Dict[Any, Any], job: JobClient,
                      clock: Any) -> None:
        def poke(signal: Any) -> None:
            for inbox in inboxes.values():
                try:
                    inbox.put_nowait((-1, signal))
                except queue.Full:  # busy: it checks the flag after each message
                    pass

        def wake_for_cancel() -> None:
            poke(CANCEL)
            for t in tasks:
                t.cancel()

        job.add_waker(wake_for_cancel)
        for t in tasks:  # checkpoint messages wake a task waiting on its inbox
            inbox = inboxes.get((t.chain.id, t.subtask))
            if inbox is not None:
                t.wake = lambda inbox=inbox: _poke(inbox, MAIL)
        if clock.manual:
            tick = lambda: poke(TICK)  # noqa: E731
            clock.subscribe(tick)
            job.on_done(lambda _job: clock.unsubscribe(tick))

    @staticmethod
    def _supervise(threads: List[threading.Thread], job: JobClient, clock: Any,
                   inboxes: Dict[Any, Any]) -> None:
        for t in threads:
            t.start()
        cancelled_at: Optional[float] = None
        pending = list(threads)
        while pending:
            pending[0].join(timeout=0.1)
            pending = [t for t in pending if t.is_alive()]
            if job.cancelled and cancelled_at is None:
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > STOP_GRACE_S:
                job.warnings.extend(
                    f"task thread '{t.name}' did not stop within {STOP_GRACE_S:.0f} s "
                    "(blocked in user code?); it is a daemon thread and ends with the process"
                    for t in pending)
                break
        job._finish()
