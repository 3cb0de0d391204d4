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
* ``"changelog"``: the rows of a table's changelog (Rows with a RowKind, from the Table API
  and SQL): ``+I``/``+U`` insert or replace the row of their key (``key_fn``, the table's
  unique key; the whole row without one), ``-U``/``-D`` remove it (a ``-U`` followed by its
  ``+U`` keeps the row in place); ``kinds`` counts each kind.

>>> results = LiveResults(max_rows=2)
>>> results.add([{"key": "a", "window_start": 0, "window_end": 10, "n": 1},
...              {"key": "a", "window_start": 0, "window_end": 10, "n": 2}])
>>> results.mode, len(results), results.rows()[0]["n"]
('window', 1, 2)
>>> plain = LiveResults(max_rows=2)
>>> plain.add([1, 2, 3])
>>> plain.rows(), plain.dropped
([2, 3], 1)

This module imports neither IPython nor pandas (pandas is imported on ``to_pandas``).
"""

from __future__ import annotations

import collections
import datetime
import itertools
import math
import threading
import uuid
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ..connectors.frames import row_columns, rows_to_pandas
from ..connectors.sinks import SinkSpec, _HeldUntilCheckpoint, _Writer
from ..errors import short_repr
from ..runtime.row import Row

__all__ = ["LiveResults", "LiveSink", "Change", "MODES", "json_cell", "keyed_rolling_key"]

MODES = ("auto", "window", "keyed", "append", "changelog")
WINDOW_FIELDS = ("window_start", "window_end")

Change = Tuple[int, List[Any], Optional[str]]
"""One changed row as the live view gets it: (row id, cells, key label or None)."""


def _is_window_row(value: Any) -> bool:
    return isinstance(value, dict) and "window_start" in value and "window_end" in value


class LiveResults:
    """Rows of a running job, thread-safe and bounded (see the module docstring).

    ``mode`` is ``"auto"`` (decided by the first row: window rows are upserted by key and
    window, rows of a keyed rolling reduce by ``key_fn``, others appended), or one of
    ``"window"``, ``"keyed"``, ``"append"``.
    """

    def __init__(self, max_rows: int = 1000, key_fn: Optional[Callable[[Any], Any]] = None,
                 mode: str = "auto") -> None:
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive int, not {max_rows!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if mode == "keyed" and key_fn is None:
            raise ValueError("mode 'keyed' needs a key_fn")
        self.max_rows = max_rows
        self.key_fn = key_fn
        self.mode = mode
        self.received = 0     # rows that reached the results
        self.dropped = 0      # rows no longer kept because of max_rows
        self.version = 0      # bumped on every change (one per row)
        self.columns: List[str] = []
        self._known: set = set()
        self._lock = threading.Lock()
        # identity -> [row id, value, label, version]; order = least recently touched first
        self._rows: "collections.OrderedDict[Any, List[Any]]" = collections.OrderedDict()
        self._ids = itertools.count(1)
        self._listeners: List[Callable[[], None]] = []
        self.kinds: Dict[str, int] = {"+I": 0, "-U": 0, "+U": 0, "-D": 0}
        self._removed: List[Tuple[int, int]] = []  # (row id, version) of removed rows

    # -- writing (job threads) ---------------------------------------------------------------
    def add(self, values: Iterable[Any]) -> None:
        """Add (or upsert) a batch of rows."""
        values = list(values)
        if not values:
            return
        if self.mode == "changelog":  # fixed when the results are made
            with self._lock:
                self._changelog(values)
                wakes = list(self._listeners)
            for wake in wakes:
                wake()
            return
        with self._lock:
            if self.mode == "auto":
                self.mode = ("window" if _is_window_row(values[0])
                             else "keyed" if self.key_fn is not None else "append")
            if not self.columns:
                self.columns = row_columns(values[0])
                self._known = set(self.columns)
            rows, mode, key_fn, version = self._rows, self.mode, self.key_fn, self.version
            for value in values:
                version += 1
                label: Optional[str] = None
                if mode == "append":
                    ident: Any = version
                elif mode == "window" and _is_window_row(value):
                    key = value.get("key")
                    label = "all" if "key" not in value else _label(key)
                    ident = (_hashable(key), value["window_start"], value["window_end"])
                elif mode == "keyed":
                    key = key_fn(value)  # type: ignore[misc]
                    label = _label(key)
                    ident = _hashable(key)
                else:  # a non-window row in a window stream: keep it, as a new row
                    ident = ("row", version)
                entry = rows.pop(ident, None)
                if entry is None:
                    rows[ident] = [next(self._ids), value, label, version]
                    if len(rows) > self.max_rows:
                        rows.popitem(last=False)
                        self.dropped += 1
                else:
                    entry[1], entry[2], entry[3] = value, label, version
                    rows[ident] = entry
                if isinstance(value, dict) and not value.keys() <= self._known:
                    self._extend_columns(value)
            self.version = version
            self.received += len(values)
            listeners = list(self._listeners)
        for wake in listeners:
            wake()

    def _changelog(self, values: List[Any]) -> None:
        """Apply changelog rows (under the lock)."""
        if not self.columns:
            self.columns = row_columns(values[0])
            self._known = set(self.columns)
        rows, key_fn, version = self._rows, self.key_fn, self.version
        pending: Dict[Any, List[Any]] = {}  # -U rows waiting for their +U
        counts = self.kinds
        for value in values:
            version += 1
            kind = value.get_row_kind().short_string() if hasattr(value, "get_row_kind") else "+I"
            counts[kind] = counts.get(kind, 0) + 1
            ident = _hashable(key_fn(value) if key_fn is not None else tuple(value))
            if kind in ("+I", "+U"):
                entry = rows.pop(ident, None) or pending.pop(ident, None)
                if entry is None:
                    entry = [next(self._ids), value, None, version]
                    if len(rows) >= self.max_rows:
                        rows.popitem(last=False)
                        self.dropped += 1
                else:
                    entry[1], entry[3] = value, version
                rows[ident] = entry
            else:
                entry = rows.pop(ident, None)
                if entry is None:
                    continue
                if kind == "-U":
                    pending[ident] = entry
                else:
                    self._removed.append((entry[0], version))
        for entry in pending.values():  # a -U without its +U: the row is gone
            self._removed.append((entry[0], version))
        del self._removed[:-10_000]
        self.version = version
        self.received += len(values)

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
        """The kept rows as a pandas DataFrame (a copy, current at the moment of the call)."""
        return rows_to_pandas(self.rows())

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
            picked: List[Tuple[int, Any, Optional[str]]] = []
            for entry in reversed(self._rows.values()):
                if entry[3] <= version or len(picked) >= limit:
                    break
                picked.append((entry[0], entry[1], entry[2]))
            removed = [rid for rid, v in self._removed if v > version] if version else []
            current = self.version
        picked.reverse()
        changes = [(rid, cells(value, columns), label) for rid, value, label in picked]
        # a removed row (a retraction of a changelog) is the row id with no cells
        return current, [(rid, None, None) for rid in removed] + changes, columns


def cells(value: Any, columns: List[str]) -> List[Any]:
    """The JSON-ready cells of one row, in column order."""
    if isinstance(value, dict):
        return [json_cell(value.get(c)) for c in columns]
    if isinstance(value, Row) and value._fields:
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
        return _HeldUntilCheckpoint(self, self.results.add)


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
