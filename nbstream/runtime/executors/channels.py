"""Channels between tasks that may live in different processes, with credit-based
flow control.

Every process (the kernel and each worker) numbers a job's tasks and channels the
same way (:class:`Layout`). A task's :class:`Inbox` is unbounded; what bounds it is
the *credit* each channel's sender must hold to send a message: ``channel_capacity``
per channel, one given back when the receiver takes the message. A sender without
credit waits (backpressure). A thread that moves messages off a connection
therefore never blocks on a full inbox, which is what keeps a process that hosts
both ends of a chain of channels from deadlocking.

>>> from nbstream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> _ = env.from_collection([1, 2]).rebalance().map(str).set_parallelism(2).print()
>>> layout = Layout(env._plan("doc"))
>>> layout.tasks  # (chain, subtask): the source, two map instances, the print sink
[(0, 0), (1, 0), (1, 1), (2, 0)]
>>> layout.channels  # (sender, receiver, input channel of the receiver)
[(0, 1, 0), (0, 2, 0), (1, 3, 0), (2, 3, 1)]
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ...errors import UserFunctionError
from ..task import TaskCancelled
from .wire import CREDIT, DATA, HEADER, Encoded, Frames, encode

__all__ = ["Layout", "Credits", "Unbounded", "Inbox", "JobChannels", "message", "TaskStats"]

Send = Callable[[int, bytes, Sequence[Any]], None]  # (node, first frame, extra frames)


def message(kind: int, job: int, a: int = 0, b: int = 0, c: int = 0,
            frames: Optional[Frames] = None) -> Tuple[bytes, Sequence[Any]]:
    """The wire form of a message: the first frame (header and pickle) and the rest."""
    if not frames:
        return HEADER.pack(kind, job, a, b, c, 0), ()
    return HEADER.pack(kind, job, a, b, c, len(frames) - 1) + frames[0], frames[1:]


class Layout:
    """A job's tasks (``tid`` -> ``(chain id, subtask)``) and network channels
    (``cid`` -> ``(sender tid, receiver tid, input channel of the receiver)``)."""

    def __init__(self, plan: Any) -> None:
        self.tasks: List[Tuple[int, int]] = [(c.id, s) for c in plan.chains
                                             for s in range(c.parallelism)]
        self.tid: Dict[Tuple[int, int], int] = {t: i for i, t in enumerate(self.tasks)}
        self.channels: List[Tuple[int, int, int]] = []
        self.cid: Dict[Tuple[int, int, int], int] = {}
        self.feedback: List[bool] = []  # per channel: closes an iteration (never blocks)
        self.has_inputs: List[bool] = []
        for tid, (chain, sub) in enumerate(self.tasks):
            inputs = plan.input_channels(chain, sub)
            self.has_inputs.append(bool(inputs))
            for ch, (edge, sender) in enumerate(inputs):
                self.cid[(edge.index, sender, sub)] = len(self.channels)
                self.channels.append((self.tid[(plan.chain_of[edge.source], sender)], tid, ch))
                self.feedback.append(bool(getattr(edge, "feedback", False)))


class TaskStats:
    """Time a task spent waiting for credit (the automatic mode subtracts it)."""

    __slots__ = ("blocked_s",)

    def __init__(self) -> None:
        self.blocked_s = 0.0


class Unbounded:
    """The credits of a feedback channel (closing an iteration): a loop must never
    block on its own backpressure, as in thread mode."""

    __slots__ = ()

    def take(self, control: Any, stats: Optional[TaskStats]) -> None:
        pass

    def give(self, n: int = 1) -> None:
        pass


class Credits:
    """The sender's side of one channel: how many more messages it may send."""

    __slots__ = ("_sem",)

    def __init__(self, capacity: int) -> None:
        self._sem = threading.Semaphore(capacity)

    def take(self, control: Any, stats: Optional[TaskStats]) -> None:
        if self._sem.acquire(blocking=False):
            return
        start = time.perf_counter()
        while not self._sem.acquire(timeout=0.05):
            if control.cancelled:
                raise TaskCancelled()
        if stats is not None:
            stats.blocked_s += time.perf_counter() - start

    def give(self, n: int = 1) -> None:
        self._sem.release(n)


class _CreditReturn:
    """The receiver's side of a channel whose sender lives in another process: credit
    goes back in groups (one CREDIT message per ``group`` messages taken, as Flink
    announces credit), not one message back per message. It cannot deadlock: a sender
    that waits holds no credit, and fewer than ``group`` <= capacity of its messages are
    taken and not yet credited, so at least one is still on its way to the receiver,
    whose next take returns the group."""

    __slots__ = ("pending", "group", "send", "node", "job_no", "cid")

    def __init__(self, group: int, send: Send, node: int, job_no: int, cid: int) -> None:
        self.pending, self.group = 0, group
        self.send, self.node, self.job_no, self.cid = send, node, job_no, cid

    def __call__(self) -> None:
        self.pending += 1
        if self.pending >= self.group:
            first, rest = message(CREDIT, self.job_no, self.cid, 0, self.pending)
            self.pending = 0
            self.send(self.node, first, rest)


class Inbox:
    """A task's input: ``(channel, message)`` in arrival order. Taking a message gives
    its channel's credit back; a message still in wire form is decoded here, in the
    receiving task's thread."""

    __slots__ = ("_queue", "_give_back")

    def __init__(self, give_back: Sequence[Callable[[], None]]) -> None:
        self._queue: "queue.SimpleQueue[Tuple[int, Any]]" = queue.SimpleQueue()
        self._give_back = give_back

    def put(self, item: Tuple[int, Any]) -> None:
        self._queue.put(item)

    def get(self, timeout: Optional[float] = None) -> Tuple[int, Any]:
        ch, msg = self._queue.get(timeout=timeout)
        if ch >= 0:
            self._give_back[ch]()
            if type(msg) is Encoded:
                msg = msg.decode()
        return ch, msg

    def take(self, timeout: Optional[float] = None) -> Tuple[int, Any]:
        """:meth:`get` keeping the channel's credit until :meth:`release`: a message held
        back (barrier alignment) keeps its sender from sending more on that channel."""
        ch, msg = self._queue.get(timeout=timeout)
        if type(msg) is Encoded:
            msg = msg.decode()
        return ch, msg

    def release(self, ch: int) -> None:
        """Give back the credit of a message :meth:`take` returned from channel ``ch``."""
        if ch >= 0:
            self._give_back[ch]()


def _nothing() -> None:
    pass


class _LocalWriter:
    __slots__ = ("credits", "inbox", "channel", "control", "stats")

    def __init__(self, credits: Any, inbox: Inbox, channel: int, control: Any,
                 stats: Optional[TaskStats]) -> None:
        self.credits, self.inbox, self.channel = credits, inbox, channel
        self.control, self.stats = control, stats

    def put(self, msg: Any) -> None:
        self.credits.take(self.control, self.stats)
        self.inbox.put((self.channel, msg))


class _RemoteWriter:
    __slots__ = ("credits", "send", "node", "job", "receiver", "channel", "control", "stats",
                 "edge")

    def __init__(self, credits: Any, send: Send, node: int, job: int, receiver: int,
                 channel: int, control: Any, stats: Optional[TaskStats],
                 edge: Tuple[str, str]) -> None:
        self.credits, self.send, self.node, self.job = credits, send, node, job
        self.receiver, self.channel = receiver, channel
        self.control, self.stats, self.edge = control, stats, edge

    def put(self, msg: Any) -> None:
        try:
            frames = encode(msg)
        except Exception as exc:  # a record that cannot travel: blame the step that made it
            raise _unsendable(self.edge, msg, exc) from exc
        self.credits.take(self.control, self.stats)
        first, rest = message(DATA, self.job, self.receiver, self.channel, 0, frames)
        self.send(self.node, first, rest)


def _unsendable(edge: Tuple[str, str], msg: Any, exc: Exception) -> UserFunctionError:
    """The error for a batch that does not pickle: the step that emitted it, the step in
    another process it was going to, and the first record that fails on its own."""
    step, target = edge
    phase = f"sending its output to '{target}' in another process"
    for value in getattr(msg, "values", ()):
        try:
            encode(value)
        except Exception as record_exc:
            return UserFunctionError(step, "", value, record_exc, phase=phase)
    return UserFunctionError(step, "", None, exc, has_record=False, phase=phase)


class JobChannels:
    """The channels of one job as seen from one process (node ``here``; the kernel is 0).

    ``node_of[tid]`` says where each task runs; ``send(node, first, rest)`` delivers a
    message to another node (a worker sends everything to the kernel, which forwards).
    """

    def __init__(self, plan: Any, layout: Layout, node_of: Sequence[int], here: int,
                 job_no: int, control: Any, send: Send) -> None:
        self.layout, self.node_of, self.here = layout, node_of, here
        self.job_no, self.control, self.send = job_no, control, send
        self.names = {nid: node.name for nid, node in plan.nodes.items()}
        capacity = plan.config.channel_capacity
        self.group = max(1, capacity // 2)
        self.credits: Dict[int, Any] = {
            cid: Unbounded() if layout.feedback[cid] else Credits(capacity)
            for cid, (sender, _r, _c) in enumerate(layout.channels) if node_of[sender] == here}
        give_back: Dict[int, List[Callable[[], None]]] = {
            tid: [] for tid, inputs in enumerate(layout.has_inputs)
            if inputs and node_of[tid] == here}
        for cid, (sender, receiver, _ch) in enumerate(layout.channels):
            if receiver in give_back:
                give_back[receiver].append(self._give_back(cid, sender))
        self.inboxes: Dict[int, Inbox] = {tid: Inbox(g) for tid, g in give_back.items()}

    def _give_back(self, cid: int, sender: int) -> Callable[[], None]:
        if self.layout.feedback[cid]:
            return _nothing
        if self.node_of[sender] == self.here:
            return self.credits[cid].give
        return _CreditReturn(self.group, self.send, self.node_of[sender], self.job_no, cid)

    def writer_factory(self, tid: int, stats: Optional[TaskStats] = None) -> Callable[[Any, int], Any]:
        """``make_writer(edge, receiver)`` for the task ``tid`` (see :class:`~nbstream.runtime.task.Task`)."""
        layout = self.layout
        sender = layout.tasks[tid][1]

        def make(edge: Any, receiver: int) -> Any:
            cid = layout.cid[(edge.index, sender, receiver)]
            _s, rtid, ch = layout.channels[cid]
            node = self.node_of[rtid]
            if node == self.here:
                return _LocalWriter(self.credits[cid], self.inboxes[rtid], ch, self.control, stats)
            names = (self.names[edge.source], self.names[edge.target])
            return _RemoteWriter(self.credits[cid], self.send, node, self.job_no, rtid, ch,
                                 self.control, stats, names)
        return make

    # -- from the wire ------------------------------------------------------------------------
    def deliver(self, receiver: int, channel: int, body: Any, buffers: Sequence[Any]) -> None:
        inbox = self.inboxes.get(receiver)
        if inbox is not None:
            inbox.put((channel, Encoded(body, buffers)))

    def credit(self, cid: int, n: int) -> None:
        credits = self.credits.get(cid)
        if credits is not None:
            credits.give(n)

    def poke(self, signal: Any) -> None:
        """Wake every local task (cancel, or the clock moved)."""
        for inbox in self.inboxes.values():
            inbox.put((-1, signal))
