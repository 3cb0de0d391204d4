"""File sinks that keep their promise across restarts: Flink's ``FileSink`` (part files in
bucket folders, a rolling policy, two-phase commit) and the exactly-once writer behind
``write_as_text`` when checkpointing is on.

Part files go through Flink's three states. A file being written is *in-progress* and
hidden (``.part-<uuid>-<subtask>-<n>.inprogress.<attempt>``); once rolled it is *pending*;
when the checkpoint after which it was rolled completes it is renamed to its *finished*
name (``part-<uuid>-<subtask>-<n>``, with the configured prefix and suffix). The file
system is the truth: every writer runs in its task (a worker process in process mode) and
its checkpointed state lists the pending files and, for each open in-progress file, how
many bytes of it belong to the checkpoint. A restore finishes what the checkpoint lists
(pending files are renamed; in-progress files are cut back to their checkpointed length and
renamed) and deletes the hidden files of failed attempts, whose records are replayed. So a
record is in exactly one finished file, once, whatever failed.

Without checkpointing a part file is finished as soon as it rolls, and the open ones at the
end of the input (as Flink's sink in a bounded job); Flink's legacy ``StreamingFileSink``
(``finalize_at_end = False``) finishes files only on completed checkpoints, so without
checkpointing they all stay in progress.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..errors import PlanError
from .sinks import SinkSpec, _Writer
from .sources import SourceSpec

__all__ = ["FileSink", "OutputFileConfig", "RollingPolicy", "DefaultRollingPolicy",
           "OnCheckpointRollingPolicy", "BucketAssigner", "FileSource", "FileSourceBuilder",
           "StreamFormat", "BulkFormat", "ParquetWriterFactory"]

_LOG = logging.getLogger("nbstream.files")


# -- configuration (PyFlink's names) ----------------------------------------------------------

class OutputFileConfig:
    """Prefix and suffix of part file names (``part`` and none by default)."""

    def __init__(self, part_prefix: str = "part", part_suffix: str = "") -> None:
        self.part_prefix, self.part_suffix = part_prefix, part_suffix

    def get_part_prefix(self) -> str:
        return self.part_prefix

    def get_part_suffix(self) -> str:
        return self.part_suffix

    @staticmethod
    def builder() -> "OutputFileConfig.OutputFileConfigBuilder":
        return OutputFileConfig.OutputFileConfigBuilder()

    class OutputFileConfigBuilder:
        def __init__(self) -> None:
            self.part_prefix, self.part_suffix = "part", ""

        def with_part_prefix(self, prefix: str) -> "OutputFileConfig.OutputFileConfigBuilder":
            self.part_prefix = prefix
            return self

        def with_part_suffix(self, suffix: str) -> "OutputFileConfig.OutputFileConfigBuilder":
            self.part_suffix = suffix
            return self

        def build(self) -> "OutputFileConfig":
            return OutputFileConfig(self.part_prefix, self.part_suffix)


class RollingPolicy:
    """When a bucket's in-progress part file is closed and a new one started."""

    part_size: Optional[int] = None
    rollover_interval: Optional[int] = None
    inactivity_interval: Optional[int] = None
    on_checkpoint = False

    @staticmethod
    def default_rolling_policy(part_size: int = 1024 * 1024 * 128, rollover_interval: int = 60_000,
                               inactivity_interval: int = 60_000) -> "DefaultRollingPolicy":
        """Roll when the file is larger than ``part_size`` bytes, older than
        ``rollover_interval`` ms, or not written to for ``inactivity_interval`` ms. The
        times are checked when records arrive and at checkpoints."""
        return DefaultRollingPolicy(part_size, rollover_interval, inactivity_interval)

    @staticmethod
    def on_checkpoint_rolling_policy() -> "OnCheckpointRollingPolicy":
        """Roll at every checkpoint (and at the end of the input) only."""
        return OnCheckpointRollingPolicy()

    def should_roll(self, part: "_Part", now_ms: int) -> bool:
        return False


class DefaultRollingPolicy(RollingPolicy):
    def __init__(self, part_size: int, rollover_interval: int, inactivity_interval: int) -> None:
        for name, value in (("part_size", part_size), ("rollover_interval", rollover_interval),
                            ("inactivity_interval", inactivity_interval)):
            if not isinstance(value, int) or value <= 0:
                raise PlanError(f"default_rolling_policy: {name} must be a positive int, "
                                f"not {value!r}")
        self.part_size = part_size
        self.rollover_interval = rollover_interval
        self.inactivity_interval = inactivity_interval

    def should_roll(self, part: "_Part", now_ms: int) -> bool:
        return (part.size > self.part_size  # type: ignore[operator]
                or now_ms - part.opened_ms >= self.rollover_interval  # type: ignore[operator]
                or now_ms - part.written_ms >= self.inactivity_interval)  # type: ignore[operator]

    def __repr__(self) -> str:
        return (f"RollingPolicy.default_rolling_policy(part_size={self.part_size}, "
                f"rollover_interval={self.rollover_interval}, "
                f"inactivity_interval={self.inactivity_interval})")


class OnCheckpointRollingPolicy(RollingPolicy):
    on_checkpoint = True

    def __repr__(self) -> str:
        return "RollingPolicy.on_checkpoint_rolling_policy()"


_JAVA_DATE = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M",
              "ss": "%S"}
_JAVA_LETTERS = re.compile("|".join(_JAVA_DATE))


class BucketAssigner:
    """Which folder under the base path a record goes to: one per hour of the processing
    time it is written at (``date_time_bucket_assigner``, Flink's default, with Java's
    date pattern letters ``yyyy MM dd HH mm ss``) or the base path itself
    (``base_path_bucket_assigner``)."""

    def __init__(self, format_str: Optional[str], timezone_id: Optional[str] = None) -> None:
        self.format = format_str
        self.timezone_id = timezone_id
        self._pattern = None
        if format_str is not None:
            self._pattern = _JAVA_LETTERS.sub(lambda m: _JAVA_DATE[m.group()],
                                              format_str.replace("%", "%%"))
        self._zone = None
        if timezone_id is not None:
            from zoneinfo import ZoneInfo
            try:
                self._zone = ZoneInfo(timezone_id)
            except Exception as exc:
                raise PlanError(f"date_time_bucket_assigner: unknown time zone "
                                f"{timezone_id!r}") from exc

    @staticmethod
    def base_path_bucket_assigner() -> "BucketAssigner":
        return BucketAssigner(None)

    @staticmethod
    def date_time_bucket_assigner(format_str: str = "yyyy-MM-dd--HH",
                                  timezone_id: Optional[str] = None) -> "BucketAssigner":
        return BucketAssigner(format_str, timezone_id)

    def bucket(self, now_ms: Optional[int] = None) -> str:
        """The bucket (a folder relative to the base path, "" for the base path)."""
        if self._pattern is None:
            return ""
        seconds = (time.time() if now_ms is None else now_ms / 1000.0)
        if self._zone is None:
            return time.strftime(self._pattern, time.localtime(seconds))
        import datetime
        return datetime.datetime.fromtimestamp(seconds, self._zone).strftime(self._pattern)

    def __getstate__(self) -> Dict[str, Any]:  # ZoneInfo pickles by key; keep it simple
        return {"format": self.format, "timezone_id": self.timezone_id}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["format"], state["timezone_id"])  # type: ignore[misc]


# -- the sink ---------------------------------------------------------------------------------

class FileSink:
    """Records written as text lines into part files under ``base_path`` (PyFlink's
    ``FileSink.for_row_format(base_path, Encoder.simple_string_encoder())``), exactly once
    with checkpointing. Attach it with ``ds.sink_to(sink)``.

    >>> import tempfile, pathlib
    >>> from nbstream import StreamExecutionEnvironment
    >>> out = tempfile.mkdtemp()
    >>> env = StreamExecutionEnvironment.get_execution_environment()
    >>> sink = (FileSink.for_row_format(out)
    ...         .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
    >>> _ = env.from_collection(["a", "b"]).set_parallelism(1).sink_to(sink)
    >>> _ = env.execute()
    >>> [p.read_text() for p in pathlib.Path(out).iterdir()]
    ['a\\nb\\n']
    """

    def __init__(self, base_path: str, encoder: Any = None) -> None:
        self.base_path = os.fspath(base_path)
        self.encoder = encoder
        self.output_file_config = OutputFileConfig()
        self.bucket_assigner = BucketAssigner.date_time_bucket_assigner()
        self.rolling_policy: RollingPolicy = RollingPolicy.default_rolling_policy()
        self.bulk: Optional["ParquetWriterFactory"] = None

    @staticmethod
    def for_row_format(base_path: str, encoder: Any = None) -> "FileSink.RowFormatBuilder":
        """``encoder``: PyFlink's ``Encoder.simple_string_encoder(charset)`` (the default:
        each record's text and a newline, UTF-8)."""
        return FileSink.RowFormatBuilder(FileSink(base_path, encoder))

    @staticmethod
    def for_bulk_format(base_path: str, writer_factory: Any) -> "FileSink.RowFormatBuilder":
        """Columnar part files: ``writer_factory`` is a :class:`ParquetWriterFactory`.
        As in Flink, bulk part files roll at every checkpoint (and at the end of the
        input) and are committed with it; their names end in ``.parquet`` unless an
        OutputFileConfig says otherwise."""
        if not isinstance(writer_factory, ParquetWriterFactory):
            raise PlanError(f"FileSink.for_bulk_format needs a ParquetWriterFactory, "
                            f"not {type(writer_factory).__name__}")
        sink = FileSink(base_path)
        sink.bulk = writer_factory
        sink.output_file_config = OutputFileConfig("part", ".parquet")
        sink.rolling_policy = RollingPolicy.on_checkpoint_rolling_policy()
        return FileSink.RowFormatBuilder(sink)

    class RowFormatBuilder:
        def __init__(self, sink: "FileSink") -> None:
            self._sink = sink

        def with_output_file_config(self, config: OutputFileConfig) -> "FileSink.RowFormatBuilder":
            self._sink.output_file_config = config
            return self

        def with_rolling_policy(self, policy: RollingPolicy) -> "FileSink.RowFormatBuilder":
            if self._sink.bulk is not None and not policy.on_checkpoint:
                raise PlanError("FileSink.for_bulk_format: bulk part files roll on checkpoints "
                                "only (RollingPolicy.on_checkpoint_rolling_policy())")
            if not isinstance(policy, RollingPolicy):
                raise PlanError(f"FileSink: with_rolling_policy needs a RollingPolicy, "
                                f"not {type(policy).__name__}")
            self._sink.rolling_policy = policy
            return self

        def with_bucket_assigner(self, assigner: BucketAssigner) -> "FileSink.RowFormatBuilder":
            self._sink.bucket_assigner = assigner
            return self

        def with_bucket_check_interval(self, interval: int) -> "FileSink.RowFormatBuilder":
            """Accepted; nbstream checks time-based rolling when records arrive and at
            checkpoints."""
            return self

        def build(self) -> "FileSink":
            return self._sink

    #: whether the end of the input finishes the open and pending part files (Flink's
    #: legacy StreamingFileSink leaves them in progress without checkpointing)
    finalize_at_end = True

    def _spec(self) -> "FileSinkSpec":
        return FileSinkSpec(self.base_path, self.output_file_config, self.bucket_assigner,
                            self.rolling_policy, getattr(self.encoder, "charset", None) or "UTF-8",
                            self.finalize_at_end)

    def _nbstream_sink(self, stream: Any) -> Any:
        if self.bulk is not None:
            spec = BulkFileSinkSpec(self.base_path, self.output_file_config, self.bucket_assigner,
                                    self.rolling_policy, bulk=self.bulk)
            return stream._sink(spec, f"Sink: FileSink (Parquet) {self.base_path}")
        return stream._as_text()._sink(self._spec(), f"Sink: FileSink {self.base_path}")

    def __repr__(self) -> str:
        return f"<FileSink {self.base_path} {self.rolling_policy!r}>"


class _Part:
    """An open in-progress part file."""

    __slots__ = ("bucket", "hidden", "final", "file", "size", "opened_ms", "written_ms")

    def __init__(self, bucket: str, hidden: str, final: str, file: Any, now_ms: int) -> None:
        self.bucket, self.hidden, self.final, self.file = bucket, hidden, final, file
        self.size = 0
        self.opened_ms = self.written_ms = now_ms


def _publish(hidden: str, final: str) -> None:
    """Rename a pending file to its finished name (nothing to do if it was done before)."""
    if os.path.exists(hidden):
        os.replace(hidden, final)


class FileSinkSpec(SinkSpec):
    """The plan's spec of a :class:`FileSink`; ``uid`` names this job's part files."""

    def __init__(self, base_path: str, config: OutputFileConfig, buckets: BucketAssigner,
                 policy: RollingPolicy, charset: str = "UTF-8", finalize_at_end: bool = True) -> None:
        self.base_path, self.config, self.buckets = base_path, config, buckets
        self.policy, self.charset, self.finalize_at_end = policy, charset, finalize_at_end
        self.uid = str(uuid.uuid4())

    def prepare(self, job: Any, parallelism: int) -> None:
        if os.path.exists(self.base_path) and not os.path.isdir(self.base_path):
            raise PlanError(f"FileSink: {self.base_path} exists and is not a directory")
        os.makedirs(self.base_path, exist_ok=True)

    def create_writer(self) -> "_PartFileWriter":
        return _PartFileWriter(self)


class _PartFileWriter(_Writer):
    """One parallel instance of a FileSink. Paths in the state are relative to the base
    path, so a moved output folder still restores."""

    def __init__(self, spec: FileSinkSpec) -> None:
        self.spec = spec
        self.parts: Dict[str, _Part] = {}  # bucket -> open in-progress file
        self.rolled: List[Tuple[str, str]] = []  # closed since the last barrier
        self.pending: List[Tuple[int, str, str]] = []  # (epoch, hidden, final), not yet committed
        self.counter = 0
        self.epoch = 0  # the last barrier's checkpoint id
        self.uids = {spec.uid}
        self.cleaned = False

    def open(self, op: Any) -> None:
        super().open(op)
        task = op.task
        self.checkpointing = task.config.checkpoints is not None
        self.subtask, self.parallelism = task.subtask, task.parallelism
        self.attempt = uuid.uuid4().hex[:12]
        self.now = getattr(task, "time_service", None)
        self.encoding = self.spec.charset
        cfg = self.spec.config
        self._hidden_prefix = f".{cfg.part_prefix}-"

    # -- paths ---------------------------------------------------------------------------
    def _abs(self, rel: str) -> str:
        return os.path.join(self.spec.base_path, rel)

    def _now_ms(self) -> int:
        if self.now is not None:
            try:
                return int(self.now.now_ms())
            except Exception:  # noqa: BLE001 - a clock that cannot tell: the wall clock
                pass
        return int(time.time() * 1000)

    def _new_part(self, bucket: str, now_ms: int) -> _Part:
        cfg = self.spec.config
        name = f"{cfg.part_prefix}-{self.spec.uid}-{self.subtask}-{self.counter}"
        self.counter += 1
        hidden = os.path.join(bucket, f".{name}{cfg.part_suffix}.inprogress.{self.attempt}")
        final = os.path.join(bucket, f"{name}{cfg.part_suffix}")
        folder = self._abs(bucket)
        if bucket:
            os.makedirs(folder, exist_ok=True)
        part = _Part(bucket, hidden, final, open(self._abs(hidden), "wb"), now_ms)
        self.parts[bucket] = part
        return part

    def _roll(self, part: _Part) -> None:
        part.file.close()
        del self.parts[part.bucket]
        if part.size == 0:
            os.remove(self._abs(part.hidden))
        elif self.checkpointing or not self.spec.finalize_at_end:
            self.rolled.append((part.hidden, part.final))  # pending until a checkpoint
        else:  # no checkpoints: finished when rolled
            _publish(self._abs(part.hidden), self._abs(part.final))

    def _roll_due(self, now_ms: int) -> None:
        policy = self.spec.policy
        for part in list(self.parts.values()):
            if policy.should_roll(part, now_ms):
                self._roll(part)

    # -- writing -------------------------------------------------------------------------
    def write(self, batch: Any) -> None:
        if not len(batch.values):
            return
        if not self.cleaned:
            self._clean()
        now_ms = self._now_ms()
        self._roll_due(now_ms)
        bucket = self.spec.buckets.bucket(now_ms)
        part = self.parts.get(bucket)
        limit = self.spec.policy.part_size
        encoding = self.encoding
        lines = [f"{v}\n".encode(encoding) for v in batch.values]
        if part is None:
            part = self._new_part(bucket, now_ms)
        if limit is None or part.size + sum(map(len, lines)) - len(lines[-1]) <= limit:
            data = b"".join(lines)  # no roll inside this batch: at once
            part.file.write(data)
            part.size += len(data)
        else:  # Flink's check: roll before a record when the file is over the size
            for data in lines:
                if part.size > limit:
                    self._roll(part)
                    part = self._new_part(bucket, now_ms)
                part.file.write(data)
                part.size += len(data)
        part.written_ms = now_ms

    def finish(self) -> None:
        if not self.cleaned:
            self._clean()
        if not self.spec.finalize_at_end:  # the legacy sink: in progress they stay
            for part in self.parts.values():
                part.file.flush()
            return
        for part in list(self.parts.values()):
            self._roll(part)

    # -- two-phase commit ----------------------------------------------------------------
    def seal(self, checkpoint_id: int) -> Dict[str, Any]:
        """At a barrier (``checkpoint_id``), or with 0 when the task has finished (its last
        state, which the next checkpoint holds)."""
        if not self.cleaned:
            self._clean()
        if checkpoint_id:
            self._roll_due(self._now_ms())
            if self.spec.policy.on_checkpoint:
                for part in list(self.parts.values()):
                    self._roll(part)
        epoch = checkpoint_id or self.epoch + 1
        if checkpoint_id:
            self.epoch = checkpoint_id
        self.pending += [(epoch, hidden, final) for hidden, final in self.rolled]
        self.rolled = []
        in_progress = []
        for part in self.parts.values():
            part.file.flush()
            in_progress.append((part.hidden, part.size, part.final))
        return {"format": 1, "uid": self.spec.uid, "subtask": self.subtask,
                "counter": self.counter, "epoch": self.epoch,
                "pending": list(self.pending), "in_progress": in_progress}

    def commit(self, checkpoint_id: Optional[int]) -> None:
        if checkpoint_id is None and not self.spec.finalize_at_end:
            return  # the legacy sink: what no checkpoint committed stays in progress
        if checkpoint_id is None:  # the job is over: everything is final
            self.finish()
            self.pending += [(self.epoch + 1, hidden, final) for hidden, final in self.rolled]
            self.rolled = []
        keep = []
        for entry in self.pending:
            epoch, hidden, final = entry
            if checkpoint_id is None or epoch <= checkpoint_id:
                _publish(self._abs(hidden), self._abs(final))
            else:
                keep.append(entry)
        self.pending = keep

    def restore(self, state: Dict[str, Any]) -> None:
        """Finish what a completed checkpoint lists. After a rescale every instance is
        given every old instance's state: old instance ``s`` is finished by new instance
        ``s % parallelism``."""
        if not isinstance(state, dict) or state.get("format") != 1:
            return
        self.uids.add(state["uid"])
        if state["subtask"] == self.subtask:
            self.counter = max(self.counter, state["counter"])
            self.epoch = max(self.epoch, state["epoch"])
            if state["uid"] != self.spec.uid:  # resumed by another job: its names go on
                self.counter = 0
        if state["subtask"] % self.parallelism != self.subtask:
            return
        for _epoch, hidden, final in state["pending"]:
            _publish(self._abs(hidden), self._abs(final))
        for hidden, size, final in state["in_progress"]:
            path = self._abs(hidden)
            if not os.path.exists(path):
                continue  # finished by an earlier restore
            if size:
                os.truncate(path, size)  # what came after the checkpoint is replayed
                os.replace(path, self._abs(final))
            else:
                os.remove(path)

    def _clean(self) -> None:
        """Delete the hidden files failed attempts of the instances this one stands for
        left behind (what the checkpoint lists was finished by :meth:`restore` before)."""
        self.cleaned = True
        if not self.checkpointing:
            return
        prefix = re.escape(self.spec.config.part_prefix)
        uids = "|".join(re.escape(u) for u in sorted(self.uids))
        mine = re.compile(rf"\.{prefix}-({uids})-(\d+)-\d+.*\.inprogress\.(\w+)$")
        for folder, _dirs, files in os.walk(self.spec.base_path):
            for name in files:
                m = mine.match(name)
                if m is None or m.group(3) == self.attempt:
                    continue
                if int(m.group(2)) % self.parallelism == self.subtask:
                    try:
                        os.remove(os.path.join(folder, name))
                    except FileNotFoundError:
                        pass

    def close(self) -> None:
        """Close the open files without finishing them (a failed attempt's in-progress
        files stay hidden until a restore decides)."""
        for part in self.parts.values():
            try:
                part.file.close()
            except OSError:
                pass


# -- write_as_text with checkpointing ---------------------------------------------------------

class StagedTextWriter(_Writer):
    """``write_as_text`` exactly once. The target file only ever grows by whole committed
    chunks: the records between two barriers go to a hidden chunk file next to it
    (``.<name>.chunk-<attempt>-<n>``); the chunk is sealed at the barrier and appended to
    the target when that checkpoint completes. Appending is made idempotent by a small
    sidecar (``.<name>.commit``, JSON) written *before* each append, naming the chunk's
    epoch and the target's length before it: a restore that finds the sidecar naming a
    chunk whose file is still there cuts the target back to that length and appends the
    chunk again; chunks of earlier epochs are skipped. The sidecar and chunks are removed
    when the job ends, leaving the same file as a run without checkpointing."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.chunk: Any = None  # open chunk file
        self.chunk_name: Optional[str] = None
        self.rolled: List[str] = []
        self.pending: List[Tuple[int, str]] = []  # (epoch, chunk name)
        self.seq = 0
        self.epoch = 0
        self.cleaned = False

    def open(self, op: Any) -> None:
        super().open(op)
        task = op.task
        self.subtask = task.subtask
        if task.parallelism > 1:
            self.target = os.path.join(self.spec.path, str(task.subtask + 1))
        else:
            self.target = self.spec.path
        self.folder = os.path.dirname(os.path.abspath(self.target))
        self.base = os.path.basename(self.target)
        self.sidecar = os.path.join(self.folder, f".{self.base}.commit")
        self.attempt = uuid.uuid4().hex[:12]
        self.staged = task.config.checkpoints is not None
        if not self.staged:  # as ever: straight into the file
            self.direct = open(self.target, "w", encoding="utf-8")
            return
        open(self.target, "ab").close()  # an empty input still makes the file

    def _clean(self) -> None:
        self.cleaned = True
        prefix = f".{self.base}.chunk-"
        for name in os.listdir(self.folder):
            if name.startswith(prefix) and not name.startswith(f"{prefix}{self.attempt}-"):
                try:
                    os.remove(os.path.join(self.folder, name))
                except FileNotFoundError:
                    pass

    def write(self, batch: Any) -> None:
        if not self.staged:
            self.direct.write("".join(f"{v}\n" for v in batch.values))
            return
        if not self.cleaned:
            self._clean()
        if self.chunk is None:
            self.chunk_name = f".{self.base}.chunk-{self.attempt}-{self.seq}"
            self.seq += 1
            self.chunk = open(os.path.join(self.folder, self.chunk_name), "wb")
        self.chunk.write("".join(f"{v}\n" for v in batch.values).encode("utf-8"))

    def _close_chunk(self) -> None:
        if self.chunk is not None:
            self.chunk.close()
            self.rolled.append(self.chunk_name)  # type: ignore[arg-type]
            self.chunk = self.chunk_name = None

    def finish(self) -> None:
        self._close_chunk()

    def seal(self, checkpoint_id: int) -> Dict[str, Any]:
        if not self.cleaned:
            self._clean()
        self._close_chunk()
        epoch = checkpoint_id or self.epoch + 1
        if checkpoint_id:
            self.epoch = checkpoint_id
        self.pending += [(epoch, name) for name in self.rolled]
        self.rolled = []
        return {"format": 1, "token": self.spec.token, "subtask": self.subtask,
                "epoch": self.epoch, "pending": list(self.pending)}

    def commit(self, checkpoint_id: Optional[int]) -> None:
        if checkpoint_id is None:
            self._close_chunk()
            self.pending += [(self.epoch + 1, name) for name in self.rolled]
            self.rolled = []
        keep = []
        for epoch, name in self.pending:
            if checkpoint_id is None or epoch <= checkpoint_id:
                self._append(epoch, name)
            else:
                keep.append((epoch, name))
        self.pending = keep
        if checkpoint_id is None:
            try:
                os.remove(self.sidecar)
            except FileNotFoundError:
                pass

    def _append(self, epoch: int, name: str, redo: bool = False) -> None:
        chunk = os.path.join(self.folder, name)
        if not os.path.exists(chunk):
            return
        before = os.path.getsize(self.target)
        note = {"token": self.spec.token, "epoch": epoch, "chunk": name, "before": before}
        tmp = f"{self.sidecar}.tmp"
        with open(tmp, "w") as f:
            json.dump(note, f)
        os.replace(tmp, self.sidecar)
        with open(self.target, "ab") as out, open(chunk, "rb") as src:
            shutil.copyfileobj(src, out)
        os.remove(chunk)

    def restore(self, state: Dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("format") != 1 \
                or state["subtask"] != self.subtask:
            return
        if state["token"] != self.spec.token:
            return  # another job's (a savepoint): it committed its chunks before it stopped
        self.epoch = max(self.epoch, state["epoch"])
        note = None
        try:
            with open(self.sidecar) as f:
                note = json.load(f)
            if note.get("token") != self.spec.token:
                note = None
        except (OSError, ValueError):
            note = None
        for epoch, name in sorted(state["pending"]):
            if note is not None and epoch < note["epoch"]:
                continue  # appended before the failure
            if note is not None and epoch == note["epoch"] and name == note["chunk"]:
                if not os.path.exists(os.path.join(self.folder, name)):
                    continue  # appended completely (the chunk goes only after)
                os.truncate(self.target, note["before"])  # a partial append: again
            self._append(epoch, name)

    def close(self) -> None:
        direct = getattr(self, "direct", None)
        if direct is not None:
            direct.close()
        if self.chunk is not None:
            self.chunk.close()


# -- FileSource: a set of files, or a folder watched for new ones ------------------------------

class StreamFormat:
    """How a FileSource reads records one after another from a file, each ending at a
    byte offset the checkpoint keeps: ``text_line_format()`` (lines), ``csv()`` (dicts
    by the header), ``json_lines()`` (one JSON value per line)."""

    kind = "text"

    def __init__(self, charset: str = "UTF-8", kind: str = "text", **options: Any) -> None:
        self.charset, self.kind, self.options = charset, kind, options

    @staticmethod
    def text_line_format(charset_name: str = "UTF-8") -> "StreamFormat":
        return StreamFormat(charset_name)

    @staticmethod
    def csv(charset_name: str = "UTF-8", delimiter: str = ",", header: bool = True) -> "StreamFormat":
        """CSV rows: dicts keyed by the header row (``header=False``: lists)."""
        return StreamFormat(charset_name, "csv", delimiter=delimiter, header=header)

    @staticmethod
    def json_lines(charset_name: str = "UTF-8") -> "StreamFormat":
        return StreamFormat(charset_name, "json")

    def read(self, f: Any, offset: int) -> Iterator[Tuple[Any, int]]:
        """``(record, offset after it)`` from byte ``offset`` of the binary file ``f``."""
        import codecs

        decode = codecs.getdecoder(self.charset)
        header: Optional[List[str]] = None
        if self.kind == "csv" and self.options["header"]:
            f.seek(0)
            first = f.readline()
            header = next(csv.reader([decode(first)[0]], delimiter=self.options["delimiter"]), [])
            offset = max(offset, len(first))
        f.seek(offset)
        position = offset
        while True:
            raw = f.readline()
            if not raw:
                return
            position += len(raw)
            text = decode(raw)[0].rstrip("\r\n")
            if self.kind == "text":
                yield text, position
            elif not text.strip():
                continue
            elif self.kind == "json":
                yield json.loads(text), position
            else:
                row = next(csv.reader([text], delimiter=self.options["delimiter"]))
                yield (dict(zip(header, row)) if header is not None else row), position


class BulkFormat:
    """How a FileSource reads whole columnar files: ``parquet(columns)`` gives each row
    as a dict; the checkpoint keeps the number of rows read."""

    def __init__(self, columns: Optional[List[str]] = None) -> None:
        self.columns = columns

    @staticmethod
    def parquet(columns: Optional[List[str]] = None) -> "BulkFormat":
        return BulkFormat(columns)

    def read(self, path: str, offset: int, batch_rows: int) -> Iterator[Tuple[List[Any], int]]:
        import pyarrow.parquet as pq

        done = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=self.columns):
            rows = batch.to_pylist()
            if done + len(rows) <= offset:
                done += len(rows)
                continue
            rows = rows[max(0, offset - done):]
            done = max(done, offset) + len(rows)
            yield rows, done


class FileSource:
    """Records of files: a static set, or a folder watched for files that arrive
    (``monitor_continuously``), read once each, exactly once across restores.

    >>> import tempfile, os
    >>> from nbstream import StreamExecutionEnvironment, WatermarkStrategy
    >>> folder = tempfile.mkdtemp()
    >>> _ = open(os.path.join(folder, "a.csv"), "w").write("name,n\\nx,1\\ny,2\\n")
    >>> source = FileSource.for_record_stream_format(StreamFormat.csv(), folder).build()
    >>> env = StreamExecutionEnvironment.get_execution_environment()
    >>> sorted(r["name"] for r in env.from_source(source, WatermarkStrategy.no_watermarks(),
    ...                                            "csv").execute_and_collect())
    ['x', 'y']
    """

    def __init__(self, paths: List[str], stream_format: Any) -> None:
        self.paths = [os.fspath(p) for p in paths]
        self.format = stream_format
        self.interval_s: Optional[float] = None

    @staticmethod
    def for_record_stream_format(stream_format: StreamFormat, *paths: str) -> "FileSourceBuilder":
        return FileSourceBuilder(FileSource(list(paths), stream_format))

    @staticmethod
    def for_bulk_file_format(bulk_format: BulkFormat, *paths: str) -> "FileSourceBuilder":
        return FileSourceBuilder(FileSource(list(paths), bulk_format))

    def _nbstream_source(self, env: Any, name: str, type_info: Any) -> Any:
        if not self.paths:
            raise PlanError(f"FileSource '{name}': give at least one file or folder")
        return env._source(FileSourceSpec(self), f"Source: {name}", type_info)

    def __repr__(self) -> str:
        how = f"watched every {self.interval_s:g} s" if self.interval_s else "static"
        return f"<FileSource {self.paths} {how}>"


class FileSourceBuilder:
    def __init__(self, source: FileSource) -> None:
        self._source = source

    def monitor_continuously(self, discovery_interval: Any) -> "FileSourceBuilder":
        """Look for new files every ``discovery_interval`` (a Duration, or ms) and read
        them as they arrive; the stream never ends. Write a file elsewhere (or under a
        name starting with ``.`` or ``_``) and rename it in when complete."""
        from ..runtime.durations import to_millis

        ms = to_millis(discovery_interval, "monitor_continuously: the interval")
        if ms <= 0:
            raise PlanError("monitor_continuously: the interval must be positive")
        self._source.interval_s = ms / 1000.0
        return self

    def process_static_file_set(self) -> "FileSourceBuilder":
        """Read the files there are now, then end (the default)."""
        self._source.interval_s = None
        return self

    def build(self) -> FileSource:
        return self._source


class FileSourceSpec(SourceSpec):
    """One reader lists the paths (sorted by modification time, then name), reads every
    file it has not read, and with monitoring looks again every interval. Its
    checkpointed state: the files read completely, and the file being read with its
    offset (bytes, or rows of a bulk file)."""

    after_restore = "skips the files read and resumes the one being read at its offset " \
                    "(exactly once)"

    def __init__(self, source: FileSource) -> None:
        self.source = source

    def prepare(self, job: Any) -> None:
        if self.source.interval_s is None:
            missing = [p for p in self.source.paths if not os.path.exists(p)]
            if missing:
                raise PlanError(f"FileSource: no such file or folder: {', '.join(missing)}")

    def create_reader(self, subtask: int, parallelism: int) -> "FolderReader":
        return FolderReader(self.source)


class FolderReader:
    """Reads the files of a FileSource in the task's thread."""

    def __init__(self, source: FileSource) -> None:
        self.source = source
        self.done: List[str] = []      # files read completely (paths as listed)
        self.current: Optional[List[Any]] = None  # [path, offset]
        self.stopped = False
        self.vanished = 0

    def snapshot_splits(self, checkpoint_id: int) -> Dict[str, Any]:
        return {"done": list(self.done), "current": list(self.current) if self.current else None}

    def restore_splits(self, states: List[Optional[Dict[str, Any]]]) -> None:
        for state in states:
            if state:
                self.done += state["done"]
                if state["current"]:
                    self.current = list(state["current"])

    def metrics(self) -> Dict[str, Any]:
        return {"files_read": len(self.done), "files_vanished": self.vanished}

    def cancel(self) -> None:
        self.stopped = True

    def _listing(self) -> List[str]:
        found: List[Tuple[float, str]] = []
        for path in self.source.paths:
            if os.path.isdir(path):
                for name in os.listdir(path):
                    full = os.path.join(path, name)
                    if not name.startswith((".", "_")) and os.path.isfile(full):
                        found.append((_mtime(full), full))
            elif os.path.isfile(path):
                found.append((_mtime(path), path))
            elif self.source.interval_s is None:
                raise FileNotFoundError(f"FileSource: no such file or folder: {path}")
        return [p for _, p in sorted(found)]

    def run(self, ctx: Any) -> None:
        seen = set(self.done)
        if self.current is not None:
            path, offset = self.current
            if not os.path.exists(path):
                raise FileNotFoundError(
                    f"FileSource: {path} was being read (at {offset} of it) when the checkpoint "
                    "was taken and is gone now: the job cannot resume it exactly once")
            self._read(ctx, path, offset)
            seen.add(path)
        while not self.stopped:
            new = [p for p in self._listing() if p not in seen]
            for path in new:
                seen.add(path)
                self._read(ctx, path, 0)
                if self.stopped:
                    return
            if self.source.interval_s is None:
                return
            deadline = time.monotonic() + self.source.interval_s
            while not self.stopped and time.monotonic() < deadline:
                ctx.flush()  # checkpoints and timers while waiting
                time.sleep(min(0.05, self.source.interval_s))

    def _read(self, ctx: Any, path: str, offset: int) -> None:
        fmt = self.source.format
        self.current = [path, offset]
        try:
            if isinstance(fmt, BulkFormat):
                for rows, position in fmt.read(path, offset, ctx.batch_size):
                    self.current[1] = position  # before the emit: a checkpoint in it has it
                    ctx.emit_batch(rows)
            else:
                with open(path, "rb") as f:  # an open file reads on if it is deleted meanwhile
                    values: List[Any] = []
                    size = ctx.batch_size
                    for value, position in fmt.read(f, offset):
                        values.append(value)
                        if len(values) >= size:
                            self.current[1] = position
                            ctx.emit_batch(values)
                            values = []
                        last = position
                    if values:
                        self.current[1] = last
                        ctx.emit_batch(values)
        except FileNotFoundError:
            if offset:
                raise
            self.vanished += 1  # listed, then gone before it was opened: nothing to read
            _LOG.warning("FileSource: %s disappeared before it was read", path)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"FileSource: {path}: cannot read a record after byte/row "
                             f"{self.current[1]}: {type(exc).__name__}: {exc}") from exc
        self.done.append(path)
        self.current = None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


# -- Parquet part files ------------------------------------------------------------------------

class ParquetWriterFactory:
    """Writes a FileSink's part files as Parquet (``FileSink.for_bulk_format``): records
    are dicts, Rows with field names, or tuples (columns ``f0``, ``f1``...); the schema is
    ``schema`` (a ``pyarrow.Schema``) or taken from the first records.

    >>> import tempfile, pandas as pd
    >>> from nbstream import StreamExecutionEnvironment
    >>> out = tempfile.mkdtemp()
    >>> env = StreamExecutionEnvironment.get_execution_environment()
    >>> env.enable_checkpointing(100)
    <nbstream StreamExecutionEnvironment mode=thread parallelism=...>
    >>> sink = (FileSink.for_bulk_format(out, ParquetWriterFactory())
    ...         .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
    >>> _ = env.from_collection([{"k": "a", "n": 1}, {"k": "b", "n": 2}]).sink_to(sink)
    >>> _ = env.execute()
    >>> pd.read_parquet(out).sort_values("n")["k"].tolist()
    ['a', 'b']
    """

    def __init__(self, schema: Any = None, compression: str = "snappy") -> None:
        self.schema, self.compression = schema, compression

    def table(self, values: List[Any], schema: Any) -> Any:
        import pyarrow as pa

        first = values[0]
        if isinstance(first, dict):
            rows = values
        elif hasattr(first, "as_dict") and getattr(first, "_fields", None) is not None:
            rows = [v.as_dict() for v in values]
        elif isinstance(first, (tuple, list)) or hasattr(first, "as_dict"):
            rows = [{f"f{i}": x for i, x in enumerate(v)} for v in values]
        else:
            rows = [{"f0": v} for v in values]
        return pa.Table.from_pylist(rows, schema=schema)


class _ParquetPart:
    """The open "file" of a Parquet part: a pyarrow ParquetWriter made at the first write
    (the schema then known); ``close`` writes the footer."""

    def __init__(self, path: str, factory: ParquetWriterFactory) -> None:
        self.path, self.factory = path, factory
        self.writer: Any = None
        self.schema = factory.schema

    def write_values(self, values: List[Any]) -> int:
        import pyarrow.parquet as pq

        table = self.factory.table(values, self.schema)
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, table.schema,
                                           compression=self.factory.compression)
        self.writer.write_table(table)
        return table.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class _BulkPartWriter(_PartFileWriter):
    """A bulk FileSink's instance: part files rolled at every checkpoint (a Parquet file is
    complete only with its footer), so a checkpoint lists pending files only."""

    def _new_part(self, bucket: str, now_ms: int) -> _Part:
        part = super()._new_part(bucket, now_ms)
        part.file.close()  # the row format's open file: the bulk writer opens its own
        part.file = _ParquetPart(self._abs(part.hidden), self.spec.bulk)
        return part

    def write(self, batch: Any) -> None:
        if not len(batch.values):
            return
        if not self.cleaned:
            self._clean()
        now_ms = self._now_ms()
        bucket = self.spec.buckets.bucket(now_ms)
        part = self.parts.get(bucket) or self._new_part(bucket, now_ms)
        part.size += part.file.write_values(list(batch.values))
        part.written_ms = now_ms


class BulkFileSinkSpec(FileSinkSpec):
    def __init__(self, *args: Any, bulk: ParquetWriterFactory) -> None:
        super().__init__(*args)
        self.bulk = bulk

    def create_writer(self) -> "_PartFileWriter":
        return _BulkPartWriter(self)
