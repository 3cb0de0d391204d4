"""Sources. A source spec is plain data in the plan; per run and parallel instance it
creates a reader: ``reader.run(ctx)`` emits through the source context
(``ctx.collect``, ``ctx.collect_with_timestamp``, ``ctx.emit_batch``) and
``reader.cancel()`` asks it to stop. ``non_parallel`` specs always run with one instance.
"""

from __future__ import annotations

import copy
import os
import socket
import threading
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, List, Optional

from ..errors import PlanError, short_repr, whole_number
from ..runtime.columnar import frame_rows

__all__ = ["CollectionSource", "SequenceSource", "IterableSource", "TextFileSource",
           "DataFrameSource", "SocketTextSource", "FunctionSource"]


class SourceSpec:
    """A source in the plan. ``after_restore`` says what a restore from a checkpoint
    gives (``explain()`` shows it when the job checkpoints)."""

    non_parallel = True
    after_restore = "replayed from its position (exactly once)"
    # runs the user's code (a generator, a SourceFunction), which often reaches objects of
    # the kernel: in process mode such a source stays in the kernel unless pinned
    user_code = False

    def prepare(self, job: Any) -> None:
        """Checks before the job starts (in the driver); raise PlanError to refuse."""

    def create_reader(self, subtask: int, parallelism: int) -> Any:
        raise NotImplementedError

    def size_hint(self) -> Optional[int]:
        """How many records the source emits in all, if known before it runs (the live
        view's progress, "x of N"); None for an unbounded or unknown source."""
        return None


class _Reader:
    """A source instance's reader. Checkpoints store how many records it emitted; a
    reader that can start at record ``n`` says so with ``seek(n)`` (called before
    ``run``), any other is run again and its first ``n`` records are dropped."""

    start = 0

    def cancel(self) -> None:
        pass


class _Seekable(_Reader):
    def seek(self, position: int) -> None:
        self.start = position


def _emit_chunks(ctx: Any, values: List[Any], convert: Optional[Callable[[Any], Any]] = None) -> None:
    size = ctx.batch_size
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        ctx.emit_batch([convert(v) for v in chunk] if convert else chunk)


class CollectionSource(SourceSpec):
    """The elements of a collection, in order (one instance, as Flink)."""

    def __init__(self, values: Iterable[Any], type_info: Any = None) -> None:
        self.values = list(values)
        self.type_info = type_info

    def size_hint(self) -> Optional[int]:
        return len(self.values)

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        spec = self

        class Reader(_Seekable):
            def run(self, ctx: Any) -> None:
                convert = getattr(spec.type_info, "from_value", None)
                _emit_chunks(ctx, spec.values[self.start:], convert)
        return Reader()


class SequenceSource(SourceSpec):
    """The integers ``start..end`` (both included), split over parallel instances."""

    non_parallel = False

    def __init__(self, start: int, end: int) -> None:
        start = whole_number(start, "from_sequence: start")
        end = whole_number(end, "from_sequence: end")
        if end < start:
            raise PlanError(f"from_sequence: end ({end}) is before start ({start})")
        self.start, self.end = start, end

    def size_hint(self) -> Optional[int]:
        return self.end - self.start + 1

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        total = self.end - self.start + 1
        lo = self.start + total * subtask // parallelism
        hi = self.start + total * (subtask + 1) // parallelism

        class Reader(_Seekable):
            def run(self, ctx: Any) -> None:
                size = ctx.batch_size
                for a in range(lo + self.start, hi, size):
                    ctx.emit_batch(list(range(a, min(a + size, hi))))
        return Reader()


class IterableSource(SourceSpec):
    """Records from a Python iterable or a generator function, possibly endless.

    A generator function (or any zero-argument callable returning an iterator) starts
    afresh on every run; a generator object can be consumed by one run only.

    After a restore from a checkpoint: a generator function with a ``start`` parameter
    is called with the position to resume at (``start=n``: skip the first ``n``
    records); one without is run again and its first ``n`` records are dropped (exactly
    once if it yields the same records every time); a list or other re-iterable
    likewise; a generator object goes on from where it is (records it had handed over
    after the checkpoint are lost: at most once).
    """

    user_code = True

    def __init__(self, source: Any) -> None:
        if not (callable(source) or hasattr(source, "__iter__")):
            raise PlanError(f"from_iterable needs an iterable or a generator function, "
                            f"not {type(source).__name__}")
        self.source = source
        self.single_use = hasattr(source, "__next__")
        self._used = False

    def prepare(self, job: Any) -> None:
        if self.single_use:
            if self._used:
                raise PlanError("the generator given to from_iterable was consumed by an earlier "
                                "run; pass the generator function itself (without calling it) "
                                "so every run starts afresh")
            self._used = True

    def _iterator(self, start: int = 0) -> Iterator[Any]:
        src = self.source
        if hasattr(src, "__iter__"):
            return iter(src)
        it = src(start=start) if start else src()
        if not hasattr(it, "__next__"):
            it = iter(it)
        return it

    def size_hint(self) -> Optional[int]:
        src = self.source  # a list or other sized collection (not a generator)
        return len(src) if hasattr(src, "__len__") and hasattr(src, "__iter__") else None

    @property
    def after_restore(self) -> str:  # type: ignore[override]
        return {"start": "called again with start=<position> (exactly once)",
                "rerun": "run again, records before its position dropped (exactly once if "
                         "it yields the same records every run)",
                "continue": "goes on from where the generator is (at most once: records "
                            "handed over after the checkpoint are lost)"}[self.replay]

    @property
    def replay(self) -> str:
        """How a restore replays this source: ``start``, ``rerun`` or ``continue``."""
        if self.single_use:
            return "continue"
        if not hasattr(self.source, "__iter__") and _accepts_start(self.source):
            return "start"
        return "rerun"

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        spec = self

        class Reader(_Reader):
            threaded = True  # a generator may block: run it on a thread of its own

            def run(self, ctx: Any) -> None:
                it = spec._iterator(self.start)
                collect = ctx.collect
                try:
                    for value in it:
                        collect(value)
                finally:
                    close = getattr(it, "close", None)
                    if close is not None and not spec.single_use:
                        close()

        replay = spec.replay
        if replay == "start":
            Reader.seek = _Seekable.seek  # type: ignore[attr-defined]
        elif replay == "continue":
            Reader.seek = lambda self, position: None  # type: ignore[attr-defined]
        return Reader()


def _accepts_start(fn: Any) -> bool:
    import inspect

    try:
        return "start" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class TextFileSource(SourceSpec):
    """Lines of a text file, without their line endings."""

    def __init__(self, path: str, encoding: str = "utf-8") -> None:
        self.path = os.fspath(path)
        self.encoding = encoding

    def prepare(self, job: Any) -> None:
        if not os.path.isfile(self.path):
            raise PlanError(f"read_text_file: no such file: {self.path}")

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        spec = self

        class Reader(_Seekable):
            def run(self, ctx: Any) -> None:
                done = self.start
                with open(spec.path, encoding=spec.encoding) as f:
                    if done:
                        for _ in islice(f, done):
                            pass
                    while True:
                        try:
                            lines = list(islice(f, ctx.batch_size))
                        except UnicodeDecodeError as exc:
                            raise spec.undecodable(done, exc) from None
                        if not lines:
                            return
                        ctx.emit_batch([line.rstrip("\r\n") for line in lines])
                        done += len(lines)
        return Reader()

    def undecodable(self, lines_read: int, exc: UnicodeDecodeError) -> ValueError:
        """The error for bytes that do not decode: the file's line and the bytes (the
        decoder itself only knows an offset into the chunk it was given)."""
        with open(self.path, "rb") as f:
            for number, raw in enumerate(f, 1):
                if number <= lines_read:
                    continue
                try:
                    raw.decode(self.encoding)
                except UnicodeDecodeError as bad:
                    return ValueError(
                        f"read_text_file: {self.path}, line {number}: not valid {self.encoding}: "
                        f"{bad.reason} at byte {bad.start + 1} of the line "
                        f"({raw[bad.start:bad.end]!r} in {short_repr(raw.rstrip(), 80)})")
        return ValueError(f"read_text_file: {self.path}: not valid {self.encoding}: {exc.reason}")


class DataFrameSource(SourceSpec):
    """The rows of a pandas DataFrame: as dicts (``rows="dict"``, the default),
    tuples (``"tuple"``) or Rows with the column names (``"row"``).

    With ``timestamp_column``, each row carries that column as its event time
    (int milliseconds, or datetimes converted to epoch milliseconds).
    """

    ROWS = ("dict", "tuple", "row")

    def __init__(self, df: Any, rows: str = "dict", timestamp_column: Optional[str] = None) -> None:
        if rows not in self.ROWS:
            raise PlanError(f"from_dataframe: rows must be one of {self.ROWS}, not {rows!r}")
        if timestamp_column is not None and timestamp_column not in df.columns:
            raise PlanError(f"from_dataframe: no column {timestamp_column!r} "
                            f"(columns: {list(df.columns)})")
        self.df = df
        self.rows = rows
        self.timestamp_column = timestamp_column

    def size_hint(self) -> Optional[int]:
        return len(self.df)

    def _timestamps(self, part: Any) -> Optional[List[int]]:
        if self.timestamp_column is None:
            return None
        col = part[self.timestamp_column]
        if str(col.dtype).startswith("datetime64"):
            import pandas as pd

            utc = pd.to_datetime(col, utc=True)  # naive datetimes are taken as UTC
            col = (utc - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "ms")
        return [int(v) for v in col]

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        spec = self

        class Reader(_Seekable):
            def run(self, ctx: Any) -> None:
                df, size = spec.df, ctx.batch_size
                for start in range(self.start, len(df), size):
                    part = df.iloc[start:start + size]
                    ctx.emit_batch(frame_rows(part, spec.rows), spec._timestamps(part))
        return Reader()


class SocketTextSource(SourceSpec):
    """Lines read from a TCP server (nbstream connects as a client, as Flink does).

    ``max_retry``: how often to reconnect after the connection closes (0: end the
    stream, -1: forever), waiting ``retry_wait_s`` between attempts.
    """

    after_restore = "reconnects and reads on (at most once)"

    def __init__(self, host: str, port: int, delimiter: str = "\n", max_retry: int = 0,
                 retry_wait_s: float = 0.5, encoding: str = "utf-8") -> None:
        if not delimiter:
            raise PlanError("socket_text_stream: the delimiter must not be empty")
        self.host, self.port = host, whole_number(port, "socket_text_stream: port", 0, 65535)
        self.delimiter = delimiter
        self.max_retry = whole_number(max_retry, "socket_text_stream: max_retry", -1)
        self.retry_wait_s, self.encoding = retry_wait_s, encoding

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        spec = self

        class Reader(_Reader):
            def seek(self, position: int) -> None:
                pass  # a socket cannot rewind: read on from the new connection

            def __init__(self) -> None:
                self.stopped = threading.Event()

            def cancel(self) -> None:
                self.stopped.set()

            def run(self, ctx: Any) -> None:
                attempts = 0
                while not self.stopped.is_set():
                    self._read(ctx)
                    attempts += 1
                    if spec.max_retry != -1 and attempts > spec.max_retry:
                        return
                    self.stopped.wait(spec.retry_wait_s)

            def _read(self, ctx: Any) -> None:
                try:
                    sock = socket.create_connection((spec.host, spec.port), timeout=5)
                except OSError as exc:
                    raise ConnectionError(f"socket_text_stream: cannot connect to "
                                          f"{spec.host}:{spec.port}: {exc}") from exc
                with sock:
                    sock.settimeout(0.1)
                    pending = ""
                    while not self.stopped.is_set():
                        try:
                            data = sock.recv(65536)
                        except socket.timeout:
                            ctx.flush()
                            continue
                        if not data:
                            break
                        pending += data.decode(spec.encoding, errors="replace")
                        *lines, pending = pending.split(spec.delimiter)
                        for line in lines:
                            ctx.collect(line)
                    if pending:
                        ctx.collect(pending)
                    ctx.flush()
        return Reader()


class FunctionSource(SourceSpec):
    """A user :class:`~nbstream.SourceFunction`: ``run(ctx)`` until done or cancelled.

    After a restore, a function with ``snapshot_state``/``initialize_state`` (Flink's
    CheckpointedFunction) gets its own state back and goes on from it (emit under
    ``ctx.get_checkpoint_lock()`` for exactly once); any other is run again and the
    records before its position are dropped."""

    user_code = True

    @property
    def after_restore(self) -> str:  # type: ignore[override]
        if hasattr(self.function, "snapshot_state"):
            return "restores its own state (CheckpointedFunction: exactly once)"
        return ("run again, records before its position dropped (exactly once if it emits "
                "the same records every run)")

    def __init__(self, function: Any) -> None:
        if not hasattr(function, "run"):
            raise PlanError(f"add_source needs a SourceFunction with run(ctx), "
                            f"not {type(function).__name__}")
        self.function = function

    def prepare(self, job: Any) -> None:
        self._made: set = set()
        try:  # a restart runs a fresh copy, as Flink deserializes one per attempt
            self._pristine = copy.deepcopy(self.function)
        except Exception:
            self._pristine = None

    def _function_for(self, subtask: int) -> Any:
        made = getattr(self, "_made", set())
        fresh = subtask in made and getattr(self, "_pristine", None) is not None
        made.add(subtask)
        return copy.deepcopy(self._pristine) if fresh else self.function

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        fn = self._function_for(subtask)

        class Reader(_Reader):
            threaded = True  # user code may block: run it on a thread of its own
            function = fn

            def open(self, runtime_context: Any) -> None:
                if hasattr(fn, "open"):
                    fn.open(runtime_context)

            def run(self, ctx: Any) -> None:
                fn.run(ctx)

            def cancel(self) -> None:
                if hasattr(fn, "cancel"):
                    fn.cancel()

            def close(self) -> None:
                if hasattr(fn, "close"):
                    fn.close()
        return Reader()

