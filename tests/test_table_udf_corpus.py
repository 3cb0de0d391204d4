"""Pipelines of Flink's own Python UDF table tests (``tests/udf_corpus/udf_cases.py``) give on
nbstream the rows real PyFlink 2.3 gave (``expected.txt``, frozen by
``tests/udf_corpus/generate.py``; the command is in udf_cases.py): line for line where Flink's
order is fixed, as the same rows otherwise; in thread and in process mode."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from nbstream.compat import pyflink as compat

HERE = Path(__file__).resolve().parent / "udf_corpus"


def expected() -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    name = None
    for line in (HERE / "expected.txt").read_text().splitlines():
        if line.startswith("##### ") and not line.startswith("##### error"):
            name = line[6:].strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return out


EXPECTED = expected()


@pytest.fixture(scope="module")
def cases():
    sys.path.insert(0, str(HERE))
    try:
        with compat.activated():
            sys.modules.pop("udf_cases", None)
            sys.modules.pop("corpus_functions", None)
            module = importlib.import_module("udf_cases")
            yield module
    finally:
        sys.path.remove(str(HERE))
        sys.modules.pop("udf_cases", None)
        sys.modules.pop("corpus_functions", None)


def _names() -> List[str]:
    return list(EXPECTED)


@pytest.mark.parametrize("mode", ["thread", "process"])
@pytest.mark.parametrize("name", _names())
def test_case_gives_pyflinks_rows(cases, name, mode):
    case = next(c for c in cases.CASES if c.name == name)
    from nbstream.table import EnvironmentSettings, TableEnvironment
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode() if case.batch
                                    else EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("python.execution-mode", mode)
    t_env.get_config().set("parallelism.default", "1")
    t_env.get_config().set("table.local-time-zone", "UTC")
    for key, value in case.config.items():
        t_env.get_config().set(key, value)
    with compat.activated():
        got = cases.render(case.fn(t_env))
    want = EXPECTED[name]
    assert want, f"{name}: PyFlink gave no rows (see expected.txt)"
    if case.ordered:
        assert got == want
    else:
        assert sorted(got) == sorted(want)


def test_every_case_has_pyflinks_output(cases):
    """A case PyFlink refused is not in the corpus; every other one is checked above."""
    text = (HERE / "expected.txt").read_text()
    names = [c.name for c in cases.CASES]
    assert names and all(f"##### {n}" in text for n in names)
