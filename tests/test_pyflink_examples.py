"""Apache Flink's own DataStream example programs, read from the installed apache-flink
package (never copied here), run unmodified on real PyFlink and through nbstream's runner:
the outputs must match, line for line where PyFlink's order is fixed (parallelism 1 or
BATCH), as multisets otherwise (a subtask prefix kept as ``N>``: which subtask prints a record is
chance in Flink). Programs that need systems or
APIs nbstream does not provide are skipped, each with its reason."""

from __future__ import annotations

import collections
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.flink]

ROOT = Path(__file__).resolve().parent.parent
_SPEC = importlib.util.find_spec("pyflink")
EXAMPLES = (Path(_SPEC.submodule_search_locations[0]) / "examples" / "datastream"
            if _SPEC is not None else None)

#: why a program cannot run here (matched against its imports)
NEEDS = {
    "pyflink.table": "never ends (it reads an unbounded datagen table; "
                     "tests/test_table_examples.py runs it on nbstream for a while)",
    "kafka": "needs a Kafka cluster and Flink's Kafka connector (JVM)",
    "pulsar": "needs a Pulsar cluster and Flink's Pulsar connector (JVM)",
    "elasticsearch": "needs an Elasticsearch cluster and Flink's connector (JVM)",
}
#: lines the real PyFlink's Python workers write to stdout besides the program's output
NOISE = re.compile(r"^(No module named google\.cloud|PYFLINK_CYTHON_ENABLED|Using Any for unsupported)")


def programs() -> List[object]:
    if EXAMPLES is None:
        raise AssertionError("apache-flink is not installed: scripts/test installs the flink extra")
    out = []
    for path in sorted(EXAMPLES.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        name = str(path.relative_to(EXAMPLES))
        source = path.read_text()
        why = next((reason for needle, reason in NEEDS.items()
                    if needle in source or needle in name), None)
        marks = [pytest.mark.skip(reason=f"{name} {why}")] if why else []
        out.append(pytest.param(path, id=name, marks=marks))
    return out


def run(path: Path, on_nbstream: bool) -> List[str]:
    cmd = ([sys.executable, "-m", "nbstream.compat.pyflink", str(path)] if on_nbstream
           else [sys.executable, str(path)])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env,
                         cwd=str(path.parent))
    assert out.returncode == 0, out.stderr[-3000:]
    return [line for line in out.stdout.splitlines() if line.strip() and not NOISE.match(line)]


def fixed_order(path: Path) -> bool:
    source = path.read_text()
    return "set_parallelism(1)" in source or "RuntimeExecutionMode.BATCH" in source


@pytest.mark.parametrize("path", programs())
def test_flinks_example_prints_the_same_on_nbstream(path: Path):
    real = run(path, on_nbstream=False)
    ours = run(path, on_nbstream=True)
    assert real, "the real program printed nothing: nothing to compare"
    if fixed_order(path):
        assert ours == real
    else:  # which subtask prints a record is chance in Flink (rebalance starts at random)
        assert unprefixed(ours) == unprefixed(real)


def unprefixed(lines: List[str]) -> collections.Counter:
    return collections.Counter(re.sub(r"^\d+> ", "N> ", line) for line in lines)


def test_the_examples_are_found_and_most_run():
    found: Dict[str, bool] = {p.id: not p.marks for p in programs()}
    assert len(found) >= 10 and sum(found.values()) >= 10, found
