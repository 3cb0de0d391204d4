"""The API's operations as small adapters over the core operators.

map, filter, flat_map and co-map share one batch loop (:func:`run_batch`: the keyed
context, timestamps and the wrapping of user errors) and differ only in what they emit
from its results; reduce (and sum/min/max/min_by/max_by through it) folds each record into one
accumulator per key in a plain dict (``acc``); co-flat-map runs as a process function.
Every operator module registers its kinds with :func:`~nbstream.runtime.registry.register`.
"""

from __future__ import annotations

from itertools import compress
from typing import Any, Callable, Dict, List, Optional

from ..errors import USER_ERRORS
from .operators import OneInputOperator, Operator, SinkOperator, SourceOperator, TwoInputOperator
from .partitioners import check_hashable
from .records import Batch
from .keyorder import sort_key_for
from .registry import register

__all__ = ["run_batch", "MAP", "SELECT", "EXPAND", "MapOperator", "FilterOperator",
           "FlatMapOperator", "ReduceOperator", "CoMapOperator", "CoFlatMapOperator"]

_MISSING = object()


#: what a per-record adapter does with each result of its function (see :func:`run_batch`)
MAP, SELECT, EXPAND = "map", "select", "expand"


def run_batch(op: Operator, f: Callable[[Any], Any], batch: Batch, how: str = MAP) -> Batch:
    """The batch loop the per-record adapters share: ``f(value)`` for every record of
    ``batch``, in order, with the record's key current in ``op``'s keyed state (on a keyed
    stream); a user error raised as ``op``'s :class:`UserFunctionError` naming the record.
    Returns what the adapter emits, with each output carrying its record's timestamp:

    * ``MAP``: the results, one per record (map, co-map);
    * ``SELECT``: the records whose result is true (filter);
    * ``EXPAND``: the items of each result, an iterable (flat_map).

    Each shape has its own tight loop for the common case (a Python call per record costs
    as much as a cheap user function); the keyed context, the timestamps and the errors are
    handled here and nowhere else.
    """
    values, tss, keys = batch.values, batch.timestamps, batch.keys
    out: list = []
    append = out.append
    state = op.state
    try:
        if how is EXPAND:  # each result consumed at once: a generator reads its record's key
            extend = out.extend
            out_ts: Optional[list] = [] if tss is not None else None
            for i, v in enumerate(values):
                if keys is not None:
                    state.current_key = keys[i]
                results = f(v)
                before = len(out)
                try:
                    extend(results)
                except TypeError:
                    wrong = _not_iterable(op, results)
                    if wrong is None:
                        raise  # an error inside the iterable
                    raise wrong from None
                if out_ts is not None:
                    out_ts.extend([tss[i]] * (len(out) - before))
            return Batch(out, out_ts)
        if how is SELECT and keys is None and tss is None:
            for v in values:
                if f(v):
                    append(v)
            return Batch(out)
        if keys is None:
            for v in values:
                append(f(v))
        else:
            for k, v in zip(keys, values):
                state.current_key = k
                append(f(v))
    except USER_ERRORS as exc:
        raise op.error(exc, v) from exc
    if how is SELECT:  # keyed or timestamped: ``out`` holds the verdicts
        return Batch(_kept(op, values, out, values),
                     _kept(op, tss, out, values) if tss is not None else None)
    return Batch(out, tss)


def _not_iterable(op: Operator, results: Any) -> Optional[TypeError]:
    """The error for a flat_map that returned no iterable; None if it did (then the
    TypeError came from inside the iterable)."""
    if results is None:
        return TypeError(f"{op.fn_name} returned None; return an iterable or "
                         "yield values (return [] to emit nothing)")
    if not hasattr(results, "__iter__"):
        return TypeError(f"{op.fn_name} returned {type(results).__name__} "
                         f"{results!r}; flat_map must return an iterable")
    return None


def _kept(op: Operator, items: List[Any], verdicts: List[Any], values: List[Any]) -> List[Any]:
    """The items whose verdict is true; a verdict whose truth cannot be told (a numpy array,
    say) fails naming its record."""
    try:
        return list(compress(items, verdicts))
    except USER_ERRORS as exc:
        for v, verdict in zip(values, verdicts):
            try:
                bool(verdict)
            except USER_ERRORS:
                raise op.error(exc, v) from exc
        raise


class MapOperator(OneInputOperator):
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        self.output.emit(run_batch(self, self.process_element, batch))


class FilterOperator(OneInputOperator):
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        self.output.emit(run_batch(self, self.process_element, batch, SELECT))


class FlatMapOperator(OneInputOperator):
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        self.output.emit(run_batch(self, self.process_element, batch, EXPAND))


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
            raise self.failure(exc, k, v) from exc
        if not self.batch_mode:
            self.output.emit(Batch(out, batch.timestamps))

    def failure(self, exc: BaseException, key: Any, record: Any) -> BaseException:
        """The error of the record that failed: a key Python cannot hash, a record without
        the field a sum/min/max reads (said plainly), or the function's own error."""
        if isinstance(exc, TypeError):
            check_hashable(key, self.name, self.fn_name, record)
        first = getattr(self.reduce, "check_first", None)
        if first is not None:
            try:
                first(record)  # a record without the field: the clearer message
            except USER_ERRORS as missing:
                return self.error(missing, record)
        return self.error(exc, record)

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
        mapped = run_batch(self, self.fn.calls[input_index], batch)
        results, tss = mapped.values, mapped.timestamps
        if tss is None:
            self.output.emit(Batch([r for r in results if r is not None]))
        else:
            kept = [(r, t) for r, t in zip(results, tss) if r is not None]
            self.output.emit(Batch([r for r, _ in kept], [t for _, t in kept]))

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
