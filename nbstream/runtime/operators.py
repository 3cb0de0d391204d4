"""The core operators. Everything the API offers is one of these, or a small subclass.

* :class:`OneInputOperator`: one input, optional keyed state and timers.
* :class:`TwoInputOperator`: two inputs (connect, co-map, co-process, broadcast).
* :class:`SourceOperator`: emits records read by a source reader.
* :class:`SinkOperator`: hands records to a sink writer.
* ``WindowOperator`` (in :mod:`nbstream.runtime.windows`) derives from OneInputOperator.

Operators work on batches: ``process_batch(batch, input_index)`` and push results
through ``self.output``. Within a chain, an output calls the next operator directly.
"""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..errors import USER_ERRORS, UserFunctionError, describe_function
from .context import ProcessContext, StreamingRuntimeContext, TaskInfo
from .metrics import MetricGroup
from .records import MIN_TIMESTAMP, Batch, OutputTag
from .operator_state import (FunctionInitializationContext, FunctionSnapshotContext,
                             OperatorStateStore, redistribute)
from .state import KeyedStateBackend
from .state_backends import SHARED_FILES, RocksDBMap, keyed_state_backend
from .timers import TimeDomain, Timers

if TYPE_CHECKING:  # pragma: no cover
    from ..plan.logical import Node

__all__ = ["Output", "ChainTarget", "Operator", "OneInputOperator", "TwoInputOperator",
           "SourceOperator", "SinkOperator", "Collector", "CORE_OPERATORS"]


class Output:
    """Where an operator's results go: chained operators and network targets,
    for the main output and for each side output (by tag id)."""

    __slots__ = ("main", "sides", "count", "convert")

    def __init__(self) -> None:
        self.main: List[Any] = []
        self.sides: Dict[str, List[Any]] = {}
        self.count = 0
        self.convert: Optional[Callable[[Any], Any]] = None

    def emit(self, batch: Batch) -> None:
        if not batch.values:
            return
        if self.convert is not None:
            batch = Batch([self.convert(v) for v in batch.values], batch.timestamps)
        self.count += len(batch.values)
        for target in self.main:
            target.send(batch)

    def emit_side(self, tag_id: str, batch: Batch) -> None:
        targets = self.sides.get(tag_id)
        if targets and batch.values:
            self.count += len(batch.values)
            for target in targets:
                target.send(batch)

    def all_targets(self) -> List[Any]:
        return self.main + [t for ts in self.sides.values() for t in ts]

    def emit_watermark(self, timestamp: int) -> None:
        for target in self.all_targets():
            target.watermark(timestamp)

    def emit_status(self, idle: bool) -> None:
        for target in self.all_targets():
            target.status(idle)


class ChainTarget:
    """The next operator in the same chain: a direct call, no queue."""

    __slots__ = ("op",)

    def __init__(self, op: "Operator") -> None:
        self.op = op

    def send(self, batch: Batch) -> None:
        op = self.op
        op.records_in += len(batch.values)
        op.process_batch(batch)

    def watermark(self, timestamp: int) -> None:
        self.op.process_watermark(timestamp)

    def status(self, idle: bool) -> None:
        self.op.process_status(idle)


class Collector:
    """Gathers what user functions yield for one batch, then emits it at once."""

    __slots__ = ("op", "values", "timestamps", "sides")

    def __init__(self, op: "Operator", with_timestamps: bool) -> None:
        self.op = op
        self.values: List[Any] = []
        self.timestamps: Optional[List[Any]] = [] if with_timestamps else None
        self.sides: Optional[Dict[str, List[Any]]] = None

    def add(self, results: Iterable[Any], ts: Optional[int]) -> None:
        values, timestamps = self.values, self.timestamps
        for r in results:
            if type(r) is tuple and len(r) == 2 and type(r[0]) is OutputTag:
                self.side(r[0], r[1], ts)
            else:
                values.append(r)
                if timestamps is not None:
                    timestamps.append(ts)

    def side(self, tag: OutputTag, value: Any, ts: Optional[int]) -> None:
        if self.sides is None:
            self.sides = {}
        entry = self.sides.get(tag.tag_id)
        if entry is None:
            entry = self.sides[tag.tag_id] = [[], []]
        entry[0].append(value)
        entry[1].append(ts)

    def flush(self) -> None:
        out = self.op.output
        out.emit(Batch(self.values, self.timestamps))
        if self.sides:
            for tag_id, (vals, tss) in self.sides.items():
                out.emit_side(tag_id, Batch(vals, tss if any(t is not None for t in tss) else None))
        self.values, self.sides = [], None
        self.timestamps = [] if self.timestamps is not None else None


class Operator:
    """Shared machinery: name, user function lifecycle, metrics, keyed state, timers, errors.

    Checkpoints take keyed state, timers and the watermark of every operator; a subclass
    that keeps more names it: ``keyed_fields`` (dicts whose entries belong to a key: the
    function gives the key of an entry's dict key) and ``instance_fields`` (anything else
    of this parallel instance), or overrides ``snapshot_state`` / ``restore_state``.
    """

    keyed_fields: Dict[str, Callable[[Any], Any]] = {}
    instance_fields: Tuple[str, ...] = ()
    operator_state: Optional[OperatorStateStore] = None
    _operator_restore: Any = None

    def __init__(self, node: "Node") -> None:
        self.node_id = node.id
        self.name = node.name
        self.fn = _instance_copy(node.fn)
        self.params = node.params
        self.output = Output()
        self.records_in = 0
        self.current_watermark = MIN_TIMESTAMP
        self.state: Optional[KeyedStateBackend] = None
        self.timers: Optional[Timers] = None
        self.task: Optional[TaskInfo] = None
        self.ctx: Optional[ProcessContext] = None
        self.on_timer: Optional[Callable[[int, Any], Any]] = None
        self.resources: List[Any] = []  # things with dispose(): released when the task ends
        self._metric_group: Optional[MetricGroup] = None
        self.fn_name = _function_name(self.fn)
        if getattr(node.output_type, "converts", False):  # declared rows, tuples, FLOATs...
            self.output.convert = node.output_type.from_value

    @property
    def records_out(self) -> int:
        return self.output.count

    def metric_group(self) -> MetricGroup:
        """The user metrics of this instance (``runtime_context.get_metrics_group()``)."""
        if self._metric_group is None:
            self._metric_group = MetricGroup()
        return self._metric_group

    def user_metrics(self) -> Dict[str, Any]:
        """The values of the metrics the user's function registered, if any."""
        return self._metric_group.report() if self._metric_group is not None else {}

    def extra_metrics(self) -> Dict[str, Any]:
        """Operator-specific counters reported with the job's metrics (e.g. late records);
        a user function object may add its own with an ``extra_metrics()`` method."""
        owner = self.fn.owner if self.fn is not None else None
        report = getattr(owner, "extra_metrics", None)
        return dict(report()) if report is not None else {}

    # lifecycle ------------------------------------------------------------------------------
    def setup(self, task: TaskInfo, keyed: bool) -> None:
        self.task = task
        if keyed:
            self.state = keyed_state_backend(self)
            self.timers = Timers(self.on_timers, task.time_service)
        self.ctx = ProcessContext(self)

    def runtime_context(self) -> StreamingRuntimeContext:
        return StreamingRuntimeContext(self)

    def open(self) -> None:
        if self.fn is not None:
            try:
                self.fn.open(self.runtime_context())
            except USER_ERRORS as exc:
                raise self.error(exc, None, has_record=False, phase="open()") from exc

    def close(self) -> None:
        if self.fn is not None:
            try:
                self.fn.close()
            except USER_ERRORS as exc:
                raise self.error(exc, None, has_record=False, phase="close()") from exc

    def release(self) -> None:
        """Dispose of this instance's resources (a state database): after ``close()``,
        and also for an operator that was never opened."""
        resources, self.resources = self.resources, []
        for resource in resources:
            resource.dispose()

    # data -----------------------------------------------------------------------------------
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        raise NotImplementedError

    def process_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        if self.timers is not None:
            self.timers.advance_watermark(timestamp)
        self.output.emit_watermark(timestamp)

    def process_status(self, idle: bool) -> None:
        self.output.emit_status(idle)

    def end_input(self) -> None:
        """All input has arrived (after the final watermark)."""

    # checkpoints ------------------------------------------------------------------------------
    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        """This instance's state at a barrier (the task serializes it at once)."""
        snap: Dict[str, Any] = {"watermark": self.current_watermark}
        store = getattr(self, "_rocksdb_store", None)
        if store is not None and store.incremental:  # before the states (see state_backends)
            handle = store.checkpoint(self.task.extras["shared_state_dir"])
            if handle is not None:
                snap["rocksdb"], snap[SHARED_FILES] = handle, handle["chain"]
        if self.state is not None:
            snap["keyed"] = self.state.snapshot()
        if self.timers is not None:
            snap["timers"] = self.timers.snapshot()
        for name in (*self.keyed_fields, *self.instance_fields):
            value = getattr(self, name)
            snap[name] = value.snapshot() if type(value) is RocksDBMap else value
        fn = self.checkpointed_function()
        if fn is not None and self.operator_state is not None:
            try:
                fn.snapshot_state(FunctionSnapshotContext(checkpoint_id))
            except USER_ERRORS as exc:
                raise self.error(exc, None, has_record=False, phase="snapshot_state()") from exc
            snap["operator_state"] = self.operator_state.snapshot()
        return snap

    def checkpointed_function(self) -> Any:
        """The user's function if it keeps operator state (Flink's CheckpointedFunction)."""
        owner = self.fn.owner if self.fn is not None else None
        return owner if hasattr(owner, "snapshot_state") else None

    def initialize_function_state(self) -> None:
        """Give a CheckpointedFunction its operator state (restored, or empty)."""
        fn = self.checkpointed_function()
        if fn is None:
            return
        restored = self._operator_restore
        self.operator_state = OperatorStateStore(restored)
        init = getattr(fn, "initialize_state", None)
        if init is not None:
            context = FunctionInitializationContext(self.operator_state, self.runtime_context(),
                                                    restored is not None)
            try:
                init(context)
            except USER_ERRORS as exc:
                raise self.error(exc, None, has_record=False, phase="initialize_state()") from exc

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Optional[Callable[[Any], bool]],
                      same_instance: bool) -> None:
        """Take the state of :meth:`snapshot_state` back: one snapshot of this instance,
        or (another parallelism) all of them with ``owns(key)`` saying which keys are ours."""
        mine = (lambda key: True) if owns is None else owns
        for snap in snaps:
            self.current_watermark = snap["watermark"] if same_instance else min(
                self.current_watermark if self.current_watermark != MIN_TIMESTAMP
                else snap["watermark"], snap["watermark"])
            if self.state is not None and "keyed" in snap:
                self.state.restore(_filtered(snap["keyed"], lambda slot: mine(slot)))
            if self.timers is not None and "timers" in snap:
                event, proc = snap["timers"]
                self.timers.restore([t for t in event if mine(t[1])],
                                    [t for t in proc if mine(t[1])])
            for name, key_of in self.keyed_fields.items():
                getattr(self, name).update(
                    {k: v for k, v in snap[name].items() if mine(key_of(k))})
            if same_instance:
                for name in self.instance_fields:
                    setattr(self, name, snap[name])
        parts = [snap["operator_state"] for snap in snaps if "operator_state" in snap]
        if parts:
            task = self.task
            self._operator_restore = parts[0] if same_instance else \
                redistribute(parts, task.subtask, task.parallelism)

    def notify_checkpoint_complete(self, checkpoint_id: Optional[int]) -> None:
        """Checkpoint ``checkpoint_id`` is complete (None: the job is over)."""
        owner = self.fn.owner if self.fn is not None else None
        notify = getattr(owner, "notify_checkpoint_complete", None)
        if notify is not None and checkpoint_id is not None:
            notify(checkpoint_id)

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` was abandoned: it will not complete (what it
        covers is committed with a later one)."""
        owner = self.fn.owner if self.fn is not None else None
        notify = getattr(owner, "notify_checkpoint_aborted", None)
        if notify is not None:
            notify(checkpoint_id)

    def run_process(self, fn: Callable[[Any, Any], Any], batch: Batch) -> None:
        """Call ``fn(value, ctx)`` per record, collecting what it yields."""
        ctx, state = self.ctx, self.state
        tss, keys = batch.timestamps, batch.keys
        out = Collector(self, tss is not None)
        add = out.add
        for i, v in enumerate(batch.values):
            ts = ctx._ts = tss[i] if tss is not None else None
            if keys is not None:
                state.current_key = keys[i]
            try:
                results = fn(v, ctx)
                if results is None:
                    raise TypeError(f"{self.fn_name} returned None; yield values or return "
                                    "an iterable (return [] to emit nothing)")
                add(results, ts)
            except USER_ERRORS as exc:
                raise self.error(exc, v) from exc
        out.flush()

    def on_timers(self, due: Iterable[Any], domain: TimeDomain) -> None:
        """Timers are due (``due`` yields ``(timestamp, key, namespace)``): call ``on_timer``."""
        ctx, state, on_timer = self.ctx, self.state, self.on_timer
        event_time = domain is TimeDomain.EVENT_TIME
        out = Collector(self, event_time)
        ctx._domain = domain
        try:
            for ts, key, _ns in due:
                state.current_key = key
                ctx._ts = ts  # ctx.timestamp() is the timer's time, as Flink
                if on_timer is None:
                    continue
                try:
                    results = on_timer(ts, ctx)
                    if results is not None:
                        out.add(results, ts if event_time else None)
                except USER_ERRORS as exc:
                    raise self.error(exc, None, has_record=False,
                                     phase=f"on_timer for the timer at {ts}") from exc
        finally:
            ctx._domain = None
        out.flush()

    # errors ---------------------------------------------------------------------------------
    def error(self, exc: BaseException, record: Any, has_record: bool = True,
              phase: str = "") -> UserFunctionError:
        if isinstance(exc, UserFunctionError):
            return exc
        function = self.fn_name
        where = getattr(exc, "nbstream_where", None)  # (function, record) that a step calling
        if where is not None:                         # several functions put on the exception
            (function, record), has_record = where, True
        task = self.task
        return UserFunctionError(self.name, function, record, exc,
                                 subtask=task.subtask if task else 0,
                                 parallelism=task.parallelism if task else 1,
                                 has_record=has_record, phase=phase)


class OneInputOperator(Operator):
    """Core one-input operator: runs a process function per record.

    Subclasses replace ``process_batch`` with a tighter loop (map, filter, reduce ...)
    but keep the semantics: outputs inherit the input record's timestamp.
    """

    process_element: Callable[[Any, Any], Any]
    # a function of nbstream's own may take a whole batch: ``_process_batch(operator,
    # batch)``, emitting through the operator (the StateFun dispatcher groups by address)
    _whole: Optional[Callable[["Operator", Batch], None]] = None

    def open(self) -> None:
        owner = self.fn.owner if self.fn is not None else None
        if owner is not None and hasattr(owner, "process_element"):
            self.process_element = owner.process_element
            self.on_timer = getattr(owner, "on_timer", None)
            self._whole = getattr(owner, "_process_batch", None)
        elif self.fn is not None:
            self.process_element = self.fn.call
        super().open()

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        if self._whole is not None:
            self._whole(self, batch)
        else:
            self.run_process(self.process_element, batch)

class TwoInputOperator(Operator):
    """Core two-input operator: ``process_element1`` / ``process_element2`` per record."""

    def open(self) -> None:
        owner = self.fn.owner
        if owner is not None and hasattr(owner, "process_element1"):
            self.fns = (owner.process_element1, owner.process_element2)
            self.on_timer = getattr(owner, "on_timer", None)
        else:
            self.fns = self.fn.calls
            self.on_timer = None
        super().open()

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        self.run_process(self.fns[input_index], batch)


class SourceOperator(Operator):
    """Runs a source reader in its task, emitting through its output.

    Its checkpointed state is its position: how many records it has emitted. After a
    restore, a reader with ``seek(n)`` starts at record ``n``; any other is run again and
    its first ``n`` records are dropped (``skip``).
    """

    instance_fields = ("records_in",)
    skip = 0
    replay_to = 0  # the position a reader run again after a restore replays up to

    def open(self) -> None:
        task = self.task
        self.reader = self.params["source"].create_reader(task.subtask, task.parallelism)
        open_reader = getattr(self.reader, "open", None)
        if open_reader is not None:
            try:
                open_reader(self.runtime_context())
            except USER_ERRORS as exc:
                raise self.error(exc, None, has_record=False, phase="open()") from exc

    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        """A reader that reads splits (Kafka partitions, files of a folder) keeps its own
        position in them: ``snapshot_splits(checkpoint_id)`` gives it as plain data."""
        snap = super().snapshot_state(checkpoint_id)
        splits = getattr(getattr(self, "reader", None), "snapshot_splits", None)
        if splits is not None:
            snap["splits"] = splits(checkpoint_id)
        return snap

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Optional[Callable[[Any], bool]],
                      same_instance: bool) -> None:
        restore_splits = getattr(self.reader, "restore_splits", None)
        if restore_splits is not None:  # at any parallelism: the reader takes its splits
            self.current_watermark = min(snap["watermark"] for snap in snaps)
            restore_splits([snap.get("splits") for snap in snaps])
            if same_instance:
                self.records_in = snaps[0]["records_in"]
            return
        if not same_instance:
            from .checkpoints import CheckpointError
            raise CheckpointError(f"source '{self.name}' cannot be restored at another "
                                  "parallelism than it had in the checkpoint: keep its "
                                  "parallelism (set_parallelism on the source)")
        super().restore_state(snaps, owns, same_instance)
        position = snaps[0]["records_in"]
        seek = getattr(self.reader, "seek", None)
        if self.checkpointed_function() is not None:
            pass  # it goes on from its own restored state
        elif seek is not None:
            seek(position)
        else:
            self.skip = self.replay_to = position
        self.records_in = position
        self.current_watermark = snaps[0]["watermark"]

    def extra_metrics(self) -> Dict[str, Any]:
        metrics = super().extra_metrics()
        report = getattr(getattr(self, "reader", None), "metrics", None)
        if report is not None:  # the reader's own: a feed's status, Kafka partitions...
            metrics.update(report())
        if self.skip:  # run again after a restore: dropping what it emitted before
            metrics["replay_to"] = self.replay_to
            metrics["replay_left"] = self.skip
        return metrics

    def checkpointed_function(self) -> Any:
        fn = getattr(getattr(self, "reader", None), "function", None)
        return fn if hasattr(fn, "snapshot_state") else None

    def admit(self, values: List[Any], timestamps: Optional[List[Any]]) -> Any:
        """Drop what a restored reader emits again before its checkpointed position."""
        n = min(self.skip, len(values))
        self.skip -= n
        return values[n:], (timestamps[n:] if timestamps is not None else None), n

    def run(self, ctx: Any) -> None:
        try:
            self.reader.run(ctx)
        except UserFunctionError:
            raise
        except USER_ERRORS as exc:
            from .checkpoints import CheckpointError
            if isinstance(exc, CheckpointError):  # a checkpoint taken between its batches
                raise
            raise self.error(exc, None, has_record=False) from exc

    def notify_checkpoint_complete(self, checkpoint_id: Optional[int]) -> None:
        notify = getattr(getattr(self, "reader", None), "notify_checkpoint_complete", None)
        if notify is not None:  # e.g. Kafka offsets committed to the group, for monitoring
            notify(checkpoint_id)

    def cancel(self) -> None:
        cancel = getattr(getattr(self, "reader", None), "cancel", None)
        if cancel is not None:
            cancel()

    def close(self) -> None:
        close = getattr(getattr(self, "reader", None), "close", None)
        if close is not None:
            close()


class SinkOperator(Operator):
    """Hands batches to a sink writer (print, file, socket, collect, user SinkFunction)."""

    def open(self) -> None:
        self.writer = self.params["sink"].create_writer()
        try:
            self.writer.open(self)
        except USER_ERRORS as exc:
            raise self.error(exc, None, has_record=False, phase="open()") from exc

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        try:
            self.writer.write(batch)
        except UserFunctionError:
            raise
        except USER_ERRORS as exc:
            raise self.error(exc, None, has_record=False) from exc

    def end_input(self) -> None:
        finish = getattr(self.writer, "finish", None)
        if finish is not None:
            finish()

    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        snap = super().snapshot_state(checkpoint_id)
        seal = getattr(self.writer, "seal", None)
        if seal is not None:  # a sink that commits on completed checkpoints
            snap["writer"] = seal(checkpoint_id)
        return snap

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Optional[Callable[[Any], bool]],
                      same_instance: bool) -> None:
        super().restore_state(snaps, owns, same_instance)
        restore = getattr(self.writer, "restore", None)
        if restore is not None:
            for snap in snaps:
                if snap.get("writer"):
                    restore(snap["writer"])

    def notify_checkpoint_complete(self, checkpoint_id: Optional[int]) -> None:
        commit = getattr(self.writer, "commit", None)
        if commit is not None:
            commit(checkpoint_id)
        super().notify_checkpoint_complete(checkpoint_id)

    def extra_metrics(self) -> Dict[str, Any]:
        report = getattr(getattr(self, "writer", None), "metrics", None)
        return {**super().extra_metrics(), **(report() if report is not None else {})}

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        abort = getattr(self.writer, "abort", None)
        if abort is not None:
            abort(checkpoint_id)
        super().notify_checkpoint_aborted(checkpoint_id)

    def close(self) -> None:
        writer = getattr(self, "writer", None)
        if writer is not None:
            writer.close()


def _filtered(keyed: Dict[str, Any], mine: Callable[[Any], bool]) -> Dict[str, Any]:
    return {name: (kind, {slot: v for slot, v in data.items() if mine(slot)})
            for name, (kind, data) in keyed.items()}


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _function_name(fn: Any) -> str:
    """How errors name a step's function: the user's, with its file and line; one that
    nbstream made for the user (``sum('v')``, a field key) by what the user wrote."""
    if fn is None:
        return ""
    if fn.owner is not None:
        return describe_function(fn.owner)
    code = getattr(fn.call, "__code__", None)
    if code is not None and code.co_filename.startswith(_PACKAGE_DIR) and fn.name != "<function>":
        return fn.name
    return describe_function(fn.call)


def _instance_copy(fn: Any) -> Any:
    """Each parallel instance gets its own copy of a Function object (as Flink, which
    deserializes one per instance), so attributes set in open() or process_element()
    are per instance in every mode. An object that cannot be copied is shared."""
    if fn is None or fn.owner is None:
        return fn
    try:
        return copy.deepcopy(fn)
    except Exception:
        return fn


CORE_OPERATORS = (OneInputOperator, TwoInputOperator, SourceOperator, SinkOperator)
