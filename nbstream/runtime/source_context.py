"""How sources emit: straight into their chain, or through a hand-off from their own thread.

Bulk sources (collections, sequences, files, DataFrames) cut their data into batches
and emit them from the task thread (:class:`SourceContext`). Sources that pull from
user code which may block — a generator, a ``SourceFunction.run`` loop — run on a
reader thread of their own and hand records over in batches (:class:`Handoff`): the
task thread sends a batch on when it is full or ``buffer_timeout_ms`` after its first
record, whatever the user code is doing, so nothing is held back by a source that
pauses. This is Flink's output flusher, applied before the chain.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List, Optional, Tuple

from .pacer import Pacer
from .records import Batch, TaskCancelled

__all__ = ["TaskCancelled", "SourceContext", "Handoff"]


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


class SourceContext:
    """Emits from the task thread: records (one by one or in bulk), timestamps, watermarks.

    Buffers single records and flushes a batch when it is full or ``buffer_timeout_ms``
    has passed since the last flush.
    """

    def __init__(self, op: Any, control: Any,
                 between_batches: Optional[Callable[[], None]] = None) -> None:
        cfg = op.task.config
        self._between = between_batches
        self._op = op
        self._output = op.output
        self._control = control
        self._time = op.task.time_service
        self._size = cfg.batch_size
        self._timeout = cfg.buffer_timeout_ms / 1000.0
        self._values: List[Any] = []
        self._timestamps: Optional[List[Any]] = None
        self._last_flush = time.monotonic()
        self._pacer = Pacer(self._timeout, control)

    @property
    def cancelled(self) -> bool:
        return self._control.cancelled

    @property
    def batch_size(self) -> int:
        return self._size

    def collect(self, value: Any) -> None:
        """Emit one record."""
        self._values.append(value)
        if self._timestamps is not None:
            self._timestamps.append(None)
        if len(self._values) >= self._size or time.monotonic() - self._last_flush >= self._timeout:
            self.flush()

    def collect_with_timestamp(self, value: Any, timestamp: int) -> None:
        """Emit one record with an event-time timestamp (epoch milliseconds)."""
        if self._timestamps is None:
            self._timestamps = [None] * len(self._values)
        self._values.append(value)
        self._timestamps.append(int(timestamp))
        if len(self._values) >= self._size or time.monotonic() - self._last_flush >= self._timeout:
            self.flush()

    def emit_batch(self, values: List[Any], timestamps: Optional[List[Any]] = None) -> None:
        """Emit many records at once (bulk sources). Checkpoints are taken after the
        batch, not before it: a reader that moved its position past the batch before
        emitting it (Kafka offsets, file offsets) is snapshotted with the batch sent."""
        if self._control.cancelled:
            raise TaskCancelled()
        self._push()  # records collected one by one go first, with no checkpoint between
        op = self._op
        if op.skip:
            values, timestamps, _ = op.admit(values, timestamps)
        op.records_in += len(values)
        self._pacer.feed(self._output.emit, Batch(values, timestamps))
        self._after_flush()

    def emit_watermark(self, watermark: Any) -> None:
        """Emit a watermark (an object with ``timestamp``, or an int)."""
        self.flush()
        self._output.emit_watermark(_ts_of(watermark))

    def mark_as_temporarily_idle(self) -> None:
        self.flush()
        self._output.emit_status(True)

    def flush(self) -> None:
        if self._control.cancelled:
            raise TaskCancelled()
        self._push()
        self._after_flush()

    def _push(self) -> None:
        if self._values:
            values, self._values = self._values, []
            timestamps, self._timestamps = self._timestamps, None
            op = self._op
            if op.skip:
                values, timestamps, _ = op.admit(values, timestamps)
            op.records_in += len(values)
            self._pacer.feed(self._output.emit, Batch(values, timestamps))

    def _after_flush(self) -> None:
        self._last_flush = time.monotonic()
        if self._time._heap:
            self._time.fire_due()
        if self._between is not None:
            self._between()

    def get_checkpoint_lock(self) -> Any:  # old Flink API: nothing to lock here
        return _NoLock()


class _CheckpointLock:
    """The lock a SourceFunction emits under (``ctx.get_checkpoint_lock()``). A waiting
    checkpoint goes first: the reader's next ``with`` waits until it is taken, so a
    reader that takes the lock in a tight loop cannot starve it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._turn = threading.Condition()
        self._checkpoint_waiting = False

    def __enter__(self) -> None:
        with self._turn:
            while self._checkpoint_waiting:
                self._turn.wait(0.05)
        self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def acquire_for_checkpoint(self, timeout: float) -> bool:
        with self._turn:
            self._checkpoint_waiting = True
        return self._lock.acquire(timeout=timeout)

    def release_after_checkpoint(self, acquired: bool = True) -> None:
        if acquired:
            self._lock.release()
        with self._turn:
            self._checkpoint_waiting = False
            self._turn.notify_all()


def _ts_of(watermark: Any) -> int:
    return watermark.timestamp if hasattr(watermark, "timestamp") else int(watermark)


Item = Tuple[str, Any, Any]


class Handoff:
    """A source's context when its user code runs on a reader thread of its own.

    The reader side (``collect``...) fills a batch under a lock and waits while a full
    batch is not yet taken (backpressure); the task side (:meth:`take`) returns sealed
    items: ``("batch", values, timestamps)``, ``("watermark", ts, None)``, ``("idle", ...)``.
    """

    def __init__(self, batch_size: int, timeout_s: float, control: Any) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._size = batch_size
        self._timeout = timeout_s
        self._control = control
        self._values: List[Any] = []
        self._timestamps: Optional[List[Any]] = None
        self._first_at = 0.0
        self._sealed: List[Item] = []
        self.finished = False
        self._closed = False  # the task side is gone: the reader must stop at its next emit
        self.checkpoint_lock = _CheckpointLock()

    # -- reader side: the SourceContext protocol --------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self._control.cancelled

    @property
    def batch_size(self) -> int:
        return self._size

    def _wait_room(self) -> None:
        while len(self._values) >= self._size or len(self._sealed) > 2:
            if self._closed or self._control.cancelled:
                raise TaskCancelled()
            self._cond.wait(0.05)
        if self._closed or self._control.cancelled:
            raise TaskCancelled()

    def _added(self) -> None:
        n = len(self._values)
        if n == 1:
            self._first_at = time.monotonic()
            self._cond.notify()
        elif n >= self._size:
            self._cond.notify()

    def collect(self, value: Any) -> None:
        with self._cond:
            self._wait_room()
            self._values.append(value)
            if self._timestamps is not None:
                self._timestamps.append(None)
            self._added()

    def collect_with_timestamp(self, value: Any, timestamp: int) -> None:
        with self._cond:
            self._wait_room()
            if self._timestamps is None:
                self._timestamps = [None] * len(self._values)
            self._values.append(value)
            self._timestamps.append(int(timestamp))
            self._added()

    def emit_batch(self, values: List[Any], timestamps: Optional[List[Any]] = None) -> None:
        with self._cond:
            self._wait_room()
            self._seal()
            self._sealed.append(("batch", list(values), timestamps))
            self._cond.notify()

    def emit_watermark(self, watermark: Any) -> None:
        self._control_item(("watermark", _ts_of(watermark), None))

    def mark_as_temporarily_idle(self) -> None:
        self._control_item(("idle", True, None))

    def flush(self) -> None:
        with self._cond:
            if self._closed or self._control.cancelled:  # a reader that only flushes stops too
                raise TaskCancelled()
            self._seal()
            self._cond.notify()

    def get_checkpoint_lock(self) -> Any:
        """Held by the task while it takes a checkpoint of a CheckpointedFunction source."""
        return self.checkpoint_lock

    def _control_item(self, item: Item) -> None:
        with self._cond:
            self._wait_room()
            self._seal()
            self._sealed.append(item)
            self._cond.notify()

    def _seal(self) -> None:
        if self._values:
            self._sealed.append(("batch", self._values, self._timestamps))
            self._values, self._timestamps = [], None

    def finish(self) -> None:
        with self._cond:
            self._seal()
            self.finished = True
            self._cond.notify_all()

    # -- task side ------------------------------------------------------------------------------
    def close(self) -> None:
        """The task stops taking (it failed or was cancelled): wake the reader, whose next
        emit raises :class:`TaskCancelled` instead of waiting for room that never comes."""
        with self._cond:
            self._closed = True
            self._values, self._timestamps, self._sealed = [], None, []
            self._cond.notify_all()

    def drain(self) -> List[Item]:
        """Everything handed over so far, at once (for a checkpoint)."""
        with self._cond:
            self._seal()
            items, self._sealed = self._sealed, []
            self._cond.notify_all()
            return items

    def take(self, max_wait_s: Optional[float]) -> Tuple[List[Item], bool]:
        """Wait for a full batch, a batch whose first record is ``timeout`` old, a control
        item or the end; give up after ``max_wait_s`` (for due timers). Returns the items
        (maybe none) and whether the reader has finished and everything was taken."""
        cond = self._cond
        with cond:
            deadline = None if max_wait_s is None else time.monotonic() + max_wait_s
            while True:
                if self._sealed or self.finished or len(self._values) >= self._size:
                    break
                now = time.monotonic()
                if self._values and now - self._first_at >= self._timeout:
                    break
                if self._control.cancelled or (deadline is not None and now >= deadline):
                    break
                waits = [0.05]
                if self._values:
                    waits.append(self._first_at + self._timeout - now)
                if deadline is not None:
                    waits.append(deadline - now)
                cond.wait(max(0.0, min(waits)))
            self._seal()
            items, self._sealed = self._sealed, []
            cond.notify_all()
            return items, self.finished
