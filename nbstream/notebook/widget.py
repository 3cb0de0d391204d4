"""The live view of one shown stream: an anywidget whose front end is ``js/widget.js``.

The Python side is a handful of synced traits; a :class:`Pump` thread (started in the
context of the cell that owns the job, so every message carries that cell's parent
header) moves the job's progress into them:

* ``stats``/``status``/``error``: the header (records, rate, watermark, elapsed; for a
  changelog, :attr:`LiveResults.kinds`, the changes of each kind, as ``changelog``);
* ``checkpoints``: for a job that checkpoints, restarted or resumed from a savepoint,
  :meth:`LiveJob.fault_tolerance` (restarts, last failure, the last checkpoint's id,
  size and duration, ``resumed_from``) and ``text``, the line the front end shows;
* ``functions``: for a StateFun job, a line per function type (:func:`function_lines`:
  messages in, calls, egress, latency p50/p99); then a line per step whose function
  registered metrics (:func:`metric_lines`: counters, gauges, meters, distributions); for a
  Table job, where each step calling Python UDFs runs and why (:meth:`LiveJob.python_steps`);
* ``delta``: the rows touched since the previous update, ``{"from", "to", "rows",
  "removed"}``, where ``rows`` holds ``[row id, cells, key label, time]`` oldest first
  and ``removed`` the ids of rows a changelog removed. The front end keeps the newest
  ``limit`` rows, upserting by row id; if it sees a gap in ``from``/``to`` (it was not
  listening from the start, e.g. after a page reload) it asks for a snapshot with a
  ``{"type": "snapshot"}`` message;
* ``graph``: the job's steps (:meth:`LiveJob.graph`: parallelism, mode, records in and
  out, backpressure);
* ``snapshot``: the view as static HTML (:mod:`.snapshot`), refreshed every
  ``SNAPSHOT_PERIOD`` seconds while rows change and when the job ends; the front end
  stores it in the notebook when the notebook is saved, so a notebook opened without this
  kernel shows it instead of the widget.

Updates are coalesced: at most one every ``MIN_INTERVAL`` seconds (the header also
refreshes every ``HEADER_PERIOD`` seconds when nothing arrives). The front end says
``{"type": "view", "open": bool, "id": ...}`` when a view appears or goes away; with no
view left the pump stops sending rows until one comes back. ``{"type": "stop"}`` is the
Stop button; ``{"type": "export", "format": "parquet"}`` asks for the kept rows as a
Parquet file (sent back as a buffer).
"""

from __future__ import annotations

import contextvars
import itertools
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import anywidget
import traitlets as t

from ..runtime.records import MAX_TIMESTAMP
from ..runtime.row import Row
from .live import LiveJob, error_info, fault_text, function_lines, metric_lines
from .results import LiveResults
from .snapshot import SNAPSHOT_ROWS, render_html

__all__ = ["StreamView", "Pump", "chart_spec", "MIN_INTERVAL", "HEADER_PERIOD",
           "SNAPSHOT_PERIOD", "frontend_missing"]

STATIC = Path(__file__).with_name("static")
MIN_INTERVAL = 0.1   # seconds between two updates (at most 10 per second)
HEADER_PERIOD = 0.5  # header refresh when no rows arrive
SNAPSHOT_PERIOD = 2.0  # static snapshot refresh while rows change
CHARTS = ("auto", "line", "bar", "none")
TIME_NAMES = {"ts", "timestamp", "time", "event_time", "eventtime", "rowtime",
              "window_start", "window_end"}
_uids = itertools.count(1)


def frontend_missing() -> str:
    """Why the front end cannot load (empty if it can): the ES module is built from js/
    by esbuild (``scripts/build-js``, run by ``scripts/test`` and the package build)."""
    missing = [n for n in ("widget.js", "widget.css") if not (STATIC / n).is_file()]
    if not missing:
        return ""
    return (f"the live view's front end is not built ({', '.join(missing)} missing in "
            f"{STATIC}): run scripts/build-js in the source tree (it needs node and npm)")


class StreamView(anywidget.AnyWidget):
    """The widget. Its state is written by its :class:`Pump` only."""

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    uid = t.Unicode("").tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    job_name = t.Unicode("").tag(sync=True)
    mode = t.Unicode("").tag(sync=True)
    status = t.Unicode("running").tag(sync=True)
    stats = t.Dict().tag(sync=True)
    columns = t.List().tag(sync=True)
    delta = t.Dict({"from": 0, "to": 0, "rows": []}).tag(sync=True)
    chart = t.Dict({"kind": "none"}).tag(sync=True)
    error = t.Dict().tag(sync=True)
    checkpoints = t.Dict().tag(sync=True)
    functions = t.List().tag(sync=True)
    limit = t.Int(1000).tag(sync=True)
    has_table = t.Bool(True).tag(sync=True)
    graph = t.List().tag(sync=True)
    snapshot = t.Unicode("").tag(sync=True)
    model_ref = t.Unicode("").tag(sync=True)  # this model's id (the front end keys its snapshot by it)
    cell = t.Unicode("").tag(sync=True)       # "In[5]": the cell that started the job
    started = t.Float(0.0).tag(sync=True)     # epoch seconds
    failure_told = t.Bool(False).tag(sync=True)  # a front end has shown the failure's toast

    def __init__(self, **kwargs: Any) -> None:
        problem = frontend_missing()
        if problem:
            raise RuntimeError(problem)
        super().__init__(**kwargs)
        self.model_ref = self.model_id or ""


def chart_spec(results: Optional[LiveResults], chart: str = "auto", y: Optional[str] = None,
               x: Optional[str] = None, reduced: Any = None) -> Dict[str, Any]:
    """What the front end draws: ``kind`` (line: a line per key over time; bar: the current
    value per key; none), ``x`` (a time column: the window end by default; None: each
    row's time), ``y`` the value columns to choose from and ``y_default`` the one drawn:
    ``y`` if given, else the field a keyed reduce reduces, else a window's first aggregate,
    else the first numeric column; never a time column or the key."""
    if results is None or not results.columns:
        return {"kind": "none", "x": None, "y": [], "y_default": None, "time": True,
                "times": [], "mode": "auto"}
    columns = list(results.columns)
    newest = results.rows()[-20:]
    timeish = {c for i, c in enumerate(columns)
               if str(c).lower() in TIME_NAMES or _millis_column(newest, c, i)}
    numeric = [c for i, c in enumerate(columns)
               if c not in timeish and c != "key" and _numeric_column(newest, c, i)]
    if y is not None and y in columns and y not in numeric:
        numeric.insert(0, y)
    if x is None or x not in columns:
        x = "window_end" if "window_end" in columns else None
    kind = chart if chart != "auto" else "line"
    if not numeric:
        kind = "none"
    if isinstance(reduced, int) and 0 <= reduced < len(columns):
        reduced = columns[reduced]
    after_window = [c for c in numeric if "window_end" in columns
                    and columns.index(c) > columns.index("window_end")]
    default = (y if y in numeric else reduced if reduced in numeric
               else after_window[0] if after_window else numeric[0] if numeric else None)
    return {"kind": kind, "x": x, "y": numeric, "y_default": default,
            "time": x is None or x in timeish, "times": sorted(timeish), "mode": results.mode}


def _millis_column(rows: List[Any], column: str, index: int) -> bool:
    """Every value seen is an int that reads as epoch milliseconds."""
    values = [_value(row, column, index) for row in rows]
    values = [v for v in values if v is not None]
    return bool(values) and all(isinstance(v, int) and not isinstance(v, bool)
                                and 10**11 < v < 10**14 for v in values)


def _value(row: Any, column: str, index: int) -> Any:
    if isinstance(row, dict):
        return row.get(column)
    if isinstance(row, (tuple, list, Row)):  # a Row: a table's row (%%sql)
        return row[index] if index < len(row) else None
    return getattr(row, column, row) if hasattr(row, "__dataclass_fields__") else row


def _numeric_column(rows: List[Any], column: str, index: int) -> bool:
    seen = False
    for row in rows:
        value = _value(row, column, index)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        seen = True
    return seen


def header_stats(job: LiveJob) -> Dict[str, Any]:
    """The job's :meth:`LiveJob.stats` as the header shows them (a watermark at the end
    of time reads "end of input")."""
    stats = job.stats()
    if stats["watermark"] is not None and stats["watermark"] >= MAX_TIMESTAMP:
        stats["watermark"] = "end of input"
    return stats


class Pump:
    """Moves a live job's progress into one :class:`StreamView`, on its own thread."""

    def __init__(self, job: LiveJob, results: Optional[LiveResults], title: str,
                 chart: str = "auto", y: Optional[str] = None, limit: int = 1000,
                 on_final: Optional[Callable[["Pump"], None]] = None, x: Optional[str] = None,
                 reduced: Any = None, index: int = 0) -> None:
        self.job = job
        self.results = results
        self.chart_choice = chart
        self.y, self.x, self.reduced = y, x, reduced
        self.index = index  # which of the job's shown streams
        execution = job.cell.get("execution")
        # A job that ended before its view was built (under load) is shown running until
        # the first push brings its final status together with its counts and rows: a
        # view never says "finished" above an empty header or table, and it goes through
        # the same live-to-ended change (snapshot kept, failure told) as any other.
        status = "running" if job.done else job.status
        self.view = StreamView(uid=f"nbstream-{next(_uids)}-{job.client.job_id[:8]}",
                               title=title, job_name=job.name, mode=job.mode,
                               limit=limit, has_table=results is not None,
                               status=status, stats=header_stats(job), started=job.started_at,
                               cell=f"In[{execution}]" if execution else "")
        self.limit = limit
        self.on_final = on_final
        self._version = 0
        self._wake = threading.Event()
        self._closed = False
        self._views: set = set()
        self._had_view = False
        self._snapshot_at = 0.0
        self._snapshot_of: Any = None
        self.updates = 0  # messages sent (for tests and measurements)
        self.view.on_msg(self._on_msg)
        if results is not None:
            results.subscribe(self._wake.set)
        job.client.on_done(lambda _c: self._wake.set())
        self.thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._run,), daemon=True,
            name=f"nbstream[{job.name}] live view")

    def start(self) -> "Pump":
        """Start updating (after the view is displayed: its last update refers to it)."""
        self.thread.start()
        return self

    # -- the pump thread --------------------------------------------------------------------
    def _run(self) -> None:
        last = 0.0
        try:
            while not self._closed:
                self._wake.wait(HEADER_PERIOD)
                self._wake.clear()
                pause = MIN_INTERVAL - (time.monotonic() - last)
                if pause > 0:
                    time.sleep(pause)
                if self._closed or self.view.comm is None:
                    break
                done = self.job.done
                self._push(final=done)
                last = time.monotonic()
                if done:
                    if self.on_final is not None:
                        self.on_final(self)
                    break
        finally:
            if self.results is not None:
                self.results.unsubscribe(self._wake.set)

    @property
    def paused(self) -> bool:
        """No view is open (after one was): rows are not sent until one comes back."""
        return self._had_view and not self._views

    def _push(self, final: bool = False) -> None:
        view, job = self.view, self.job
        with view.hold_sync():
            # status first: once it says the job ended, the counts and rows read after it
            # are final, so a view never shows "stopped" above numbers that still move
            status = job.status
            view.stats = header_stats(job)
            graph = job.graph()
            if graph != view.graph:
                view.graph = graph
            fault = job.fault_tolerance()
            if fault:
                fault["text"] = fault_text(fault)
            if fault != view.checkpoints:
                view.checkpoints = fault
            functions = (function_lines(job.function_stats()) + metric_lines(job.user_metrics())
                         + job.python_steps())
            if functions != view.functions:
                view.functions = functions
            if self.results is not None and (not self.paused or final):
                self._send_rows(view)
            if final and job.error is not None and not view.error:
                view.error = error_info(job.error)
            view.status = status
            if final or (not self.paused
                         and time.monotonic() - self._snapshot_at >= SNAPSHOT_PERIOD):
                self._refresh_snapshot(final)
        self.updates += 1

    def _send_rows(self, view: StreamView) -> None:
        results = self.results
        assert results is not None
        version, rows, columns = results.changes_since(self._version, self.limit)
        if not rows and version == self._version:
            return
        removed = results.removed_since(self._version)
        if removed is None:  # more removals than remembered: start the view afresh
            self.send_snapshot()
            self._version = version
            return
        if columns != view.columns:
            view.columns = columns
        if view.chart.get("kind", "none") == "none" or not view.chart.get("y_default"):
            view.chart = chart_spec(results, self.chart_choice, self.y, self.x, self.reduced)
        view.delta = {"from": self._version, "to": version, "rows": rows, "removed": removed}
        self._version = version

    def _refresh_snapshot(self, final: bool) -> None:
        state = (self.job.status, self.results.version if self.results is not None else 0)
        if state == self._snapshot_of and not final:
            return
        self._snapshot_of, self._snapshot_at = state, time.monotonic()
        self.view.snapshot = self.snapshot_html()

    def snapshot_html(self) -> str:
        """The view as static HTML: the status line (for a job that still runs, the time
        it stood so), the error, the chart as SVG, the kept rows."""
        job = self.job
        status = job.summary()
        if not job.done:
            status += time.strftime(" (as of %Y-%m-%d %H:%M:%S UTC)", time.gmtime())
        error = None
        if job.error is not None:
            info = error_info(job.error)
            error = "\n".join(filter(None, [info["summary"], info["where"],
                                            info["traceback"].rstrip()]))
        columns, changes = [], []
        if self.results is not None:
            _, changes, columns = self.results.changes_since(0, SNAPSHOT_ROWS)
        spec = self.view.chart if self.view.chart.get("y_default") else None
        return render_html(status, columns, changes, spec, error=error, title=self.view.title)

    # -- messages from the front end (kernel's shell thread) -----------------------------------
    def _on_msg(self, _widget: Any, content: Dict[str, Any], _buffers: List[Any]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "stop":
            self.job.stop()
        elif kind == "snapshot":
            self.send_snapshot()
        elif kind == "export":
            self.send_export(str(content.get("format", "parquet")))
        elif kind == "view":
            view_id = content.get("id")
            if content.get("open"):
                self._views.add(view_id)
                self._had_view = True
                self._wake.set()
            else:
                self._views.discard(view_id)

    def send_snapshot(self) -> None:
        if self.results is None or self.view.comm is None:
            return
        version, rows, columns = self.results.changes_since(0, self.limit)
        self.view.send({"type": "snapshot", "version": version, "rows": rows,
                        "columns": columns})

    def send_export(self, fmt: str) -> None:
        """The kept rows as a file the front end offers for download (Parquet)."""
        name = f"{self.job.name}.{fmt}"
        try:
            if fmt != "parquet" or self.results is None:
                raise ValueError(f"cannot export {fmt!r} (parquet only)")
            import pyarrow as pa
            import pyarrow.parquet as pq

            sink = pa.BufferOutputStream()
            pq.write_table(self.results.to_arrow(), sink)
            data = sink.getvalue().to_pybytes()
        except Exception as exc:  # mixed types in a column, ...: say so in the view
            self.view.send({"type": "export", "format": fmt, "error": f"{type(exc).__name__}: {exc}"})
            return
        self.view.send({"type": "export", "format": fmt, "name": name, "rows": len(self.results)},
                       buffers=[data])

    def close(self) -> None:
        """Stop updating (the job keeps running)."""
        self._closed = True
        self._wake.set()
