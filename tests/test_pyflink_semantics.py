"""PyFlink semantics nbstream had wrong, each compared with what Apache Flink 2.3 itself
prints. The programs are tests/pyflink_programs/<name>.py; their ``.expected`` files are
real PyFlink's output, frozen with the command in each program's docstring (a PyFlink job
takes 10-60 s; tests/test_pyflink_differential.py re-checks them against PyFlink). Each
runs here in thread and in process mode through the PyFlink layer."""

from __future__ import annotations

import runpy

import pytest

from nbstream.compat.pyflink import activated
from tests.test_pyflink_compat import PROGRAMS, expected_lines

MODES = ["thread", "process"]


def run(name: str, mode: str, capsys) -> list:
    with activated(mode=mode):
        runpy.run_path(str(PROGRAMS / f"{name}.py"), run_name="__main__")
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("mode", MODES)
def test_batch_mode_runs_broadcast_connected_steps_at_the_environments_parallelism(mode, capsys):
    """Each broadcast element reaches every instance (``0a`` twice at parallelism 2); the
    step fused after keeps that parallelism; a plain map of the small input runs at 1."""
    lines = run("batch_broadcast", mode, capsys)
    assert lines == expected_lines("batch_broadcast")
    assert lines.count("0a of 2") == 2 and "a plain map of 1" in lines


@pytest.mark.parametrize("mode", MODES)
def test_lists_and_dicts_are_keys_as_in_pyflink(mode, capsys):
    """State, the current key (a list, as the key selector returned it) and reduces by a
    list or dict key, in STREAMING and BATCH mode."""
    lines = run("unhashable_keys", mode, capsys)
    assert lines == expected_lines("unhashable_keys")
    assert "batch: key ['a', 1] (list): 2" in lines


@pytest.mark.parametrize("mode", MODES)
def test_file_sink_text_is_javas_to_string_of_the_declared_types(mode, capsys):
    """SQL_TIME ``12:00:00``, SQL_TIMESTAMP ``2021-01-09 12:00:00.011``, SHORT and INT
    wrapping as Java's, bytes as Java's signed byte lists."""
    lines = run("java_strings", mode, capsys)
    assert lines == expected_lines("java_strings")
    assert ", -21658, 557549056, " in lines[0] and "[0, -56, -1]" in lines[1]


def test_str_of_type_information_is_pyflinks(capsys):
    assert run("type_names", "thread", capsys) == expected_lines("type_names")
