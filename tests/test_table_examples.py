"""Apache Flink's own Table API examples (``pyflink/examples/table`` in the installed
apache-flink package, never copied here) run unmodified through nbstream's PyFlink runner
and print what real PyFlink printed (frozen by ``tests/table_examples/freeze.py``; the
command is in that file): line for line where Flink's order is fixed (parallelism 1),
as multisets otherwise (a subtask prefix ``N>`` is chance in Flink)."""

from __future__ import annotations

import collections
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
FROZEN = Path(__file__).resolve().parent / "table_examples"
_SPEC = importlib.util.find_spec("pyflink")
EXAMPLES = (Path(_SPEC.submodule_search_locations[0]) / "examples" / "table"
            if _SPEC is not None else None)

#: why a program's output cannot be frozen and compared (matched against its source)
NOT_COMPARED = {
    "udtf": "needs Python table functions (udtf), built on this API by the UDF work",
    "udaf": "needs Python aggregate functions (udaf), built on this API by the UDF work",
    "AsyncScalarFunction": "needs asynchronous Python functions, built by the UDF work",
    "'rows-per-second'": "never ends (an unbounded datagen source)",
    "np.random": "prints random data",
    "'datagen'": "prints random data (a datagen source with random fields)",
}
NOISE = re.compile(r"^(No module named google\.cloud|PYFLINK_CYTHON_ENABLED|Using Any for unsupported)")


def programs() -> List[Path]:
    if EXAMPLES is None:
        raise AssertionError("apache-flink is not installed: scripts/test installs the flink extra")
    return sorted(p for p in EXAMPLES.rglob("*.py") if p.name != "__init__.py")


def reason(path: Path) -> Optional[str]:
    source = path.read_text()
    return next((why for needle, why in NOT_COMPARED.items() if needle in source), None)


def frozen(path: Path) -> Path:
    return FROZEN / (str(path.relative_to(EXAMPLES)).replace("/", "__").removesuffix(".py")
                     + ".txt")


def run_on_nbstream(path: Path, timeout: float = 300) -> List[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TZ="UTC")
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.pyflink", str(path)],
                         capture_output=True, text=True, timeout=timeout, env=env,
                         cwd=str(path.parent))
    assert out.returncode == 0, out.stderr[-3000:]
    return lines(out.stdout)


def lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if line.strip() and not NOISE.match(line)]


def compared() -> List[object]:
    return [pytest.param(p, id=str(p.relative_to(EXAMPLES))) for p in programs()
            if reason(p) is None]


@pytest.mark.parametrize("path", compared())
def test_flinks_table_example_prints_the_same_on_nbstream(path: Path):
    want = lines(frozen(path).read_text())
    got = run_on_nbstream(path)
    assert want, "the frozen output is empty: nothing to compare"
    source = path.read_text()
    fixed_order = "set_parallelism(1)" in source or '"parallelism.default", "1"' in source
    if fixed_order and ".window(" not in source:
        assert got == want
    else:  # subtask prefixes are chance; so is the order of one window's rows across keys
        assert unprefixed(got) == unprefixed(want)


def unprefixed(out: List[str]) -> collections.Counter:
    return collections.Counter(re.sub(r"^\d+> ", "N> ", line) for line in out)


def test_the_examples_are_found_and_those_not_compared_say_why():
    found = {str(p.relative_to(EXAMPLES)): reason(p) for p in programs()}
    assert len(found) >= 12, found
    compared_ones = [n for n, why in found.items() if why is None]
    assert len(compared_ones) >= 5, found
    for name in compared_ones:
        assert frozen(EXAMPLES / name).exists(), f"{name}: run tests/table_examples/freeze.py"


def test_the_unbounded_datastream_example_with_a_datagen_table_runs_and_counts_words():
    """examples/datastream/streaming_word_count.py reads an endless datagen table through
    to_data_stream: it runs unmodified on nbstream (for a few seconds, then stopped) and
    prints rolling word counts of its word list."""
    path = EXAMPLES.parent / "datastream" / "streaming_word_count.py"
    env = dict(os.environ, PYTHONPATH=str(ROOT), TZ="UTC")
    proc = subprocess.Popen([sys.executable, "-m", "nbstream.compat.pyflink", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(path.parent))
    try:
        out, err = proc.communicate(timeout=12)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    words = set(re.findall(r'"(\w+)"', path.read_text()))
    counts = [re.match(r"^(\d+> )?\((\w+),(\d+)\)$", line) for line in lines(out)[1:]]
    assert len(counts) >= 5 and all(counts), (out[-1000:], err[-2000:])
    assert {m.group(2) for m in counts} <= words
