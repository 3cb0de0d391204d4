"""The static snapshot of a live view: plain HTML (the status line, the chart as an SVG,
a table of the kept rows) that a notebook keeps in its output, so JupyterLab without a
kernel, nbviewer and GitHub show the last results. No scripts and no styles beyond
inline attributes: renderers that sanitize HTML keep it readable.

>>> html = render_html("job 'x' finished: 3 in, 3 out", ["key", "n"],
...                    [(1, ["a", 1], "a", 1_700_000_000_000)], chart=None)
>>> "<table" in html and "finished" in html and "<script" not in html
True
"""

from __future__ import annotations

import html as _html
import math
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = ["render_html", "chart_svg", "bars_svg", "series_of", "PALETTE", "SNAPSHOT_ROWS"]

SNAPSHOT_ROWS = 1000  # rows in a snapshot's table at most (the newest)
MAX_SERIES = 10
# Tableau 10: readable on a light and a dark background alike
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
TIME_COLUMNS = ("window_start", "window_end")

Change = Tuple[int, List[Any], Optional[str], int]


def series_of(columns: Sequence[str], changes: Sequence[Change], chart: Dict[str, Any]
              ) -> Tuple[Dict[str, List[Tuple[float, float]]], int]:
    """The lines to draw: per key label, ``(x, y)`` points sorted by x (x: the chart's
    ``x`` column, else each row's time), the top :data:`MAX_SERIES` keys by their newest
    value; and how many keys there are in all."""
    y = chart.get("y_default")
    if y not in columns:
        return {}, 0
    yi = columns.index(y)
    x = chart.get("x")
    xi = columns.index(x) if x in columns else -1
    series: Dict[str, List[Tuple[float, float]]] = {}
    for _rid, cells, label, stamp in changes:
        yv = cells[yi] if yi < len(cells) else None
        xv = cells[xi] if 0 <= xi < len(cells) else stamp
        if not _number(yv) or not _number(xv):
            continue
        series.setdefault(label if label is not None else "all", []).append((xv, yv))
    for points in series.values():
        points.sort()
    ranked = sorted(series, key=lambda k: -abs(series[k][-1][1]))
    return {k: series[k] for k in ranked[:MAX_SERIES]}, len(series)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fmt_time(ms: float, with_date: bool) -> str:
    stamp = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _fmt_number(v: float) -> str:
    if abs(v) >= 1e6 or (v and abs(v) < 1e-3):
        return f"{v:.3g}"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.3g}"


def _ticks(lo: float, hi: float, n: int = 4) -> List[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def chart_svg(series: Dict[str, List[Tuple[float, float]]], total_keys: int, y_name: str,
              time_axis: bool = True, width: int = 720, height: int = 220) -> str:
    """A line per key as an SVG (UTC time axis with its date, value axis, legend)."""
    points = [p for pts in series.values() for p in pts]
    if not points:
        return ""
    left, right, top, bottom = 60, 150, 12, 38
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    y0, y1 = min(0.0, min(p[1] for p in points)), max(p[1] for p in points)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    if y1 == y0:
        y1 = y0 + 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * plot_w

    def sy(v: float) -> float:
        return top + (1 - (v - y0) / (y1 - y0)) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" '
           f'role="img" aria-label="{_html.escape(y_name)} over time">']
    for v in _ticks(y0, y1):
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" '
                   'stroke="#888" stroke-opacity="0.3"/>')
        out.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end" '
                   f'fill="currentColor">{_html.escape(_fmt_number(v))}</text>')
    span_days = (x1 - x0) / 86_400_000 if time_axis else 0
    xticks = [x0 + (x1 - x0) * i / 4 for i in range(5)]
    for i, v in enumerate(xticks):
        label = _fmt_time(v, span_days >= 1) if time_axis else _fmt_number(v)
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        out.append(f'<text x="{sx(v):.1f}" y="{top + plot_h + 14}" text-anchor="{anchor}" '
                   f'fill="currentColor">{_html.escape(label)}</text>')
    if time_axis:
        caption = f"time (UTC), {_fmt_time(x0, True)[:10]}"
        if span_days >= 1:
            caption = "time (UTC)"
        out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
                   f'fill="currentColor" fill-opacity="0.7">{_html.escape(caption)}</text>')
    out.append(f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 12 {top + plot_h / 2:.1f})" fill="currentColor" '
               f'fill-opacity="0.7">{_html.escape(y_name)}</text>')
    for i, (label, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{path}"/>')
        if len(pts) == 1:
            out.append(f'<circle cx="{sx(pts[0][0]):.1f}" cy="{sy(pts[0][1]):.1f}" r="3" '
                       f'fill="{color}"/>')
        ly = top + 4 + i * 16
        out.append(f'<rect x="{width - right + 12}" y="{ly}" width="10" height="10" '
                   f'fill="{color}"/>')
        out.append(f'<text x="{width - right + 28}" y="{ly + 9}" fill="currentColor">'
                   f'{_html.escape(str(label)[:18])}</text>')
    if total_keys > len(series):
        out.append(f'<text x="{width - right + 12}" y="{top + 4 + len(series) * 16 + 9}" '
                   f'fill="currentColor" fill-opacity="0.7">+{total_keys - len(series)} '
                   'more keys</text>')
    out.append("</svg>")
    return "".join(out)


def bars_svg(series: Dict[str, List[Tuple[float, float]]], total_keys: int, y_name: str,
             width: int = 720) -> str:
    """The newest value per key as horizontal bars (a keyed rolling value: one per key)."""
    bars = [(label, pts[-1][1]) for label, pts in series.items()]
    if not bars:
        return ""
    left, right, row = 130, 90, 20
    top = 18
    height = top + row * len(bars) + (16 if total_keys > len(bars) else 4)
    lo, hi = min(0.0, min(v for _, v in bars)), max(0.0, max(v for _, v in bars))
    span = (hi - lo) or 1.0
    plot_w = width - left - right

    def sx(v: float) -> float:
        return left + (v - lo) / span * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" '
           f'role="img" aria-label="{_html.escape(y_name)} per key">',
           f'<text x="{left}" y="12" fill="currentColor" fill-opacity="0.7">'
           f'{_html.escape(y_name)}, newest value per key</text>']
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        x0, x1 = sorted((sx(0.0), sx(value)))
        out.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" fill="currentColor">'
                   f'{_html.escape(str(label)[:18])}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(1.0, x1 - x0):.1f}" height="{row - 6}" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(f'<text x="{x1 + 4:.1f}" y="{y + 14}" fill="currentColor">'
                   f'{_html.escape(_fmt_number(value))}</text>')
    if total_keys > len(bars):
        out.append(f'<text x="{left}" y="{height - 4}" fill="currentColor" fill-opacity="0.7">'
                   f'+{total_keys - len(bars)} more keys</text>')
    out.append("</svg>")
    return "".join(out)


def _cell(value: Any, column: str, times: Sequence[str] = TIME_COLUMNS) -> str:
    if column in times and _number(value) and 1e11 < value < 1e14:
        return _fmt_time(value, True) + f".{int(value) % 1000:03d}"
    if value is None:
        return ""
    if _number(value):
        return _fmt_number(value) if isinstance(value, float) else f"{value:,}"
    return str(value)


def render_html(status: str, columns: Sequence[str], changes: Sequence[Change],
                chart: Optional[Dict[str, Any]], error: Optional[str] = None,
                title: str = "", note: str = "") -> str:
    """The snapshot: title and status line, the error (if any), the chart (if ``chart``
    names a value to draw) and a table of ``changes`` (newest first)."""
    parts = ['<div class="nbstream-snapshot">']
    head = f"<strong>{_html.escape(title)}</strong> " if title else ""
    parts.append(f"<p>{head}<code>{_html.escape(status)}</code></p>")
    if note:
        parts.append(f"<p><em>{_html.escape(note)}</em></p>")
    if error:
        parts.append('<pre style="border-left:3px solid #c62828;padding-left:6px;'
                     f'white-space:pre-wrap">{_html.escape(error)}</pre>')
    times = tuple(chart.get("times") or TIME_COLUMNS) if chart else TIME_COLUMNS
    if chart and chart.get("kind", "none") != "none" and chart.get("y_default"):
        series, total = series_of(columns, changes, chart)
        x = chart.get("x")
        if chart.get("kind") == "bar" or (chart.get("mode") in ("keyed", "changelog") and x is None):
            svg = bars_svg(series, total, str(chart["y_default"]))  # one value per key kept
        else:
            svg = chart_svg(series, total, str(chart["y_default"]), time_axis=chart.get("time", True))
        if svg:
            parts.append(f"<div>{svg}</div>")
    if columns and changes:
        shown = list(changes)[-SNAPSHOT_ROWS:]
        parts.append("<table><thead><tr>"
                     + "".join(f"<th>{_html.escape(str(c))}</th>" for c in columns)
                     + "</tr></thead><tbody>")
        for _rid, cells, _label, _stamp in reversed(shown):
            parts.append("<tr>" + "".join(
                f"<td>{_html.escape(_cell(v, c, times))}</td>" for v, c in zip(cells, columns))
                + "</tr>")
        parts.append("</tbody></table>")
        if len(changes) > len(shown):
            parts.append(f"<p>newest {len(shown):,} of {len(changes):,} rows</p>")
    parts.append("</div>")
    return "".join(parts)
