"""Run a PyFlink DataStream script on nbstream: ``python -m nbstream.compat.pyflink SCRIPT [ARGS]``.

The script runs as ``__main__`` with ``sys.argv`` = ``[SCRIPT, ARGS...]`` and its folder
first on ``sys.path``, as ``python SCRIPT ARGS`` would run it; its ``import pyflink...``
statements resolve to :mod:`nbstream.compat.pyflink`.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import List, Optional

from . import install

USAGE = "usage: python -m nbstream.compat.pyflink SCRIPT [ARGS...]"


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + (__doc__ or "").strip(), file=sys.stderr if not args else sys.stdout)
        return 0 if args else 2
    script = args[0]
    if not os.path.isfile(script):
        print(f"nbstream.compat.pyflink: no such script: {script}", file=sys.stderr)
        return 2
    sys.argv = args
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    install()
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
