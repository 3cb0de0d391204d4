"""Record the records of a job's sources, and replay them later instead of the live sources.

A live source (a socket, a generator reading an API) never gives the same data twice;
a recording makes a pipeline's input repeatable while its functions are edited.
``env.record(name)`` before a run writes every source's records, with their event-time
timestamps and arrival times (processing time, ms), to Arrow IPC files under
``<recordings dir>/<name>/`` (``NBSTREAM_RECORDINGS``, default ``~/.nbstream/recordings``).
``env.replay(name, speed)`` makes the next run read them back: each source is matched by
its ``uid``, else its name; records come with their recorded timestamps, paced by their
recorded arrival times (``speed`` times faster; ``"max"``: as fast as possible).

Values of one plain type (int, float, str, bool) are an Arrow column; others (dicts, tuples,
user objects) are stored per record batch in :mod:`nbstream.runtime.state_format` (plain
values as data, only other objects pickled), in the batch's custom metadata. A recording's
folder is ``0700`` and its files ``0600``, each signed with this user's key
(:mod:`nbstream.runtime.signing`): a replay refuses a recording that is not signed by it
(someone else's, or one made before recordings were signed) unless ``trust=True``.

>>> import tempfile, os
>>> from nbstream import StreamExecutionEnvironment
>>> os.environ["NBSTREAM_RECORDINGS"] = tempfile.mkdtemp()
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.record("demo")
>>> env.from_collection(["a", "b"]).map(str.upper).execute_and_collect(limit=2)
['A', 'B']
>>> env.replay("demo", speed="max")
>>> env.from_collection(["other", "data"]).map(str.upper).execute_and_collect(limit=2)
['A', 'B']
>>> [(r["name"], r["records"]) for r in list_recordings()]
[('demo', 2)]
>>> del os.environ["NBSTREAM_RECORDINGS"]
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..errors import PlanError
from ..runtime import state_format
from ..runtime.signing import UntrustedFileError, check_file, private_dir, sign_file, write_private
from .sources import SourceSpec

__all__ = ["RecordingSource", "ReplaySource", "recordings_dir", "list_recordings",
           "clear_recording", "plan_recording", "plan_replay", "DEFAULT_MAX_SECONDS",
           "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_SECONDS = 600            # a recording stops after 10 minutes ...
DEFAULT_MAX_BYTES = 256 * 1024 ** 2  # ... or 256 MiB of files, whichever comes first
_FLUSH_ROWS = 4096
_FLUSH_S = 1.0
_META = "recording.json"
_VALUES = b"values"  # a batch's custom metadata key: its values in state_format
TRUST_HINT = "trust=True (env.replay(name, trust=True))"


def recordings_dir() -> Path:
    """Where recordings live: ``$NBSTREAM_RECORDINGS`` or ``~/.nbstream/recordings``."""
    return Path(os.environ.get("NBSTREAM_RECORDINGS") or Path.home() / ".nbstream" / "recordings")


def _source_key(node: Any) -> str:
    return node.uid or node.name


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in key)


def _files_of(directory: Path, key: str) -> List[Path]:
    """The files of one source, in (subtask, part) order: ``<key>.<subtask>.<part>.arrow``."""
    pattern = re.compile(re.escape(_safe(key)) + r"\.(\d+)\.(\d+)\.arrow")
    found = [(m.groups(), p) for p in directory.glob("*.arrow")
             if (m := pattern.fullmatch(p.name)) is not None]
    return [p for (sub, part), p in sorted(found, key=lambda f: (int(f[0][0]), int(f[0][1])))]


_NATIVE = {int: "int64", float: "float64", str: "string", bool: "bool"}


def _native_kind(values: List[Any]) -> Optional[type]:
    """The one plain type of ``values`` that Arrow stores natively (else None: pickled)."""
    t = type(values[0])
    if t not in _NATIVE or any(type(v) is not t for v in values):
        return None
    if t is int and not (-2 ** 63 <= min(values) and max(values) < 2 ** 63):
        return None
    return t


# -- recording ------------------------------------------------------------------------------------
class _Limits:
    """Shared by the readers of one recording in a process: stops them at the first limit
    (in process mode each worker counts its own readers' bytes)."""

    def __init__(self, max_seconds: float, max_bytes: int) -> None:
        self.max_seconds, self.max_bytes = max_seconds, max_bytes
        self.started = time.time()
        self.bytes = 0
        self.stopped: Optional[str] = None
        self.lock = threading.Lock()

    def __getstate__(self) -> Dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state, lock=threading.Lock())

    def add(self, n: int) -> bool:
        """Count ``n`` more bytes; False (and the recording stops) past the size limit."""
        with self.lock:
            if self.bytes + n > self.max_bytes:
                if self.stopped is None:
                    self._stop(f"its size passed {self.max_bytes:,} bytes")
                return False
            self.bytes += n
            return True

    def out_of_time(self, now: float) -> bool:
        with self.lock:
            if self.stopped is None and now - self.started > self.max_seconds:
                self._stop(f"it ran for {self.max_seconds:g} s")
            return self.stopped is not None

    def _stop(self, why: str) -> None:
        self.stopped = why
        print(f"nbstream: the recording stopped because {why}; the job goes on "
              "(raise the limit with env.record(name, max_seconds=..., max_bytes=...))")


class _Writer:
    """The files of one source subtask: columns value, timestamp, arrival_ms. Values of one
    plain type (int, float, str, bool) are stored as Arrow columns, others in state_format
    (the value column is null, the batch's metadata holds them); when the kind changes, a
    new part file begins. A part file is signed when it is complete."""

    def __init__(self, directory: Path, key: str, subtask: int, limits: _Limits) -> None:
        self.prefix = directory / f"{_safe(key)}.{subtask}"
        self.limits = limits
        self.values: List[Any] = []
        self.timestamps: List[Any] = []
        self.arrivals: List[int] = []
        self.writer: Any = None
        self.kind: Optional[type] = None
        self.part = 0
        self.done = False
        self.flushed = time.time()
        self.lock = threading.Lock()  # a threaded reader's last flush may meet close()

    def add(self, values: List[Any], timestamps: Optional[List[Any]]) -> None:
        if self.done:
            return
        now = time.time()
        with self.lock:
            limits = self.limits
            if limits.stopped is not None or (now - limits.started > limits.max_seconds
                                              and limits.out_of_time(now)):
                self._flush()  # what arrived in time is kept
                self.done = True
                return
            self.values.extend(values)
            self.timestamps.extend(timestamps if timestamps is not None else [None] * len(values))
            self.arrivals.extend([int(now * 1000)] * len(values))
            # write often enough that a slow source's records are on disk within a second
            if len(self.values) >= _FLUSH_ROWS or now - self.flushed > _FLUSH_S:
                self._flush()

    def _flush(self) -> None:
        self.flushed = time.time()
        if not self.values or self.done:
            return
        import pyarrow as pa

        values, tss, arrivals = self.values, self.timestamps, self.arrivals
        self.values, self.timestamps, self.arrivals = [], [], []
        kind = _native_kind(values)
        metadata = None
        if kind is not None:
            column = pa.array(values, getattr(pa, _NATIVE[kind])())
        else:
            column = pa.nulls(len(values))
            metadata = {_VALUES: state_format.dumps(values)}
        encoding = _NATIVE[kind] if kind is not None else "nbstate"
        schema = pa.schema([("value", column.type), ("timestamp", pa.int64()),
                            ("arrival_ms", pa.int64())], metadata={"encoding": encoding})
        batch = pa.record_batch([column, pa.array(tss, pa.int64()), pa.array(arrivals, pa.int64())],
                                schema=schema)
        size = batch.nbytes + (len(metadata[_VALUES]) if metadata else 0)
        if not self.limits.add(size):
            self.done = True
            return
        if self.writer is not None and kind is not self.kind:
            self._close_part()
            self.part += 1
        if self.writer is None:
            path = f"{self.prefix}.{self.part}.arrow"
            write_private(path, b"")  # 0600 before Arrow writes into it
            self.writer = pa.ipc.new_file(path, schema)
            self.kind = kind
        self.writer.write_batch(batch, custom_metadata=metadata)

    def _close_part(self) -> None:
        self.writer.close()
        self.writer = None
        sign_file(f"{self.prefix}.{self.part}.arrow")

    def close(self) -> None:
        with self.lock:
            self._flush()
            if self.writer is not None:
                self._close_part()


class _RecordingContext:
    """The source context, recording what passes through it."""

    def __init__(self, ctx: Any, writer: _Writer) -> None:
        self._ctx, self._writer = ctx, writer

    def collect(self, value: Any) -> None:
        self._writer.add([value], None)
        self._ctx.collect(value)

    def collect_with_timestamp(self, value: Any, timestamp: int) -> None:
        self._writer.add([value], [int(timestamp)])
        self._ctx.collect_with_timestamp(value, timestamp)

    def emit_batch(self, values: List[Any], timestamps: Optional[List[Any]] = None) -> None:
        self._writer.add(values, timestamps)
        self._ctx.emit_batch(values, timestamps)

    def __getattr__(self, name: str) -> Any:  # flush, emit_watermark, batch_size, cancelled...
        return getattr(self._ctx, name)


class RecordingSource(SourceSpec):
    """``inner``, its records also written to ``directory`` (one file per subtask)."""

    def __init__(self, inner: SourceSpec, directory: Path, key: str, limits: _Limits) -> None:
        self.inner, self.directory, self.key, self.limits = inner, directory, key, limits
        self.non_parallel = inner.non_parallel
        self.user_code = inner.user_code

    def prepare(self, job: Any) -> None:
        self.inner.prepare(job)

    def create_reader(self, subtask: int, parallelism: int) -> Any:
        reader = self.inner.create_reader(subtask, parallelism)
        writer = _Writer(self.directory, self.key, subtask, self.limits)

        class Reader:
            threaded = getattr(reader, "threaded", False)

            def open(self, runtime_context: Any) -> None:
                if hasattr(reader, "open"):
                    reader.open(runtime_context)

            def run(self, ctx: Any) -> None:
                try:
                    reader.run(_RecordingContext(ctx, writer))
                finally:
                    writer.close()

            def cancel(self) -> None:
                reader.cancel()

            def close(self) -> None:
                writer.close()
                if hasattr(reader, "close"):
                    reader.close()

            def __getattr__(self, name: str) -> Any:  # seek, metrics, splits: the inner's
                return getattr(reader, name)
        return Reader()


def plan_recording(name: str, sources: List[Any], max_seconds: float = DEFAULT_MAX_SECONDS,
                   max_bytes: int = DEFAULT_MAX_BYTES) -> Dict[int, RecordingSource]:
    """Start recording ``name`` (replacing an older one): the recording spec of each source node."""
    keys = [_source_key(n) for n in sources]
    safe = [_safe(k) for k in keys]
    dupes = sorted({k for k, f in zip(keys, safe) if safe.count(f) > 1})
    if dupes:
        raise PlanError(f"cannot record: several sources are named {dupes}; give each a uid(...) "
                        "so that a replay can tell them apart")
    directory = recordings_dir() / _checked_name(name)
    if directory.exists():
        shutil.rmtree(directory)
    private_dir(str(directory))
    write_private(str(directory / _META), json.dumps(
        {"name": name, "sources": keys, "created_ms": int(time.time() * 1000)}).encode())
    sign_file(str(directory / _META))
    limits = _Limits(max_seconds, max_bytes)
    return {n.id: RecordingSource(n.params["source"], directory, _source_key(n), limits)
            for n in sources}


# -- replay ---------------------------------------------------------------------------------------
class ReplaySource(SourceSpec):
    """The recorded records of one source, with their timestamps, paced by arrival time."""

    def __init__(self, files: List[Path], speed: Union[float, str], origin_ms: int,
                 name: str = "", trust: bool = False) -> None:
        self.files, self.speed, self.origin_ms = files, speed, origin_ms
        self.name, self.trust = name, trust
        # as parallel as the recorded source was: one recorded subtask, one replaying
        self.non_parallel = len({f.name.rsplit(".", 3)[1] for f in files}) <= 1

    def create_reader(self, subtask: int, parallelism: int) -> Any:
        # every part file of a recorded subtask goes to the same replaying subtask, in order
        mine = [f for f in self.files if int(f.name.rsplit(".", 3)[1]) % parallelism == subtask]
        speed, origin, name, trust = self.speed, self.origin_ms, self.name, self.trust

        class Reader:
            threaded = speed != "max"  # paced replay sleeps: keep the task responsive

            def __init__(self) -> None:
                self.stopped = threading.Event()

            def run(self, ctx: Any) -> None:
                import pyarrow as pa

                started = time.monotonic()
                for path in mine:  # checked as read: the bytes used are the bytes signed
                    reader = pa.ipc.open_file(pa.py_buffer(_verified(name, path, trust)))
                    encoding = reader.schema.metadata[b"encoding"]
                    for i in range(reader.num_record_batches):
                        if self.stopped.is_set():
                            return
                        batch, metadata = reader.get_batch_with_custom_metadata(i)
                        values = _values(batch, metadata, encoding)
                        ts_col = batch.column(1)
                        tss = _pylist(ts_col) if ts_col.null_count < len(ts_col) else None
                        if speed == "max":
                            ctx.emit_batch(values, tss)
                            continue
                        arrivals = _pylist(batch.column(2))
                        for k, v in enumerate(values):
                            t, arrived = tss[k] if tss else None, arrivals[k]
                            due = started + (arrived - origin) / 1000.0 / float(speed)
                            if due > time.monotonic() and self.stopped.wait(due - time.monotonic()):
                                return
                            if t is None:
                                ctx.collect(v)
                            else:
                                ctx.collect_with_timestamp(v, t)

            def cancel(self) -> None:
                self.stopped.set()
        return Reader()


def _verified(name: str, path: Path, trust: bool) -> bytes:
    """The bytes of a recording's file, once its signature says they are this user's
    (else :class:`UntrustedFileError`, unless ``trust``)."""
    data = path.read_bytes()
    check_file(str(path), data, f"recording '{name}': file", trust, TRUST_HINT)
    return data


def _values(batch: Any, metadata: Any, encoding: bytes) -> List[Any]:
    """The values of a recorded batch."""
    if encoding == b"nbstate":
        return state_format.loads(metadata[_VALUES])
    values = _pylist(batch.column(0))
    if encoding == b"pickle":  # a recording made before values were data (trusted)
        import pickle

        return [pickle.loads(v) for v in values]
    return values


def _pylist(column: Any) -> List[Any]:
    """An Arrow column as Python values (through numpy when it has no nulls: much faster)."""
    if column.null_count:
        return column.to_pylist()
    return column.to_numpy(zero_copy_only=False).tolist()


def plan_replay(name: str, sources: List[Any], speed: Union[float, str] = 1.0,
                trust: bool = False) -> Dict[int, ReplaySource]:
    """The replay spec of each source node; errors name what does not match. A recording
    not signed by this user's key is refused (:class:`UntrustedFileError`) unless ``trust``."""
    if speed != "max" and not (isinstance(speed, (int, float)) and speed > 0):
        raise PlanError(f"replay speed must be a positive number or 'max', not {speed!r}")
    meta = _read_meta(name, trust)
    recorded = meta["sources"]
    keys = [_source_key(n) for n in sources]
    if sorted(keys) != sorted(recorded):
        raise PlanError(f"recording '{name}' does not match this pipeline's sources: it has "
                        f"{sorted(recorded)}, the pipeline has {sorted(keys)} (sources are matched "
                        "by uid, else by name)")
    directory = recordings_dir() / name
    files = {k: _files_of(directory, k) for k in keys}
    origin = None
    for paths in files.values():
        for p in paths:
            first = _check_file(name, p, trust)
            if first is not None:
                origin = first if origin is None else min(origin, first)
    return {n.id: ReplaySource(files[_source_key(n)], speed, origin or 0, name, trust)
            for n in sources}


def _check_file(name: str, path: Path, trust: bool = False) -> Optional[int]:
    """Check ``path``'s signature and open it (a corrupt file fails here, before the job
    starts); its first arrival."""
    import pyarrow as pa

    try:
        reader = pa.ipc.open_file(pa.py_buffer(_verified(name, path, trust)))
        if reader.schema.names != ["value", "timestamp", "arrival_ms"]:
            raise ValueError(f"unexpected columns {reader.schema.names}")
        if reader.num_record_batches == 0:
            return None
        return reader.get_batch(0).column(2)[0].as_py()
    except UntrustedFileError as exc:
        if exc.verdict != "changed":
            raise
        raise PlanError(f"recording '{name}' is damaged: {path.name} changed after it was "
                        f"written (its signature does not match); record it again or remove "
                        f"it with clear_recording({name!r})") from None
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise PlanError(f"recording '{name}' is damaged: {path.name} cannot be read ({exc}); "
                        f"record it again or remove it with clear_recording({name!r})") from None


def _checked_name(name: str) -> str:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PlanError(f"a recording name is a plain name (no '/', not starting with '.'), "
                        f"not {name!r}")
    return name


def _read_meta(name: str, trust: bool = False) -> Dict[str, Any]:
    path = recordings_dir() / _checked_name(name) / _META
    try:
        data = path.read_bytes()
        check_file(str(path), data, f"recording '{name}': file", trust, TRUST_HINT)
        return json.loads(data)
    except FileNotFoundError:
        known = [r["name"] for r in list_recordings()]
        raise PlanError(f"there is no recording named '{name}' (recordings: "
                        f"{', '.join(known) if known else 'none'})") from None
    except ValueError as exc:
        raise PlanError(f"recording '{name}' is damaged: {_META} cannot be read ({exc})") from None


# -- listing --------------------------------------------------------------------------------------
def list_recordings() -> List[Dict[str, Any]]:
    """Each recording: name, sources, records, bytes, first and last arrival (ms)."""
    import pyarrow as pa

    out = []
    root = recordings_dir()
    for directory in sorted(root.iterdir()) if root.exists() else []:
        meta_path = directory / _META
        if not meta_path.exists():
            continue
        try:
            meta = json.loads(meta_path.read_text())
        except ValueError:
            continue
        records, size, first, last = 0, 0, None, None
        for path in directory.glob("*.arrow"):
            size += path.stat().st_size
            try:
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_file(source).read_all()
            except (OSError, pa.ArrowException):
                continue
            records += table.num_rows
            if table.num_rows:
                arrivals = table.column("arrival_ms").to_pylist()
                first = min(arrivals[0], first) if first is not None else arrivals[0]
                last = max(arrivals[-1], last) if last is not None else arrivals[-1]
        out.append({"name": meta["name"], "sources": meta["sources"], "records": records,
                    "bytes": size, "first_ms": first, "last_ms": last})
    return out


def clear_recording(name: str) -> None:
    """Delete recording ``name``."""
    directory = recordings_dir() / _checked_name(name)
    if not (directory / _META).exists():
        raise PlanError(f"there is no recording named '{name}'")
    shutil.rmtree(directory)
