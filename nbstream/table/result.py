"""``TableResult``, ``ResultKind``, ``TableSchema`` and the tableau ``print()`` of Flink.

``print()`` lays a result out as Flink's TableauStyle: column widths from the column
*types* (INT 11, BIGINT 20, BOOLEAN 6, TIMESTAMP(3) 23, DECIMAL(p, s) p + 2, others 30,
never below the name or ``<NULL>``), values right-aligned and cut to ``w - 3`` characters
plus ``...``, an ``op`` column in streaming mode, ``N rows in set`` at the end and
``Empty set`` for nothing.

>>> from nbstream.table.types import DataTypes
>>> print(tableau(["a", "b"], [DataTypes.INT(), DataTypes.STRING()], [(0, 1, "x")], False))
+-------------+--------------------------------+
|           a |                              b |
+-------------+--------------------------------+
|           1 |                              x |
+-------------+--------------------------------+
1 row in set
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Any, Iterator, List, Optional, Sequence

from ..runtime.row import Row, RowKind
from .types import DataType
from .values import NULL_TEXT, local_zone, sql_string, to_dataframe

__all__ = ["TableResult", "ResultKind", "TableSchema", "tableau", "column_width", "CollectedRows"]

_KINDS = (RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER, RowKind.DELETE)
_KIND_TEXT = ("+I", "-U", "+U", "-D")
MAX_COLUMN_WIDTH = 30


class ResultKind:
    """What a statement returned: ``SUCCESS`` (0, DDL) or ``SUCCESS_WITH_CONTENT`` (1)."""

    SUCCESS = 0
    SUCCESS_WITH_CONTENT = 1


class TableSchema:
    """The columns of a table: names and types (``get_field_names()``,
    ``get_field_data_types()``)."""

    def __init__(self, field_names: Sequence[str] = (), data_types: Sequence[DataType] = ()) -> None:
        self._names = list(field_names)
        self._types = list(data_types)

    def get_field_names(self) -> List[str]:
        return list(self._names)

    def get_field_data_types(self) -> List[DataType]:
        return list(self._types)

    def get_field_data_type(self, field: Any) -> Optional[DataType]:
        if isinstance(field, int):
            return self._types[field] if 0 <= field < len(self._types) else None
        return self._types[self._names.index(field)] if field in self._names else None

    def get_field_name(self, index: int) -> Optional[str]:
        return self._names[index] if 0 <= index < len(self._names) else None

    def get_field_count(self) -> int:
        return len(self._names)

    def to_row_data_type(self) -> DataType:
        from .types import row_type
        return row_type(self._names, self._types)

    def __str__(self) -> str:
        lines = [f"  |-- {n}: {t.summary_string()}" for n, t in zip(self._names, self._types)]
        return "root\n" + "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, TableSchema) and (self._names, self._types) == (
            other._names, other._types)

    def __hash__(self) -> int:
        return hash(tuple(self._names))


# -- tableau ------------------------------------------------------------------------------------------
def column_width(name: str, t: DataType) -> int:
    root = t.root
    if root == "TINYINT":
        w = 4
    elif root == "SMALLINT":
        w = 6
    elif root == "INT":
        w = 11
    elif root == "BIGINT":
        w = 20
    elif root == "DECIMAL":
        w = t.precision + 2  # type: ignore[attr-defined]
    elif root == "BOOLEAN":
        w = 5
    elif root == "DATE":
        w = 10
    elif root == "TIME":
        p = t.precision  # type: ignore[attr-defined]
        w = 8 if p == 0 else p + 9
    elif root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        p = t.precision  # type: ignore[attr-defined]
        w = 19 if p == 0 else 23 if p <= 3 else 26 if p <= 6 else 29
    else:
        w = MAX_COLUMN_WIDTH
    return max(w, len(NULL_TEXT), display_width(name))


def display_width(text: str) -> int:
    """Columns a string takes on a terminal (wide East Asian characters take two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _cell(text: str, width: int) -> str:
    w = display_width(text)
    if w > width:
        cut = []
        used = 0
        for ch in text:
            cw = display_width(ch)
            if used + cw > width - 3:
                break
            cut.append(ch)
            used += cw
        text = "".join(cut) + "..."
        w = used + 3
    return " " * (width - w) + text


def tableau(names: Sequence[str], types: Sequence[DataType], rows: Sequence[tuple],
            with_kind: bool, zone: Any = None, by_data: bool = False) -> str:
    """The table Flink's ``TableResult.print()`` writes (rows as ``(kind, c0, ...)``).
    ``by_data``: column widths from the values and NULL as an empty cell (how Flink prints
    the results of SHOW and DESCRIBE)."""
    if not rows:
        return "Empty set"
    zone = zone or local_zone()
    if by_data:
        texts = [["" if v is None else sql_string(v, t, zone) for v, t in zip(r[1:], types)]
                 for r in rows]
        widths = [max([display_width(n)] + [display_width(x[i]) for x in texts])
                  for i, n in enumerate(names)]
        border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
        out = [border, "|" + "|".join(f" {_cell(h, w)} " for h, w in zip(names, widths)) + "|",
               border]
        for cells in texts:
            out.append("|" + "|".join(f" {_cell(c, w)} " for c, w in zip(cells, widths)) + "|")
        out.append(border)
        out.append("1 row in set" if len(rows) == 1 else f"{len(rows)} rows in set")
        return "\n".join(out)
    widths = [column_width(n, t) for n, t in zip(names, types)]
    heads = list(names)
    if with_kind:
        widths = [2] + widths
        heads = ["op"] + heads
    border = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [border, "|" + "|".join(f" {_cell(h, w)} " for h, w in zip(heads, widths)) + "|", border]
    for r in rows:
        cells = [sql_string(v, t, zone) for v, t in zip(r[1:], types)]
        if with_kind:
            cells = [_KIND_TEXT[r[0]]] + cells
        out.append("|" + "|".join(f" {_cell(c, w)} " for c, w in zip(cells, widths)) + "|")
    out.append(border)
    n = len(rows)
    out.append("1 row in set" if n == 1 else f"{n} rows in set")
    return "\n".join(out)


_new_row = Row.__new__


def external_row(r: tuple, names: Optional[Sequence[str]] = None) -> Row:
    """A runtime row as the user's Row (with its RowKind; names when given)."""
    row = _new_row(Row)
    row._values = list(r[1:])
    row._fields = list(names) if names is not None else None
    row._row_kind = _KINDS[r[0]]
    return row


class CollectedRows:
    """The iterator of ``TableResult.collect()``: Rows (no field names, as PyFlink's)
    while the job runs; ``close()`` (or ``with``) stops the job."""

    def __init__(self, source: Any, to_row: Any = external_row) -> None:
        self._source = source
        self._rows = map(to_row, source)

    def __iter__(self) -> Any:
        return self._rows

    def __next__(self) -> Row:
        return next(self._rows)

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "CollectedRows":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class TableResult:
    """The result of ``execute()``, ``execute_sql()`` or ``execute_insert()``."""

    def __init__(self, names: Sequence[str], types: Sequence[DataType], kind: int,
                 rows: Optional[Any] = None, job: Any = None, streaming: bool = True,
                 zone: Any = None, ok_only: bool = False, changelog: bool = True,
                 updating: bool = True) -> None:
        self._names, self._types = list(names), list(types)
        self._kind = kind
        self._rows = rows  # an iterator of runtime rows, or a list
        self._job = job
        self._streaming = streaming
        self._zone = zone
        self._ok_only = ok_only
        self._changelog = changelog
        self._updating = updating  # -U/+U/-D rows can come (to_pandas applies them)
        self._consumed = False
        self._by_data = False  # SHOW / DESCRIBE: widths from the values
        self._raw = False  # INSERT: the values only, comma separated

    # -- the PyFlink API ----------------------------------------------------------------------------
    def get_job_client(self) -> Any:
        return self._job

    def wait(self, timeout_ms: Optional[int] = None) -> None:
        """Wait for the job to end (raises its error, if it failed)."""
        if self._job is not None:
            if timeout_ms is not None:
                self._job.wait(timeout_ms / 1000)
                if not self._job.is_done():
                    raise TimeoutError(f"the job did not end within {timeout_ms} ms")
                self._job.result()
            else:
                self._job.result()

    def get_table_schema(self) -> TableSchema:
        return TableSchema(self._names, self._types)

    def get_resolved_schema(self) -> TableSchema:
        return self.get_table_schema()

    def get_result_kind(self) -> int:
        return self._kind

    def collect(self) -> CollectedRows:
        return CollectedRows(self._take())

    def print(self) -> None:
        """Print the result as Flink's tableau (waits for a bounded job to end)."""
        sys.stdout.write(self.to_text() + "\n")
        sys.stdout.flush()

    # -- nbstream ---------------------------------------------------------------------------------
    def _take(self) -> Iterator[tuple]:
        if self._consumed:
            raise RuntimeError("the result of a TableResult can only be read once")
        self._consumed = True
        rows = self._rows if self._rows is not None else iter(())
        return iter(rows)

    def to_text(self) -> str:
        """What :meth:`print` writes."""
        if self._ok_only:
            self._consumed = True
            return "OK"
        if self._raw:
            return "\n".join(", ".join(sql_string(v, t, self._zone) for v, t in zip(r[1:], self._types))
                             for r in self._take())
        rows = list(self._take())
        return tableau(self._names, self._types, rows, self._streaming and self._changelog,
                       self._zone, self._by_data)

    def to_pandas(self) -> Any:
        """The final rows as a DataFrame (a changelog applied)."""
        rows = materialize(self._take()) if self._updating else self._take()
        return to_dataframe(self._names, self._types, [r[1:] for r in rows])

    def __repr__(self) -> str:
        return f"<TableResult kind={self._kind} columns={self._names}>"


def materialize(rows: Any) -> List[tuple]:
    """The rows a changelog leaves: +I/+U add a row, -U/-D remove one equal row
    (order of first insertion kept)."""
    out: List[Optional[tuple]] = []
    index: dict = {}
    for r in rows:
        values = tuple(r[1:])
        if r[0] in (0, 2):
            index.setdefault(values, []).append(len(out))
            out.append(values)
        else:
            slots = index.get(values)
            if slots:
                out[slots.pop()] = None
    return [(0,) + v for v in out if v is not None]
