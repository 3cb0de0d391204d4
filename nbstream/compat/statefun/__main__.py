"""Run a module written for the ``statefun`` SDK on nbstream:
``python -m nbstream.compat.statefun [--api 2|3] MODULE.py [ARGS...]``.

The module runs as ``__main__`` with ``sys.argv`` = ``[MODULE.py, ARGS...]`` and its folder first
on ``sys.path``, as ``python MODULE.py ARGS`` would run it, with ``import statefun`` resolving to
nbstream's; its ``__main__`` block (an aiohttp or Flask server, say) serves the request-reply
protocol with nbstream's handler.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import List, Optional

from . import detect_api, install

USAGE = "usage: python -m nbstream.compat.statefun [--api 2|3] MODULE.py [ARGS...]"


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    api: Optional[int] = None
    if args[:1] == ["--api"] and len(args) > 1 and args[1] in ("2", "3"):
        api, args = int(args[1]), args[2:]
    if not args or args[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + (__doc__ or "").strip(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    script = args[0]
    if not os.path.isfile(script):
        print(f"nbstream.compat.statefun: no such module file: {script}", file=sys.stderr)
        return 2
    if api is None:
        with open(script, encoding="utf-8") as source:
            api = detect_api(source.read())
    sys.argv = args
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    install(api)
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
