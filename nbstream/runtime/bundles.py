"""Bundles: records gathered and handed to a function together, as Flink's Python
operators gather theirs (the Table API's pandas UDFs evaluate a bundle's columns at once;
its Python aggregates emit one result per key per bundle).

A ``bundle`` step's function object has ``add(batch, ctx)``, called for the records as
they come (``batch.values`` / ``.timestamps`` / ``.keys``, keys on a keyed stream, where
``ctx.set_current_key(key)`` makes a key's state current), and ``finish(ctx)``, which
returns the :class:`~nbstream.runtime.records.Batch` to emit for the bundle. A bundle
ends when it holds ``size`` records, when ``time_ms`` have passed since its first
record, and before a watermark, a checkpoint barrier or the end of input goes on (so
what it emits keeps its place in the stream, and a checkpoint holds no open bundle).

A function's error names the record (and the function) it was about when the exception
carries ``nbstream_where = (function, record)`` (see ``Operator.error``).
"""

from __future__ import annotations

from typing import Any, Dict

from ..errors import USER_ERRORS
from .operators import OneInputOperator, Operator
from .records import Batch
from .registry import register

__all__ = ["BundleOperator", "BundleContext"]


class BundleContext:
    """What a bundle function gets besides its records."""

    __slots__ = ("_op",)

    def __init__(self, op: Operator) -> None:
        self._op = op

    def set_current_key(self, key: Any) -> None:
        self._op.state.current_key = key  # type: ignore[union-attr]

    def current_watermark(self) -> int:
        return self._op.current_watermark


@register("bundle")
class BundleOperator(OneInputOperator):
    """Gathers records into bundles for its function (see the module text)."""

    def open(self) -> None:
        Operator.open(self)
        owner = self.fn.owner
        self.add, self.finish = owner.add, owner.finish
        self.size: int = int(self.params.get("size") or 0) or 1000
        self.time_ms: int = int(self.params.get("time_ms") or 0) or 1000
        self.view = BundleContext(self)
        self.count = 0
        self.bundle_no = 0  # which bundle a pending timer is for

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        values, tss, keys = batch.values, batch.timestamps, batch.keys
        n, start = len(values), 0
        while start < n:
            if self.count == 0:
                self._arm_timer()
            end = min(n, start + self.size - self.count)
            part = batch if start == 0 and end == n else Batch(
                values[start:end], tss[start:end] if tss is not None else None,
                keys[start:end] if keys is not None else None)
            self._call(self.add, part, self.view)
            self.count += end - start
            start = end
            if self.count >= self.size:
                self._finish()

    def _arm_timer(self) -> None:
        service = self.task.time_service  # type: ignore[union-attr]
        no = self.bundle_no

        def due(_deadline: int) -> None:
            if self.bundle_no == no and self.count:
                self._finish()
        service.schedule(service.now_ms() + self.time_ms, due)

    def _finish(self) -> None:
        self.count = 0
        self.bundle_no += 1
        out = self._call(self.finish, self.view)
        if out is not None and out.values:
            self.output.emit(out)

    def _call(self, f: Any, *args: Any) -> Any:
        try:
            return f(*args)
        except USER_ERRORS as exc:
            phase = "" if hasattr(exc, "nbstream_where") else "a bundle"
            raise self.error(exc, None, has_record=False, phase=phase) from exc

    def process_watermark(self, timestamp: int) -> None:
        if self.count:
            self._finish()
        super().process_watermark(timestamp)

    def end_input(self) -> None:
        if self.count:
            self._finish()

    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        if self.count:  # emitted before the barrier goes on: no open bundle in a checkpoint
            self._finish()
        return super().snapshot_state(checkpoint_id)
