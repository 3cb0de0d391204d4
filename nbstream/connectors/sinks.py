"""Sinks. A sink spec is plain data in the plan; ``prepare(job, parallelism)`` runs in
the driver before the job starts (and may refuse it), ``create_writer()`` makes the
writer of one parallel instance: ``open(op)``, ``write(batch)``, ``finish()``, ``close()``.

Specs marked ``driver_only`` hold objects of the driver (result buffers), so their
writers must run in the driver process whatever the execution mode.
"""

from __future__ import annotations

import collections
import copy
import os
import shutil
import socket
import sys
import threading
import uuid
from enum import Enum
from typing import Any, Callable, Deque, Dict, List, Optional

from ..errors import USER_ERRORS, PlanError, describe_function
from ..runtime.collect import ResultChannel

__all__ = ["WriteMode", "PrintSink", "TextFileSink", "SocketSink", "FunctionSink",
           "CollectSink", "DataFrameSink"]


class WriteMode(Enum):
    """What ``write_as_text`` does when the path exists (Flink's names)."""

    NO_OVERWRITE = 0
    OVERWRITE = 1


class SinkSpec:
    driver_only = False

    def prepare(self, job: Any, parallelism: int) -> None:
        """Checks and set-up in the driver before the job starts."""

    def create_writer(self) -> Any:
        raise NotImplementedError


class _Writer:
    def open(self, op: Any) -> None:
        self.op = op

    def finish(self) -> None:
        pass

    def close(self) -> None:
        pass


# -- text lines -------------------------------------------------------------------------------

class PrintSink(SinkSpec):
    """Writes each (already formatted) record as a line to the job's standard output.

    As Flink: with parallelism > 1 each line starts with the subtask number,
    ``"3> "``; with an identifier, ``"id:3> "`` (or ``"id> "``).
    """

    def __init__(self, identifier: Optional[str] = None, to_stderr: bool = False) -> None:
        self.identifier = identifier
        self.to_stderr = to_stderr

    def create_writer(self) -> _Writer:
        spec = self

        class Writer(_Writer):
            def open(self, op: Any) -> None:
                super().open(op)
                task = op.task
                self.stream = sys.stderr if spec.to_stderr else task.extras.get("stdout", sys.stdout)
                sub = f"{task.subtask + 1}" if task.parallelism > 1 else ""
                if spec.identifier:
                    self.prefix = f"{spec.identifier}:{sub}> " if sub else f"{spec.identifier}> "
                else:
                    self.prefix = f"{sub}> " if sub else ""

            def write(self, batch: Any) -> None:
                prefix = self.prefix
                self.stream.write("".join(f"{prefix}{v}\n" for v in batch.values))
                flush = getattr(self.stream, "flush", None)
                if flush is not None:
                    flush()
        return Writer()


class TextFileSink(SinkSpec):
    """Lines into a file; with parallelism > 1, a directory of files ``1``, ``2``, ... (as Flink).

    With checkpointing the lines are committed exactly once: they reach the file when the
    checkpoint after them completes (see :class:`~nbstream.connectors.files.StagedTextWriter`);
    hidden ``.<name>.chunk-*`` and ``.<name>.commit`` files next to it exist while the job runs."""

    def __init__(self, path: str, write_mode: WriteMode = WriteMode.NO_OVERWRITE) -> None:
        if not isinstance(write_mode, WriteMode):
            raise PlanError(f"write_as_text: write_mode must be a WriteMode, not {write_mode!r}")
        self.path = os.fspath(path)
        self.write_mode = write_mode
        self.parallelism = 1
        self.token = uuid.uuid4().hex  # tells this job's commit sidecars from others'

    def prepare(self, job: Any, parallelism: int) -> None:
        if os.path.exists(self.path):
            if self.write_mode is WriteMode.NO_OVERWRITE:
                raise PlanError(f"write_as_text: {self.path} exists; pass "
                                "write_mode=WriteMode.OVERWRITE to replace it")
            if os.path.isdir(self.path):
                shutil.rmtree(self.path)
            else:
                os.remove(self.path)
        parent = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(parent):
            raise PlanError(f"write_as_text: directory {parent} does not exist")
        self.parallelism = parallelism
        if parallelism > 1:
            os.makedirs(self.path)

    def create_writer(self) -> _Writer:
        from .files import StagedTextWriter  # exactly once with checkpointing
        return StagedTextWriter(self)


class SocketSink(SinkSpec):
    """Sends each record to a TCP server: ``serializer(value) -> bytes``, by default
    ``str(value)`` plus a newline, UTF-8 encoded."""

    def __init__(self, host: str, port: int,
                 serializer: Optional[Callable[[Any], bytes]] = None) -> None:
        self.host, self.port = host, int(port)
        self.serializer = serializer

    def create_writer(self) -> _Writer:
        spec = self

        class Writer(_Writer):
            def open(self, op: Any) -> None:
                super().open(op)
                try:
                    self.sock = socket.create_connection((spec.host, spec.port), timeout=10)
                except OSError as exc:
                    raise ConnectionError(f"write_to_socket: cannot connect to "
                                          f"{spec.host}:{spec.port}: {exc}") from exc

            def write(self, batch: Any) -> None:
                ser = spec.serializer
                if ser is None:
                    data = "".join(f"{v}\n" for v in batch.values).encode("utf-8")
                else:
                    data = b"".join(_serialize(ser, v, self.op) for v in batch.values)
                self.sock.sendall(data)

            def close(self) -> None:
                sock = getattr(self, "sock", None)
                if sock is not None:
                    sock.close()
        return Writer()


def _serialize(ser: Any, value: Any, op: Any) -> bytes:
    try:
        data = ser.serialize(value) if hasattr(ser, "serialize") else ser(value)
    except USER_ERRORS as exc:
        raise op.error(exc, value, phase="serializer") from exc
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


# -- user functions ---------------------------------------------------------------------------

class _SinkContext:
    """``context`` passed to ``SinkFunction.invoke``."""

    __slots__ = ("_op", "_ts")

    def __init__(self, op: Any) -> None:
        self._op = op
        self._ts: Optional[int] = None

    def timestamp(self) -> Optional[int]:
        return self._ts

    def current_watermark(self) -> int:
        return self._op.current_watermark

    def current_processing_time(self) -> int:
        return self._op.task.time_service.now_ms()


class FunctionSink(SinkSpec):
    """A :class:`~nbstream.SinkFunction` (``invoke(value, context)``) or a plain
    callable (``f(value)``) called for every record.

    It runs in the kernel in every execution mode: a sink function usually hands
    records to objects of the notebook (``add_sink(results.append)``), which a copy
    in a worker process could not reach."""

    driver_only = True

    def __init__(self, function: Any, owner: Any = None) -> None:
        self.function = function
        self.owner = owner  # the SinkFunction instance, for open/close

    def for_instance(self, subtask: int) -> "FunctionSink":
        """The spec of parallel instance ``subtask`` (> 0): a copy of the SinkFunction,
        as each instance has its own (plain callables are shared)."""
        if self.owner is None:
            return self
        try:
            owner = copy.deepcopy(self.owner)
        except Exception:  # cannot be copied (a lock, a connection): shared
            return self
        return FunctionSink(getattr(owner, self.function.__name__), owner)

    def create_writer(self) -> _Writer:
        spec = self

        class Writer(_Writer):
            def open(self, op: Any) -> None:
                super().open(op)
                self.ctx = _SinkContext(op)
                op.fn_name = describe_function(spec.owner if spec.owner is not None
                                               else spec.function)
                # each parallel instance has its own spec (see ``for_instance``)
                self.owner, self.function = spec.owner, spec.function
                if self.owner is not None and hasattr(self.owner, "open"):
                    self.owner.open(op.runtime_context())

            def close(self) -> None:
                owner = getattr(self, "owner", None)
                if owner is not None and hasattr(owner, "close"):
                    owner.close()

            def write(self, batch: Any) -> None:
                fn, ctx, owner = self.function, self.ctx, self.owner
                tss = batch.timestamps
                try:
                    for i, v in enumerate(batch.values):
                        if owner is not None:
                            ctx._ts = tss[i] if tss is not None else None
                            fn(v, ctx)
                        else:
                            fn(v)
                except USER_ERRORS as exc:
                    raise self.op.error(exc, v) from exc
        return Writer()


# -- results in the driver ----------------------------------------------------------------------

class _HeldUntilCheckpoint(_Writer):
    """A writer whose records appear exactly once when checkpoints are on: what arrives
    between two barriers is held back and delivered when the checkpoint after it
    completes (or when the job ends), as Flink's two-phase-commit sinks do. The held
    epochs are part of the checkpoint, so a restore delivers those whose completion
    was not heard of; the spec remembers what it delivered, so nothing comes twice.
    Epochs held by another job's sink (a job resumed from a savepoint) are not
    delivered again: that job committed them before it stopped.

    Memory is bounded: once ``max_held_records`` results are held (the checkpoint
    settings), a write waits while a checkpoint this sink has sealed is still to complete
    (being stored, or stored again after a failed write): the pipeline is held back until
    it completes or is aborted. Records before the next barrier are always taken (that
    barrier must reach the sink), so the bound is exceeded by at most what arrives
    between two barriers while no checkpoint is under way."""

    def __init__(self, spec: Any, deliver: Callable[[List[Any]], None],
                 deliver_committed: Optional[Callable[[List[Any]], None]] = None) -> None:
        self.spec = spec
        self.deliver = deliver
        self.deliver_committed = deliver_committed or deliver
        self.pending: List[List[Any]] = []
        self.sealed: List[Any] = []  # (instance, checkpoint id, [values, ...])
        self.held = False
        self.count = 0  # records held (pending and sealed)
        self.peak = 0
        self.limit = 0
        self.awaiting: Optional[int] = None  # the newest sealed checkpoint still to complete

    def open(self, op: Any) -> None:
        super().open(op)
        cp = op.task.config.checkpoints
        self.held = cp is not None and cp.exactly_once
        self.limit = cp.max_held_records if cp is not None else 0
        self.instance = op.task.subtask

    def write(self, batch: Any) -> None:
        if self.held:
            if self.count >= self.limit and self.awaiting is not None:
                self._hold_back()
            self.pending.append(batch.values)
            self.count += len(batch.values)
            self.peak = max(self.peak, self.count)
        else:
            self.deliver(batch.values)

    def metrics(self) -> Dict[str, int]:
        """Results held for checkpoints to complete: now, and the most at once."""
        return {"held_records": self.count, "held_records_peak": self.peak} if self.held else {}

    def _hold_back(self) -> None:
        """Wait (taking the task's notifications) until the awaited checkpoint completed
        or was aborted and fewer than ``limit`` records are held; a cancel ends it."""
        wait = self.op.task.wait_for_notifications
        while wait is not None and self.count >= self.limit and self.awaiting is not None:
            wait(0.05)

    def seal(self, checkpoint_id: int) -> List[Any]:
        if self.pending:
            self.sealed.append((self.spec.token, self.instance, checkpoint_id, self.pending))
            self.pending = []
        if self.sealed:
            self.awaiting = checkpoint_id
        return list(self.sealed)

    def abort(self, checkpoint_id: int) -> None:
        if self.awaiting is not None and checkpoint_id >= self.awaiting:
            self.awaiting = None  # what it sealed is committed with a later checkpoint

    def commit(self, checkpoint_id: Optional[int]) -> None:
        keep = []
        for entry in self.sealed:
            if checkpoint_id is None or entry[2] <= checkpoint_id:
                self._deliver_once(entry)
            else:
                keep.append(entry)
        self.sealed = keep
        if checkpoint_id is None:  # the job is over: nothing will be replayed
            for values in self.pending:
                self.deliver_committed(values)
            self.pending = []
        if checkpoint_id is None or (self.awaiting is not None and checkpoint_id >= self.awaiting):
            self.awaiting = None
        self.count = sum(len(v) for entry in keep for v in entry[3]) \
            + sum(len(v) for v in self.pending)

    def restore(self, sealed: List[Any]) -> None:
        for entry in sealed:  # they belong to a completed checkpoint
            if entry[0] == self.spec.token:
                self._deliver_once(entry)

    def _deliver_once(self, entry: Any) -> None:
        _token, instance, checkpoint_id, parts = entry
        with self.spec.commit_lock:
            if (instance, checkpoint_id) in self.spec.committed:
                return
            self.spec.committed.add((instance, checkpoint_id))
        for values in parts:
            self.deliver_committed(values)


class CollectSink(SinkSpec):
    """Hands results to the driver through a bounded channel (``execute_and_collect``)."""

    driver_only = True

    def __init__(self, capacity: int = 16) -> None:
        self.channel = ResultChannel(capacity)
        self.committed: set = set()
        self.commit_lock = threading.Lock()
        self.token = uuid.uuid4().hex

    def prepare(self, job: Any, parallelism: int) -> None:
        self.channel.bind(job)

    def create_writer(self) -> _Writer:
        return _HeldUntilCheckpoint(self, self.channel.put, self.channel.put_committed)


class DataFrameSink(SinkSpec):
    """Keeps results in memory, readable at any moment as a pandas DataFrame or an
    Arrow table. At most ``max_rows`` are kept (the oldest are dropped and counted).

    >>> from nbstream import StreamExecutionEnvironment
    >>> env = StreamExecutionEnvironment.get_execution_environment()
    >>> sink = DataFrameSink()
    >>> _ = env.from_collection([("a", 1), ("b", 2)]).add_sink(sink)
    >>> _ = env.execute()
    >>> sink.to_pandas()
      f0  f1
    0  a   1
    1  b   2
    """

    driver_only = True

    def __init__(self, max_rows: Optional[int] = None) -> None:
        if max_rows is not None and max_rows < 1:
            raise PlanError(f"max_rows must be at least 1, not {max_rows}")
        self.max_rows = max_rows
        self._rows: Deque[Any] = collections.deque(maxlen=max_rows)
        self._lock = threading.Lock()
        self.received = 0
        self.committed: set = set()
        self.commit_lock = threading.Lock()
        self.token = uuid.uuid4().hex

    @property
    def dropped(self) -> int:
        """Rows received but no longer kept (beyond ``max_rows``)."""
        return self.received - len(self._rows)

    def rows(self) -> List[Any]:
        with self._lock:
            return list(self._rows)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self.received = 0

    def to_pandas(self) -> Any:
        from .frames import rows_to_pandas
        return rows_to_pandas(self.rows())

    def to_arrow(self) -> Any:
        import pyarrow as pa
        return pa.Table.from_pandas(self.to_pandas(), preserve_index=False)

    def create_writer(self) -> _Writer:
        return _HeldUntilCheckpoint(self, self._add)

    def _add(self, values: List[Any]) -> None:
        with self._lock:
            self._rows.extend(values)
            self.received += len(values)
