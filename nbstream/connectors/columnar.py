"""Columnar sources: Arrow tables and readers, pandas DataFrames, Parquet and CSV files.

Each emits ``pyarrow.RecordBatch`` objects of at most ``batch_rows`` rows, one batch at
a time: a Parquet or CSV file is streamed (``pyarrow.parquet.ParquetFile.iter_batches``,
``pyarrow.csv.open_csv``), never read whole. Errors name the file (and, for CSV, the
row pyarrow reports).

>>> import pyarrow as pa
>>> spec = ArrowSource.of(pa.table({"k": [1, 2, 3]}), batch_rows=2)
>>> [b.num_rows for b in spec.batches()]
[2, 1]
"""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Optional, Union

from ..errors import PlanError, whole_number
from .sources import SourceSpec, _Reader

__all__ = ["ArrowSource", "DEFAULT_BATCH_ROWS", "arrow_table", "frame_table"]

DEFAULT_BATCH_ROWS = 262_144


def arrow_table(data: Any) -> Any:
    """An Arrow table from a pyarrow Table or RecordBatch, a pandas DataFrame, or a
    polars DataFrame."""
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "to_arrow") and type(data).__module__.startswith("polars"):
        return data.to_arrow()
    if hasattr(data, "columns") and hasattr(data, "iloc"):
        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(f"expected a pyarrow Table, a RecordBatchReader or a DataFrame, "
                    f"not {type(data).__name__}")


def frame_table(df: Any, timestamp_column: Optional[str] = None) -> Union[Any, str]:
    """A pandas DataFrame as an Arrow table whose rows read back (``to_pandas()``) as
    the frame's own rows, or, where they would not, the reason as a string: the
    columnar path takes a frame by default only when nothing about its rows changes.

    Plain columns qualify: numbers and booleans (a float NaN stays NaN, not null),
    datetimes, categoricals, and strings (missing values only as None); column names
    must be distinct strings and the time column integers or datetimes.

    >>> import pandas as pd
    >>> frame_table(pd.DataFrame({"k": ["a"], "v": [1.5]})).schema.names
    ['k', 'v']
    >>> frame_table(pd.DataFrame({"k": [[1, 2]]}))
    "column 'k' holds list values"
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    names = list(df.columns)
    if not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
        return "its column names are not distinct strings"
    if timestamp_column is not None:
        time = df[timestamp_column]
        if not (isinstance(time.dtype, np.dtype) and time.dtype.kind in "iuM"
                or isinstance(time.dtype, pd.DatetimeTZDtype)):
            return f"its time column {timestamp_column!r} is {time.dtype}"
        if time.isna().any():
            return f"its time column {timestamp_column!r} has missing values"
    arrays = []  # per column: an array of its own, or None for from_pandas's
    for name in names:
        col = df[name]
        dtype, numpy = col.dtype, isinstance(col.dtype, np.dtype)
        if numpy and dtype.kind == "f":
            arrays.append(pa.array(col.to_numpy(), from_pandas=False))  # NaN stays NaN
        elif numpy and dtype.kind in "biuM" or isinstance(dtype, (pd.CategoricalDtype,
                                                                  pd.DatetimeTZDtype)):
            arrays.append(None)
        elif numpy and dtype.kind == "O":
            missing = col.isna()
            if missing.any() and not all(v is None for v in col[missing]):
                return f"column {name!r} has missing values that are not None"
            arrays.append(None)
        else:
            return f"column {name!r} is {dtype}"
    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        return f"it has no Arrow form ({exc})"
    for i, name in enumerate(names):
        kind = table.schema.field(i).type
        if isinstance(df[name].dtype, np.dtype) and df[name].dtype.kind == "O" and not (pa.types.is_string(kind) or
                                               pa.types.is_large_string(kind) or
                                               pa.types.is_null(kind)):
            return f"column {name!r} holds {_kind_name(kind)} values"
        if arrays[i] is not None:
            table = table.set_column(i, table.schema.field(i), arrays[i])
    return table


def _kind_name(kind: Any) -> str:
    import pyarrow as pa

    return "list" if pa.types.is_list(kind) or pa.types.is_large_list(kind) else str(kind)


class ArrowSource(SourceSpec):
    """Record batches from a table in memory, a ``RecordBatchReader`` (read once, in
    the kernel), Parquet files or a CSV file. Build one with :meth:`of`,
    :meth:`parquet` or :meth:`csv`."""

    def __init__(self, kind: str, data: Any, batch_rows: int, schema: Any,
                 description: str) -> None:
        self.kind, self.data = kind, data
        self.batch_rows = whole_number(batch_rows, "batch_rows", 1)
        self.schema, self.description = schema, description
        self.user_code = kind == "reader"  # a live reader cannot travel to a worker
        self.in_memory = kind == "table"  # read where it is: in the kernel
        # a table's batches and a Parquet file's row groups are dealt out to the parallel
        # instances in turn; a reader and a CSV file are read by one
        self.non_parallel = kind in ("reader", "csv")

    # -- construction ----------------------------------------------------------------------
    @property
    def after_restore(self) -> str:
        if self.kind == "reader":
            return "goes on from where the reader is (at most once)"
        return "read again from its position, in batches (exactly once)"

    @classmethod
    def of(cls, data: Any, batch_rows: int = DEFAULT_BATCH_ROWS) -> "ArrowSource":
        import pyarrow as pa

        if isinstance(data, pa.RecordBatchReader):
            return cls("reader", data, batch_rows, data.schema, "RecordBatchReader")
        table = arrow_table(data)
        return cls("table", table, batch_rows, table.schema, f"{type(data).__name__}")

    @classmethod
    def frame(cls, table: Any, batch_rows: int = DEFAULT_BATCH_ROWS) -> "ArrowSource":
        """A DataFrame's table (:func:`frame_table`), read in order by one instance, as
        the DataFrame's row source is."""
        spec = cls("table", table, batch_rows, table.schema, "DataFrame")
        spec.non_parallel = True
        return spec

    @classmethod
    def parquet(cls, path: str, columns: Optional[List[str]] = None,
                batch_rows: int = DEFAULT_BATCH_ROWS) -> "ArrowSource":
        import pyarrow.parquet as pq

        files = _files(path, (".parquet", ".pq"))
        try:
            schema = pq.read_schema(files[0])
        except Exception as exc:
            raise PlanError(f"read_parquet: {files[0]} is not a readable Parquet file: {exc}")
        if columns is not None:
            missing = [c for c in columns if c not in schema.names]
            if missing:
                raise PlanError(f"read_parquet: no column {missing[0]!r} in {files[0]} "
                                f"(columns: {schema.names})")
            schema = _select(schema, columns)
        return cls("parquet", (files, columns), batch_rows, schema, f"Parquet {path}")

    @classmethod
    def csv(cls, path: str, batch_rows: int = DEFAULT_BATCH_ROWS,
            **convert: Any) -> "ArrowSource":
        if not os.path.isfile(path):
            raise PlanError(f"read_csv: no such file: {path}")
        return cls("csv", (path, convert), batch_rows, None, f"CSV {path}")

    # -- reading -----------------------------------------------------------------------------
    def batches(self, subtask: int = 0, parallelism: int = 1) -> Iterator[Any]:
        """The batches of one parallel instance, in order, each of at most
        ``batch_rows`` rows: every ``parallelism``-th batch (or Parquet row group) from
        the ``subtask``-th on."""
        if self.kind == "table":
            batches = self.data.to_batches(max_chunksize=self.batch_rows)
            yield from batches[subtask::parallelism]
        elif self.kind == "reader":
            for rb in self.data:
                yield from _chunks(rb, self.batch_rows)
        elif self.kind == "parquet":
            yield from _in_order(self._parquet(subtask, parallelism), _READERS)
        else:
            yield from self._csv()

    def _parquet(self, subtask: int, parallelism: int) -> Iterator[Iterator[Any]]:
        """This instance's row groups, each as an iterator of its batches."""
        import pyarrow.parquet as pq

        files, columns = self.data
        unit = 0
        for path in files:
            try:
                groups = pq.ParquetFile(path).num_row_groups
            except (OSError, ValueError) as exc:
                raise ValueError(f"cannot read Parquet file {path}: {exc}") from None
            for group in range(groups):
                unit += 1
                if (unit - 1) % parallelism == subtask:
                    yield self._row_group(path, group, columns)

    def _row_group(self, path: str, group: int, columns: Optional[List[str]]) -> Iterator[Any]:
        import pyarrow.parquet as pq

        try:  # a file object of its own: row groups are read on several threads at once
            yield from pq.ParquetFile(path).iter_batches(
                batch_size=self.batch_rows, columns=columns, row_groups=[group], use_threads=False)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read Parquet file {path}: {exc}") from None

    def _csv(self) -> Iterator[Any]:
        import pyarrow.csv as pcsv

        path, convert = self.data
        options = pcsv.ConvertOptions(**convert) if convert else None
        try:
            reader = pcsv.open_csv(path, convert_options=options,
                                   read_options=pcsv.ReadOptions(block_size=1 << 22))
            for rb in reader:
                yield from _chunks(rb, self.batch_rows)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read CSV file {path}: {exc}") from None

    def create_reader(self, subtask: int, parallelism: int) -> _Reader:
        spec = self

        class Reader(_Reader):
            cancelled = False

            def run(self, ctx: Any) -> None:
                for rb in spec.batches(subtask, parallelism):
                    if self.cancelled:
                        return
                    if rb.num_rows:
                        ctx.emit_batch([rb])

            def cancel(self) -> None:
                self.cancelled = True

        if spec.kind == "reader":  # a stream read once: after a restore, read on
            Reader.seek = lambda self, position: None  # type: ignore[attr-defined]
        return Reader()


_DONE = object()
#: row groups of a Parquet file decoded at once, each on a thread of its own (Arrow lets go
#: of the GIL while it decodes): with the task's own thread, the work spreads over the cores
_READERS = 2


def _in_order(units: Iterator[Iterator[Any]], readers: int = _READERS,
              depth: int = 2) -> Iterator[Any]:
    """The batches of ``units`` (iterators of batches: a file's row groups) in order, the
    units read by ``readers`` threads at once, each up to ``depth`` batches ahead of what is
    taken: decoding overlaps with the work on the batches taken, and with the decoding of
    the next units. Closing the generator stops the threads; an error reading is raised
    here, where the batch it would have been is due."""
    import queue
    import threading

    stop = threading.Event()
    ready: List["queue.Queue[Any]"] = [queue.Queue(depth) for _ in range(readers)]
    take_unit = threading.Lock()  # the units are handed out in order, one at a time
    turns: "queue.Queue[int]" = queue.Queue()  # which reader has the next unit

    def hand(out: "queue.Queue[Any]", item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(me: int) -> None:
        out = ready[me]
        try:
            while not stop.is_set():
                with take_unit:
                    try:
                        unit = next(units, _DONE)
                    except BaseException as exc:  # noqa: BLE001 - raised where it is due
                        unit = exc
                    if unit is not _DONE:
                        turns.put(me)
                if unit is _DONE:
                    break
                if isinstance(unit, BaseException):
                    hand(out, unit)
                    break
                for rb in unit:
                    if not hand(out, rb):
                        return
                if not hand(out, _DONE):
                    return
        except BaseException as exc:  # noqa: BLE001 - raised in the reading task
            hand(out, exc)
        turns.put(-1)  # this reader is done

    threads = [threading.Thread(target=read, args=(i,), daemon=True,
                                name="nbstream read-ahead") for i in range(readers)]
    for thread in threads:
        thread.start()
    try:
        done = 0
        while done < readers:
            me = turns.get()
            if me < 0:
                done += 1
                continue
            while True:
                item = ready[me].get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def _chunks(rb: Any, rows: int) -> Iterator[Any]:
    for start in range(0, rb.num_rows, rows):
        yield rb.slice(start, rows)


def _select(schema: Any, columns: List[str]) -> Any:
    import pyarrow as pa

    return pa.schema([schema.field(c) for c in columns])


def _files(path: str, suffixes: tuple) -> List[str]:
    if os.path.isdir(path):
        found = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if f.endswith(suffixes) and not f.startswith((".", "_")))
        if not found:
            raise PlanError(f"no {' or '.join(suffixes)} files in {path}")
        return found
    if not os.path.isfile(path):
        raise PlanError(f"no such file or folder: {path}")
    return [path]
