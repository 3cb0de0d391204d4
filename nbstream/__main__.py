"""Command line: ``python -m nbstream demo`` runs a demo pipeline on the embedded runtime.

The demo generates a synthetic click stream (page, user, duration), counts views and
sums time per page with a keyed rolling reduce, shows progress while the job runs,
and prints the final table.
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
    """Views and total time per page, as a rolling reduce keyed by page."""
    from . import DataFrameSink

    sink = DataFrameSink()
    (env.from_iterable(clicks(n), name="Source: clicks")
        .map(lambda c: (c["page"], 1, c["ms"])).name("to (page, 1, ms)")
        .key_by(lambda t: t[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1], a[2] + b[2])).name("views and time per page")
        .add_sink(sink).name("DataFrame"))
    return sink


def _progress(job: Any, total: int, out: Any) -> None:
    metrics = job.metrics()
    source = next((m for k, m in metrics.items() if "Source" in k), None)
    done = source["records_out"] if source else 0
    rate = done / max(job.elapsed_s, 1e-9)
    bar = "#" * int(30 * done / max(total, 1))
    line = (f"[{bar:<30}] {done:>9,}/{total:,} records  {rate:>10,.0f} rec/s  "
            f"{job.elapsed_s:5.1f} s  {job.status.value.lower()}")
    if out.isatty():
        out.write("\r" + line)
    else:
        out.write(line + "\n")
    out.flush()


def _table(rows: List[Any]) -> str:
    final: Dict[str, Any] = {}
    for page, views, ms in rows:
        final[page] = (views, ms)
    lines = [f"{'page':<12}{'views':>10}{'avg ms':>10}{'share':>9}"]
    total = sum(v for v, _ in final.values()) or 1
    for page, (views, ms) in sorted(final.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"{page:<12}{views:>10,}{ms / views:>10.0f}{views / total:>9.1%}")
    lines.append(f"{'total':<12}{total:>10,}")
    return "\n".join(lines)


def demo(records: int = 1_000_000, parallelism: int = 2, mode: str = "thread",
         out: Any = None) -> int:
    from . import StreamExecutionEnvironment

    out = out or sys.stdout
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    sink = build_demo(env, records)
    out.write(env.explain() + "\n\n")
    job = env.execute_async("nbstream demo: views per page")
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
    d.add_argument("--mode", default="thread", help="execution mode (thread, ...)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        started = time.monotonic()
        code = demo(args.records, args.parallelism, args.mode)
        sys.stderr.write(f"demo finished in {time.monotonic() - started:.1f} s\n")
        return code
    return 2


if __name__ == "__main__":
    sys.exit(main())
