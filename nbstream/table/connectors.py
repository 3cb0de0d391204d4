"""Table sources and sinks: what a Scan reads and an INSERT writes, over nbstream's own
sources and sinks (no second engine).

A **source** is a :class:`TableSource`: its columns, whether it is bounded, and
``stream(env)`` -> a DataStream of rows (``(kind, c0, c1, ...)`` tuples). A **sink** is a
:class:`TableSink`: ``consume(stream, names, types)`` adds the sink steps. A connector
is a factory registered by name (the ``'connector'`` option of CREATE TABLE / a
TableDescriptor): ``register_source("datagen", factory)`` where ``factory(options,
names, types)`` returns the source; likewise :func:`register_sink`.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import random
import string
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .types import DataType, ValidationError
from .values import converter, java_string

__all__ = ["TableSource", "TableSink", "RowsSource", "DataStreamSource", "DataFrameSource",
           "register_source", "register_sink", "source_for", "sink_for", "PrintSink",
           "BlackholeSink", "DatagenSource"]


class TableSource:
    """Rows of a table (see the module text)."""

    bounded = True
    updating = False
    description = "source"

    def stream(self, env: Any) -> Any:
        raise NotImplementedError

    def columnar(self, env: Any, timestamp_column: Optional[str] = None) -> Any:
        """A ColumnarStream of the same rows, or None (the planner's fast path for window
        aggregations of built-in aggregates)."""
        return None


class TableSink:
    """Where INSERT INTO writes."""

    description = "sink"
    #: accepts -U/+U/-D rows (print, collect); an insert-only sink refuses updating input
    accepts_updates = True

    def consume(self, stream: Any, names: Sequence[str], types: Sequence[DataType]) -> Any:
        raise NotImplementedError


_SOURCES: Dict[str, Callable[..., TableSource]] = {}
_SINKS: Dict[str, Callable[..., TableSink]] = {}


def register_source(name: str, factory: Callable[..., TableSource]) -> None:
    """Make ``'connector' = name`` readable: ``factory(options, names, types)``."""
    _SOURCES[name] = factory


def register_sink(name: str, factory: Callable[..., TableSink]) -> None:
    """Make ``'connector' = name`` writable: ``factory(options, names, types)``."""
    _SINKS[name] = factory


def _load_builtin() -> None:
    from . import filesystem  # noqa: F401  (registers 'filesystem')
    from . import kafka  # noqa: F401  (registers 'kafka'; its client is imported when used)


def _connector(options: Dict[str, str], what: str) -> str:
    _load_builtin()
    name = options.get("connector")
    if not name:
        raise ValidationError(f"Table options do not contain an option key 'connector' for "
                              f"discovering a {what}.")
    return name


def source_for(options: Dict[str, str], names: List[str], types: List[DataType]) -> TableSource:
    name = _connector(options, "connector")
    factory = _SOURCES.get(name)
    if factory is None:
        raise ValidationError(
            f"Could not find any factory for identifier '{name}' that implements "
            f"'DynamicTableSourceFactory' in nbstream. Available factory identifiers are: "
            f"{', '.join(sorted(_SOURCES))}")
    return factory(options, names, types)


def sink_for(options: Dict[str, str], names: List[str], types: List[DataType]) -> TableSink:
    name = _connector(options, "connector")
    factory = _SINKS.get(name)
    if factory is None:
        raise ValidationError(
            f"Could not find any factory for identifier '{name}' that implements "
            f"'DynamicTableSinkFactory' in nbstream. Available factory identifiers are: "
            f"{', '.join(sorted(_SINKS))}")
    return factory(options, names, types)


# -- rows in memory ---------------------------------------------------------------------------------
class RowsSource(TableSource):
    """Rows given to the environment (``from_elements``, ``from_pandas``), converted once
    to the runtime's values."""

    description = "Values"

    def __init__(self, rows: List[tuple], names: Sequence[str], types: Sequence[DataType]) -> None:
        self.records = rows  # runtime rows: (0, internal values...)
        self.names, self.types = list(names), list(types)

    @property
    def rows(self) -> List[tuple]:
        """The internal values of each row (without the kind)."""
        return [r[1:] for r in self.records]

    def stream(self, env: Any) -> Any:
        return env.from_collection(self.records)

    def columnar(self, env: Any, timestamp_column: Optional[str] = None) -> Any:
        return None


class DataStreamSource(TableSource):
    """A DataStream as a table (``from_data_stream`` / ``from_changelog_stream``): each
    record (a Row, tuple, list, dict or a single value) becomes a row."""

    description = "DataStream"

    def __init__(self, ds: Any, names: Sequence[str], types: Sequence[DataType],
                 changelog: bool = False) -> None:
        self.ds, self.names, self.types = ds, list(names), list(types)
        self.updating = changelog
        self.bounded = True

    def stream(self, env: Any) -> Any:
        if self.ds.get_execution_environment() is not env:
            raise ValidationError("a table made from a DataStream runs in that stream's "
                                  "environment: use the StreamTableEnvironment of its env")
        return self.ds.map(_RecordToRow(self.types, self.names, self.updating))


class _RecordToRow:
    def __init__(self, types: Sequence[DataType], names: Sequence[str], changelog: bool) -> None:
        self.convs = [converter(t) for t in types]
        self.names = list(names)
        self.changelog = changelog

    def __call__(self, v: Any) -> tuple:
        kind = 0
        if hasattr(v, "get_row_kind"):
            if self.changelog:
                kind = v.get_row_kind().value
            v = list(v)
        elif isinstance(v, dict):
            v = [v.get(n) for n in self.names]
        elif not isinstance(v, (tuple, list)):
            v = [v]
        return (kind,) + tuple(c(x) for c, x in zip(self.convs, v))


class DataFrameSource(TableSource):
    """A pandas DataFrame (``from_pandas``, or named in SQL): its rows are converted to the
    runtime's values chunk by chunk as the source reads them (a 10 M-row frame is never a
    list of 10 M tuples); window aggregations of it take the columnar path."""

    description = "DataFrame"

    def __init__(self, frame: Any, names: Sequence[str], types: Sequence[DataType]) -> None:
        self.frame = frame
        self.names, self.types = list(names), list(types)

    def stream(self, env: Any) -> Any:
        return env.from_iterable(_FrameRows(self.frame, self.types), "Source: DataFrame")

    def columnar(self, env: Any, timestamp_column: Optional[str] = None) -> Any:
        import pyarrow as pa
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        if table.column_names != self.names:
            table = table.rename_columns(self.names)
        return env.from_arrow(table, timestamp_column=timestamp_column)


class _FrameRows:
    """The rows of a DataFrame, converted in chunks (a generator function)."""

    CHUNK = 65536

    def __init__(self, frame: Any, types: Sequence[DataType]) -> None:
        self.frame, self.types = frame, list(types)

    def __call__(self) -> Any:
        from .frames import frame_rows
        frame = self.frame
        for start in range(0, len(frame), self.CHUNK):
            for r in frame_rows(frame.iloc[start:start + self.CHUNK], self.types):
                yield (0,) + r


# -- datagen -------------------------------------------------------------------------------------------
class DatagenSource(TableSource):
    """``'connector' = 'datagen'``: random or sequence fields, ``rows-per-second``
    (default 10000), ``number-of-rows`` (unbounded without it or a sequence's end)."""

    description = "datagen"

    def __init__(self, options: Dict[str, str], names: List[str], types: List[DataType]) -> None:
        self.names, self.types = names, types
        self.options = options
        self.rate = float(options.get("rows-per-second", "10000"))
        rows = options.get("number-of-rows")
        self.limit: Optional[int] = int(rows) if rows is not None else None
        self.fields = [self._field(n, t) for n, t in zip(names, types)]
        for n, _t in zip(names, types):
            if options.get(f"fields.{n}.kind") == "sequence":
                end = int(options[f"fields.{n}.end"]) - int(options[f"fields.{n}.start"]) + 1
                self.limit = end if self.limit is None else min(self.limit, end)
        self.bounded = self.limit is not None

    def _field(self, name: str, t: DataType) -> Callable[[int, random.Random], Any]:
        opt = self.options
        kind = opt.get(f"fields.{name}.kind", "random")
        if kind == "sequence":
            start = int(opt[f"fields.{name}.start"])
            conv = converter(t) if t.root not in ("CHAR", "VARCHAR") else str
            return lambda i, rnd: conv(start + i)
        lo, hi = opt.get(f"fields.{name}.min"), opt.get(f"fields.{name}.max")
        root = t.root
        if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
            bits = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}[root]
            a = int(lo) if lo is not None else -(1 << (bits - 1))
            b = int(hi) if hi is not None else (1 << (bits - 1)) - 1
            return lambda i, rnd: rnd.randint(a, b)
        if root in ("FLOAT", "DOUBLE"):
            fa = float(lo) if lo is not None else -sys.float_info.max / 2
            fb = float(hi) if hi is not None else sys.float_info.max / 2
            return lambda i, rnd: rnd.uniform(fa, fb)
        if root == "DECIMAL":
            return lambda i, rnd: decimal.Decimal(rnd.randint(0, 10 ** t.precision - 1)).scaleb(  # type: ignore
                -t.scale)  # type: ignore[attr-defined]
        if root in ("CHAR", "VARCHAR"):
            length = int(opt.get(f"fields.{name}.length", "100"))
            alphabet = string.ascii_lowercase + string.digits
            return lambda i, rnd: "".join(rnd.choice(alphabet) for _ in range(length))
        if root == "BOOLEAN":
            return lambda i, rnd: rnd.random() < 0.5
        if root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
            def ts(i: int, rnd: random.Random) -> Any:
                now = _dt.datetime.now(_dt.timezone.utc)
                now = now.replace(microsecond=now.microsecond // 1000 * 1000)
                return now if root == "TIMESTAMP_LTZ" else now.replace(tzinfo=None)
            return ts
        if root == "DATE":
            return lambda i, rnd: _dt.date.today()
        return lambda i, rnd: None

    def stream(self, env: Any) -> Any:
        return env.from_iterable(_DatagenRows(self.fields, self.limit, self.rate),
                                 "Source: datagen")


class _DatagenRows:
    """The generator function of a datagen source (picklable; each run starts afresh)."""

    def __init__(self, fields: List[Any], limit: Optional[int], rate: float) -> None:
        self.fields, self.limit, self.rate = fields, limit, rate

    def __call__(self) -> Any:
        rnd = random.Random()
        fields = self.fields
        start = time.monotonic()
        i = 0
        while self.limit is None or i < self.limit:
            yield (0,) + tuple(f(i, rnd) for f in fields)
            i += 1
            if self.rate > 0 and i % max(1, int(self.rate) // 10 or 1) == 0:
                due = start + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)


register_source("datagen", DatagenSource)


# -- print / blackhole ----------------------------------------------------------------------------------
class PrintSink(TableSink):
    """``'connector' = 'print'``: each row as ``+I[a, 1]`` (Java's toString of the values),
    prefixed as Flink's print sink (``print-identifier``, ``N>`` at parallelism > 1)."""

    description = "print"

    def __init__(self, options: Dict[str, str], names: List[str], types: List[DataType]) -> None:
        self.identifier = options.get("print-identifier")
        self.stderr = options.get("standard-error", "false").lower() == "true"
        self.parallelism = options.get("sink.parallelism")
        self.types = types

    def consume(self, stream: Any, names: Sequence[str], types: Sequence[DataType]) -> Any:
        lines = stream.map(_PrintLine(list(types)))
        if self.parallelism:
            lines.set_parallelism(int(self.parallelism))
        from ..connectors.sinks import PrintSink as _Print
        sink = lines.add_sink(_Print(self.identifier, self.stderr))
        if self.parallelism:
            sink.set_parallelism(int(self.parallelism))
        return sink


class _PrintLine:
    def __init__(self, types: List[DataType]) -> None:
        self.types = types

    def __call__(self, r: tuple) -> str:
        kind = ("+I", "-U", "+U", "-D")[r[0]]
        return kind + "[" + ", ".join(java_string(v, t) for v, t in zip(r[1:], self.types)) + "]"


class BlackholeSink(TableSink):
    description = "blackhole"

    def __init__(self, options: Dict[str, str], names: List[str], types: List[DataType]) -> None:
        pass

    def consume(self, stream: Any, names: Sequence[str], types: Sequence[DataType]) -> Any:
        return stream.add_sink(_discard)


def _discard(value: Any) -> None:
    pass


register_sink("print", PrintSink)
register_sink("blackhole", BlackholeSink)
