"""The columnar fast path: operators whose records are Arrow record batches.

A columnar stream moves ``pyarrow.RecordBatch`` objects; each is one value of a
runtime :class:`~nbstream.runtime.records.Batch`, so channels, chains, workers and
watermarks work unchanged. The operators here work on whole columns:

* ``columnar_watermarks``: feeds a batch's largest timestamp to the watermark
  generator and emits its watermark after the batch (watermarks advance per batch);
* ``columnar_window``: keyed tumbling and sliding event-time windows with count, sum,
  mean, min and max: each batch is assigned to windows and aggregated with
  ``pyarrow`` group-by into partial results, partials are merged and emitted as one
  batch when the watermark passes the windows' end;
* ``columnar_map``: a function from batch to batch, or a filter expression;
* ``to_rows``: the one place where a columnar stream becomes records (dicts, tuples
  or Rows).

Between tasks, :class:`ColumnHash` splits batches by a hash of the key columns.

>>> import pyarrow as pa
>>> batch = pa.record_batch({"ts": pa.array([0, 1500], pa.timestamp("ms"))})
>>> timestamps_ms(batch, ("ts", 0)).tolist()
[0, 1500]
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import USER_ERRORS, UserFunctionError
from .operators import OneInputOperator, Operator
from .partitioners import Partitioner, Route
from .records import MIN_TIMESTAMP, Batch
from .row import Row
from .registry import register
from .watermarks import TimestampsAndWatermarksOperator

__all__ = ["timestamps_ms", "ColumnHash", "ColumnarWindowOperator", "COLUMNAR_FUNCTIONS",
           "TimeSpec", "frame_rows"]

#: the window aggregates that run on columns (others take the row path)
COLUMNAR_FUNCTIONS = ("count", "sum", "mean", "min", "max")

#: where a batch's event time is: (column, milliseconds to add); None: no event time
TimeSpec = Optional[Tuple[str, int]]

_PER_MS = {"s": (1000, 1), "ms": (1, 1), "us": (1, 1000), "ns": (1, 1_000_000)}


def timestamps_ms(batch: Any, time: Tuple[str, int]) -> Any:
    """The event time of each row of ``batch`` as a numpy array of int epoch
    milliseconds, from an integer column (milliseconds) or an Arrow timestamp column
    of any unit (rounded down to the millisecond)."""
    import numpy as np
    import pyarrow as pa

    name, delta = time
    index = batch.schema.get_field_index(name)
    if index < 0:
        raise KeyError(f"no timestamp column {name!r} (columns: {batch.schema.names})")
    col = batch.column(index)
    if col.null_count:
        row = col.is_null().to_numpy(zero_copy_only=False).argmax()
        raise ValueError(f"timestamp column {name!r} is null in row {row} of the batch")
    kind = col.type
    if pa.types.is_timestamp(kind):
        mul, div = _PER_MS[kind.unit]
        ms = numpy_of(col.cast(pa.int64()))
        ms = ms * mul if mul != 1 else (np.floor_divide(ms, div) if div != 1 else ms)
    elif pa.types.is_integer(kind):
        ms = numpy_of(col).astype(np.int64, copy=False)
    else:
        raise TypeError(f"timestamp column {name!r} has type {kind}; use int milliseconds "
                        "or a timestamp type")
    return ms + delta if delta else ms


def numpy_of(column: Any) -> Any:
    """A numpy view of an Arrow array (or chunked array) of numbers without nulls, with no
    copy where one is not needed (``to_numpy()`` copies by default)."""
    if hasattr(column, "num_chunks"):
        if column.num_chunks != 1:
            return column.to_numpy()
        column = column.chunk(0)
    try:
        return column.to_numpy(zero_copy_only=True)
    except Exception:  # noqa: BLE001 - booleans, nulls: a copy
        return column.to_numpy(zero_copy_only=False)


class ColumnHash(Partitioner):
    """Splits each batch over ``n`` channels by a hash of its key columns: rows with
    equal keys always go to the same channel."""

    def __init__(self, n: int, columns: Sequence[str], max_parallelism: int,
                 step: str = "key_by") -> None:
        super().__init__(n)
        self.columns = list(columns)
        self.max_parallelism = max_parallelism
        self.step = step

    def channels(self, batch: Any) -> Any:
        import numpy as np
        from pandas.util import hash_array

        h = np.zeros(batch.num_rows, dtype=np.uint64)
        for name in self.columns:
            values = batch.column(name).to_numpy(zero_copy_only=False)
            h = h * np.uint64(1_000_003) + hash_array(values)
        groups = (h % np.uint64(self.max_parallelism)).astype(np.int64)
        return groups * self.n // self.max_parallelism

    def route(self, batch: Batch) -> Route:
        if self.n == 1:
            return [(0, batch)]
        import pyarrow as pa

        parts: List[List[Any]] = [[] for _ in range(self.n)]
        for rb in batch.values:
            try:
                channels = self.channels(rb)
            except (KeyError, TypeError, ValueError) as exc:
                raise UserFunctionError(self.step, f"key columns {self.columns}",
                                        _shown(rb), exc, phase="key selector") from exc
            for ch in range(self.n):
                mask = channels == ch
                if mask.all():
                    parts[ch].append(rb)
                elif mask.any():
                    parts[ch].append(rb.filter(pa.array(mask)))
        return [(ch, Batch(p)) for ch, p in enumerate(parts) if p]


class _ColumnarOperator(OneInputOperator):
    """A one-input adapter whose records are Arrow batches; errors of a columnar step name
    the step and the batch's columns."""

    def fail(self, exc: BaseException, batch: Any) -> Exception:
        return self.error(exc, _shown(batch))


def _shown(batch: Any) -> str:
    """How errors show a batch in place of a record."""
    return f"a batch of {batch.num_rows} rows, columns {batch.schema.names}"


class _ColumnarWindows(_ColumnarOperator):
    """Shared by the columnar window operators: rows in with ``_add_batch``, windows
    out with ``_fire`` when the watermark moves, late rows counted.

    Checkpoints: a subclass gives its windows' state with ``_window_state`` (tables as
    Arrow IPC bytes, plain values otherwise) and takes it back with ``_restore_windows``;
    at another parallelism it keeps what ``_owned`` says belongs to this instance (the
    hash of the key columns that :class:`ColumnHash` routes by, with the key columns'
    Arrow types remembered from the first batch).
    """

    instance_fields = ("late",)
    late = 0  # rows too late for every window (a metric, read before open() too)
    keys: List[str]
    key_fields: Optional[List[Any]] = None  # the key columns' Arrow fields

    def extra_metrics(self) -> Dict[str, Any]:
        return {"late_records": self.late}

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        for rb in batch.values:
            if rb.num_rows:
                try:
                    self._add_batch(rb)
                    if self.key_fields is None:
                        self.key_fields = [rb.schema.field(k) for k in self.keys]
                except (KeyError, TypeError, ValueError) as exc:
                    raise self.fail(exc, rb) from exc

    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        import pyarrow as pa

        snap = super().snapshot_state(checkpoint_id)
        snap["windows"] = self._window_state()
        snap["key_schema"] = None if self.key_fields is None else \
            pa.schema(self.key_fields).serialize().to_pybytes()
        return snap

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Any, same_instance: bool) -> None:
        import pyarrow as pa

        super().restore_state(snaps, owns, same_instance)
        for snap in snaps:
            if self.key_fields is None and snap["key_schema"] is not None:
                self.key_fields = list(pa.ipc.read_schema(pa.py_buffer(snap["key_schema"])))
            self._restore_windows(snap["windows"], same_instance)

    def _owned(self, columns: Any) -> Any:
        """Which rows of ``columns`` (a table, or one list of values per key column) this
        instance owns at its parallelism: a numpy bool mask."""
        import pyarrow as pa

        task = self.task
        if isinstance(columns, list):
            columns = pa.table([pa.array(c, f.type) for c, f in zip(columns, self.key_fields)],
                               names=self.keys)
        hash_ = ColumnHash(task.parallelism, self.keys, task.max_parallelism)
        return hash_.channels(columns) == task.subtask

    def _owned_keys(self, keys: List[Any]) -> List[bool]:
        """``_owned`` for window keys as the operators keep them (a value, or a tuple of
        the key columns' values)."""
        if not keys:
            return []
        columns = [keys] if len(self.keys) == 1 else [list(c) for c in zip(*keys)]
        return self._owned(columns).tolist()

    def _window_state(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _restore_windows(self, state: Dict[str, Any], same_instance: bool) -> None:
        raise NotImplementedError

    def process_watermark(self, timestamp: int) -> None:
        if timestamp > self.current_watermark:
            self.current_watermark = timestamp
            self._fire(timestamp)
        self.output.emit_watermark(timestamp)

    def _add_batch(self, rb: Any) -> None:
        raise NotImplementedError

    def _fire(self, wm: int) -> None:
        raise NotImplementedError


@register("columnar_watermarks")
class ColumnarWatermarksOperator(TimestampsAndWatermarksOperator):
    """Watermarks for a columnar stream: the generator sees each batch once, with the
    batch's largest timestamp, and its watermark follows the batch."""

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        time = self.params["time"]
        for rb in batch.values:
            if rb.num_rows == 0:
                continue
            try:
                top = int(timestamps_ms(rb, time).max())
            except (KeyError, TypeError, ValueError) as exc:
                raise self.error(exc, _shown(rb)) from exc
            self.output.emit(Batch([rb]))
            try:
                self.generator.on_event(rb, top, self.out)
                self.generator.on_periodic_emit(self.out)
            except USER_ERRORS as exc:
                self.fn_name = type(self.generator).__qualname__
                raise self.error(exc, None, has_record=False, phase="on_event") from exc
            self._flush_watermark()


@register("columnar_map")
class ColumnarMapOperator(_ColumnarOperator):
    """``map_batches(fn)`` (pandas DataFrame or Arrow batch in and out) or
    ``filter(expression)`` (a ``pyarrow.compute`` expression)."""

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        out = []
        for rb in batch.values:
            try:
                result = self._apply(rb)
            except USER_ERRORS as exc:
                raise self.fail(exc, rb) from exc
            if result.num_rows:
                out.append(result)
        self.output.emit(Batch(out))

    def _apply(self, rb: Any) -> Any:
        import pyarrow as pa

        expression = self.params.get("expression")
        if expression is not None:
            table = pa.Table.from_batches([rb]).filter(expression)
            return table.combine_chunks().to_batches()[0] if table.num_rows else rb.slice(0, 0)
        pandas = self.params["format"] == "pandas"
        result = self.fn.call(rb.to_pandas() if pandas else rb)
        if pandas and hasattr(result, "columns"):
            return pa.RecordBatch.from_pandas(result, preserve_index=False)
        if isinstance(result, pa.Table):
            return result.combine_chunks().to_batches()[0] if result.num_rows \
                else pa.RecordBatch.from_pylist([], schema=result.schema)
        if isinstance(result, pa.RecordBatch):
            return result
        raise TypeError(f"{self.fn_name} returned {type(result).__name__}; return a "
                        f"{'pandas DataFrame' if pandas else 'pyarrow RecordBatch or Table'}")


@register("to_rows")
class ToRowsOperator(_ColumnarOperator):
    """Turns batches into records: a dict per row (or a tuple, or a Row), with the event
    time of the stream's time column as the record's timestamp. The key columns of a
    window result become one ``"key"`` field, as on the row path. With ``pandas`` (a
    stream of a DataFrame's rows), the values are those pandas gives for the rows, in
    batches of the job's batch size, as the DataFrame's row source gives them."""

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        time, keys = self.params["time"], self.params.get("key_columns") or ()
        kind = self.params.get("rows") or "dict"
        for rb in batch.values:
            try:
                tss = timestamps_ms(rb, time).tolist() if time is not None else None
            except (KeyError, TypeError, ValueError) as exc:
                raise self.fail(exc, rb) from exc
            if self.params.get("pandas"):
                self._emit_frame(rb, kind, tss)
                continue
            if kind != "dict":
                rows: List[Any] = list(zip(*(c.to_pylist() for c in rb.columns)))
                if kind == "row":
                    rows = named_rows(rb.schema.names, rows)
            else:
                rows = rb.to_pylist()
                if len(keys) > 1:
                    rows = [_with_tuple_key(r, keys) for r in rows]
            self.output.emit(Batch(rows, tss))

    def _emit_frame(self, rb: Any, kind: str, tss: Optional[List[int]]) -> None:
        frame = rb.to_pandas()
        size = self.task.config.batch_size
        for start in range(0, len(frame), size):
            part = frame.iloc[start:start + size]
            self.output.emit(Batch(frame_rows(part, kind),
                                   None if tss is None else tss[start:start + size]))


def frame_rows(frame: Any, kind: str) -> List[Any]:
    """The rows of a pandas DataFrame as dicts (``kind="dict"``), tuples (``"tuple"``)
    or Rows with the column names (``"row"``), with the values pandas gives.

    >>> import pandas as pd
    >>> frame_rows(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "tuple")
    [(1, 'x'), (2, 'y')]
    """
    if kind == "dict":
        return frame.to_dict("records")
    tuples = list(frame.itertuples(index=False, name=None))
    return tuples if kind == "tuple" else named_rows([str(c) for c in frame.columns], tuples)


def named_rows(names: List[str], tuples: List[Tuple[Any, ...]]) -> List[Row]:
    """Rows with field ``names`` of ``tuples``."""
    out = []
    for t in tuples:
        r = Row(*t)
        r.set_field_names(names)
        out.append(r)
    return out


def _with_tuple_key(row: Dict[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
    out = {"key": tuple(row.pop(k) for k in keys)}
    out.update(row)
    return out


@register("columnar_window")
class ColumnarWindowOperator(_ColumnarWindows):
    """Keyed tumbling or sliding event-time windows over batches (see the module text).

    ``phase`` splits the work in two where no row has to be seen alone (no allowed
    lateness, no late-data output): ``"partial"`` runs before the shuffle, in parallel
    with the source, and pre-aggregates each batch by (key, window), sending a window's
    partial results on once its own watermark passes the window's end; ``"final"`` merges
    the partials of every input and fires with the combined watermark, dropping (and
    counting the rows of) partials for windows already fired. ``"whole"`` does it all.

    State: ``pending``, tables of partial aggregates per (key, window start) not yet
    fired; with allowed lateness, ``retained`` keeps fired windows (as plain
    accumulators) until the watermark passes their end plus the lateness, and rows that
    arrive for them update and fire them one by one, exactly as the row path does.
    """

    def open(self) -> None:
        super().open()
        p = self.params
        self.phase: str = p.get("phase", "whole")
        self.keys: List[str] = list(p["keys"])
        self.size, self.slide, self.offset = p["size"], p["slide"], p["offset"]
        self.lateness: int = p["lateness"]
        self.specs: List[Tuple[str, Optional[str], str]] = list(p["specs"])
        self.pending: List[Any] = []
        self.min_start: Optional[int] = None
        self.retained: Dict[Tuple[Any, int], List[Any]] = {}
        self.schema: Any = None
        self.scratch = _Scratch()

    # -- records -----------------------------------------------------------------------------
    def _add_batch(self, rb: Any) -> None:
        if self.phase == "final":
            self._add_partials(rb)
        else:
            self._add(rb)

    def _add_partials(self, rb: Any) -> None:
        """Partial results from the partial phase: merged later, unless their window
        has already fired."""
        import pyarrow as pa
        import pyarrow.compute as pc

        wm = self.current_watermark
        late = pc.less_equal(rb["__start"], wm - self.size + 1) if wm != MIN_TIMESTAMP else None
        if late is not None and pc.any(late).as_py():
            rows = rb["__last_sum" if "__last_sum" in rb.schema.names else "count_all"]
            self.late += pc.sum(rows.filter(late)).as_py()
            rb = rb.filter(pc.invert(late))
            if not rb.num_rows:
                return
        self.pending.append(pa.Table.from_batches([rb]))
        low = pc.min(rb["__start"]).as_py()
        self.min_start = low if self.min_start is None else min(self.min_start, low)

    def _add(self, rb: Any) -> None:
        import numpy as np

        ts = timestamps_ms(rb, self.params["time"])
        wm, size, slide, lateness = self.current_watermark, self.size, self.slide, self.lateness
        # before the first watermark nothing is late; in the partial phase lateness is
        # decided after the shuffle
        started = wm != MIN_TIMESTAMP and self.phase != "partial"
        if size == slide and self._add_open(rb, ts, started):
            return
        last_start = ts - np.mod(ts - self.offset + slide, slide)
        accepted = np.zeros(len(ts), dtype=bool)
        fresh: List[Tuple[Any, Any, int]] = []  # (rows, their window starts, window index)
        refire: List[Tuple[int, int, int]] = []  # (row, window index, start)
        for j in range(-(-size // slide)):
            start = last_start - j * slide
            alive = start > ts - size  # the row is in this window
            if started:
                end_m1 = start + (size - 1)
                alive &= end_m1 + lateness > wm
                fired = alive & (end_m1 <= wm)
                if fired.any():
                    refire.extend((int(i), j, int(start[i])) for i in np.flatnonzero(fired))
                    alive &= ~fired
                accepted |= alive | fired
            else:
                accepted |= alive
            if alive.any():
                fresh.append((alive, start, j))
        if fresh:
            self._aggregate(rb, fresh)
        if refire:
            self._refire(rb, sorted(refire))
        if not accepted.all():
            emit_late(self, rb, np.flatnonzero(~accepted))

    def _add_open(self, rb: Any, ts: Any, started: bool) -> bool:
        """A tumbling window's batch whose rows all belong to windows not fired yet (rows
        in order, the common case): no row is late or fires again, so no per-row test is
        needed. False (nothing done) where some row's window may have fired."""
        import numpy as np

        low = int(ts.min())
        first = low - (low - self.offset) % self.size  # the earliest row's window start
        if started and first + self.size - 1 <= self.current_watermark:
            return False
        partial = _counted_tumbling(rb, ts, low, self.keys, self.offset, self.size,
                                    self._partial_aggs(), self.scratch)
        if partial is None:
            self._aggregate(rb, [(None, ts - np.mod(ts - self.offset, self.size), 0)])
            return True
        self.pending.append(partial)
        self.min_start = first if self.min_start is None else min(self.min_start, first)
        return True

    def _aggregate(self, rb: Any, fresh: List[Tuple[Any, Any, int]]) -> None:
        import numpy as np
        import pyarrow as pa

        values = {c for _, c, f in self.specs if f != "count"} - set(self.keys)
        columns = self.keys + sorted(values)
        # sliding partials count the rows whose last window they are: after the shuffle
        # a row is late when that window is (its earlier ones may be late alone)
        last = self.phase == "partial" and self.slide != self.size
        tables = []
        for mask, start, j in fresh:  # mask None: every row
            whole = mask is None or bool(mask.all())
            cols = [rb.column(c) for c in columns]
            if not whole:
                m = pa.array(mask)
                cols = [c.filter(m) for c in cols]
                start = start[mask]
            extra = [pa.array(np.full(len(start), j == 0, dtype=np.int64))] if last else []
            tables.append(pa.table(cols + [pa.array(start)] + extra,
                                   names=columns + ["__start"] + (["__last"] if last else [])))
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        aggs = self._partial_aggs() + ([("__last", "sum")] if last else [])
        partial = None if last else _counted(table, self.keys, self.slide, aggs)
        if partial is None:  # any other keys or aggregates: Arrow's hash group-by
            # the window start leads the grouping keys: pyarrow 16's grouping by a string
            # key holding nulls, as its first key, splits the null group (and more) past 32
            # rows
            partial = table.group_by(["__start"] + self.keys).aggregate(aggs)
            partial = partial.select(self.keys + ["__start"] + [
                c for c in partial.column_names if c not in self.keys and c != "__start"])
        self.pending.append(partial)
        low = int(min((s if m is None else s[m]).min() for m, s, _ in fresh))
        self.min_start = low if self.min_start is None else min(self.min_start, low)

    def _partial_aggs(self) -> List[Any]:
        aggs: List[Any] = [([], "count_all")]
        for _name, column, fn in self.specs:
            if fn in ("sum", "mean"):
                aggs.append((column, "sum"))
            if fn == "mean":
                aggs.append((column, "count"))
            if fn in ("min", "max"):
                aggs.append((column, fn))
        return distinct(aggs)

    # -- firing ------------------------------------------------------------------------------
    def _fire(self, wm: int) -> None:
        import numpy as np
        import pyarrow.compute as pc

        if self.retained:
            horizon = wm - self.lateness - self.size + 1
            for k in [k for k in self.retained if k[1] <= horizon]:
                del self.retained[k]
        if self.min_start is None or self.min_start + self.size - 1 > wm:
            return
        merged = self._merged()
        starts = numpy_of(merged["__start"])
        if bool((starts[:-1] <= starts[1:]).all()):  # in window order (counted partials are)
            n = int(np.searchsorted(starts, wm - self.size + 1, side="right"))
            out, rest = merged.slice(0, n), merged.slice(n)
            self.min_start = int(starts[n]) if rest.num_rows else None
        else:
            ready = pc.less_equal(merged["__start"], wm - self.size + 1)
            out = merged.filter(ready).sort_by("__start")
            rest = merged.filter(pc.invert(ready))
            self.min_start = pc.min(rest["__start"]).as_py() if rest.num_rows else None
        self.pending = [rest] if rest.num_rows else []
        if out.num_rows and self.phase == "partial":
            self.output.emit(Batch(out.combine_chunks().to_batches()))
        elif out.num_rows:
            result = self._results(out)
            if self.lateness:
                self._retain(out, wm)
            self.output.emit(Batch(result.to_batches()))

    def _merged(self) -> Any:
        """The pending partials merged into one row per (key, window start): all counted
        again where that applies (cheaper than finding the windows they share); otherwise,
        as each pending table has one row per (key, window start) already, only the
        windows found in several tables are grouped again."""
        import pyarrow as pa
        import pyarrow.compute as pc

        tables = self.pending
        if len(tables) == 1:
            return tables[0]
        whole = pa.concat_tables(tables, promote_options="default")
        counted = self._recounted(whole)
        if counted is not None:
            return counted
        seen = pc.value_counts(pa.chunked_array([pc.unique(t["__start"]) for t in tables]))
        shared = seen.field("values").filter(pc.greater(seen.field("counts"), 1))
        if not len(shared):
            return whole
        alone, overlap = [], []
        for t in tables:
            mask = pc.is_in(t["__start"], value_set=shared)
            overlap.append(t.filter(mask))
            alone.append(t.filter(pc.invert(mask)))
        regrouped = self._regroup(pa.concat_tables(overlap, promote_options="default"))
        return pa.concat_tables(alone + [regrouped.select(tables[0].column_names)],
                                promote_options="default")

    def _recounted(self, table: Any) -> Any:
        """Partials merged by :func:`_counted` (the columns in the order they came), or
        None where counting does not apply."""
        group = self.keys + ["__start"]
        parts = [c for c in table.column_names if c not in group]
        how = [(c, _MERGE[c.rsplit("_", 1)[-1]]) for c in parts]
        summed = _counted(table, self.keys, self.slide, [([], "count_all")] + how, merge=True)
        return None if summed is None else summed.select(table.column_names)

    def _regroup(self, table: Any) -> Any:
        import pyarrow as pa

        group = self.keys + ["__start"]
        parts = [c for c in table.column_names if c not in group]
        how = [(c, _MERGE[c.rsplit("_", 1)[-1]]) for c in parts]
        merged = table.group_by(["__start"] + self.keys).aggregate(how)  # (see _aggregate)
        return pa.table([merged[k] for k in group] + [merged[f"{c}_{h}"] for c, h in how],
                        names=group + parts)

    def _results(self, out: Any) -> Any:
        """The documented window rows (key, window_start, window_end, aggregates)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        start = out["__start"]
        keys = [out[k] for k in self.keys]
        names = ["key"] if len(self.keys) == 1 else list(self.keys)
        columns = keys + [start, pc.add(start, self.size)]
        names += ["window_start", "window_end"]
        for name, column, fn in self.specs:
            if fn == "count":
                columns.append(out["count_all"])
            elif fn == "mean":
                total = pc.cast(out[f"{column}_sum"], pa.float64())
                count = out[f"{column}_count"]
                nonzero = pc.greater(count, 0)
                columns.append(pc.if_else(nonzero, pc.divide(total, pc.cast(count, pa.float64())),
                                          pa.scalar(None, pa.float64())))
            else:
                columns.append(out[f"{column}_{fn}"])
            names.append(name)
        table = pa.table(columns, names=names)
        if self.schema is None:
            self.schema = table.schema
        return table

    # -- checkpoints -----------------------------------------------------------------------------
    def _window_state(self) -> Dict[str, Any]:
        """The pending partials as one table (Arrow IPC), the retained windows' plain
        accumulators, and the result schema."""
        if self.pending:
            self.pending = [self._merged()]
        return {"pending": to_ipc(self.pending[0]) if self.pending else None,
                "retained": [(key, start, acc) for (key, start), acc in self.retained.items()],
                "schema": None if self.schema is None else self.schema.serialize().to_pybytes()}

    def _restore_windows(self, state: Dict[str, Any], same_instance: bool) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        if state["pending"] is not None:
            table = from_ipc(state["pending"])
            if not same_instance:
                table = table.filter(pa.array(self._owned(table)))
            if table.num_rows:
                self.pending.append(table)
                low = pc.min(table["__start"]).as_py()
                self.min_start = low if self.min_start is None else min(self.min_start, low)
        retained = state["retained"]
        owned = [True] * len(retained) if same_instance else \
            self._owned_keys([key for key, _, _ in retained])
        for (key, start, acc), mine in zip(retained, owned):
            if mine:
                self.retained[(key, start)] = acc
        if self.schema is None and state["schema"] is not None:
            self.schema = pa.ipc.read_schema(pa.py_buffer(state["schema"]))

    # -- allowed lateness: fired windows kept, late rows applied one by one ------------------
    def _retain(self, out: Any, wm: int) -> None:
        """Keep the windows just fired (as plain accumulators) while they may still take
        rows: until the watermark passes their end plus the allowed lateness."""
        horizon = wm - self.lateness - self.size + 1
        for row in out.to_pylist():
            if row["__start"] > horizon:
                acc = accumulator_of(self.specs, row)
                self.retained[(_key_of(row, self.keys), row["__start"])] = acc

    def _refire(self, rb: Any, hits: List[Tuple[int, int, int]]) -> None:
        """Rows for windows that already fired: each updates its window and fires it
        again at once, as Flink's event-time trigger does within the allowed lateness."""
        import pyarrow as pa

        rows = rb.to_pylist()
        emitted = []
        for i, _j, start in hits:
            key = _key_of(rows[i], self.keys)
            acc = self.retained.get((key, start))
            if acc is None:
                acc = self.retained[(key, start)] = empty_accumulator(self.specs)
            accumulate(acc, self.specs, rows[i])
            emitted.append(self._row_result(key, start, acc))
        self.output.emit(Batch([pa.RecordBatch.from_pylist(emitted, schema=self.schema)]))

    def _row_result(self, key: Any, start: int, acc: List[Any]) -> Dict[str, Any]:
        row: Dict[str, Any] = {"key": key} if len(self.keys) == 1 else dict(zip(self.keys, key))
        row["window_start"], row["window_end"] = start, start + self.size
        row.update(zip([n for n, _, _ in self.specs], results(self.specs, acc)))
        return row



_MERGE = {"all": "sum", "count": "sum", "sum": "sum", "min": "min", "max": "max"}

Spec = Tuple[str, Optional[str], str]  # (result name, column, function)


# -- plain accumulators, for the rows that must be seen one by one -----------------------------
_EXACT = float(1 << 53)  # a float64 sum of integers below this is exact


def _counted(table: Any, keys: Sequence[str], slide: int, aggs: List[Any],
             merge: bool = False) -> Any:
    """The partial aggregates Arrow's group-by gives (same columns, names and types), by
    counting instead of hashing where that is exact and small: one integer key column
    without nulls whose values and windows span a range not much wider than the batch,
    and count, sum and count of numeric columns without nulls (``np.bincount``, a few
    times faster). With ``merge``, partials merged: every aggregate a sum of a column named
    as it is (``count_all`` too). None where it does not apply."""
    import numpy as np

    if not _countable(table, keys, aggs):
        return None
    start = numpy_of(table.column("__start"))
    low = int(start.min())
    windows = (start - low) // slide
    return _count(table, keys[0], windows, int(windows.max()) + 1, low, slide, aggs, merge)


def _counted_tumbling(rb: Any, ts: Any, low: int, keys: Sequence[str], offset: int, size: int,
                      aggs: List[Any], scratch: "_Scratch") -> Any:
    """:func:`_counted` for a batch whose every row belongs to one tumbling window not
    fired yet, from the timestamps ``ts`` (the least ``low``) straight (no window start
    column is built), the intermediate arrays in ``scratch``."""
    import numpy as np

    if not _countable(rb, keys, aggs):
        return None
    first = (low - offset) // size
    width = (int(ts.max()) - offset) // size - first + 1
    windows = scratch.array("windows", len(ts), np.int64)
    np.subtract(ts, first * size + offset, out=windows)
    np.floor_divide(windows, size, out=windows)
    return _count(rb, keys[0], windows, width, first * size + offset, size, aggs, False, scratch)


def _countable(table: Any, keys: Sequence[str], aggs: List[Any]) -> bool:
    """Whether :func:`_count` applies: one integer key and counts or sums of numbers,
    none of them null, the integer sums exact in float64."""
    import numpy as np
    import pyarrow as pa

    if len(keys) != 1 or table.num_rows == 0:
        return False
    key = table.column(keys[0])
    if not pa.types.is_integer(key.type) or key.null_count:
        return False
    for column, fn in aggs[1:]:
        col = table.column(column)
        if fn not in ("sum", "count") or col.null_count or not (
                pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
            return False
        if fn == "sum" and pa.types.is_integer(col.type):
            values = numpy_of(col)
            top = max(abs(int(values.min())), abs(int(values.max())))
            if float(top) * len(values) >= _EXACT:
                return False  # the float sums might round
    return True


def _count(table: Any, key_name: str, windows: Any, width: int, first_start: int, slide: int,
           aggs: List[Any], merge: bool, scratch: Optional["_Scratch"] = None) -> Any:
    """The partials of a :func:`_countable` table by ``np.bincount`` over one code per row,
    key and window (``windows``: each row's window number from the one starting at
    ``first_start``, below ``width``). None where the codes would span much more cells than
    there are rows."""
    import numpy as np
    import pyarrow as pa

    scratch = scratch or _Scratch()
    key = table.column(key_name)
    k = numpy_of(key)
    k_low, k_high = int(k.min()), int(k.max())
    keys = k_high - k_low + 1
    cells = keys * width
    if cells > max(4 * len(k), 1 << 16) or k_high >= 1 << 63:
        return None  # sparse: counting would touch more cells than rows
    # window-major codes: the partials come out in window order, keys ascending within
    code = scratch.array("code", len(k), np.int64)
    np.multiply(windows, keys, out=code)
    np.add(code, k, out=code, dtype=np.int64, casting="unsafe")  # exact: keys below 2**63
    if k_low:
        code -= k_low
    counts = np.bincount(code, minlength=cells)
    present = np.flatnonzero(counts)
    out = {key_name: pa.array((present % keys + k_low).astype(key.type.to_pandas_dtype())),
           "__start": pa.array((present // keys) * slide + first_start),
           "count_all": pa.array(counts[present])}
    for column, fn in aggs[1:]:
        col = table.column(column)
        name = column if merge else f"{column}_{fn}"
        if fn == "count":
            out[name] = pa.array(counts[present])
            continue
        values = numpy_of(col)
        if values.dtype != np.float64:
            weights = scratch.array("weights", len(values), np.float64)
            np.copyto(weights, values, casting="unsafe")
            values = weights
        sums = np.bincount(code, weights=values, minlength=cells)[present]
        out[name] = pa.array(np.rint(sums).astype(np.int64) if pa.types.is_integer(col.type)
                             else sums)
    return pa.table(out)


class _Scratch:
    """Numpy arrays kept from batch to batch for intermediate results: a fresh array of a
    batch's length for each would be mapped and faulted in anew by the allocator every
    time (about 10 ns a row where page faults are dear). Nothing that leaves the
    operator may be a view of one."""

    def __init__(self) -> None:
        self._arrays: Dict[str, Any] = {}

    def array(self, name: str, n: int, dtype: Any) -> Any:
        import numpy as np

        have = self._arrays.get(name)
        if have is None or len(have) < n or have.dtype != dtype:
            have = self._arrays[name] = np.empty(n, dtype)
        return have[:n]


def empty_accumulator(specs: Sequence[Spec]) -> List[Any]:
    """count: rows; mean: [sum, non-null values]; sum, min, max: None until a value."""
    return [0 if fn == "count" else [0, 0] if fn == "mean" else None for _, _, fn in specs]


def accumulate(acc: List[Any], specs: Sequence[Spec], row: Dict[str, Any]) -> None:
    """Add one row (a dict); nulls are skipped, as Arrow's aggregates skip them."""
    for i, (_name, column, fn) in enumerate(specs):
        if fn == "count":
            acc[i] += 1
            continue
        value = row[column]
        if value is not None:
            acc[i] = _combine(fn, acc[i], [value, 1] if fn == "mean" else value)


def accumulator_of(specs: Sequence[Spec], partial: Dict[str, Any]) -> List[Any]:
    """The plain accumulator of one row of Arrow partial aggregates (``count_all``,
    ``<column>_sum``, ``<column>_count``, ``<column>_min``, ``<column>_max``)."""
    acc: List[Any] = []
    for _name, column, fn in specs:
        if fn == "count":
            acc.append(partial["count_all"])
        elif fn == "mean":
            acc.append([partial[f"{column}_sum"] or 0, partial[f"{column}_count"]])
        else:
            acc.append(partial[f"{column}_{fn}"])
    return acc


def merge_accumulators(specs: Sequence[Spec], a: List[Any], b: List[Any]) -> List[Any]:
    return [x + y if fn == "count" else _combine(fn, x, y) if y is not None else x
            for (_, _, fn), x, y in zip(specs, a, b)]


def _combine(fn: str, old: Any, new: Any) -> Any:
    if fn == "mean":
        return [old[0] + new[0], old[1] + new[1]]
    if old is None:
        return new
    if fn == "sum":
        return old + new
    return min(old, new) if fn == "min" else max(old, new)


def results(specs: Sequence[Spec], acc: List[Any]) -> List[Any]:
    return [(x[0] / x[1] if x[1] else None) if fn == "mean" else x
            for (_, _, fn), x in zip(specs, acc)]


def _key_of(row: Dict[str, Any], keys: Sequence[str]) -> Any:
    return row[keys[0]] if len(keys) == 1 else tuple(row[k] for k in keys)


def emit_late(op: Operator, rb: Any, rows: Sequence[int]) -> None:
    """Count the rows of ``rb`` at ``rows`` as too late for any window, and send them to
    the late-data output if the step has one."""
    import pyarrow as pa

    op.late += len(rows)  # type: ignore[attr-defined]
    tag = op.params.get("late_tag")
    if tag is not None:
        op.output.emit_side(tag.tag_id, Batch([rb.take(pa.array(rows, pa.int64()))]))


def to_ipc(table: Any) -> bytes:
    """A table as Arrow IPC stream bytes (how checkpoints keep tables: data, not code)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> Any:
    """The table of :func:`to_ipc`'s bytes."""
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def distinct(items: List[Any]) -> List[Any]:
    """Aggregations without repeats (``[(column, function), ...]``), in order."""
    seen, out = set(), []
    for item in items:
        marker = (tuple(item[0]) if isinstance(item[0], list) else item[0], item[1])
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out
