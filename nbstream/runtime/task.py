"""A task: one parallel instance of a chain, with its inputs and outputs.

The task is the same in every execution mode; only the channels differ. An
executor gives it an inbox to read from (``get(timeout) -> (channel, message)``)
and a ``make_writer(edge, receiver)`` that returns a writer with ``put(message)``.
The task loop reads batches and control events in order, tracks the watermark
of each input channel and feeds the minimum to the chain's head.
"""

from __future__ import annotations

import contextvars
import heapq
import queue
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

from .checkpoints import (CHECKPOINT_ID, FEEDBACK_LOG, FINISHED, LOOP_CLOSED, SHARED_DIR,
                          AligningInbox, dump_state, load_state)
from .clock import TimeService
from .context import TaskInfo
from .fused import KeyedChainTarget, fuse
from .operators import ChainTarget, Operator, SourceOperator
from .pacer import Pacer
from .partitioners import make_partitioner
from .records import (END_OF_INPUT, MAX_TIMESTAMP, MIN_TIMESTAMP, Barrier, Batch, Ends, TaskCancelled,
                      Watermark, WatermarkStatus)
from .registry import build_operator
from .restore_checks import restore_operator
from .source_context import Handoff, SourceContext
from .state_backends import SHARED_FILES

__all__ = ["Task", "NetworkTarget", "InputWatermarks", "TaskCancelled", "TICK", "CANCEL", "MAIL"]


class _Signal:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_STEP_OF = {"hash": "key_by", "custom": "partition_custom", "columns": "key_by"}

_MANUAL_CLOCK_POLL_S = 0.01
_READER_GRACE_S = 0.2  # how long a failed or cancelled source task waits for its reader

TICK = _Signal("TICK")      # wake up: processing time moved (manual clock)
CANCEL = _Signal("CANCEL")  # wake up: the job is being cancelled
MAIL = _Signal("MAIL")      # wake up: the task's mailbox has a message (checkpoints)


class NetworkTarget:
    """An edge leaving the chain: a partitioner and a writer per receiving subtask, made
    when a message first goes that way (``open_writer(i)``). The end of input on the
    channels that carried nothing goes by ``end_unopened([i, ...])`` when the executor
    has it (no writer, no credit: ending a p x p edge makes no object per channel)."""

    __slots__ = ("partitioner", "writers", "ending", "_open", "_end_unopened")

    def __init__(self, partitioner: Any, receivers: int, open_writer: Callable[[int], Any],
                 end_unopened: Optional[Callable[[List[int]], None]] = None) -> None:
        self.partitioner = partitioner
        self.writers: List[Any] = [None] * receivers
        self._open, self._end_unopened = open_writer, end_unopened
        self.ending = False  # the task's input is over: its end of input follows

    def _writer(self, i: int) -> Any:
        w = self.writers[i] = self._open(i)
        return w

    def _all(self) -> List[Any]:
        return [w if w is not None else self._writer(i) for i, w in enumerate(self.writers)]

    def send(self, batch: Batch) -> None:
        self.put_parts(self.partitioner.route(batch))

    def put_parts(self, parts: Iterable[Tuple[int, Batch]]) -> None:
        """Put each (channel, batch) into its channel."""
        writers = self.writers
        for ch, part in parts:
            w = writers[ch]
            if w is None:
                w = self._writer(ch)
            w.put(part)

    def watermark(self, timestamp: int) -> None:
        if self.ending and timestamp == MAX_TIMESTAMP:
            return  # the end of input follows and means as much: one message per channel, not two
        mark = Watermark(timestamp)
        for w in self._all():
            w.put(mark)

    def status(self, idle: bool) -> None:
        status = WatermarkStatus(idle)
        for w in self._all():
            w.put(status)

    def end(self) -> None:
        unopened = [i for i, w in enumerate(self.writers) if w is None]
        for w in self.writers:
            if w is not None:
                w.put(END_OF_INPUT)
        if unopened and self._end_unopened is not None:
            self._end_unopened(unopened)
        else:
            for i in unopened:
                self._writer(i).put(END_OF_INPUT)

    def barrier(self, checkpoint_id: int, stop: bool = False) -> None:
        mark = Barrier(checkpoint_id, stop)
        for w in self._all():
            w.put(mark)


class InputWatermarks:
    """Per-channel watermarks; the task's watermark is the minimum over active (not idle)
    channels. While an active channel has had no message it holds the minimum at MIN;
    after that, the minimum is kept in a heap of ``(mark, channel)`` whose outdated
    entries are dropped when they reach the top (and the heap rebuilt once they outnumber
    the channels). A message costs O(log p): a round of watermarks or ends of input over p
    channels costs O(p log p), not O(p^2) (Flink's valve keeps its channels so too)."""

    def __init__(self, channels: int, idle: Optional[Sequence[bool]] = None) -> None:
        self.marks = [MIN_TIMESTAMP] * channels
        self.idle = list(idle) if idle is not None else [False] * channels
        self.current = MIN_TIMESTAMP
        self._active = self.idle.count(False)
        self._untouched = self._active  # active channels that had no message yet
        self._touched = bytearray(channels)
        self._heap: List[Tuple[int, int]] = []

    def _rebuild(self) -> None:
        self._heap = [(m, ch) for ch, (m, idle, touched)
                      in enumerate(zip(self.marks, self.idle, self._touched)) if touched and not idle]
        heapq.heapify(self._heap)

    def _set(self, channel: int, mark: int, idle: bool) -> None:
        was_idle = self.idle[channel]
        if not self._touched[channel]:
            self._touched[channel] = 1
            if not was_idle:
                self._untouched -= 1
        if was_idle != idle:
            self._active += 1 if was_idle else -1
        self.marks[channel], self.idle[channel] = mark, idle
        if not idle:
            heapq.heappush(self._heap, (mark, channel))

    def _advanced(self) -> Optional[int]:
        """The new combined watermark if it advanced (drops outdated entries on top)."""
        if self._untouched:
            return None  # a channel still at MIN holds it
        heap, marks, idles = self._heap, self.marks, self.idle
        if len(heap) > 2 * len(marks) + 8:
            self._rebuild()
            heap = self._heap
        while heap:
            low, ch = heap[0]
            if marks[ch] == low and not idles[ch]:
                break
            heapq.heappop(heap)
        else:  # no entry: every active channel ended together (end_all), or none is active
            low = MAX_TIMESTAMP if self._active else MIN_TIMESTAMP
        if low > self.current:
            self.current = low
            return low
        return None

    def update(self, channel: int, timestamp: int) -> Optional[int]:
        """Record a watermark; return the new combined watermark if it advanced."""
        self._set(channel, max(timestamp, self.marks[channel]), False)
        return self._advanced()

    def set_idle(self, channel: int, idle: bool) -> Optional[int]:
        self._set(channel, self.marks[channel], idle)
        return self._advanced()

    def end(self, channel: int) -> Optional[int]:
        self._set(channel, MAX_TIMESTAMP, False)
        return self._advanced()

    def end_all(self, channels: Sequence[int]) -> Optional[int]:
        """Several channels ended at once (not put in the heap: an active channel that is
        in no valid heap entry has ended, see :meth:`_advanced`)."""
        marks, idle, touched = self.marks, self.idle, self._touched
        for ch in channels:
            if idle[ch]:
                idle[ch] = False
                self._active += 1
            elif not touched[ch]:
                self._untouched -= 1
            touched[ch] = 1
            marks[ch] = MAX_TIMESTAMP
        return self._advanced()

    def all_idle(self) -> bool:
        return self._active == 0 and bool(self.idle)


class Task:
    """One parallel instance of a chain."""

    def __init__(self, plan: Any, chain_id: int, subtask: int, control: Any,
                 inbox: Any, make_writer: Callable[[Any, int], Any],
                 clock: Any, extras: Optional[Dict[str, Any]] = None) -> None:
        self.plan = plan
        self.chain = plan.chain(chain_id)
        self.subtask = subtask
        self.control = control
        self.inbox = inbox
        self.time_service = TimeService(clock)
        names = [plan.nodes[n].name for n in self.chain.nodes]
        self.name = " -> ".join(names)
        self.ops: Dict[int, Operator] = {nid: build_operator(_instance_of(plan.nodes[nid], subtask))
                                         for nid in self.chain.nodes}
        self.head = self.ops[self.chain.head]
        # the input edges and how many channels each brings (plan.input_channels's order)
        self.input_edges = [(e, n) for e in plan.network_in_edges(chain_id)
                            for n in (len(plan.senders(e, subtask)),) if n]
        edges = [e for e, _n in self.input_edges]
        # keyed: hash-partitioned inputs (a broadcast second input may join them)
        kinds = [(e.partitioning.kind, e.input_index) for e in edges]
        self.keyed = any(k == "hash" for k, _ in kinds) and all(
            k == "hash" or (k == "broadcast" and i == 1) for k, i in kinds)
        # a key_by chained at parallelism 1: its step is keyed inside the chain
        chained_keys = [e for nid in self.chain.nodes for e in plan.in_edges(nid)
                        if e.partitioning.kind == "hash" and plan.is_chained(e)]
        key_types = [e.partitioning.key_type for e in edges + chained_keys
                     if e.partitioning.kind == "hash"]
        extras = {**(extras or {}), "key_type": key_types[0] if key_types else None}
        info = TaskInfo(self.name, subtask, self.chain.parallelism, self.chain.max_parallelism,
                        plan.config, self.time_service, plan.job_name, extras,
                        self.wait_for_notifications)
        keyed_inside = {e.target for e in chained_keys}
        for nid, op in self.ops.items():
            op.setup(info, keyed=self.keyed and nid == self.chain.head or nid in keyed_inside)
        self.network: List[NetworkTarget] = []
        self._wire(make_writer)
        self.fused = fuse(plan, self.chain, self.ops)  # runs of steps as one loop
        self.is_source = isinstance(self.head, SourceOperator)
        self.mailbox: Deque[Tuple[str, Any]] = deque()
        mailboxes = getattr(control, "mailboxes", None)
        if mailboxes is not None:  # the job's client posts questions here
            mailboxes[(chain_id, subtask)] = self
        self.wake: Optional[Callable[[], None]] = None  # the executor's: wake a waiting task
        self._mail = threading.Event()
        self._over = False
        self._alignment_s = 0.0
        self._last_checkpoint = 0  # the newest checkpoint this task snapshotted or restored
        self._holding: Optional[int] = None  # holding still for the savepoint of a stop
        self._resumed: set = set()  # stop savepoints that failed
        # a loop head between its snapshot and the barrier's return on every feedback
        # channel: (checkpoint id, states, logged batches, feedback channels still open)
        self._loop_log: Optional[Tuple[int, Dict[str, Any], List[Any], set]] = None
        self.coordinator = getattr(control, "checkpoints", None)
        # where incremental state files go (operators read it from their task info)
        extras["shared_state_dir"] = getattr(self.coordinator, "shared_dir", None)
        self._restore: Optional[Dict[Any, Any]] = None
        if self.coordinator is not None:
            try:
                self._join_checkpoints()
            except BaseException:
                self._release()  # the task never runs: nothing else would
                raise

    def _join_checkpoints(self) -> None:
        key = (self.chain.id, self.subtask)
        self.coordinator.attach(key, self)
        self._restore = self.coordinator.restored_state(*key)

    # checkpoints ----------------------------------------------------------------------------------
    def post(self, message: Tuple[str, Any]) -> None:
        """From the coordinator: ``("barrier", id)`` and ``("stop-barrier", id)`` (sources;
        the second for the savepoint of a stop), ``("complete", id)``, ``("abort", id)`` (it
        will not complete), ``("final", None)`` (every task is over), ``("stop", None)`` (stop
        with a savepoint: it completed), ``("resume", id)`` (it failed: go on); from the job's
        client:
        ``("query", (id, step, key, method))``."""
        self.mailbox.append(message)
        self._mail.set()
        if self.wake is not None:
            self.wake()

    def _handle_mail(self) -> None:
        while self.mailbox:
            kind, arg = self.mailbox.popleft()
            if kind == "barrier":
                self._checkpoint(arg)
            elif kind == "stop-barrier":
                self._checkpoint(arg, stop=True)
            else:
                self._notified(kind, arg)

    def _notified(self, kind: str, arg: Any) -> None:
        if kind == "complete":
            for op in self.ops.values():
                op.notify_checkpoint_complete(arg)
        elif kind == "abort":
            for op in self.ops.values():
                op.notify_checkpoint_aborted(arg)
        elif kind == "resume":
            self._resumed.add(arg)
        elif kind == "final":
            for op in self.ops.values():
                op.notify_checkpoint_complete(None)
            self._over = True
        elif kind == "stop":  # stop with a savepoint: its completion came before this
            raise TaskCancelled()
        elif kind == "query":
            self._answer(*arg)

    def wait_for_notifications(self, timeout: float) -> None:
        """For an operator that holds the task back on its own thread (a sink holding
        results until a checkpoint completes): wait up to ``timeout`` for mail and take in
        what only notifies (complete, abort, resume, final, stop, questions). Barriers stay
        for the task loop: a snapshot in the middle of a batch would split it. A cancel
        raises :class:`TaskCancelled`."""
        if self.control.cancelled:
            raise TaskCancelled()
        self._mail.wait(timeout)
        self._mail.clear()
        kept = []
        while self.mailbox:
            message = self.mailbox.popleft()
            if message[0] in ("barrier", "stop-barrier"):
                kept.append(message)
            else:
                self._notified(*message)
        self.mailbox.extendleft(reversed(kept))  # before what came meanwhile
        if self.control.cancelled:
            raise TaskCancelled()

    def _answer(self, query_id: int, node_id: int, key: Any, method: str) -> None:
        """A question from the job's client (``JobClient.query_key``): call ``method(key,
        now_ms)`` of step ``node_id``'s function with ``key`` as the current key, between
        two batches (so on the task's own thread, as its state wants); send the answer back."""
        op = self.ops.get(node_id)
        try:
            if op is None or op.state is None:
                raise LookupError(f"this task ({self.display_name}) has no keyed step {node_id}")
            state, before = op.state, op.state.current_key
            state.current_key = key
            try:
                value, ok = getattr(op.fn.owner, method)(key, self.time_service.now_ms()), True
            finally:
                state.current_key = before
        except Exception as exc:  # noqa: BLE001 - the asker gets it, the task goes on
            value, ok = f"{type(exc).__name__}: {exc}", False
        self.control.answer(query_id, ok, value)

    def _snapshot(self, checkpoint_id: Optional[int], finished: bool) -> Dict[str, Any]:
        """The chain's states. The last one (``checkpoint_id`` None, the input is over)
        belongs to the first checkpoint this task has not acknowledged: what sinks seal
        then is committed with that checkpoint, not with one taken before it."""
        uids = self.coordinator.uids
        if checkpoint_id is None:
            checkpoint_id = self._last_checkpoint + 1
        else:
            self._last_checkpoint = checkpoint_id
        states = {}
        for nid, op in self.ops.items():
            snap = op.snapshot_state(checkpoint_id)
            states[uids[nid]] = {"finished": finished, "state": dump_state(snap, op.name)}
            if snap.get(SHARED_FILES):  # the storage keeps them while a checkpoint needs them
                states[uids[nid]]["shared"] = snap[SHARED_FILES]
        return states

    def _checkpoint(self, checkpoint_id: int, stop: bool = False) -> None:
        """The barrier has come in on every input (or, at a source, was asked for): take
        the chain's state, send the barrier on, acknowledge. For the savepoint of a stop,
        then hold still (see :meth:`_hold`)."""
        handoff = getattr(self, "_handoff", None)
        if handoff is not None and self.head.checkpointed_function() is not None:
            states = self._snapshot_under_lock(handoff, checkpoint_id)
        else:
            states = self._snapshot(checkpoint_id, False)
        for target in self.network:
            target.barrier(checkpoint_id, stop)
        loop = {ch for ch, feedback in enumerate(self._per_channel("feedback")) if feedback}
        if loop:  # a loop's head: log the feedback until the barrier is back on every channel
            self._loop_log = (checkpoint_id, states, [], loop)
            if stop:  # and process none of it: it is the savepoint's (see _loop_closed)
                self._holding = checkpoint_id
            return
        self.coordinator.acknowledge((self.chain.id, self.subtask), checkpoint_id, states,
                                     self._alignment_s)
        if stop:
            self._hold(checkpoint_id)

    def _hold(self, checkpoint_id: int) -> None:
        """The savepoint of a stop has this task's snapshot: as Flink's synchronous
        savepoint, take no input, fire no timer, emit nothing (no final watermark either)
        until it completed -- the sinks commit on ``("complete", id)`` and ``("stop",
        None)`` ends the task -- or failed (``("resume", id)``: go on)."""
        self._holding = checkpoint_id
        while checkpoint_id not in self._resumed:
            self._mail.wait(0.05)
            self._mail.clear()
            if self.mailbox:
                self._handle_mail()
            if self.control.cancelled:
                raise TaskCancelled()
        self._holding = None

    def _loop_closed(self, channel: int, checkpoint_id: int) -> None:
        """The barrier came back on a feedback channel; once on all of them, what came
        back before it is part of the checkpoint."""
        log = self._loop_log
        if log is None or log[0] != checkpoint_id:
            return
        log[3].discard(channel)
        if log[3]:
            return
        self._loop_log = None
        states = dict(log[1])
        states[FEEDBACK_LOG] = {"finished": False, "state": dump_state(log[2], "feedback")}
        self.coordinator.acknowledge((self.chain.id, self.subtask), checkpoint_id, states,
                                     self._alignment_s)
        if self._holding == checkpoint_id:
            self._hold(checkpoint_id)
            index = self._per_channel("input_index")[channel]
            for batch in log[2]:  # the savepoint failed: what came back meanwhile goes round
                self.head.process_batch(batch, index)

    def _snapshot_under_lock(self, handoff: Handoff, checkpoint_id: int) -> Dict[str, Any]:
        """A SourceFunction with state of its own: hold its checkpoint lock (it emits and
        updates its state under it), so its state and the records handed over agree.
        While waiting for the lock, keep taking records: the reader may hold the lock
        while it waits for room."""
        lock = handoff.checkpoint_lock
        acquired = False
        try:  # feeding may fail (the chain's user code): the reader must not wait on
            while not acquired:
                acquired = lock.acquire_for_checkpoint(timeout=0.01)
                if not acquired:
                    self._feed(handoff.drain())
            self._feed(handoff.drain())
            return self._snapshot(checkpoint_id, False)
        finally:
            lock.release_after_checkpoint(acquired)

    def _restore_ops(self) -> bool:
        """Give the operators their checkpointed state; True if the task had finished."""
        restore = self._restore
        if not restore:
            return False
        self._last_checkpoint = restore.get(CHECKPOINT_ID, 0)
        for nid, op in self.ops.items():
            entry = restore.get(nid)
            if entry is not None:
                restore_operator(op, *entry, self.coordinator.uids[nid], restore.get(SHARED_DIR))
        return FINISHED in restore

    def _finished(self) -> None:
        """The input is over: the last state goes to the coordinator; the task stays until
        every task is over, to commit what its sinks held back."""
        coordinator = self.coordinator
        coordinator.finished((self.chain.id, self.subtask), self._snapshot(None, True))
        while not self._over:
            self._mail.wait(0.05)
            self._mail.clear()
            if self.mailbox:
                self._handle_mail()
            if self.control.cancelled:
                raise TaskCancelled()

    def _per_channel(self, attribute: str) -> List[Any]:
        """An attribute of each input channel's edge, by channel."""
        out: List[Any] = []
        for edge, n in self.input_edges:
            out.extend([getattr(edge, attribute)] * n)
        return out

    @property
    def display_name(self) -> str:
        return f"{self.name} ({self.subtask + 1}/{self.chain.parallelism})"

    def _wire(self, make_writer: Callable[[Any, int], Any]) -> None:
        plan = self.plan
        for nid, op in self.ops.items():
            for edge in plan.out_edges(nid):
                if plan.is_chained(edge) and edge.partitioning.kind == "hash":
                    target: Any = KeyedChainTarget(self.ops[edge.target], make_partitioner(
                        edge.partitioning, 1, 0, plan.max_parallelism[edge.target],
                        f"key_by into '{plan.nodes[edge.target].name}'"))
                elif plan.is_chained(edge):
                    target = ChainTarget(self.ops[edge.target])
                else:
                    receivers = plan.receivers(edge, self.subtask)
                    partitioner = make_partitioner(
                        edge.partitioning, len(receivers), self.subtask,
                        plan.max_parallelism[edge.target],
                        f"{_STEP_OF.get(edge.partitioning.kind, edge.partitioning.kind)} into "
                        f"'{plan.nodes[edge.target].name}'")
                    ends = getattr(make_writer, "end_unopened", None)
                    args = (partitioner, len(receivers),
                            lambda i, e=edge, rs=receivers: make_writer(e, rs[i]),
                            None if ends is None else
                            lambda idx, e=edge, rs=receivers: ends(e, [rs[i] for i in idx]))
                    if plan.combines(edge):  # partial values per key, not every record
                        from .combine import combining_target
                        target = combining_target(*args, plan.nodes[edge.target],
                                                  plan.config.combine_max_keys,
                                                  plan.config.batch_size)
                    else:
                        target = NetworkTarget(*args)
                    self.network.append(target)
                if edge.tag is None:
                    op.output.main.append(target)
                else:
                    op.output.sides.setdefault(edge.tag.tag_id, []).append(target)

    # running ------------------------------------------------------------------------------------
    def run(self) -> None:
        """Open, process until the input ends (or the job stops), finish, close."""
        opened: List[Operator] = []
        try:
            for op in reversed(list(self.ops.values())):  # downstream first, as Flink
                op.open()
                opened.append(op)
            finished = self._restore_ops()
            for op in self.ops.values():
                op.initialize_function_state()
            if finished:
                self._ending()
            else:
                if self.is_source:
                    self._run_source()
                else:
                    self._run_inputs()
                for op in self.ops.values():
                    op.end_input()
            for target in self.network:
                target.end()
            if self.coordinator is not None:
                self._finished()
        finally:
            self._close(opened)

    def _close(self, opened: List[Operator]) -> None:
        error: Optional[BaseException] = None
        for op in reversed(opened):
            try:
                op.close()
            except BaseException as exc:  # keep closing the others
                error = error or exc
        self._release()
        if error is not None and not self.control.cancelled:
            raise error

    def _release(self) -> None:
        for op in self.ops.values():  # opened or not
            try:
                op.release()
            except Exception:  # noqa: BLE001 - a resource that will not go must not hide the job's end
                pass

    def cancel(self) -> None:
        """Sources stop reading; operators waiting on calls (async I/O) stop waiting."""
        for op in self.ops.values():
            cancel = getattr(op, "cancel", None)
            if cancel is not None:
                cancel()

    def _run_source(self) -> None:
        head = self.head
        assert isinstance(head, SourceOperator)
        if getattr(head.reader, "threaded", False):
            self._run_threaded_source(head)
        else:
            ctx = SourceContext(head, self.control,
                                self._between_batches if self.coordinator is not None else None)
            head.run(ctx)
            ctx.flush()
        self._ending()
        head.output.emit_watermark(MAX_TIMESTAMP)

    def _between_batches(self) -> None:
        if self.mailbox:
            self._handle_mail()

    def _ending(self) -> None:
        """The input is over: the final watermark need not cross the network (the end of
        input that follows it implies it)."""
        for target in self.network:
            target.ending = True

    def _run_threaded_source(self, head: SourceOperator) -> None:
        """Run the reader on its own thread; move its batches into the chain from here."""
        cfg = head.task.config
        handoff = Handoff(cfg.batch_size, cfg.buffer_timeout_ms / 1000.0, self.control)
        failure: List[BaseException] = []

        def read() -> None:
            try:
                head.run(handoff)
            except TaskCancelled:
                pass
            except BaseException as exc:  # noqa: BLE001 - handed to the task thread
                failure.append(exc)
            finally:
                handoff.finish()

        # the reader runs user code (a generator...): give it this task's context variables
        reader = threading.Thread(target=contextvars.copy_context().run, args=(read,), daemon=True,
                                  name=f"nbstream[{self.plan.job_name}] {self.display_name} reader")
        reader.start()
        time_service = self.time_service
        self._pacer = Pacer(cfg.buffer_timeout_ms / 1000.0, self.control)
        self._handoff = handoff
        mailbox = self.mailbox
        checkpoints = self.coordinator is not None
        try:
            finished = False
            while not finished:
                wait = time_service.wait_seconds()
                if wait is None and time_service._heap:
                    wait = _MANUAL_CLOCK_POLL_S  # a manual clock cannot wake the hand-off
                if checkpoints:  # barriers are asked for in the mailbox: look often
                    wait = _MANUAL_CLOCK_POLL_S if wait is None else min(wait, _MANUAL_CLOCK_POLL_S)
                items, finished = handoff.take(wait)
                self._feed(items)
                if self.control.cancelled:
                    raise TaskCancelled()
                if time_service._heap:
                    time_service.fire_due()
                if mailbox:
                    self._handle_mail()
        except BaseException:
            # the chain failed or the job is cancelled: the reader must learn that nobody
            # takes its batches any more. It stops at its next emit; user code blocked
            # elsewhere (a socket, a sleep) gets a short grace and is left as a daemon.
            handoff.close()
            reader.join(_READER_GRACE_S)
            raise
        reader.join()  # finished: the reader is past its user code
        if failure:
            raise failure[0]

    def _feed(self, items: List[Any]) -> None:
        """Move what a threaded source's reader handed over into the chain."""
        head = self.head
        output = head.output
        for kind, a, b in items:
            if kind == "batch":
                if head.skip:
                    a, b, _ = head.admit(a, b)
                head.records_in += len(a)
                self._pacer.feed(output.emit, Batch(a, b))
            elif kind == "watermark":
                output.emit_watermark(a)
            else:
                output.emit_status(True)

    def _run_inputs(self) -> None:
        head, control, time_service = self.head, self.control, self.time_service
        inputs = self._per_channel("input_index")
        feedback = self._per_channel("feedback")
        marks = InputWatermarks(len(inputs), feedback)  # a loop's feedback never holds it back
        strip_keys = not self.keyed
        feed = Pacer(self.plan.config.buffer_timeout_ms / 1000.0, control).feed
        process = head.process_batch
        get = self.inbox.get
        mailbox = self.mailbox
        if self.coordinator is not None:
            aligner = AligningInbox(self.inbox, len(inputs), feedback,
                                    self.plan.config.checkpoints is None
                                    or self.plan.config.checkpoints.exactly_once)
            get = aligner.get
            marks.current = head.current_watermark  # restored: never go back
            self._replay_feedback(inputs, feedback)
        open_channels = feedback.count(False)
        while open_channels:
            # (a loop's head holding still for a stop's savepoint fires no timer)
            wait = time_service.wait_seconds() if self._holding is None else None
            try:
                ch, msg = get() if wait is None else get(timeout=wait)
            except queue.Empty:
                time_service.fire_due()
                continue
            kind = type(msg)
            if kind is Batch:
                if strip_keys and msg.keys is not None:
                    msg = Batch(msg.values, msg.timestamps)
                head.records_in += len(msg.values)
                if self._loop_log is not None and ch in self._loop_log[3]:
                    self._loop_log[2].append(msg)
                if self._holding is None:
                    feed(process, msg, inputs[ch])
            elif ch >= 0 and feedback[ch]:
                pass  # control events of a feedback edge do not count
            elif kind is Watermark:
                new = marks.update(ch, msg.timestamp)
                if new is not None:
                    head.process_watermark(new)
            elif msg is END_OF_INPUT:  # the channel's watermark is MAX from here on
                open_channels -= 1
                new = marks.end(ch)
                if not open_channels:
                    self._ending()
                if new is not None:
                    head.process_watermark(new)
            elif kind is Ends:  # channels that carried nothing, ended together (no feedback)
                open_channels -= len(msg.channels)
                new = marks.end_all(msg.channels)
                if not open_channels:
                    self._ending()
                if new is not None:
                    head.process_watermark(new)
            elif kind is WatermarkStatus:
                new = marks.set_idle(ch, msg.idle)
                if new is not None:
                    head.process_watermark(new)
                head.process_status(marks.all_idle())
            elif kind is Barrier:
                self._alignment_s = aligner.alignment_s
                self._checkpoint(msg.checkpoint_id, msg.stop)
            elif ch == LOOP_CLOSED:
                self._loop_closed(*msg)
            if control.cancelled:
                raise TaskCancelled()
            if time_service._heap and self._holding is None:
                time_service.fire_due()
            if mailbox:
                self._handle_mail()
        if any(feedback):
            self._drain_feedback(inputs)

    def _replay_feedback(self, inputs: List[int], feedback: List[bool]) -> None:
        """After a restore: the records that were going around the loop come first."""
        if not self._restore or FEEDBACK_LOG not in self._restore or True not in feedback:
            return
        index = inputs[feedback.index(True)]
        for blob in self._restore[FEEDBACK_LOG]:
            for batch in load_state(blob):
                self.head.records_in += len(batch.values)
                self.head.process_batch(Batch(batch.values, batch.timestamps), index)

    def _drain_feedback(self, inputs: List[int]) -> None:
        """The loop's input has ended: keep feeding records back until none arrives
        for the head's wait time (None: until the job is cancelled)."""
        head, control, time_service = self.head, self.control, self.time_service
        wait_s = getattr(head, "feedback_wait_s", None)
        get = self.inbox.get
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while True:
            timeouts = [t for t in (time_service.wait_seconds(),
                                    None if deadline is None else deadline - time.monotonic())
                        if t is not None]
            try:
                ch, msg = get(timeout=max(0.0, min(timeouts))) if timeouts else get()
            except queue.Empty:
                msg = None
            if type(msg) is Batch:
                head.records_in += len(msg.values)
                head.process_batch(Batch(msg.values, msg.timestamps), inputs[ch])
                if wait_s is not None:
                    deadline = time.monotonic() + wait_s
            if control.cancelled:
                raise TaskCancelled()
            if time_service._heap:
                time_service.fire_due()
            if self.mailbox:
                self._handle_mail()
            if deadline is not None and time.monotonic() >= deadline:
                return

    # metrics --------------------------------------------------------------------------------------
    def metrics(self) -> List[Dict[str, Any]]:
        return [{"id": nid, "name": op.name, "records_in": op.records_in,
                 "records_out": op.records_out, "watermark": op.current_watermark,
                 **op.extra_metrics(), **_user_metrics(op)}
                for nid, op in self.ops.items()]


def _user_metrics(op: Any) -> Dict[str, Any]:
    values = op.user_metrics()
    return {"user_metrics": values} if values else {}


def _instance_of(node: Any, subtask: int) -> Any:
    """The step as parallel instance ``subtask`` runs it. Operators copy their Function
    objects themselves; a sink spec says what instances after the first copy
    (``for_instance``: the first keeps the user's SinkFunction, whose attributes the
    notebook may read afterwards)."""
    sink = node.params.get("sink")
    if subtask == 0 or sink is None or not hasattr(sink, "for_instance"):
        return node
    return node.replace(params={**node.params, "sink": sink.for_instance(subtask)})
