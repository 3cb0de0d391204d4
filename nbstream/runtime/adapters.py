"""The API's operations as small adapters over the core operators.

map, filter and flat_map are one-input operators with a tight loop instead of a
generator per record; reduce (and sum/min/max/min_by/max_by through it) keeps one
accumulator per key in a plain dict; co-map and co-flat-map are two-input operators.
Every operator module registers its kinds with :func:`~nbstream.runtime.registry.register`.
"""

from __future__ import annotations

from typing import Any, Dict

from ..errors import USER_ERRORS
from .operators import OneInputOperator, Operator, SinkOperator, SourceOperator, TwoInputOperator
from .partitioners import check_hashable
from .records import Batch
from .keyorder import sort_key_for
from .registry import register

__all__ = ["MapOperator", "FilterOperator", "FlatMapOperator", "ReduceOperator",
           "CoMapOperator", "CoFlatMapOperator"]

_MISSING = object()


class MapOperator(OneInputOperator):
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        f = self.process_element
        out: list = []
        append = out.append
        keys = batch.keys
        try:
            if keys is None:
                for v in batch.values:
                    append(f(v))
            else:
                state = self.state
                for k, v in zip(keys, batch.values):
                    state.current_key = k
                    append(f(v))
        except USER_ERRORS as exc:
            raise self.error(exc, v) from exc
        self.output.emit(Batch(out, batch.timestamps))


class FilterOperator(OneInputOperator):
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        f = self.process_element
        values, tss, keys = batch.values, batch.timestamps, batch.keys
        out: list = []
        append = out.append
        try:
            if tss is None and keys is None:
                for v in values:
                    if f(v):
                        append(v)
                self.output.emit(Batch(out))
                return
            out_ts: list = []
            state = self.state
            for i, v in enumerate(values):
                if keys is not None:
                    state.current_key = keys[i]
                if f(v):
                    append(v)
                    if tss is not None:
                        out_ts.append(tss[i])
        except USER_ERRORS as exc:
            raise self.error(exc, v) from exc
        self.output.emit(Batch(out, out_ts if tss is not None else None))


class FlatMapOperator(OneInputOperator):
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        f = self.process_element
        values, tss, keys = batch.values, batch.timestamps, batch.keys
        out: list = []
        extend = out.extend
        out_ts: list = [] if tss is not None else None  # type: ignore[assignment]
        state = self.state
        try:
            for i, v in enumerate(values):
                if keys is not None:
                    state.current_key = keys[i]
                results = f(v)
                if results is None:
                    raise TypeError(f"{self.fn_name} returned None; return an iterable or "
                                    "yield values (return [] to emit nothing)")
                before = len(out)
                try:
                    extend(results)
                except TypeError:
                    if not hasattr(results, "__iter__"):
                        raise TypeError(f"{self.fn_name} returned {type(results).__name__} "
                                        f"{results!r}; flat_map must return an iterable") from None
                    raise
                if out_ts is not None:
                    out_ts.extend([tss[i]] * (len(out) - before))
        except USER_ERRORS as exc:
            raise self.error(exc, v) from exc
        self.output.emit(Batch(out, out_ts))


class ReduceOperator(OneInputOperator):
    """Keyed rolling reduce: emits the new accumulated value per record (STREAMING)
    or only the final value per key at the end (BATCH)."""

    keyed_fields = {"acc": lambda key: key}

    def open(self) -> None:
        super().open()
        self.acc: Dict[Any, Any] = {}
        self.reduce = self.fn.call
        self.batch_mode = self.task.config.batch_mode
        # a ReduceFunction class may use keyed state in reduce(): keep the key current
        self.track_key = self.fn.owner is not None

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        f, acc, state = self.reduce, self.acc, self.state
        first = getattr(f, "check_first", None)  # sum/min/max...: check a key's first record
        get = acc.get
        out: list = []
        append = out.append
        k = None
        try:
            if self.track_key:
                for k, v in zip(batch.keys, batch.values):
                    state.current_key = k
                    a = get(k, _MISSING)
                    if a is not _MISSING:
                        v = f(a, v)
                    elif first is not None:
                        first(v)
                    acc[k] = v
                    append(v)
            else:
                for k, v in zip(batch.keys, batch.values):
                    a = get(k, _MISSING)
                    if a is not _MISSING:
                        v = f(a, v)
                    elif first is not None:
                        first(v)
                    acc[k] = v
                    append(v)
        except USER_ERRORS as exc:
            if isinstance(exc, TypeError):
                check_hashable(k, self.name, self.fn_name, v)
            if first is not None:
                try:
                    first(v)  # a record without the field: the clearer message
                except USER_ERRORS as missing:
                    raise self.error(missing, v) from missing
            raise self.error(exc, v) from exc
        if not self.batch_mode:
            self.output.emit(Batch(out, batch.timestamps))

    def end_input(self) -> None:
        if self.batch_mode:
            finals = self.acc
            if self.task.config.batch_key_order == "serialized":
                key_type = self.task.extras.get("key_type")
                order = sort_key_for(getattr(key_type, "name", None))
                finals = {k: finals[k] for k in sorted(finals, key=order)}
            self.output.emit(Batch(list(finals.values())))


class CoMapOperator(TwoInputOperator):
    """``map1``/``map2`` per record; a None result is dropped, as in PyFlink."""

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        f = self.fn.calls[input_index]
        values, tss, keys = batch.values, batch.timestamps, batch.keys
        out: list = []
        out_ts: list = []
        state = self.state
        try:
            for i, v in enumerate(values):
                if keys is not None:
                    state.current_key = keys[i]
                r = f(v)
                if r is not None:
                    out.append(r)
                    if tss is not None:
                        out_ts.append(tss[i])
        except USER_ERRORS as exc:
            raise self.error(exc, v) from exc
        self.output.emit(Batch(out, out_ts if tss is not None else None))

    def open(self) -> None:
        Operator.open(self)


class CoFlatMapOperator(TwoInputOperator):
    """``flat_map1``/``flat_map2`` per record, each returning an iterable (or None)."""

    def open(self) -> None:
        Operator.open(self)
        calls = self.fn.calls
        self.fns = tuple(lambda v, _ctx, f=f: f(v) or () for f in calls)


register("map")(MapOperator)
register("filter")(FilterOperator)
register("flat_map")(FlatMapOperator)
register("process")(OneInputOperator)
register("reduce")(ReduceOperator)
register("co_map")(CoMapOperator)
register("co_flat_map")(CoFlatMapOperator)
register("co_process")(TwoInputOperator)
register("source")(SourceOperator)
register("sink")(SinkOperator)
