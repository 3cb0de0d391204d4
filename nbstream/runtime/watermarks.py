"""The operator behind ``assign_timestamps_and_watermarks``.

It gives each record its timestamp, feeds the watermark generator and emits its
watermarks: periodically (every ``auto_watermark_interval_ms`` of processing time)
and whenever the generator emits in ``on_event``. In that case the batch is split
so that the watermark sits exactly after the record that caused it, as in Flink.
Watermarks from upstream are swallowed, except the final ``MAX`` one at the end of
a bounded input. In BATCH runtime mode only that final watermark is emitted.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..errors import USER_ERRORS, describe_function
from .registry import register
from .operators import OneInputOperator, Operator
from .records import MAX_TIMESTAMP, MIN_TIMESTAMP, Batch

__all__ = ["TimestampsAndWatermarksOperator", "as_millis"]


def as_millis(value: Any) -> int:
    """A timestamp as int epoch milliseconds (ints, floats, datetimes, pandas Timestamps)."""
    if type(value) is int:
        return value
    stamp = getattr(value, "timestamp", None)
    if stamp is not None and callable(stamp):  # datetime (naive = local time, as Python does)
        return int(round(stamp() * 1000))
    if value is None:
        raise TypeError("the timestamp assigner returned None; return epoch milliseconds")
    return int(value)


_INT = {int}


class _GeneratorContext:
    def __init__(self, op: "TimestampsAndWatermarksOperator") -> None:
        self._op = op

    def current_processing_time(self) -> int:
        return self._op.task.time_service.now_ms()


class _Output:
    """The WatermarkOutput a generator emits through."""

    __slots__ = ("op", "pending")

    def __init__(self, op: "TimestampsAndWatermarksOperator") -> None:
        self.op = op
        self.pending: Optional[int] = None

    def emit_watermark(self, watermark: Any) -> None:
        ts = watermark.timestamp if hasattr(watermark, "timestamp") else int(watermark)
        if self.pending is None or ts > self.pending:
            self.pending = ts

    def mark_idle(self) -> None:
        self.op._set_idle(True)

    def mark_active(self) -> None:
        self.op._set_idle(False)


_PLAIN = (int, float, str, bool, bytes, type(None))


def _plain_fields(obj: Any, depth: int = 3) -> Dict[str, Any]:
    """A generator's progress for checkpoints: its plain attributes (the largest
    timestamp seen...), those of generators it wraps, not its callbacks."""
    out: Dict[str, Any] = {}
    for name, value in getattr(obj, "__dict__", {}).items():
        if isinstance(value, _PLAIN):
            out[name] = value
        elif depth and hasattr(value, "on_event"):
            out[name] = ("generator", _plain_fields(value, depth - 1))
    return out


def _set_plain_fields(obj: Any, fields: Dict[str, Any]) -> None:
    for name, value in fields.items():
        if isinstance(value, tuple) and len(value) == 2 and value[0] == "generator":
            _set_plain_fields(getattr(obj, name), value[1])
        else:
            setattr(obj, name, value)


@register("timestamps_watermarks")
class TimestampsAndWatermarksOperator(OneInputOperator):
    instance_fields = ("idle", "done")

    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        snap = super().snapshot_state(checkpoint_id)
        snap["generator"] = _plain_fields(self.generator)
        return snap

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Any, same_instance: bool) -> None:
        super().restore_state(snaps, owns, same_instance)
        if same_instance:
            _set_plain_fields(self.generator, snaps[0]["generator"])
    def open(self) -> None:
        Operator.open(self)
        strategy = self.params["strategy"]
        self.assign = strategy.create_timestamp_assigner()
        self.generator = strategy.create_watermark_generator(_GeneratorContext(self))
        assigner = strategy.describe_assigner()
        self.fn_name = describe_function(getattr(assigner, "extract_timestamp", assigner)) \
            if assigner is not None else type(self.generator).__qualname__
        self.on_timestamps = getattr(self.generator, "on_timestamps", None)
        self.out = _Output(self)
        self.idle = False
        self.done = False
        cfg = self.task.config
        self.silent = cfg.batch_mode
        self.interval = cfg.auto_watermark_interval_ms
        if self.interval > 0 and not self.silent:
            time = self.task.time_service
            time.schedule(time.now_ms() + self.interval, self._periodic)

    # -- watermarks ----------------------------------------------------------------------------
    def _set_idle(self, idle: bool) -> None:
        if idle != self.idle and not self.silent:
            self.idle = idle
            self.output.emit_status(idle)

    def _flush_watermark(self) -> None:
        ts = self.out.pending
        self.out.pending = None
        if ts is None or self.silent or ts <= self.current_watermark:
            return
        if self.idle:
            self._set_idle(False)
        self.current_watermark = ts
        self.output.emit_watermark(ts)

    def _periodic(self, deadline: int) -> None:
        if self.done:
            return
        try:
            self.generator.on_periodic_emit(self.out)
        except USER_ERRORS as exc:
            self.fn_name = type(self.generator).__qualname__
            raise self.error(exc, None, has_record=False, phase="on_periodic_emit") from exc
        self._flush_watermark()
        time = self.task.time_service
        time.schedule(max(deadline, time.now_ms()) + self.interval, self._periodic)

    def process_watermark(self, timestamp: int) -> None:
        if timestamp == MAX_TIMESTAMP and self.current_watermark != MAX_TIMESTAMP:
            self.done = True
            if self.idle:
                self._set_idle(False)
            self.current_watermark = MAX_TIMESTAMP
            self.output.emit_watermark(MAX_TIMESTAMP)

    def process_status(self, idle: bool) -> None:
        """Upstream idleness does not pass: this operator's generator decides."""

    # -- records ---------------------------------------------------------------------------------
    def _timestamps(self, batch: Batch) -> List[int]:
        values, tss = batch.values, batch.timestamps
        assign = self.assign
        if assign is None:
            if tss is None or any(t is None for t in tss):
                raise self.error(TypeError(
                    "record has no timestamp; give the WatermarkStrategy a timestamp assigner "
                    "(.with_timestamp_assigner(lambda e, ts: ...)) or use a source that emits "
                    "timestamps"), values[0] if tss is None else
                    values[[t is None for t in tss].index(True)])
            return tss
        try:
            if tss is None:
                out = [assign(v, MIN_TIMESTAMP) for v in values]
            else:
                out = [assign(v, MIN_TIMESTAMP if t is None else t) for v, t in zip(values, tss)]
            if set(map(type, out)) != _INT:
                out = [as_millis(t) for t in out]
        except USER_ERRORS as exc:
            raise self.error(exc, self._failing(values, tss)) from exc
        return out

    def _failing(self, values: List[Any], tss: Optional[List[Any]]) -> Any:
        """The first record whose timestamp cannot be read (to name it in the error)."""
        for i, v in enumerate(values):
            try:
                as_millis(self.assign(v, MIN_TIMESTAMP if tss is None or tss[i] is None
                                      else tss[i]))
            except Exception:
                return v
        return None

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        values, keys = batch.values, batch.keys
        tss = self._timestamps(batch)
        if self.on_timestamps is not None:
            self.on_timestamps(tss)
            self.output.emit(Batch(values, tss, keys))
            return
        on_event, out = self.generator.on_event, self.out
        start = 0
        v = None
        try:
            for i, v in enumerate(values):
                on_event(v, tss[i], out)
                if out.pending is not None:
                    end = i + 1
                    if end > start:
                        self.output.emit(Batch(values[start:end], tss[start:end],
                                               keys[start:end] if keys is not None else None))
                    start = end
                    self._flush_watermark()
        except USER_ERRORS as exc:
            self.fn_name = type(self.generator).__qualname__
            raise self.error(exc, v, phase="on_event") from exc
        if start < len(values):
            self.output.emit(Batch(values[start:], tss[start:],
                                   keys[start:] if keys is not None else None))

    def end_input(self) -> None:
        self.done = True
