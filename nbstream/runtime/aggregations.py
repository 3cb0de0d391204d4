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
import operator
from typing import Any, Callable, Union

from ..errors import short_repr
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
    """The reduce function for ``kind`` in sum, min, max, min_by, max_by.

    Its ``check_first(record)`` reads the field with an error that names the
    aggregation and the field: the operator calls it on a key's first record (which the
    reduce never sees as a pair) and on a record that made the reduce fail.

    >>> accumulator("sum", "v").check_first({"w": 1})
    Traceback (most recent call last):
    ...
    LookupError: sum('v'): the record {'w': 1} has no field 'v'
    """
    if not isinstance(pos, (int, str)) or isinstance(pos, bool):
        raise TypeError(f"{kind}() takes a field position (int) or name (str), not {pos!r}")
    if isinstance(pos, int) and pos >= 0:  # plain tuples: the common case, read directly
        combine = _on_tuples(kind, pos, _combine(kind, pos))
    else:
        combine = _combine(kind, pos)
    combine.check_first = _field_reader(f"{kind}({pos!r})", pos)  # type: ignore[attr-defined]
    return combine


def _on_tuples(kind: str, pos: int, general: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``general`` with plain tuples (not named ones) handled inline: the same results
    without the field lookups' type checks (a keyed sum of pairs: 390 -> 165 ns a call)."""
    if kind == "sum":
        def combine(a: Any, b: Any) -> Any:
            if type(a) is tuple and type(b) is tuple:
                items = list(a)
                items[pos] = a[pos] + b[pos]
                return tuple(items)
            return general(a, b)
    elif kind in ("min", "max"):
        op = operator.lt if kind == "min" else operator.gt

        def combine(a: Any, b: Any) -> Any:
            if type(a) is tuple and type(b) is tuple:
                y = b[pos]
                if not op(y, a[pos]):
                    return a
                items = list(a)
                items[pos] = y
                return tuple(items)
            return general(a, b)
    else:
        op = operator.lt if kind == "min_by" else operator.gt

        def combine(a: Any, b: Any) -> Any:
            if type(a) is tuple and type(b) is tuple:
                return b if op(b[pos], a[pos]) else a
            return general(a, b)
    return combine


def _combine(kind: str, pos: Position) -> Callable[[Any, Any], Any]:
    get = get_field
    if kind == "min_by":
        def combine(a: Any, b: Any) -> Any:
            return b if get(b, pos) < get(a, pos) else a
    elif kind == "max_by":
        def combine(a: Any, b: Any) -> Any:
            return b if get(b, pos) > get(a, pos) else a
    elif kind == "sum":
        def combine(a: Any, b: Any) -> Any:
            return with_field(a, pos, get(a, pos) + get(b, pos))
    elif kind == "min":
        def combine(a: Any, b: Any) -> Any:
            x, y = get(a, pos), get(b, pos)
            return with_field(a, pos, y) if y < x else a
    elif kind == "max":
        def combine(a: Any, b: Any) -> Any:
            x, y = get(a, pos), get(b, pos)
            return with_field(a, pos, y) if y > x else a
    else:
        raise ValueError(f"unknown aggregation {kind!r}")
    return combine


def _field_reader(what: str, pos: Position) -> Callable[[Any], Any]:
    """``get_field(value, pos)`` whose errors say which aggregation and field."""
    def field(value: Any) -> Any:
        try:
            return get_field(value, pos)
        except (KeyError, AttributeError):
            raise LookupError(f"{what}: the record {short_repr(value)} has no field {pos!r}") from None
        except IndexError:
            raise IndexError(f"{what}: field {pos} is out of range for the record "
                             f"{short_repr(value)} of {len(value)} fields") from None
        except TypeError as exc:
            raise TypeError(f"{what}: {exc}" if "field" in str(exc) else
                            f"{what}: cannot read field {pos!r} of the record {short_repr(value)} "
                            f"({type(value).__name__})") from None
    return field
