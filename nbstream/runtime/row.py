"""Row: the record type with positional and named fields (as PyFlink's Row).

It lives in the runtime layer because records of this type travel through every
layer; the API re-exports it.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Iterable, List, Optional, Sequence

__all__ = ["Row", "RowKind"]


class RowKind(Enum):
    """The change a row stands for, printed in Flink's short form (``+I``)."""

    INSERT = 0
    UPDATE_BEFORE = 1
    UPDATE_AFTER = 2
    DELETE = 3

    def short_string(self) -> str:
        return ("+I", "-U", "+U", "-D")[self.value]

    def __str__(self) -> str:
        return self.short_string()


def _make_row(names: Optional[List[str]], values: Sequence[Any], kind: RowKind) -> "Row":
    row = Row(*values)
    if names is not None:
        row._fields = list(names)
    row._row_kind = kind
    return row


class Row:
    """A record with positional fields and, optionally, field names (as PyFlink's Row).

    ``Row('a', 1)`` has positions only; ``Row(name='a', n=1)`` has names, sorted.
    Fields are read by position (``row[0]``), name (``row['n']``) or attribute (``row.n``).

    >>> Row(name="Alice", age=11)
    Row(age=11, name='Alice')
    >>> Row("a", 2)
    <Row('a', 2)>
    >>> Row("a", 2)[1]
    2
    """

    __slots__ = ("_values", "_fields", "_row_kind")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("Row takes positional or keyword fields, not both")
        if kwargs:
            names = sorted(kwargs)
            self._fields: Optional[List[str]] = names
            self._values = [kwargs[n] for n in names]
        else:
            self._fields = None
            self._values = list(args)
        self._row_kind = RowKind.INSERT

    def as_dict(self, recursive: bool = False) -> dict:
        """The fields as a dict (needs field names)."""
        if self._fields is None:
            raise TypeError("a Row without field names cannot become a dict")

        def conv(v: Any) -> Any:
            if recursive and isinstance(v, Row):
                return v.as_dict(True)
            return v

        return {k: conv(v) for k, v in zip(self._fields, self._values)}

    def get_row_kind(self) -> RowKind:
        return self._row_kind

    def set_row_kind(self, row_kind: RowKind) -> None:
        self._row_kind = row_kind

    def set_field_names(self, field_names: Iterable[str]) -> None:
        self._fields = list(field_names)

    def get_fields_by_names(self, names: Iterable[str]) -> List[Any]:
        return [self[n] for n in names]

    def _index(self, name: str) -> int:
        if self._fields is None or name not in self._fields:
            raise KeyError(name)
        return self._fields.index(name)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, (int, slice)):
            return self._values[item]
        return self._values[self._index(item)]

    def __setitem__(self, item: Any, value: Any) -> None:
        if isinstance(item, (int, slice)):
            self._values[item] = value
        else:
            self._values[self._index(item)] = value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[self._index(name)]
        except KeyError:
            raise AttributeError(name) from None

    def __call__(self, *values: Any) -> "Row":
        """A Row with these field names and the given values: ``Person = Row('name', 'age')``."""
        return _make_row([str(v) for v in self._values], values, self._row_kind)

    def __contains__(self, item: Any) -> bool:
        return item in self._values

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Row):
            return False
        return (self._fields == other._fields and self._row_kind == other._row_kind
                and self._values == other._values)

    def __lt__(self, other: "Row") -> bool:
        return tuple(self._values) < tuple(other._values)

    def __hash__(self) -> int:
        return hash(tuple(self._values))

    def __reduce__(self):
        return (_make_row, (self._fields, tuple(self._values), self._row_kind))

    def __repr__(self) -> str:
        if self._fields is not None:
            body = ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, self._values))
            return f"Row({body})"
        return "<Row(%s)>" % ", ".join(repr(v) for v in self._values)
