"""Keyed event-time session windows over Arrow batches (``columnar_session``).

A batch is sorted by key and time; a row opens a new session where the key changes or
the gap to the previous row is larger than the session gap (windows that touch merge,
as Flink's). Each batch-local session is aggregated with one ``pyarrow`` group-by and
merged into the key's open sessions; a session fires when the watermark passes its end.

Lateness is Flink's: a row is late only if its own window ``[ts, ts + gap)`` is late
*and* merges with no open session. A batch holding such a row is applied one row at a
time, in order, exactly as the row path does; other batches stay vectorized.

>>> op_state = {"a": [[0, 30, [2]]]}
>>> _merge_into(op_state, "a", 25, 40, [1], [("n", None, "count")])
>>> op_state
{'a': [[0, 40, [3]]]}
"""

from __future__ import annotations

from typing import Any, Dict, List

from .columnar import (Spec, _ColumnarWindows, accumulate, accumulator_of, distinct, emit_late,
                       empty_accumulator, merge_accumulators, results, timestamps_ms)
from .records import MIN_TIMESTAMP, Batch
from .registry import register

__all__ = ["ColumnarSessionOperator"]

Session = List[Any]  # [start, end, accumulator]


def _merge_into(sessions: Dict[Any, List[Session]], key: Any, start: int, end: int,
                acc: List[Any], specs: List[Spec]) -> None:
    """Add the session ``[start, end)`` to ``key``'s sessions, merging those it touches."""
    kept = []
    for s in sessions.get(key, ()):
        if s[0] <= end and s[1] >= start:
            start, end = min(start, s[0]), max(end, s[1])
            acc = merge_accumulators(specs, s[2], acc)
        else:
            kept.append(s)
    kept.append([start, end, acc])
    kept.sort(key=lambda s: s[0])
    sessions[key] = kept


@register("columnar_session")
class ColumnarSessionOperator(_ColumnarWindows):
    """Session windows with a fixed gap, count/sum/mean/min/max per session."""

    def open(self) -> None:
        super().open()
        p = self.params
        self.keys: List[str] = list(p["keys"])
        self.gap: int = p["gap"]
        self.specs: List[Spec] = list(p["specs"])
        self.sessions: Dict[Any, List[Session]] = {}
        self.schema: Any = None

    def _add_batch(self, rb: Any) -> None:
        ts = timestamps_ms(rb, self.params["time"])
        wm = self.current_watermark
        if wm != MIN_TIMESTAMP and bool((ts + (self.gap - 1) <= wm).any()):
            self._one_by_one(rb, ts.tolist())
        else:
            self._vectorized(rb, ts)

    def _key(self, row: Dict[str, Any]) -> Any:
        return row[self.keys[0]] if len(self.keys) == 1 else tuple(row[k] for k in self.keys)

    def _vectorized(self, rb: Any, ts: Any) -> None:
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        codes = np.zeros(len(ts), dtype=np.int64)
        for name in self.keys:
            col, _ = pd.factorize(rb.column(name).to_numpy(zero_copy_only=False),
                                  use_na_sentinel=False)
            codes = codes * (int(col.max()) + 1) + col
        order = np.lexsort((ts, codes))
        codes, ts = codes[order], ts[order]
        new = np.ones(len(ts), dtype=bool)
        new[1:] = (codes[1:] != codes[:-1]) | (ts[1:] - ts[:-1] > self.gap)
        values = {c for _, c, f in self.specs if f != "count"} - set(self.keys)
        names = self.keys + sorted(values)
        take = pa.array(order)
        table = pa.table([rb.column(c).take(take) for c in names]
                         + [pa.array(np.cumsum(new)), pa.array(ts)],
                         names=names + ["__sid", "__ts"])
        aggs = [([], "count_all"), ("__ts", "min"), ("__ts", "max")]
        for _name, column, fn in self.specs:
            if fn != "count":
                aggs.append((column, "sum" if fn == "mean" else fn))
                if fn == "mean":
                    aggs.append((column, "count"))
        local = table.group_by(["__sid"] + self.keys).aggregate(distinct(aggs)).to_pylist()
        for row in local:
            _merge_into(self.sessions, self._key(row), row["__ts_min"],
                        row["__ts_max"] + self.gap, accumulator_of(self.specs, row), self.specs)

    def _one_by_one(self, rb: Any, ts: List[int]) -> None:
        wm, gap = self.current_watermark, self.gap
        late: List[int] = []
        for i, row in enumerate(rb.to_pylist()):
            key, start, end = self._key(row), ts[i], ts[i] + gap
            touches = any(s[0] <= end and s[1] >= start for s in self.sessions.get(key, ()))
            if not touches and end - 1 <= wm:
                late.append(i)
                continue
            acc = empty_accumulator(self.specs)
            accumulate(acc, self.specs, row)
            _merge_into(self.sessions, key, start, end, acc, self.specs)
        if late:
            emit_late(self, rb, late)

    def _window_state(self) -> Dict[str, Any]:
        return {"sessions": self.sessions,
                "schema": None if self.schema is None else self.schema.serialize().to_pybytes()}

    def _restore_windows(self, state: Dict[str, Any], same_instance: bool) -> None:
        import pyarrow as pa

        sessions = state["sessions"]
        keys = list(sessions)
        owned = [True] * len(keys) if same_instance else self._owned_keys(keys)
        self.sessions.update((key, sessions[key]) for key, mine in zip(keys, owned) if mine)
        if self.schema is None and state["schema"] is not None:
            self.schema = pa.ipc.read_schema(pa.py_buffer(state["schema"]))

    def _fire(self, wm: int) -> None:
        import pyarrow as pa

        rows: List[Dict[str, Any]] = []
        names = [n for n, _, _ in self.specs]
        for key in list(self.sessions):
            open_, fired = [], []
            for s in self.sessions[key]:
                (fired if s[1] - 1 <= wm else open_).append(s)
            for start, end, acc in fired:
                row: Dict[str, Any] = {"key": key} if len(self.keys) == 1 \
                    else dict(zip(self.keys, key))
                row["window_start"], row["window_end"] = start, end
                row.update(zip(names, results(self.specs, acc)))
                rows.append(row)
            if open_:
                self.sessions[key] = open_
            else:
                del self.sessions[key]
        if rows:
            rows.sort(key=lambda r: r["window_end"])
            batch = pa.RecordBatch.from_pylist(rows, schema=self.schema)
            self.schema = self.schema or batch.schema
            self.output.emit(Batch([batch]))
