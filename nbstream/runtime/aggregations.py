"""Reduce functions behind ``KeyedStream.sum/min/max/min_by/max_by``.

Fields are addressed by position (tuples, lists, Rows) or by name (Rows with field
names, dicts, named tuples, dataclasses). As in PyFlink, ``min``/``max``/``sum``
update only that field of the first record of the key, while ``min_by``/``max_by``
return the whole record holding the extreme (the first one on ties). Values are
never mutated: a new record is built.

>>> f = accumulator("sum", 1)
>>> f(("a", 1), ("a", 2))
('a', 3)
>>> accumulator("max_by", 1)(("a", 1), ("b", 5))
('b', 5)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Union

from .row import Row, _make_row

__all__ = ["accumulator", "get_field", "with_field"]

Position = Union[int, str]


def get_field(value: Any, pos: Position) -> Any:
    """Read field ``pos`` of ``value``; a basic value is its own field 0."""
    if isinstance(value, (tuple, list, dict, Row)):
        if isinstance(pos, str) and isinstance(value, tuple) and hasattr(value, "_fields"):
            return getattr(value, pos)
        return value[pos]
    if isinstance(pos, str):
        return getattr(value, pos)
    if pos != 0:
        raise TypeError(f"field {pos} selected on a basic value {value!r}; a basic value "
                        "only has field 0 (the value itself)")
    return value


def with_field(value: Any, pos: Position, new: Any) -> Any:
    """A copy of ``value`` whose field ``pos`` is ``new``."""
    if isinstance(value, tuple):
        if hasattr(value, "_replace"):  # named tuple
            name = pos if isinstance(pos, str) else value._fields[pos]
            return value._replace(**{name: new})
        items = list(value)
        items[pos] = new
        return tuple(items)
    if isinstance(value, list):
        items = list(value)
        items[pos] = new
        return items
    if isinstance(value, dict):
        return {**value, pos: new}
    if isinstance(value, Row):
        copy = _make_row(value._fields, value._values, value._row_kind)
        copy[pos] = new
        return copy
    if dataclasses.is_dataclass(value) and isinstance(pos, str):
        return dataclasses.replace(value, **{pos: new})
    if pos == 0:
        return new
    raise TypeError(f"cannot set field {pos!r} of {type(value).__name__}")


def accumulator(kind: str, pos: Position) -> Callable[[Any, Any], Any]:
    """The reduce function for ``kind`` in sum, min, max, min_by, max_by."""
    if not isinstance(pos, (int, str)) or isinstance(pos, bool):
        raise TypeError(f"{kind}() takes a field position (int) or name (str), not {pos!r}")
    if kind == "min_by":
        return lambda a, b: b if get_field(b, pos) < get_field(a, pos) else a
    if kind == "max_by":
        return lambda a, b: b if get_field(b, pos) > get_field(a, pos) else a
    if kind == "sum":
        return lambda a, b: with_field(a, pos, get_field(a, pos) + get_field(b, pos))
    if kind == "min":
        def _min(a: Any, b: Any) -> Any:
            x, y = get_field(a, pos), get_field(b, pos)
            return with_field(a, pos, y) if y < x else a
        return _min
    if kind == "max":
        def _max(a: Any, b: Any) -> Any:
            x, y = get_field(a, pos), get_field(b, pos)
            return with_field(a, pos, y) if y > x else a
        return _max
    raise ValueError(f"unknown aggregation {kind!r}")
