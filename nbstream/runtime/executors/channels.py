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
>>> [layout.sender(3, ch) for ch in range(2)]  # the sink's input channels come from tasks 1 and 2
[1, 2]
>>> layout.first  # channel ids: input channel ch of task tid is first[tid] + ch
[0, 0, 1, 2, 4]
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from ...errors import UserFunctionError
from ..records import END_OF_INPUT, Ends
from ..task import TaskCancelled
from .wire import CREDIT, DATA, HEADER, Encoded, Frames, encode

__all__ = ["Layout", "Gate", "Credits", "Unbounded", "Inbox", "Writers", "JobChannels", "message",
           "TaskStats"]

Send = Callable[[int, bytes, Sequence[Any]], None]  # (node, first frame, extra frames)


def message(kind: int, job: int, a: int = 0, b: int = 0, c: int = 0,
            frames: Optional[Frames] = None) -> Tuple[bytes, Sequence[Any]]:
    """The wire form of a message: the first frame (header and pickle) and the rest."""
    if not frames:
        return HEADER.pack(kind, job, a, b, c, 0), ()
    return HEADER.pack(kind, job, a, b, c, len(frames) - 1) + frames[0], frames[1:]


class Layout:
    """A job's tasks (``tid`` -> ``(chain id, subtask)``) and how its network channels are
    numbered. A task's input channels are its network input edges in order, each with
    its senders in order (``PhysicalPlan.input_channels``); input channel ``ch`` of task
    ``tid`` has the id ``first[tid] + ch`` in every process. Nothing is kept per channel:
    its numbers are computed when a channel is first used, so setting up a job costs
    O(tasks x edges), not O(p x p)."""

    def __init__(self, plan: Any) -> None:
        self.plan = plan
        self.tasks: List[Tuple[int, int]] = [(c.id, s) for c in plan.chains
                                             for s in range(c.parallelism)]
        self.tid: Dict[Tuple[int, int], int] = {t: i for i, t in enumerate(self.tasks)}
        self._base = {c.id: self.tid[(c.id, 0)] for c in plan.chains}  # tid of subtask 0
        self.first: List[int] = []
        # per task and input edge: (its first channel, edge, first sender subtask, senders)
        self._edges: List[List[Tuple[int, Any, int, int]]] = []
        count = 0
        for chain, sub in self.tasks:
            self.first.append(count)
            table = []
            for edge in plan.network_in_edges(chain):
                senders = plan.senders(edge, sub)  # consecutive subtasks, for every partitioning
                if senders:
                    table.append((count - self.first[-1], edge, senders[0], len(senders)))
                    count += len(senders)
            self._edges.append(table)
        self.first.append(count)
        self.has_inputs: List[bool] = [bool(t) for t in self._edges]

    def edges(self, receiver: int) -> List[Tuple[int, Any, int, int]]:
        """Task ``receiver``'s input edges: ``(first channel, edge, first sender, senders)``."""
        return self._edges[receiver]

    def edge_of(self, receiver: int, ch: int) -> Tuple[Any, int]:
        """Input channel ``ch`` of task ``receiver``: its edge and sender subtask."""
        for start, edge, first, _n in reversed(self._edges[receiver]):
            if ch >= start:
                return edge, first + ch - start
        raise IndexError(ch)

    def sender(self, receiver: int, ch: int) -> int:
        """The task sending on input channel ``ch`` of task ``receiver``."""
        edge, sub = self.edge_of(receiver, ch)
        return self._base[self.plan.chain_of[edge.source]] + sub

    def channel(self, edge: Any, sender: int, receiver: int) -> Tuple[int, int, int]:
        """``(channel id, receiving task, its input channel)`` of subtask ``sender`` of
        ``edge.source`` writing to subtask ``receiver`` of ``edge.target``."""
        rtid = self._base[self.plan.chain_of[edge.target]] + receiver
        for start, e, first, _n in self._edges[rtid]:
            if e.index == edge.index:
                ch = start + sender - first
                return self.first[rtid] + ch, rtid, ch
        raise KeyError((edge.index, sender, receiver))


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


class Gate:
    """What a sending task waits on when a channel has no credit left: one lock and
    condition per sending task (not a semaphore per channel)."""

    __slots__ = ("lock", "cond", "waiting")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.waiting = 0


class Credits:
    """The sender's side of one channel: how many more messages it may send, a plain
    counter under its sending task's :class:`Gate`. Made when the channel is first used."""

    __slots__ = ("left", "gate")

    def __init__(self, capacity: int, gate: Optional[Gate] = None) -> None:
        self.left = capacity
        self.gate = gate if gate is not None else Gate()

    def take(self, control: Any, stats: Optional[TaskStats]) -> None:
        with self.gate.lock:
            if self.left > 0:
                self.left -= 1
                return
        self._wait(control, stats)

    def _wait(self, control: Any, stats: Optional[TaskStats]) -> None:
        gate, start = self.gate, time.perf_counter()
        with gate.cond:
            gate.waiting += 1
            try:
                while self.left <= 0:
                    if control.cancelled:
                        raise TaskCancelled()
                    gate.cond.wait(0.05)
                self.left -= 1
            finally:
                gate.waiting -= 1
        if stats is not None:
            stats.blocked_s += time.perf_counter() - start

    def give(self, n: int = 1) -> None:
        gate = self.gate
        with gate.lock:
            self.left += n
            if gate.waiting:
                gate.cond.notify_all()


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


class _Ends:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ENDS"


ENDS = _Ends()  # wakes a task: the last of its silent input channels ended (Inbox.end_unopened)


class Inbox:
    """A task's input: ``(channel, message)`` in arrival order. Taking a message gives
    its channel's credit back; a message still in wire form is decoded here, in the
    receiving task's thread. ``find_give_back(ch)`` says how channel ``ch`` gives credit
    back, asked when the channel's first message comes (None: it took none).

    The end of input of a channel that never carried anything has no order to keep:
    :meth:`end_unopened` notes it without credit or message. Until every input channel
    whose sender runs in this process (``silent`` of them at first; a loop's feedback
    channels aside, which hold back neither) was opened or ended so, one of them still
    holds the task's watermark at its minimum and its input open, so the noted ends can
    wait: they are handed out after the next message, and the end that closes the last
    silent channel wakes the task (one ``ENDS`` in the queue). At p=256 an all-to-all
    edge has 65,536 channels: they end with a wake-up per task, not per channel.
    Senders only append to lists (atomic, also without the GIL), never take a lock: 256
    sources ending at once would queue on the receivers' locks one by one."""

    __slots__ = ("_queue", "_give_back", "_find", "_ends", "_opened", "_silent", "_taken",
                 "_ended")

    def __init__(self, find_give_back: Callable[[int], Optional[Callable[[], None]]],
                 silent: int = 0) -> None:
        self._queue: "queue.SimpleQueue[Tuple[int, Any]]" = queue.SimpleQueue()
        self._give_back: Dict[int, Callable[[], None]] = {}
        self._find = find_give_back
        self._ends: List[int] = []  # noted by senders (at most one per input channel)
        self._opened: List[None] = []  # one entry per silent channel a sender opened
        self._silent = silent
        self._taken = 0  # how many of _ends were handed out
        self._ended: Deque[Tuple[int, Any]] = deque()  # being handed out, one by one

    def put(self, item: Tuple[int, Any]) -> None:
        self._queue.put(item)

    def opened(self) -> None:
        """A sender in this process made the writer of one of the input channels (its
        first message follows, and wakes the task)."""
        self._opened.append(None)

    def end_unopened(self, ch: int) -> None:
        """Channel ``ch``, which carried nothing, has ended. The sender whose append makes
        the count whole wakes the task (two at once may both: a spare wake-up is harmless)."""
        ends = self._ends
        ends.append(ch)
        if len(ends) + len(self._opened) == self._silent:
            self._queue.put((-1, ENDS))

    def _hand_out_ends(self, together: bool) -> None:
        ends = self._ends[self._taken:]
        self._taken += len(ends)
        if not ends:
            return
        if together:
            self._ended.append((-1, Ends(ends)))
        else:
            self._ended.extend((ch, END_OF_INPUT) for ch in ends)

    def get(self, timeout: Optional[float] = None) -> Tuple[int, Any]:
        """The next message; noted ends come together, as ``(-1, Ends(channels))``."""
        if self._ended:
            return self._ended.popleft()
        ch, msg = self._queue.get(timeout=timeout)
        if len(self._ends) > self._taken:
            self._hand_out_ends(True)  # after this message
        if ch >= 0:
            give = self._give_back.get(ch)
            if give is not None:
                give()
            else:
                self.release(ch)
            if type(msg) is Encoded:
                msg = msg.decode()
        elif msg is ENDS and self._ended:
            return self._ended.popleft()
        return ch, msg

    def take(self, timeout: Optional[float] = None) -> Tuple[int, Any]:
        """:meth:`get` keeping the channel's credit until :meth:`release`: a message held
        back (barrier alignment) keeps its sender from sending more on that channel.
        Noted ends come one by one, each ``(channel, END_OF_INPUT)``."""
        if self._ended:
            return self._ended.popleft()
        ch, msg = self._queue.get(timeout=timeout)
        if len(self._ends) > self._taken:
            self._hand_out_ends(False)
        if type(msg) is Encoded:
            msg = msg.decode()
        elif msg is ENDS and self._ended:
            return self._ended.popleft()
        return ch, msg

    def release(self, ch: int) -> None:
        """Give back the credit of a message :meth:`take` returned from channel ``ch``."""
        if ch < 0:
            return
        give = self._give_back.get(ch)
        if give is None:
            give = self._find(ch)
            if give is None:
                return
            self._give_back[ch] = give
        give()


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


class Writers:
    """The writers of one sending task, each made when its channel is first used:
    ``writers(edge, receiver)`` returns one; ``end_unopened(edge, receivers)`` ends
    channels that never carried anything (to a task in this process: the end of input
    alone, without credit, so a p x p job's end makes no object per channel)."""

    __slots__ = ("channels", "sender", "stats", "gate")

    def __init__(self, channels: "JobChannels", tid: int, stats: Optional[TaskStats]) -> None:
        self.channels, self.stats, self.gate = channels, stats, Gate()
        self.sender = channels.layout.tasks[tid][1]

    def __call__(self, edge: Any, receiver: int) -> Any:
        jc = self.channels
        cid, rtid, ch = jc.layout.channel(edge, self.sender, receiver)
        credits = jc.credits.get(cid)
        if credits is None:
            credits = jc.credits[cid] = Unbounded() if edge.feedback else Credits(jc.capacity, self.gate)
        node = jc.node_of[rtid]
        if node == jc.here:
            if not edge.feedback:
                jc.inboxes[rtid].opened()
            return _LocalWriter(credits, jc.inboxes[rtid], ch, jc.control, self.stats)
        names = (jc.names[edge.source], jc.names[edge.target])
        return _RemoteWriter(credits, jc.send, node, jc.job_no, rtid, ch, jc.control, self.stats,
                             names)

    def end_unopened(self, edge: Any, receivers: Sequence[int]) -> None:
        if edge.feedback:  # a loop's head takes no control event from its feedback
            return
        jc = self.channels
        channel, node_of, here, inboxes = jc.layout.channel, jc.node_of, jc.here, jc.inboxes
        for receiver in receivers:
            _cid, rtid, ch = channel(edge, self.sender, receiver)
            if node_of[rtid] == here:
                inboxes[rtid].end_unopened(ch)
            else:
                self(edge, receiver).put(END_OF_INPUT)


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
        self.capacity = plan.config.channel_capacity
        self.group = max(1, self.capacity // 2)
        # per channel sent on from here: made by its sender's writer, before its first message
        self.credits: Dict[int, Any] = {}
        self._everything_here = all(node == here for node in node_of)  # thread mode
        self.inboxes: Dict[int, Inbox] = {
            tid: Inbox(functools.partial(self._give_back, tid), self._silent_inputs(tid))
            for tid, inputs in enumerate(layout.has_inputs) if inputs and node_of[tid] == here}

    def _silent_inputs(self, receiver: int) -> int:
        """How many input channels of ``receiver`` can hold back its watermark and its end
        while they carry nothing: those whose sender is in this process, feedback
        channels (closing a loop) excepted."""
        layout, node_of, here = self.layout, self.node_of, self.here
        edges = [(edge, first, count) for _start, edge, first, count in layout.edges(receiver)
                 if not edge.feedback]
        if self._everything_here:
            return sum(count for _edge, _first, count in edges)
        tid, chain_of = layout.tid, layout.plan.chain_of
        return sum(node_of[tid[(chain_of[edge.source], s)]] == here
                   for edge, first, count in edges for s in range(first, first + count))

    def _give_back(self, receiver: int, ch: int) -> Optional[Callable[[], None]]:
        layout = self.layout
        edge, _sub = layout.edge_of(receiver, ch)
        if edge.feedback:
            return _nothing
        sender, cid = layout.sender(receiver, ch), layout.first[receiver] + ch
        if self.node_of[sender] == self.here:
            credits = self.credits.get(cid)  # made by the writer before its first message;
            return None if credits is None else credits.give  # None: an end without credit
        return _CreditReturn(self.group, self.send, self.node_of[sender], self.job_no, cid)

    def writer_factory(self, tid: int, stats: Optional[TaskStats] = None) -> "Writers":
        """``make_writer(edge, receiver)`` for the task ``tid`` (see :class:`~nbstream.runtime.task.Task`)."""
        return Writers(self, tid, stats)

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
