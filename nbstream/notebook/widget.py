"""The live view of one shown stream: an anywidget whose front end is ``js/widget.js``.

The Python side is a handful of synced traits; a :class:`Pump` thread (started in the
context of the cell that owns the job, so every message carries that cell's parent
header) moves the job's progress into them:

* ``stats``/``status``/``error``: the header (records, rate, watermark, elapsed);
* ``checkpoints``: for a job that checkpoints, restarted or resumed from a savepoint,
  :meth:`LiveJob.fault_tolerance` (restarts, last failure, the last checkpoint's id,
  size and duration, ``resumed_from``) and ``text``, the line the front end shows;
* ``functions``: for a StateFun job, a line per function type (:func:`function_lines`:
  messages in, calls, egress, latency p50/p99); then a line per step whose function
  registered metrics (:func:`metric_lines`: counters, gauges, meters, distributions); for a
  Table job, where each step calling Python UDFs runs and why (:meth:`LiveJob.python_steps`);
* ``delta``: the rows touched since the previous update, ``{"from", "to", "rows"}``,
  where ``rows`` holds ``[row id, cells, key label]`` oldest first. The front end keeps
  the newest ``limit`` rows, upserting by row id; if it sees a gap in ``from``/``to``
  (it was not listening from the start, e.g. after a page reload) it asks for a snapshot
  with a ``{"type": "snapshot"}`` message.

Updates are coalesced: at most one every ``MIN_INTERVAL`` seconds (the header also
refreshes every ``HEADER_PERIOD`` seconds when nothing arrives). The front end says
``{"type": "view", "open": bool, "id": ...}`` when a view appears or goes away; with no
view left the pump stops sending rows until one comes back. ``{"type": "stop"}`` is the
Stop button.
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
from .live import LiveJob, error_info, fault_text, function_lines, metric_lines
from .results import LiveResults

__all__ = ["StreamView", "Pump", "chart_spec", "MIN_INTERVAL", "HEADER_PERIOD"]

STATIC = Path(__file__).with_name("static")
MIN_INTERVAL = 0.1   # seconds between two updates (at most 10 per second)
HEADER_PERIOD = 0.5  # header refresh when no rows arrive
CHARTS = ("auto", "line", "bar", "none")
_uids = itertools.count(1)


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


def chart_spec(results: Optional[LiveResults], chart: str = "auto",
               y: Optional[str] = None) -> Dict[str, Any]:
    """What the front end draws: ``kind`` (line: one line per key over window end; bar:
    the current value per key; none), the ``x`` column, the numeric ``y`` candidates."""
    if results is None or not results.columns:
        return {"kind": "none", "x": None, "y": [], "y_default": None}
    kind = chart
    if kind == "auto":
        kind = {"window": "line", "keyed": "bar"}.get(results.mode, "none")
    columns = list(results.columns)
    newest = results.rows()[-20:]
    skip = {"window_start", "window_end", "key"}
    numeric = [c for i, c in enumerate(columns)
               if c not in skip and _numeric_column(newest, c, i)]
    x = "window_end" if "window_end" in columns else None
    if kind != "none" and not numeric:
        kind = "none"
    default = y if y in numeric else (numeric[0] if numeric else None)
    return {"kind": kind, "x": x, "y": numeric, "y_default": default}


def _numeric_column(rows: List[Any], column: str, index: int) -> bool:
    seen = False
    for row in rows:
        if isinstance(row, dict):
            value = row.get(column)
        elif isinstance(row, (tuple, list)):
            value = row[index] if index < len(row) else None
        else:
            value = row
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        seen = True
    return seen


class Pump:
    """Moves a live job's progress into one :class:`StreamView`, on its own thread."""

    def __init__(self, job: LiveJob, results: Optional[LiveResults], title: str,
                 chart: str = "auto", y: Optional[str] = None, limit: int = 1000,
                 on_final: Optional[Callable[["Pump"], None]] = None) -> None:
        self.job = job
        self.results = results
        self.chart_choice = chart
        self.y = y
        self.view = StreamView(uid=f"nbstream-{next(_uids)}-{job.client.job_id[:8]}",
                               title=title, job_name=job.name, mode=job.mode,
                               limit=limit, has_table=results is not None,
                               status=job.status)
        self.limit = limit
        self.on_final = on_final
        self._version = 0
        self._wake = threading.Event()
        self._closed = False
        self._views: set = set()
        self._had_view = False
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
            stats = job.stats()
            if stats["watermark"] is not None and stats["watermark"] >= MAX_TIMESTAMP:
                stats["watermark"] = "end of input"
            view.stats = stats
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
                version, rows, columns = self.results.changes_since(self._version, self.limit)
                if rows or version != self._version:
                    if columns != view.columns:
                        view.columns = columns
                    if view.chart.get("kind", "none") == "none" or not view.chart.get("y"):
                        view.chart = chart_spec(self.results, self.chart_choice, self.y)
                    view.delta = {"from": self._version, "to": version, "rows": rows}
                    self._version = version
            if final and job.error is not None and not view.error:
                view.error = error_info(job.error)
            view.status = status
        self.updates += 1

    # -- messages from the front end (kernel's shell thread) -----------------------------------
    def _on_msg(self, _widget: Any, content: Dict[str, Any], _buffers: List[Any]) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "stop":
            self.job.stop()
        elif kind == "snapshot":
            self.send_snapshot()
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

    def close(self) -> None:
        """Stop updating (the job keeps running)."""
        self._closed = True
        self._wake.set()
