"""Live results: the rows a running job has produced so far, bounded, readable at any moment.

A :class:`LiveResults` is fed by a :class:`LiveSink` on the job's threads and read by
the notebook (``to_pandas()``, ``to_arrow()``) and by the live view (``changes_since``).
Rows are kept in the order they were last touched; at most ``max_rows`` are kept and the
oldest are dropped (and counted).

How rows are identified decides whether a new row replaces an old one:

* ``"window"``: window results, dicts with ``window_start`` and ``window_end`` (and ``key``
  unless the window is over the whole stream); a late firing of the same key and window
  replaces its row;
* ``"keyed"``: the rolling values of a keyed reduce (``reduce``, ``sum``, ``max``...): the
  newest value of each key replaces the previous one, so the rows are the current value
  per key;
* ``"append"``: any other stream: every record is a new row;
* ``"changelog"`` (never chosen by ``"auto"``): rows are changes, Flink's ``RowKind``
  (``+I`` insert, ``-U`` update before, ``+U`` update after, ``-D`` delete) carried by
  :class:`~nbstream.Row`; with a ``key_fn`` (the upsert key) ``+I``/``+U`` upsert the row
  of that key and ``-U``/``-D`` remove it (a ``-U`` whose ``+U`` follows in the same
  batch keeps the row in place, so a view updates it rather than replacing it); without
  one the rows are a multiset and ``-U``/``-D`` remove one equal row. Records that are not
  Rows count as ``+I``; ``kinds`` counts the changes of each kind.

Every kept row has a time: the record's event timestamp, else when it arrived (epoch
milliseconds); the live view charts keyed values over it. A removed row is remembered
(a tombstone) so a view that saw it can drop it (:meth:`LiveResults.removed_since`).

>>> results = LiveResults(max_rows=2)
>>> results.add([{"key": "a", "window_start": 0, "window_end": 10, "n": 1},
...              {"key": "a", "window_start": 0, "window_end": 10, "n": 2}])
>>> results.mode, len(results), results.rows()[0]["n"]
('window', 1, 2)
>>> plain = LiveResults(max_rows=2)
>>> plain.add([1, 2, 3])
>>> plain.rows(), plain.dropped
([2, 3], 1)
>>> from nbstream import Row, RowKind
>>> def change(kind, *values):
...     row = Row(*values)
...     row.set_row_kind(kind)
...     return row
>>> table = LiveResults(mode="changelog", key_fn=lambda r: r[0])
>>> table.add([Row("a", 1), Row("b", 1), change(RowKind.UPDATE_BEFORE, "a", 1),
...            change(RowKind.UPDATE_AFTER, "a", 2), change(RowKind.DELETE, "b", 1)])
>>> [tuple(r) for r in table.rows()]
[('a', 2)]
>>> table.kinds
{'+I': 2, '-U': 1, '+U': 1, '-D': 1}

This module imports neither IPython nor pandas (pandas is imported on ``to_pandas``).
"""

from __future__ import annotations

import ast
import collections
import datetime
import itertools
import math
import re
import threading
import time
import uuid
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple

from ..connectors.frames import row_columns, rows_to_pandas
from ..connectors.sinks import SinkSpec, _HeldUntilCheckpoint, _Writer
from ..errors import short_repr
from ..runtime.records import Batch
from ..runtime.row import Row, RowKind

__all__ = ["LiveResults", "LiveSink", "Change", "MODES", "json_cell", "keyed_rolling_key",
           "reduced_field", "tuple_names"]

MODES = ("auto", "window", "keyed", "append", "changelog")
WINDOW_FIELDS = ("window_start", "window_end")
TOMBSTONES = 10_000  # removed rows remembered for views that catch up with deltas

Change = Tuple[int, List[Any], Optional[str], int]
"""One changed row as the live view gets it: (row id, cells, key label or None, time in
epoch ms: the record's timestamp, else when it arrived)."""


def _is_window_row(value: Any) -> bool:
    return isinstance(value, dict) and "window_start" in value and "window_end" in value


class LiveResults:
    """Rows of a running job, thread-safe and bounded (see the module docstring).

    ``mode`` is ``"auto"`` (decided by the first row: window rows are upserted by key and
    window, rows of a keyed rolling reduce by ``key_fn``, others appended), or one of
    ``"window"``, ``"keyed"``, ``"append"``, ``"changelog"``.
    ``names``: column names for rows that are plain tuples (or Rows without field names),
    used when their length matches; by default their columns are ``f0``, ``f1``...
    """

    def __init__(self, max_rows: int = 1000, key_fn: Optional[Callable[[Any], Any]] = None,
                 mode: str = "auto", names: Optional[Sequence[str]] = None) -> None:
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive int, not {max_rows!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if mode == "keyed" and key_fn is None:
            raise ValueError("mode 'keyed' needs a key_fn")
        self.max_rows = max_rows
        self.key_fn = key_fn
        self.mode = mode
        self.names = list(names) if names else None  # of plain tuples' positions (else f0, f1...)
        self.received = 0     # rows that reached the results
        self.dropped = 0      # rows no longer kept because of max_rows
        self.version = 0      # bumped on every change (one per row)
        self.columns: List[str] = []
        self._known: set = set()
        self._lock = threading.Lock()
        # identity -> [row id, value, label, version, time]; least recently touched first
        self._rows: "collections.OrderedDict[Any, List[Any]]" = collections.OrderedDict()
        self._ids = itertools.count(1)
        self._listeners: List[Callable[[], None]] = []
        # removed rows (changelog): (version, row id), the oldest forgotten first
        self._removed: Deque[Tuple[int, int]] = collections.deque(maxlen=TOMBSTONES)
        self._equal: Dict[Any, List[Any]] = {}  # changelog without a key: value -> identities
        self._before: set = set()  # changelog with a key: keys whose -U waits for its +U
        self.kinds: Dict[str, int] = {"+I": 0, "-U": 0, "+U": 0, "-D": 0}  # changelog: changes

    # -- writing (job threads) ---------------------------------------------------------------
    def add(self, values: Iterable[Any], timestamps: Optional[Sequence[Optional[int]]] = None
            ) -> None:
        """Add (or upsert, or for a changelog remove) a batch of rows; ``timestamps``: their
        event times in epoch ms (None: when they arrived)."""
        values = list(values)
        if not values:
            return
        now = int(time.time() * 1000)
        with self._lock:
            if self.mode == "auto":
                self.mode = ("window" if _is_window_row(values[0])
                             else "keyed" if self.key_fn is not None else "append")
            if not self.columns:
                self.columns = self._columns_of(values[0])
                self._known = set(self.columns)
            mode, version = self.mode, self.version
            for i, value in enumerate(values):
                version += 1
                stamp = timestamps[i] if timestamps is not None else None
                stamp = now if stamp is None else stamp
                if mode == "changelog":
                    self._change(value, version, stamp)
                else:
                    ident, label = self._identity(value, mode, version)
                    self._put(ident, value, label, version, stamp)
                if isinstance(value, dict) and not value.keys() <= self._known:
                    self._extend_columns(value)
            if self._before:  # a -U whose +U did not come: its row is gone
                for ident in self._before:
                    self._remove(ident, version)
                self._before.clear()
            self.version = version
            self.received += len(values)
            listeners = list(self._listeners)
        for wake in listeners:
            wake()

    def add_stamped(self, pairs: Iterable[Tuple[Any, Optional[int]]]) -> None:
        """Add ``(value, timestamp)`` pairs (what the live sink delivers)."""
        pairs = list(pairs)
        self.add([p[0] for p in pairs], [p[1] for p in pairs])

    def _identity(self, value: Any, mode: str, version: int) -> Tuple[Any, Optional[str]]:
        if mode == "append":
            return version, None
        if mode == "window" and _is_window_row(value):
            key = value.get("key")
            label = "all" if "key" not in value else _label(key)
            return (_hashable(key), value["window_start"], value["window_end"]), label
        if mode == "keyed":
            key = self.key_fn(value)  # type: ignore[misc]
            return _hashable(key), _label(key)
        return ("row", version), None  # a non-window row in a window stream: a new row

    def _put(self, ident: Any, value: Any, label: Optional[str], version: int,
             stamp: int) -> None:
        rows = self._rows
        entry = rows.pop(ident, None)
        if entry is None:
            rows[ident] = [next(self._ids), value, label, version, stamp]
            if len(rows) > self.max_rows:
                old_ident, old = rows.popitem(last=False)
                self._forget_equal(old_ident, old[1])
                self.dropped += 1
        else:
            entry[1], entry[2], entry[3], entry[4] = value, label, version, stamp
            rows[ident] = entry

    def _change(self, value: Any, version: int, stamp: int) -> None:
        kind = value.get_row_kind() if isinstance(value, Row) else RowKind.INSERT
        self.kinds[kind.short_string()] += 1
        retract = kind in (RowKind.UPDATE_BEFORE, RowKind.DELETE)
        if self.key_fn is not None:
            key = self.key_fn(value)
            ident: Any = ("key", _hashable(key))
            self._before.discard(ident)
            if kind == RowKind.UPDATE_BEFORE:  # removed at the batch's end unless its +U comes
                self._before.add(ident)
                return
            if not retract:
                self._put(ident, value, _label(key), version, stamp)
                return
        else:
            same = self._equal.setdefault(_value_key(value), [])
            if not retract:
                ident = ("row", version)
                same.append(ident)
                self._put(ident, value, None, version, stamp)
                return
            ident = same.pop(0) if same else None
        if ident is not None:
            self._remove(ident, version)

    def _remove(self, ident: Any, version: int) -> None:
        entry = self._rows.pop(ident, None)
        if entry is not None:
            self._removed.append((version, entry[0]))

    def _forget_equal(self, ident: Any, value: Any) -> None:
        if self.mode == "changelog" and self.key_fn is None:
            same = self._equal.get(_value_key(value))
            if same and ident in same:
                same.remove(ident)

    def _columns_of(self, first: Any) -> List[str]:
        columns = row_columns(first)
        plain = columns == [f"f{i}" for i in range(len(columns))]  # a tuple, list or unnamed Row
        return list(self.names) if plain and self.names and len(self.names) == len(columns) else columns

    def _extend_columns(self, value: Dict[Any, Any]) -> None:
        self.columns = self.columns + [k for k in value if k not in self._known]
        self._known.update(value)

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` (on the writing thread) after every batch."""
        with self._lock:
            self._listeners.append(wake)

    def unsubscribe(self, wake: Callable[[], None]) -> None:
        with self._lock:
            if wake in self._listeners:
                self._listeners.remove(wake)

    # -- reading (any thread) ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._rows)

    def rows(self) -> List[Any]:
        """The kept rows, least recently touched first."""
        with self._lock:
            return [entry[1] for entry in self._rows.values()]

    def to_pandas(self) -> Any:
        """The kept rows as a pandas DataFrame (a copy, current at the moment of the call).
        Window bounds (``window_start``, ``window_end``) are timezone-aware UTC datetimes."""
        frame = rows_to_pandas(self.rows())
        with self._lock:
            columns = list(self.columns)
        if self.names and columns == self.names and len(frame.columns) == len(columns):
            frame.columns = columns  # named tuple positions
        for column in WINDOW_FIELDS:
            values = frame[column] if column in frame else None
            if values is not None and values.map(_epoch_ms_or_none).all() and values.notna().any():
                import pandas as pd

                frame[column] = pd.to_datetime(values, unit="ms", utc=True)
        return frame

    def to_arrow(self) -> Any:
        """The kept rows as a pyarrow Table."""
        import pyarrow as pa

        return pa.Table.from_pandas(self.to_pandas(), preserve_index=False)

    def changes_since(self, version: int, limit: int) -> Tuple[int, List[Change], List[str]]:
        """Rows touched after ``version`` (at most ``limit``, newest last), as JSON-ready
        changes; returns ``(current version, changes, columns)``. ``version=0`` gives a
        snapshot of the newest ``limit`` rows."""
        with self._lock:
            columns = list(self.columns)
            picked: List[Tuple[int, Any, Optional[str], int]] = []
            for entry in reversed(self._rows.values()):
                if entry[3] <= version or len(picked) >= limit:
                    break
                picked.append((entry[0], entry[1], entry[2], entry[4]))
            current = self.version
        picked.reverse()
        return current, [(rid, cells(value, columns), label, stamp)
                         for rid, value, label, stamp in picked], columns

    def removed_since(self, version: int) -> Optional[List[int]]:
        """The ids of rows removed after ``version`` (a changelog's ``-U``/``-D``), or None
        if some of them are no longer remembered (then only a snapshot is right)."""
        with self._lock:
            removed = self._removed
            if len(removed) == removed.maxlen and removed[0][0] > version + 1:
                return None
            return [rid for v, rid in removed if v > version]


def cells(value: Any, columns: List[str]) -> List[Any]:
    """The JSON-ready cells of one row, in column order."""
    if isinstance(value, dict):
        return [json_cell(value.get(c)) for c in columns]
    if isinstance(value, Row):
        return [json_cell(v) for v in value]
    if isinstance(value, (tuple, list)) and columns != ["value"]:
        return [json_cell(v) for v in value]
    if columns == ["value"]:
        return [json_cell(value)]
    if hasattr(value, "__dataclass_fields__"):
        return [json_cell(getattr(value, c, None)) for c in columns]
    return [json_cell(value)]


def json_cell(value: Any) -> Any:
    """A value the browser can show: JSON numbers, strings, booleans, null."""
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) or len(value) <= 200 else value[:197] + "..."
    if isinstance(value, int):
        return value if abs(value) < 2**53 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if item is not None and getattr(value, "shape", None) == ():
        try:
            return json_cell(item())
        except Exception:
            pass
    return short_repr(value)


def _epoch_ms_or_none(value: Any) -> bool:
    """A window bound: epoch milliseconds (an int), or None (global and count windows)."""
    if value is None or value != value:  # None, or NaN where pandas made the column float
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer()


def _value_key(value: Any) -> Any:
    if isinstance(value, (Row, tuple, list)):
        return _hashable(tuple(value))
    if isinstance(value, dict):
        return _hashable(tuple(value.items()))
    return _hashable(value)


def _label(key: Any) -> str:
    return key if isinstance(key, str) else short_repr(key, 60)


def _hashable(key: Any) -> Any:
    try:
        hash(key)
        return key
    except TypeError:
        return ("repr", short_repr(key, 1000))


class LiveSink(SinkSpec):
    """A sink that feeds a :class:`LiveResults` (its writers run in the driver).

    Exactly once when the job checkpoints (``%%stream --checkpoint MS``): what arrives
    between two checkpoint barriers is held back and added when the checkpoint after it
    completes, so a restart (or a resume from a savepoint) never shows a row twice; the
    view then moves once per checkpoint. Without checkpointing rows are added as they come.
    """

    driver_only = True

    def __init__(self, results: LiveResults) -> None:
        self.results = results
        # what _HeldUntilCheckpoint needs: the epochs already delivered, and this sink's
        # token (epochs held by another job's sink, before a savepoint, are not ours)
        self.committed: set = set()
        self.commit_lock = threading.Lock()
        self.token = uuid.uuid4().hex

    def create_writer(self) -> _Writer:
        return _StampedWriter(self, self.results.add_stamped)


class _StampedWriter(_HeldUntilCheckpoint):
    """Holds (and delivers) ``(value, timestamp)`` pairs: plain data in a checkpoint."""

    def write(self, batch: Any) -> None:
        stamps = batch.timestamps or [None] * len(batch.values)
        super().write(Batch(list(zip(batch.values, stamps))))


def keyed_rolling_key(stream: Any) -> Optional[Callable[[Any], Any]]:
    """The key selector if ``stream`` is the output of a keyed rolling reduce
    (``reduce``, ``sum``, ``min``, ``max``, ``min_by``, ``max_by``), else None."""
    graph = stream._env._graph
    node = graph.nodes[stream._id]
    if node.kind != "reduce" or not node.inputs:
        return None
    upstream = graph.nodes[node.inputs[0]]
    partitioning = upstream.params.get("partitioning") if upstream.kind == "partition" else None
    if partitioning is None or partitioning.kind != "hash" or partitioning.key_selector is None:
        return None
    return partitioning.key_selector.call


_SAME_SHAPE = ("filter", "partition", "reduce", "timestamps_watermarks", "union")


def tuple_names(stream: Any) -> Optional[List[str]]:
    """Names for the positions of ``stream``'s tuple records, when the pipeline knows them:
    the columns of a DataFrame read as tuples (``from_dataframe(df, rows="tuple")``, on
    the row or the columnar path: a columnar stream's tuples are its batches' columns),
    followed through steps that keep a record's shape (``filter``, ``key_by`` and the other
    partitionings, timestamps and watermarks, a keyed ``reduce``/``sum``/``min``/``max``/
    ``min_by``/``max_by``, a ``union`` of streams with the same names); else None (the
    view says ``f0``, ``f1``..., Flink's names of tuple fields)."""
    graph = stream._env._graph

    def names_of(node_id: int) -> Optional[List[str]]:
        node = graph.nodes[node_id]
        source = node.params.get("source") if node.kind == "source" else None
        if source is not None:
            frame = getattr(source, "df", None)
            if getattr(source, "rows", None) == "tuple" and frame is not None:
                return [str(c) for c in frame.columns]
            return None
        if node.kind == "to_rows":  # a columnar stream's tuples: its batches' columns
            return columns_of(node.inputs[0]) if node.params.get("rows") == "tuple" else None
        if node.kind not in _SAME_SHAPE or not node.inputs:
            return None
        found = [names_of(i) for i in node.inputs]
        return found[0] if all(f == found[0] for f in found) else None

    def columns_of(node_id: int) -> Optional[List[str]]:
        """The column names of a columnar source's batches, through its watermarks."""
        node = graph.nodes[node_id]
        if node.kind == "columnar_watermarks":
            return columns_of(node.inputs[0])
        schema = getattr(node.params.get("source"), "schema", None) \
            if node.kind == "source" else None
        return [str(n) for n in schema.names] if schema is not None else None

    return names_of(stream._id)


_REDUCED = re.compile(r"^(?:sum|min|max|min_by|max_by)\((.*)\)$")


def reduced_field(stream: Any) -> Any:
    """The field a keyed ``sum``/``min``/``max``/``min_by``/``max_by`` reduces (a name or
    a position), or None for any other stream."""
    graph = stream._env._graph
    node = graph.nodes[stream._id]
    match = _REDUCED.match(getattr(node.fn, "name", "") or "") if node.kind == "reduce" else None
    if match is None:
        return None
    try:
        return ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return None
