"""Run an old Flink (Jython) Python streaming program on nbstream, as ``pyflink-stream.sh``
ran it::

    python -m nbstream.compat.jython [--mode MODE] [--parallelism N] SCRIPT [PACKAGE ...] [- PARAM ...]

The script's ``main(factory)`` builds the job and executes it on nbstream's embedded
runtime. ``PARAM``s after ``-`` are the script's ``sys.argv[1:]`` (``sys.argv[0]`` is
the script); each ``PACKAGE`` (a module file or a package folder) becomes importable.
A program that breaks the old API's rules (no ``main``, an ``org.apache.flink`` name
nbstream does not provide, a function class without its method) gets a one-line
error naming the place, and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from ...runtime.executors import check_mode
from . import NotAvailableError, ProgramError, error_line, run_source

PROG = "python -m nbstream.compat.jython"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run an old Flink (Jython) Python streaming program on nbstream.",
        usage=f"{PROG} [--mode MODE] [--parallelism N] SCRIPT [PACKAGE ...] [- PARAM ...]")
    parser.add_argument("--mode", help="execution mode (thread, process, ...; default thread)")
    parser.add_argument("--parallelism", type=int, metavar="N",
                        help="default parallelism (default: the number of CPU cores)")
    parser.add_argument("script", help="the program: a Python file with main(factory)")
    parser.add_argument("packages", nargs="*", metavar="PACKAGE",
                        help="modules or package folders the program imports")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    params: List[str] = []
    if "-" in args:
        cut = args.index("-")
        args, params = args[:cut], args[cut + 1:]
    parser = _parser()
    opts = parser.parse_args(args)
    if opts.parallelism is not None and opts.parallelism < 1:
        parser.error(f"--parallelism must be a positive integer, not {opts.parallelism}")
    if opts.mode is not None:
        try:
            check_mode(opts.mode)
        except Exception as exc:  # unknown, or its extra is not installed
            parser.error(f"--mode: {exc}")
    script = opts.script
    if not os.path.isfile(script):
        parser.error(f"no such script: {script}")
    for path in [script, *opts.packages]:
        if not os.path.exists(path):
            parser.error(f"no such package: {path}")
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in sys.path:
            sys.path.insert(0, folder)
    sys.argv = [script, *params]
    with open(script, encoding="utf-8") as f:
        source = f.read()
    try:
        run_source(source, script, mode=opts.mode, parallelism=opts.parallelism)
    except (ProgramError, NotAvailableError) as exc:
        line = error_line(exc, script)
        print(f"{script}:{line}: {exc}" if line else f"{script}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
