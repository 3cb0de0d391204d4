"""Command line: ``python -m nbstream demo`` runs a demo pipeline on the embedded runtime.

The demo generates a synthetic click stream (page, user, duration) with event-time
timestamps, counts views, time and users per page in tumbling one-minute event-time
windows, shows progress (records, rate, watermark) while the job runs, and prints a
table per page built from the window results.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any, Dict, Iterator, List, Optional

PAGES = ["/home", "/search", "/product", "/cart", "/checkout", "/help", "/blog", "/about"]


def clicks(n: int, seed: int = 7) -> Any:
    """A generator function of ``n`` synthetic clicks (dicts), reproducible by seed."""
    def gen() -> Iterator[Dict[str, Any]]:
        rng = random.Random(seed)
        weights = [30, 20, 18, 10, 5, 4, 8, 5]
        pages = rng.choices(PAGES, weights=weights, k=n)
        for i, page in enumerate(pages):
            yield {"ts": 1_700_000_000_000 + i * 10, "page": page,
                   "user": f"u{rng.randrange(500)}", "ms": rng.randrange(50, 5000)}
    return gen


def build_demo(env: Any, n: int) -> Any:
    """Views, time and distinct users per page and event-time minute."""
    from . import DataFrameSink, TumblingEventTimeWindows, WatermarkStrategy

    sink = DataFrameSink()
    (env.from_iterable(clicks(n), name="Source: clicks")
        .assign_timestamps_and_watermarks(
            WatermarkStrategy.for_bounded_out_of_orderness("1s")
            .with_timestamp_assigner(lambda c, _: c["ts"]))
        .key_by(lambda c: c["page"])
        .window(TumblingEventTimeWindows.of("1min"))
        .agg(views="count", ms=("ms", "sum"), users=("user", lambda us: len(set(us))))
        .name("views per page and minute")
        .add_sink(sink).name("DataFrame"))
    return sink


def _progress(job: Any, total: int, out: Any) -> None:
    metrics = job.metrics()
    source = next((m for k, m in metrics.items() if "Source" in k), None)
    done = source["records_out"] if source else 0
    rate = done / max(job.elapsed_s, 1e-9)
    bar = "#" * int(30 * done / max(total, 1))
    marks = [m["watermark"] for k, m in metrics.items() if "views per page" in k]
    wm = marks[0] if marks else None
    if wm is None or wm < 0:
        event_time = "--:--:--"
    elif wm >= 2**62:
        event_time = "end     "  # the final watermark: every window has fired
    else:
        event_time = time.strftime("%H:%M:%S", time.gmtime(wm / 1000))
    line = (f"[{bar:<30}] {done:>9,}/{total:,} records  {rate:>10,.0f} rec/s  "
            f"watermark {event_time}  {job.elapsed_s:5.1f} s  {job.status.value.lower()}")
    if out.isatty():
        out.write("\r" + line)
    else:
        out.write(line + "\n")
    out.flush()


def _table(rows: List[Dict[str, Any]]) -> str:
    """Per page, from the window rows: views, mean time, share, busiest minute."""
    pages: Dict[str, Dict[str, Any]] = {}
    for r in rows:
        p = pages.setdefault(r["key"], {"views": 0, "ms": 0, "minutes": 0, "peak": 0})
        p["views"] += r["views"]
        p["ms"] += r["ms"]
        p["minutes"] += 1
        p["peak"] = max(p["peak"], r["views"])
    lines = [f"{'page':<12}{'views':>10}{'avg ms':>10}{'share':>9}{'minutes':>9}"
             f"{'peak/min':>10}"]
    total = sum(p["views"] for p in pages.values()) or 1
    for page, p in sorted(pages.items(), key=lambda kv: -kv[1]["views"]):
        lines.append(f"{page:<12}{p['views']:>10,}{p['ms'] / p['views']:>10.0f}"
                     f"{p['views'] / total:>9.1%}{p['minutes']:>9,}{p['peak']:>10,}")
    lines.append(f"{'total':<12}{total:>10,}")
    windows = sorted({(r["window_start"], r["window_end"]) for r in rows})
    if windows:
        fmt = lambda ms: time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))  # noqa: E731
        lines.append(f"{len(rows):,} window results: {len(windows):,} one-minute windows "
                     f"from {fmt(windows[0][0])} to {fmt(windows[-1][1])} (UTC)")
    return "\n".join(lines)


def demo(records: int = 1_000_000, parallelism: int = 2, mode: str = "thread",
         out: Any = None) -> int:
    from . import StreamExecutionEnvironment

    out = out or sys.stdout
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    sink = build_demo(env, records)
    out.write(env.explain() + "\n\n")
    job = env.execute_async("nbstream demo: views per page and minute")
    while not job.wait(0.25):
        _progress(job, records, sys.stderr)
    _progress(job, records, sys.stderr)
    sys.stderr.write("\n")
    result = job.result()
    out.write("\n" + _table(sink.rows()) + "\n\n")
    out.write(str(result) + "\n")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbstream", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="run the demo pipeline and print its result table")
    d.add_argument("--records", type=int, default=1_000_000, help="clicks to generate")
    d.add_argument("--parallelism", type=int, default=2)
    d.add_argument("--mode", default="thread", help="execution mode (thread, process, auto)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        started = time.monotonic()
        code = demo(args.records, args.parallelism, args.mode)
        sys.stderr.write(f"demo finished in {time.monotonic() - started:.1f} s\n")
        return code
    return 2


if __name__ == "__main__":
    sys.exit(main())
