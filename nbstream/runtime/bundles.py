"""Bundles: a function that takes the records of a batch together, as Flink's Python
operators take their bundles (the Table API's pandas UDFs evaluate a bundle's columns at
once; its Python aggregates emit one result per key per bundle).

A ``bundle`` step's function is called as ``fn(bundle, ctx)`` for each incoming batch,
cut into bundles of at most ``size`` records (0: the whole batch), and returns the
:class:`~nbstream.runtime.records.Batch` to emit. ``bundle.values`` /
``bundle.timestamps`` / ``bundle.keys`` are the records' (keys on a keyed stream);
``ctx.set_current_key(key)`` makes a key's state current. A bundle ends with its
batch, so nothing waits in the operator for a watermark, a barrier or the end of input:
its state is keyed state, checkpointed as any step's.

A function that knows which record failed raises :class:`RecordError`; the step's error
then names that record (and the function the error names, if given).
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import USER_ERRORS, UserFunctionError
from .operators import OneInputOperator, Operator
from .records import Batch
from .registry import register

__all__ = ["BundleOperator", "BundleContext", "RecordError"]


class RecordError(Exception):
    """Raised by a bundle function: ``cause`` happened on ``record`` (in ``function``)."""

    def __init__(self, record: Any, cause: BaseException, function: str = "") -> None:
        super().__init__(str(cause))
        self.record, self.cause, self.function = record, cause, function


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
    """Calls its function once per bundle of records (see the module text)."""

    def open(self) -> None:
        Operator.open(self)
        self.size: int = int(self.params.get("size") or 0)
        self.call = self.fn.call
        self.view = BundleContext(self)

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        values, tss, keys = batch.values, batch.timestamps, batch.keys
        n = len(values)
        size = self.size or n
        for start in range(0, n, size):
            end = start + size
            part = batch if size >= n else Batch(
                values[start:end], tss[start:end] if tss is not None else None,
                keys[start:end] if keys is not None else None)
            try:
                out = self.call(part, self.view)
            except RecordError as exc:
                raise self._failed(exc) from exc.cause
            except USER_ERRORS as exc:
                raise self.error(exc, None, has_record=False,
                                 phase=f"a bundle of {len(part.values)} records") from exc
            if out is not None and out.values:
                self.output.emit(out)

    def _failed(self, exc: RecordError) -> UserFunctionError:
        task = self.task
        return UserFunctionError(self.name, exc.function or self.fn_name, exc.record, exc.cause,
                                 subtask=task.subtask if task else 0,
                                 parallelism=task.parallelism if task else 1)


def bundle_size(value: Optional[Any]) -> int:
    """A bundle size setting as an int (0 when unset)."""
    return int(value) if value not in (None, "") else 0
