"""PyFlink programs run unmodified on nbstream (``python -m nbstream.compat.pyflink``).

Each program in tests/pyflink_programs is written against PyFlink's documented
DataStream API; ``<name>.expected`` is what Apache Flink 2.3 printed for it
(tests/test_pyflink_differential.py re-checks those files against PyFlink itself).
Outputs are compared as multisets of lines; at parallelism > 1 Flink's subtask prefixes
(``2> ``) depend on a random start of round-robin partitioning, so only their presence
is compared.
"""

from __future__ import annotations

import collections
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from nbstream.compat import pyflink as compat
from nbstream.compat.pyflink import NotAvailableError

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "pyflink_programs"
EXPECTED = sorted(p.stem for p in PROGRAMS.glob("*.expected"))


def normalized(lines: List[str]) -> collections.Counter:
    return collections.Counter(re.sub(r"^(\w+:)?\d+> ", r"\1N> ", line) for line in lines if line)


def run_program(name: str, *args: str, python: str = sys.executable, on_nbstream: bool = True,
                cwd: Path = ROOT) -> subprocess.CompletedProcess:
    script = str(PROGRAMS / f"{name}.py")
    cmd = [python, "-m", "nbstream.compat.pyflink", script] if on_nbstream else [python, script]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=600,
                          env=env, cwd=str(cwd))


def expected_lines(name: str) -> List[str]:
    return (PROGRAMS / f"{name}.expected").read_text().splitlines()


@pytest.mark.parametrize("name", EXPECTED)
def test_program_prints_what_pyflink_prints(name):
    out = run_program(name)
    assert out.returncode == 0, out.stderr
    assert normalized(out.stdout.splitlines()) == normalized(expected_lines(name))


def test_word_count_reads_and_writes_files_as_flink_does(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("the quick brown fox jumps over the lazy dog\n")
    (tmp_path / "in" / "b.txt").write_text("the dog sleeps and the fox runs\n"
                                           "a lazy afternoon for a quick fox\n")
    (tmp_path / "in" / ".hidden").write_text("never read\n")
    out = run_program("word_count_batch", "--input", str(tmp_path / "in"),
                      "--output", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr
    parts = list((tmp_path / "out").glob("*/counts-*-0-0.txt"))  # bucket/prefix-uuid-subtask-n
    assert len(parts) == 1, list((tmp_path / "out").rglob("*"))
    assert normalized(parts[0].read_text().splitlines()) == normalized(
        expected_lines("word_count_batch"))


def test_python_execution_mode_of_the_configuration_is_honoured(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\n"
        "from pyflink.common import Configuration\n"
        "from pyflink.datastream import StreamExecutionEnvironment\n"
        "config = Configuration()\n"
        "config.set_string('python.execution-mode', sys.argv[1])\n"
        "config.set_integer('parallelism.default', 3)\n"
        "env = StreamExecutionEnvironment.get_execution_environment(config)\n"
        "print(env.get_execution_mode(), env.get_parallelism())\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.pyflink", str(script), "thread"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["thread", "3"]
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.pyflink", str(script), "warp"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode != 0 and "unknown execution mode 'warp'" in out.stderr


def test_runner_usage_and_missing_script():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.pyflink"], capture_output=True,
                         text=True, env=env, timeout=60)
    assert out.returncode == 2 and "usage: python -m nbstream.compat.pyflink" in out.stderr
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.pyflink", "nope.py"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 2 and "no such script: nope.py" in out.stderr


def test_runner_gives_the_script_its_arguments_and_failures(tmp_path):
    script = tmp_path / "args.py"
    script.write_text("import sys\nprint(sys.argv)\nraise SystemExit(int(sys.argv[2]))\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.pyflink", str(script), "x", "3"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 3
    assert out.stdout.strip() == str([str(script), "x", "3"])


def test_connectors_of_the_jvm_name_the_class_that_is_missing():
    with compat.activated():
        kafka = importlib.import_module("pyflink.datastream.connectors.kafka")
        with pytest.raises(NotAvailableError, match=r"KafkaSource.builder \(pyflink.datastream."
                                                    r"connectors.kafka\) is not available in nbstream"):
            kafka.KafkaSource.builder()  # importing it works: a program may not use it
        namespace = {}
        exec("from pyflink.datastream.connectors.jdbc import JdbcSink", namespace)
        with pytest.raises(NotAvailableError, match="JdbcSink"):
            namespace["JdbcSink"].sink("INSERT ...")
        with pytest.raises(NotAvailableError, match=r"pyflink.table.catalog \(this module\)"):
            importlib.import_module("pyflink.table.catalog")
        assert importlib.import_module("pyflink.table").TableEnvironment.__module__ == \
            "nbstream.compat.pyflink.table.table_environment"
        exec("from pyflink.common import JobID", namespace)
        with pytest.raises(NotAvailableError, match="JobID"):
            namespace["JobID"]()
        with pytest.raises(NotAvailableError, match="pyflink.no_such_module"):
            importlib.import_module("pyflink.no_such_module")


def test_activation_is_undone_and_restores_what_was_there():
    before = {n: m for n, m in sys.modules.items() if n == "pyflink" or n.startswith("pyflink.")}
    with compat.activated():
        import pyflink.datastream  # noqa: F401 - resolves to nbstream
        assert sys.modules["pyflink.datastream"] is compat.datastream
        from pyflink.datastream import StreamExecutionEnvironment
        assert StreamExecutionEnvironment.__module__.startswith("nbstream.compat.pyflink")
    after = {n: m for n, m in sys.modules.items() if n == "pyflink" or n.startswith("pyflink.")}
    assert after == before
    assert not compat.is_installed()


@pytest.mark.parametrize("module", [m for m in compat.MODULES if m])
def test_every_exported_name_resolves(module):
    mod = importlib.import_module("nbstream.compat.pyflink" + module)
    for name in getattr(mod, "__all__", []):
        assert getattr(mod, name) is not None, f"pyflink{module}.{name}"


def test_function_classes_take_pyflink_type_parameters():
    from nbstream import MapFunction as NbMap
    from nbstream.compat.pyflink.datastream.functions import KeyedProcessFunction, MapFunction

    class Twice(MapFunction[int, int]):
        def map(self, value):
            return 2 * value

    assert isinstance(Twice(), NbMap)
    assert KeyedProcessFunction.Context["K"] is KeyedProcessFunction.Context
