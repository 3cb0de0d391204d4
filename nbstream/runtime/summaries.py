"""The aggregate behind the windowed conveniences ``count()``, ``sum(f)``, ``mean(f)``,
``min(f)``, ``max(f)`` and ``agg(name=(field, fn), ...)``.

Each window emits one dict: ``key`` (omitted for ``window_all``), ``window_start`` and
``window_end`` (epoch ms; None for global and count windows), then the aggregates in
the order they were named. A field is a position or a name (``None``: the record
itself); a function is ``"count"``, ``"sum"``, ``"mean"``, ``"min"``, ``"max"``,
``"first"``, ``"last"``, or any callable applied to the list of the field's values.

>>> agg = FieldsAggregate([("n", None, "count"), ("total", "v", "sum")])
>>> acc = agg.add_all([{"v": 2}, {"v": 5}], agg.create_accumulator())
>>> agg.get_result(agg.add({"v": 1}, acc))
[3, 8]
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from .aggregations import get_field
from .row import Row

__all__ = ["FieldsAggregate", "Partial", "SummaryRows", "SUMMARY_FUNCTIONS", "parse_spec"]

SUMMARY_FUNCTIONS = ("count", "sum", "mean", "min", "max", "first", "last")
_NONE = object()

Spec = Tuple[str, Any, Union[str, Callable[[List[Any]], Any]]]


def parse_spec(name: str, spec: Any) -> Spec:
    """``agg(name=spec)``: ``"count"``, ``(field, fn)`` or a callable over the records."""
    if isinstance(spec, str):
        if spec != "count":
            raise ValueError(f"agg({name}={spec!r}): give ({spec!r} needs a field) a tuple "
                             f"(field, {spec!r}), e.g. {name}=('value', {spec!r})")
        return name, None, "count"
    if callable(spec):
        return name, None, spec
    if isinstance(spec, tuple) and len(spec) == 2:
        field, fn = spec
        if isinstance(fn, str) and fn not in SUMMARY_FUNCTIONS:
            raise ValueError(f"agg({name}=...): unknown function {fn!r}; use one of "
                             f"{', '.join(SUMMARY_FUNCTIONS)} or a callable")
        if not (isinstance(fn, str) or callable(fn)):
            raise TypeError(f"agg({name}=...): the function must be a name or a callable")
        return name, field, fn
    raise TypeError(f"agg({name}={spec!r}): use 'count', (field, function) or a callable")


def _getter(field: Any, sample: Any) -> Callable[[Any], Any]:
    """The fastest way to read ``field`` of records like ``sample``."""
    if field is None:
        return _identity
    if isinstance(field, str) and isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return operator.attrgetter(field)  # named tuple
    if isinstance(sample, (dict, list, tuple, Row)):
        return operator.itemgetter(field)
    if isinstance(field, str):
        return operator.attrgetter(field)  # dataclasses and other objects
    return lambda v: get_field(v, field)


def _identity(v: Any) -> Any:
    return v


class Partial:
    """An accumulator of some records, sent in their place (a window's input combined
    before the keyed shuffle: :mod:`nbstream.runtime.combine`); adding it merges it."""

    __slots__ = ("acc",)

    def __init__(self, acc: List[Any]) -> None:
        self.acc = acc

    def __reduce__(self) -> Any:
        return (Partial, (self.acc,))

    def __repr__(self) -> str:
        return f"Partial({self.acc!r})"


class FieldsAggregate:
    """An AggregateFunction computing several named summaries at once."""

    def __init__(self, specs: Sequence[Spec]) -> None:
        self.specs = list(specs)
        self.names = [s[0] for s in self.specs]
        self._ops: Dict[type, List[Tuple[int, Any, Any]]] = {}

    def create_accumulator(self) -> List[Any]:
        acc: List[Any] = []
        for _, _, fn in self.specs:
            if fn == "count":
                acc.append(0)
            elif fn == "sum":
                acc.append(0)
            elif fn == "mean":
                acc.append([0, 0])
            elif callable(fn):
                acc.append([])
            else:
                acc.append(_NONE)
        return acc

    def add(self, value: Any, acc: List[Any]) -> List[Any]:
        return self.add_all([value], acc)

    def _ops_for(self, sample: Any) -> List[Tuple[int, Any, Any]]:
        """(index, function, getter) per aggregate, for records of ``sample``'s type."""
        t = type(sample)
        ops = self._ops.get(t)
        if ops is None:
            ops = self._ops[t] = [(i, fn, None if fn == "count" else _getter(field, sample))
                                  for i, (_, field, fn) in enumerate(self.specs)]
        return ops

    def add_all(self, values: List[Any], acc: List[Any]) -> List[Any]:
        """Add ``values``: records, or :class:`Partial` accumulators (a batch holds one
        kind or the other, never both)."""
        if not values:
            return acc
        if type(values[0]) is Partial:
            for partial in values:
                acc = self.merge(acc, partial.acc)
            return acc
        for i, fn, get in self._ops_for(values[0]):
            if fn == "count":
                acc[i] += len(values)
                continue
            col = values if get is _identity else list(map(get, values))
            if fn == "sum":
                acc[i] += sum(col)
            elif fn == "mean":
                m = acc[i]
                m[0] += sum(col)
                m[1] += len(col)
            elif fn == "min":
                low = min(col)
                if acc[i] is _NONE or low < acc[i]:
                    acc[i] = low
            elif fn == "max":
                high = max(col)
                if acc[i] is _NONE or high > acc[i]:
                    acc[i] = high
            elif fn == "first":
                if acc[i] is _NONE:
                    acc[i] = col[0]
            elif fn == "last":
                acc[i] = col[-1]
            else:
                acc[i].extend(col)
        return acc

    def merge(self, a: List[Any], b: List[Any]) -> List[Any]:
        out: List[Any] = []
        for (_, _, fn), x, y in zip(self.specs, a, b):
            if fn in ("count", "sum"):
                out.append(x + y)
            elif fn == "mean":
                out.append([x[0] + y[0], x[1] + y[1]])
            elif x is _NONE or y is _NONE:
                out.append(y if x is _NONE else x)
            elif fn == "min":
                out.append(min(x, y))
            elif fn == "max":
                out.append(max(x, y))
            elif fn == "first":
                out.append(x)
            elif fn == "last":
                out.append(y)
            else:
                out.append(x + y)
        return out

    def get_result(self, acc: List[Any]) -> List[Any]:
        out: List[Any] = []
        for (_, _, fn), x in zip(self.specs, acc):
            if fn == "mean":
                out.append(x[0] / x[1] if x[1] else None)
            elif callable(fn):
                out.append(fn(x))
            else:
                out.append(None if x is _NONE else x)
        return out

    def __repr__(self) -> str:
        return "agg(" + ", ".join(f"{n}={f!r}" if field is None else f"{n}=({field!r}, {f!r})"
                                  for n, field, f in self.specs) + ")"


class SummaryRows:
    """The window function that turns an aggregate result into the documented dict."""

    def __init__(self, names: Sequence[str], keyed: bool) -> None:
        self.names = list(names)
        self.keyed = keyed

    def _row(self, key: Any, window: Any, results: Iterable[List[Any]]) -> Iterable[Dict[str, Any]]:
        start: Optional[int] = getattr(window, "start", None)
        end: Optional[int] = getattr(window, "end", None)
        for values in results:
            row: Dict[str, Any] = {"key": key} if self.keyed else {}
            row["window_start"] = start
            row["window_end"] = end
            row.update(zip(self.names, values))
            yield row

    def apply(self, *args: Any) -> Iterable[Dict[str, Any]]:
        if self.keyed:
            key, window, results = args
        else:
            key, (window, results) = None, args
        return self._row(key, window, results)
