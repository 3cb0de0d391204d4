"""``%%stream --pyflink``: a cell holding a PyFlink program runs on nbstream, as the
runner would run it as a script."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from nbstream.compat import pyflink as compat

PROGRAM = """
from pyflink.common import Types
from pyflink.datastream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
mode = env.get_execution_mode()
(env.from_collection([("a", 1), ("b", 2), ("a", 3)],
                     type_info=Types.TUPLE([Types.STRING(), Types.INT()]))
    .key_by(lambda t: t[0]).sum(1).print())
env.execute()
"""


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext nbstream")
    yield sh
    sh.run_cell("%unload_ext nbstream")


def test_a_pyflink_cell_prints_what_pyflink_prints(shell, capsys):
    result = shell.run_cell("%%stream --pyflink --parallelism 1\n" + PROGRAM)
    assert result.success, result.error_in_exec
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines) == ["(a,1)", "(a,4)", "(b,2)"]
    assert shell.user_ns["mode"] == "thread"
    assert not compat.is_installed()  # outside the cell, pyflink is Flink's again


def test_the_cells_parallelism_default_gives_subtask_prefixes(shell, capsys):
    result = shell.run_cell("%%stream --pyflink --parallelism 2\n" + PROGRAM)
    assert result.success, result.error_in_exec
    lines = capsys.readouterr().out.splitlines()
    assert sorted(line.split("> ", 1)[1] for line in lines) == ["(a,1)", "(a,4)", "(b,2)"]
    assert all(line[:3] in ("1> ", "2> ") for line in lines)


def test_a_jvm_connector_in_a_pyflink_cell_is_named(shell):
    result = shell.run_cell("%%stream --pyflink\n"
                            "from pyflink.datastream.connectors.kafka import KafkaSource\n"
                            "KafkaSource.builder()\n")
    assert not result.success
    assert "KafkaSource.builder (pyflink.datastream.connectors.kafka) is not available in " \
           "nbstream" in str(result.error_in_exec)
