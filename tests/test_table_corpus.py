"""The SQL corpus (``tests/table_corpus/cases.py``) on nbstream prints what real PyFlink 2.3
printed (``expected.txt``, frozen by ``tests/table_corpus/generate.py``; the command is in
cases.py): line for line where Flink's order is fixed, as the same rows otherwise."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Dict, List

import pytest

HERE = Path(__file__).resolve().parent / "table_corpus"
sys.path.insert(0, str(HERE))

from cases import CASES, DDL  # noqa: E402

from nbstream.table import EnvironmentSettings, TableEnvironment  # noqa: E402


def expected() -> Dict[str, str]:
    out: Dict[str, List[str]] = {}
    name = None
    for line in (HERE / "expected.txt").read_text().splitlines():
        if line.startswith("##### ") and not line.startswith("##### error"):
            name = line[6:].strip()
            out[name] = []
        elif name is not None:
            out[name].append(line)
    return {k: "\n".join(v).strip("\n") for k, v in out.items()}


EXPECTED = expected()
_ENVS: Dict[str, TableEnvironment] = {}


def environment(mode: str) -> TableEnvironment:
    if mode not in _ENVS:
        settings = (EnvironmentSettings.in_streaming_mode() if mode == "streaming"
                    else EnvironmentSettings.in_batch_mode())
        t_env = TableEnvironment.create(settings)
        t_env.get_config().set("parallelism.default", "1")
        t_env.get_config().set("table.local-time-zone", "UTC")
        for ddl in DDL:
            t_env.execute_sql(ddl.replace("{data}", str(HERE / "data")))
        _ENVS[mode] = t_env
    return _ENVS[mode]


def run(mode: str, stmt: str) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        try:
            result = environment(mode).execute_sql(stmt)
            if stmt.lstrip().split()[0].upper() in ("INSERT", "EXECUTE"):
                result.wait()
            result.print()
        except Exception as exc:  # compared with Flink's failure
            print(f"##### error {type(exc).__name__}: {exc}")
    return buffer.getvalue().strip("\n")


def table_rows(text: str) -> List[str]:
    lines = text.splitlines()
    return sorted(line for line in lines[3:] if line.startswith("|"))


def final_rows(text: str) -> List[str]:
    """The rows a printed changelog leaves (+I/+U add a row, -U/-D take one away)."""
    rows: List[str] = []
    for line in text.splitlines()[3:]:
        if not line.startswith("| "):
            continue
        kind, rest = line[2:4], line[line.index("|", 1):]
        if kind in ("+I", "+U"):
            rows.append(rest)
        else:
            rows.remove(rest)
    return sorted(rows)


@pytest.mark.parametrize("name, mode, stmt, compare", CASES, ids=[c[0] for c in CASES])
def test_corpus_case_prints_what_pyflink_printed(name, mode, stmt, compare):
    want = EXPECTED[name]
    got = run(mode, stmt)
    if want.startswith("##### error"):
        assert got.startswith("##### error"), got
        return
    if compare == "lines":
        assert got == want
    elif compare == "final":
        assert got.splitlines()[:3] == want.splitlines()[:3]
        assert final_rows(got) == final_rows(want)
    elif not want.startswith("+"):  # lines of the print connector, in any order
        assert sorted(got.splitlines()) == sorted(want.splitlines())
    else:
        assert got.splitlines()[:3] == want.splitlines()[:3]
        assert table_rows(got) == table_rows(want)
        assert got.splitlines()[-1] == want.splitlines()[-1]


def test_the_corpus_and_its_expected_output_match():
    assert set(EXPECTED) == {c[0] for c in CASES}
    assert os.path.isdir(HERE / "data")
