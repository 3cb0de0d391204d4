"""Run Apache Flink's own Table API examples (from the installed apache-flink package) on
real PyFlink and freeze what they print, one ``<example path with / as __>.txt`` per
program, for ``tests/test_table_examples.py``:

    TZ=UTC PYTHONUNBUFFERED=1 python tests/table_examples/freeze.py

Programs that never end (an unbounded datagen source) or print random data are not frozen
(the test says why for each).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from test_table_examples import EXAMPLES, programs, reason  # noqa: E402


def main() -> None:
    for path in programs():
        if reason(path) is not None:
            continue
        name = str(path.relative_to(EXAMPLES)).replace("/", "__")
        env = dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1")
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                             timeout=600, env=env, cwd=str(path.parent))
        if out.returncode != 0:
            print(f"{name}: failed on PyFlink: {out.stderr[-500:]}", file=sys.stderr)
            continue
        (HERE / f"{name.removesuffix('.py')}.txt").write_text(out.stdout)
        print(f"{name}: {len(out.stdout.splitlines())} lines", file=sys.stderr)


if __name__ == "__main__":
    main()
