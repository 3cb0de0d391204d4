"""Columnar streams: batches of rows (Arrow record batches) that flow as one unit.

``env.from_arrow(...)``, ``env.from_polars(...)``, ``env.read_parquet(...)``,
``env.read_csv(...)`` and ``env.from_dataframe(df, ...)`` give a :class:`ColumnarStream`
(a DataFrame whose rows would not come back unchanged from Arrow, or one given
``columnar=False``, gives rows from the start). Its
columnar steps work on whole columns: event-time watermarks per batch, ``key_by`` on
column names, tumbling and sliding event-time windows with ``count / sum / mean / min
/ max / agg``, ``map_batches`` and ``filter`` with a ``pyarrow.compute`` expression.
Anything else (a row function, another window kind, a join ...) converts the stream
to records once (``to_rows()``; dicts, one per row, or the rows ``from_dataframe`` was
asked for, with the values pandas gives) and goes on on the row path; ``env.explain()``
shows the ``Columnar`` steps and the ``ToRows`` step with the reason.

Window results are batches with the columns ``key`` (or the key columns, when there
are several), ``window_start``, ``window_end`` and the aggregates in the order named;
``to_pandas()`` and ``to_arrow()`` gather them without a Python object per row.
Nulls: a null key is a key of its own; nulls in a value column are skipped by sum,
mean, min and max (an all-null window gives null); ``count`` counts rows.

>>> import pandas as pd
>>> from nbstream import (StreamExecutionEnvironment, TumblingEventTimeWindows,
...                       WatermarkStrategy)
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> df = pd.DataFrame({"page": ["a", "b", "a"], "ts": [100, 1500, 1800], "v": [3, 1, 5]})
>>> (env.from_dataframe(df, timestamp_column="ts")
...     .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps())
...     .key_by("page").window(TumblingEventTimeWindows.of("1s"))
...     .agg(n="count", total=("v", "sum"))
...     .to_pandas().sort_values(["window_start", "key"]).to_dict("records"))
... # doctest: +NORMALIZE_WHITESPACE
[{'key': 'a', 'window_start': 0, 'window_end': 1000, 'n': 1, 'total': 3},
 {'key': 'a', 'window_start': 1000, 'window_end': 2000, 'n': 1, 'total': 5},
 {'key': 'b', 'window_start': 1000, 'window_end': 2000, 'n': 1, 'total': 1}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from ..errors import PlanError, describe_function
from ..plan.logical import Partitioning, UserFn
from ..runtime.columnar import COLUMNAR_FUNCTIONS, TimeSpec
from ..runtime.durations import DurationLike, to_millis
from ..runtime.records import OutputTag
from ..runtime.summaries import parse_spec

if TYPE_CHECKING:  # pragma: no cover
    from .datastream import DataStream, KeyedStream
    from .windowed import WindowedStream

__all__ = ["ColumnarStream", "ColumnarKeyedStream", "ColumnarWindowedStream"]


class ColumnarStream:
    """A stream of Arrow record batches (see the module text). Methods it has no
    columnar form of are those of :class:`DataStream`, after one ``to_rows()``."""

    def __init__(self, stream: "DataStream", time: TimeSpec = None,
                 key_columns: Tuple[str, ...] = (), late_time: TimeSpec = None,
                 frame_rows: Optional[str] = None, late_frame_rows: Optional[str] = None) -> None:
        self._stream = stream
        self._time = time
        self._key_columns = key_columns
        self._late_time = late_time  # the time column of late rows (after a window)
        # rows of a DataFrame (from_dataframe): become the rows pandas gives, of this kind
        self._frame_rows = frame_rows
        self._late_frame_rows = late_frame_rows  # the same, for late rows (after a window)
        self._rows: Dict[str, "DataStream"] = {}

    def _next(self, stream: "DataStream", time: TimeSpec = None, **kw: Any) -> "ColumnarStream":
        kw.setdefault("frame_rows", self._frame_rows)
        return ColumnarStream(stream, self._time if time is None else time, **kw)

    def __repr__(self) -> str:
        return f"ColumnarStream({self._stream._node.name!r})"

    # -- the row path ------------------------------------------------------------------------
    def to_rows(self, rows: Optional[str] = None, reason: str = "to_rows()") -> "DataStream":
        """The stream as records: a dict per row (``rows="tuple"``: a tuple, ``"row"``: a
        Row with the column names), with the event time of the time column as each
        record's timestamp. Converted once per stream, however many row steps follow.
        The rows of a DataFrame are those pandas gives, of the kind ``from_dataframe``
        was asked for (unless ``rows`` says another)."""
        rows = rows or self._frame_rows or "dict"
        if rows not in ("dict", "tuple", "row"):
            raise PlanError(f"to_rows: rows must be 'dict', 'tuple' or 'row', not {rows!r}")
        if rows not in self._rows:
            self._rows[rows] = self._stream._add(
                "to_rows", f"ToRows (for {reason})", None, None,
                time=self._time, key_columns=self._key_columns, rows=rows,
                pandas=self._frame_rows is not None)
            self._rows[rows]._inherit_parallelism(self._stream)
        return self._rows[rows]

    def _as_rows(self, reason: str) -> "DataStream":
        return self.to_rows(reason=reason)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from .datastream import DataStream

        if not hasattr(DataStream, name):
            raise AttributeError(f"'ColumnarStream' object has no attribute {name!r}")
        return getattr(self.to_rows(reason=f"{name}()"), name)

    # -- columnar steps -----------------------------------------------------------------------
    def assign_timestamps_and_watermarks(self, watermark_strategy: Any) -> Any:
        """Watermarks per batch, from the time column: the strategy's generator sees each
        batch's largest timestamp. A strategy with a timestamp assigner (a row
        function) takes the row path."""
        if not hasattr(watermark_strategy, "create_watermark_generator"):
            raise TypeError("assign_timestamps_and_watermarks() takes a WatermarkStrategy, "
                            f"not {type(watermark_strategy).__name__}")
        if watermark_strategy.describe_assigner() is not None:
            return self.to_rows(reason="a timestamp assigner").assign_timestamps_and_watermarks(
                watermark_strategy)
        if self._time is None:
            raise PlanError("this columnar stream has no time column: give the source "
                            "timestamp_column=... (int milliseconds or an Arrow timestamp)")
        stream = self._stream._add("columnar_watermarks", "Columnar: Timestamps/Watermarks",
                                   None, None, strategy=watermark_strategy, time=self._time)
        stream._inherit_parallelism(self._stream)
        return self._next(stream)

    def key_by(self, key_selector: Any, key_type: Any = None) -> Any:
        """Partition by one or more column names (a hash of their values), for a
        columnar window; any other key selector takes the row path."""
        columns = _column_names(key_selector)
        if columns is None or key_type is not None:
            return self.to_rows(reason="a row key selector").key_by(key_selector, key_type)
        part = Partitioning("columns", columns=columns)
        stream = self._stream._add("partition", "HASH", partitioning=part)
        return ColumnarKeyedStream(self, self._next(stream), columns)

    def map_batches(self, func: Any, format: str = "pandas") -> "ColumnarStream":
        """Apply ``func`` to each batch: a pandas DataFrame in and out (``format=
        "pandas"``) or a ``pyarrow.RecordBatch`` in and a RecordBatch or Table out
        (``"arrow"``). The time column, if the result keeps it, stays the time column.
        A ``MapFunction`` gets each batch in ``map`` between its ``open`` and ``close``."""
        from .functions import MapFunction
        if format not in ("pandas", "arrow"):
            raise PlanError(f"map_batches: format must be 'pandas' or 'arrow', not {format!r}")
        if isinstance(func, MapFunction):
            fn = UserFn((func.map,), owner=func, name=type(func).__qualname__)
        elif not callable(func):
            raise TypeError(f"map_batches() takes a callable, not {type(func).__name__}")
        else:
            fn = UserFn((func,), owner=None, name=describe_function(func))
        stream = self._stream._add("columnar_map", f"Columnar: MapBatches({fn.name})", fn, None,
                                   format=format)
        stream._inherit_parallelism(self._stream)
        return self._next(stream)

    def filter(self, func: Any) -> Any:
        """Keep the rows a ``pyarrow.compute`` expression is true for (``pc.field("v") >
        3``); a row predicate (a callable) takes the row path."""
        import pyarrow.compute as pc

        if not isinstance(func, pc.Expression):
            return self.to_rows(reason="a row filter").filter(func)
        stream = self._stream._add("columnar_map", f"Columnar: Filter({func})", None, None,
                                   expression=func)
        stream._inherit_parallelism(self._stream)
        return self._next(stream)

    def get_side_output(self, output_tag: OutputTag) -> "ColumnarStream":
        """Late rows of a columnar window (``side_output_late_data``), as batches."""
        return self._next(self._stream.get_side_output(output_tag), time=self._late_time,
                          frame_rows=self._late_frame_rows)

    # -- plan properties --------------------------------------------------------------------------
    def name(self, name: str) -> "ColumnarStream":
        self._stream.name(name)
        return self

    def uid(self, uid: str) -> "ColumnarStream":
        self._stream.uid(uid)
        return self

    def set_parallelism(self, parallelism: int) -> "ColumnarStream":
        self._stream.set_parallelism(parallelism)
        return self

    # -- results ------------------------------------------------------------------------------------
    def to_arrow(self, job_name: Optional[str] = None) -> Any:
        """Run the job to its end and return its results as one ``pyarrow.Table``."""
        import pyarrow as pa

        batches = [b for b in self._stream.execute_and_collect(job_name)]
        if not batches:
            return pa.table({})
        return pa.Table.from_batches(batches) if _same_schema(batches) \
            else pa.concat_tables([pa.Table.from_batches([b]) for b in batches],
                                  promote_options="default")

    def to_pandas(self, limit: Optional[int] = None, job_name: Optional[str] = None) -> Any:
        """Run the job to its end and return its results as a pandas DataFrame (the first
        ``limit`` rows with a limit)."""
        frame = self.to_arrow(job_name).to_pandas()
        return frame if limit is None else frame.head(limit)


class ColumnarKeyedStream:
    """A columnar stream partitioned by key columns: ``.window(assigner)`` next."""

    def __init__(self, parent: ColumnarStream, stream: ColumnarStream,
                 columns: Tuple[str, ...]) -> None:
        self._parent = parent
        self._stream = stream
        self._columns = columns

    def _rows(self, reason: str) -> "KeyedStream":
        columns = self._columns
        key = columns[0] if len(columns) == 1 else _TupleKey(columns)
        return self._parent.to_rows(reason=reason).key_by(key)

    _as_rows = _rows

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._rows(f"{name}()"), name)

    def window(self, window_assigner: Any) -> Any:
        """Tumbling, sliding and (fixed-gap) session event-time windows run columnar;
        other assigners take the row path."""
        from ..runtime.windows import (EventTimeSessionWindows, SlidingEventTimeWindows,
                                       TumblingEventTimeWindows)

        if type(window_assigner) in (TumblingEventTimeWindows, SlidingEventTimeWindows,
                                     EventTimeSessionWindows) \
                and getattr(window_assigner, "gap_ms", 1) is not None:  # not a dynamic gap
            if self._stream._time is None:
                raise PlanError("an event-time window needs a time column: give the source "
                                "timestamp_column=...")
            return ColumnarWindowedStream(self, window_assigner)
        return self._rows(f"{window_assigner!r}").window(window_assigner)


class ColumnarWindowedStream:
    """A columnar keyed stream cut into tumbling or sliding event-time windows."""

    def __init__(self, keyed: ColumnarKeyedStream, assigner: Any) -> None:
        self._keyed = keyed
        self._assigner = assigner
        self._lateness = 0
        self._late_tag: Optional[OutputTag] = None

    def allowed_lateness(self, time_ms: DurationLike) -> "ColumnarWindowedStream":
        """Keep windows ``time_ms`` after their end: rows within it update the window and
        fire it again, as on the row path."""
        lateness = to_millis(time_ms, "allowed_lateness")
        if lateness < 0:
            raise PlanError("allowed_lateness must not be negative")
        self._lateness = lateness
        return self

    def side_output_late_data(self, output_tag: OutputTag) -> "ColumnarWindowedStream":
        """Send rows too late for any window to ``output_tag`` (as batches)."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError("side_output_late_data() takes an OutputTag")
        self._late_tag = output_tag
        return self

    def _row_windowed(self, reason: str) -> "WindowedStream":
        windowed = self._keyed._rows(reason).window(self._assigner)
        if self._lateness:
            windowed.allowed_lateness(self._lateness)
        if self._late_tag is not None:
            windowed.side_output_late_data(self._late_tag)
        return windowed

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._row_windowed(f"{name}()"), name)

    def _summary(self, specs: List[Tuple[str, Any, Any]]) -> Any:
        for n in [s[0] for s in specs]:
            if n in ("key", "window_start", "window_end") or n in self._keyed._columns:
                raise PlanError(f"an aggregate cannot be called {n!r} (a column of the result)")
        if any(fn not in COLUMNAR_FUNCTIONS or (fn != "count" and not isinstance(field, str))
               for _, field, fn in specs):
            return _row_agg(self._row_windowed("an aggregate with no columnar form"), specs)
        a = self._assigner
        described = ", ".join(n if fn == "count" else f"{n}={fn}({field})"
                              for n, field, fn in specs)
        keyed = self._keyed
        if hasattr(a, "gap_ms"):
            return self._sessions(specs, described)
        window = dict(keys=keyed._columns, time=keyed._stream._time, size=a.size,
                      slide=getattr(a, "slide", a.size), offset=a.offset,
                      lateness=self._lateness, late_tag=self._late_tag, specs=tuple(specs))
        name = f"Window({a!r}, {described})"
        if self._lateness or self._late_tag is not None or not _parallel(keyed._parent):
            # each row must be seen alone, or nothing would run in parallel
            shuffled = keyed._stream._stream
            stream = shuffled._add("columnar_window", f"Columnar: {name}", None, None,
                                   phase="whole", **window)
        else:  # pre-aggregate before the shuffle, in parallel with the source
            partial = keyed._parent._stream._add("columnar_window", f"Columnar: Partial{name}",
                                                 None, None, phase="partial", **window)
            partial._inherit_parallelism(keyed._parent._stream)
            shuffled = partial._partition("columns", columns=keyed._columns)
            stream = shuffled._add("columnar_window", f"Columnar: {name}", None, None,
                                   phase="final", **window)
        return ColumnarStream(stream, ("window_end", -1), key_columns=keyed._columns,
                              late_time=keyed._stream._time,
                              late_frame_rows=keyed._stream._frame_rows)

    def _sessions(self, specs: List[Tuple[str, Any, Any]], described: str) -> Any:
        if self._lateness:  # a merged session re-fired by late rows: the row path's
            return _row_agg(self._row_windowed("session windows with allowed lateness"), specs)
        keyed = self._keyed
        stream = keyed._stream._stream._add(
            "columnar_session", f"Columnar: Window({self._assigner!r}, {described})", None,
            None, keys=keyed._columns, time=keyed._stream._time, gap=self._assigner.gap_ms,
            late_tag=self._late_tag, specs=tuple(specs))
        return ColumnarStream(stream, ("window_end", -1), key_columns=keyed._columns,
                              late_time=keyed._stream._time,
                              late_frame_rows=keyed._stream._frame_rows)

    def count(self) -> ColumnarStream:
        """Rows per key and window, as ``count``."""
        return self._summary([("count", None, "count")])

    def sum(self, field: str) -> ColumnarStream:
        """Sum of column ``field`` per key and window, as ``sum``."""
        return self._summary([("sum", field, "sum")])

    def mean(self, field: str) -> ColumnarStream:
        """Mean of column ``field`` per key and window, as ``mean``."""
        return self._summary([("mean", field, "mean")])

    def min(self, field: str) -> ColumnarStream:
        """Smallest value of column ``field`` per key and window, as ``min``."""
        return self._summary([("min", field, "min")])

    def max(self, field: str) -> ColumnarStream:
        """Largest value of column ``field`` per key and window, as ``max``."""
        return self._summary([("max", field, "max")])

    def agg(self, **aggregates: Any) -> Any:
        """Several named aggregates, in order: ``agg(n="count", total=("v", "sum"))``;
        count, sum, mean, min and max of a column run columnar, others on rows."""
        if not aggregates:
            raise PlanError("agg() needs at least one aggregate, e.g. agg(n='count')")
        return self._summary([parse_spec(n, s) for n, s in aggregates.items()])


class _TupleKey:
    """The row-path key of several key columns: a tuple of their values."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)

    def __call__(self, row: Dict[str, Any]) -> Tuple[Any, ...]:
        return tuple(row[c] for c in self.columns)

    def __repr__(self) -> str:
        return f"columns {list(self.columns)}"


def _row_agg(windowed: "WindowedStream", specs: List[Tuple[str, Any, Any]]) -> "DataStream":
    """The same aggregates on the row path."""
    return windowed.agg(**{n: (f, fn) if f is not None else fn for n, f, fn in specs})


def _parallel(stream: ColumnarStream) -> bool:
    """Whether the stream or a window after it runs with parallelism above 1 (as
    planned now; a later ``set_parallelism`` changes speed, not results)."""
    env = stream._stream._env
    node = stream._stream._node
    mine = 1 if node.params.get("non_parallel") else node.parallelism
    return max(mine or env._default_parallelism(), env._default_parallelism()) > 1


def _column_names(selector: Any) -> Optional[Tuple[str, ...]]:
    if isinstance(selector, str):
        return (selector,)
    if isinstance(selector, (list, tuple)) and selector and all(isinstance(c, str) for c in selector):
        return tuple(selector)
    return None


def _same_schema(batches: List[Any]) -> bool:
    first = batches[0].schema
    return all(b.schema.equals(first) for b in batches[1:])


def columnar_source(env: Any, spec: Any, name: str, timestamp_column: Optional[str],
                    frame_rows: Optional[str] = None) -> ColumnarStream:
    """A columnar stream over a source spec, checking the time column where the
    schema is known before the job runs."""
    schema = spec.schema
    if timestamp_column is not None and schema is not None:
        import pyarrow as pa

        if timestamp_column not in schema.names:
            raise PlanError(f"{name}: no timestamp column {timestamp_column!r} "
                            f"(columns: {schema.names})")
        kind = schema.field(timestamp_column).type
        if not (pa.types.is_integer(kind) or pa.types.is_timestamp(kind)):
            raise PlanError(f"{name}: timestamp column {timestamp_column!r} has type {kind}; "
                            "use int milliseconds or a timestamp type")
    stream = env._source(spec, f"Columnar: {name}")
    return ColumnarStream(stream, (timestamp_column, 0) if timestamp_column else None,
                          frame_rows=frame_rows)

