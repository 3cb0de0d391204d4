"""Process mode with functions from the user's own modules: workers import them as the
driver did (the script's folder, sys.path additions, add_python_file, a notebook's edited
modules), through the PyFlink layer's module names too. Real scripts in temporary folders,
real worker processes."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nbstream import MapFunction, StreamExecutionEnvironment

ROOT = Path(__file__).resolve().parents[1]

HELPER = '''
from pyflink.datastream import MapFunction

class Tag(MapFunction):
    def map(self, value):
        import os  # the pid, and whose MapFunction this is: nbstream's, not Apache Flink's
        return f"{value}:{os.getpid()}:{type(self).__mro__[1].__module__}"
'''

PROGRAM = '''
import os
from pyflink.common import Configuration, Types
from pyflink.datastream import StreamExecutionEnvironment
from helper import Tag

config = Configuration()
config.set_string("python.execution-mode", "process")
env = StreamExecutionEnvironment.get_execution_environment(config)
env.set_parallelism(2)
rows = list(env.from_collection(["a", "b", "c"], Types.STRING()).map(Tag())
            .execute_and_collect())
print(sorted(r.split(":")[0] for r in rows), "workers" if all(
    int(r.split(":")[1]) != os.getpid() for r in rows) else "driver")
'''


def _no_pyflink(tmp_path: Path) -> Path:
    """A folder whose ``pyflink`` cannot be imported: a worker that looked for the real
    PyFlink (not installed, or another version) instead of nbstream's fails on it."""
    fake = tmp_path / "elsewhere" / "pyflink"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'pyflink'\", name='pyflink')\n")
    return fake.parent


def test_a_pyflink_script_whose_map_function_lives_in_a_helper_module(tmp_path):
    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "helper.py").write_text(HELPER)
    (folder / "prog.py").write_text(PROGRAM)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(_no_pyflink(tmp_path))]))
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.pyflink", "prog.py"],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "['a', 'b', 'c'] workers"


NBSTREAM_PROGRAM = '''
import os, sys
from nbstream import StreamExecutionEnvironment

env = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": "process"})
env.set_parallelism(2)
print(sorted(env.from_collection([1, 2]).map(lambda x: x).execute_and_collect()))  # warm pool
sys.path.append(sys.argv[1])                 # added after the workers started
from later import Twice                      # noqa: E402
print(sorted(env.from_collection([1, 2]).map(Twice()).execute_and_collect()))
'''


def test_nbstream_script_with_a_module_from_a_folder_added_after_the_pool_started(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "later.py").write_text(textwrap.dedent('''
        from nbstream import MapFunction
        class Twice(MapFunction):
            def map(self, value):
                return 2 * value
    '''))
    (tmp_path / "prog.py").write_text(NBSTREAM_PROGRAM)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, str(tmp_path / "prog.py"), str(tmp_path / "lib")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["[1,", "2]", "[2,", "4]"]


def _write_module(path: Path, body: str, stamp_ns: int) -> None:
    path.write_text(body)
    os.utime(path, ns=(stamp_ns, stamp_ns))  # a new version, even within the clock's tick


def test_an_edited_and_reloaded_module_reaches_the_warm_workers(tmp_path, monkeypatch):
    """As in a notebook: import a local module, run in process mode, edit the module,
    reload it, run again: the warm workers run the new version, as thread mode does."""
    module = tmp_path / "nb_local_step.py"
    _write_module(module, "def step(x):\n    return x + 1\n", 1_000_000_000_000_000_000)
    monkeypatch.syspath_prepend(str(tmp_path))
    import nb_local_step

    class Step(MapFunction):  # defined here, calls the module by name in the worker
        def map(self, value):
            import nb_local_step as m
            return m.step(value)

    def run(mode: str) -> list:
        env = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": mode})
        env.set_parallelism(2)
        return sorted(env.from_collection([1, 2, 3]).map(Step()).execute_and_collect())

    try:
        assert run("process") == run("thread") == [2, 3, 4]
        _write_module(module, "def step(x):\n    return x * 10\n", 2_000_000_000_000_000_000)
        importlib.reload(nb_local_step)
        assert run("thread") == [10, 20, 30]
        assert run("process") == [10, 20, 30]
    finally:
        sys.modules.pop("nb_local_step", None)


def test_add_python_file_makes_a_module_importable_in_the_workers(tmp_path):
    deps = tmp_path / "deps"
    deps.mkdir()
    (deps / "shipped_dep.py").write_text("def add_two(a):\n    return a + 2\n")

    def plus_two(value):
        from shipped_dep import add_two
        return add_two(value)

    from nbstream.compat.pyflink import activated
    with activated():
        from pyflink.datastream import StreamExecutionEnvironment as PyFlinkEnvironment
        env = PyFlinkEnvironment.get_execution_environment()
        env.set_parallelism(2).set_execution_mode("process")
        env.add_python_file(str(deps / "shipped_dep.py"))
        try:
            assert sorted(env.from_collection([1, 2, 3]).map(plus_two).execute_and_collect()) \
                == [3, 4, 5]
        finally:
            sys.path[:] = [p for p in sys.path if p != str(deps)]
            sys.modules.pop("shipped_dep", None)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_pyflink_names_resolve_in_workers_while_the_layer_is_installed(tmp_path, monkeypatch, mode):
    (tmp_path / "pyflink_user_step.py").write_text(HELPER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(_no_pyflink(tmp_path)))  # workers get this path too
    from nbstream.compat.pyflink import activated
    with activated(mode=mode, parallelism=2):
        from pyflink_user_step import Tag
        from pyflink.datastream import StreamExecutionEnvironment as PyFlinkEnvironment
        env = PyFlinkEnvironment.get_execution_environment()
        rows = list(env.from_collection(["x", "y"]).map(Tag()).execute_and_collect())
    sys.modules.pop("pyflink_user_step", None)
    assert sorted(r.split(":")[0] for r in rows) == ["x", "y"]
    in_workers = all(int(r.split(":")[1]) != os.getpid() for r in rows)
    assert in_workers == (mode == "process")
    assert {r.split(":")[2] for r in rows} == {"nbstream.api.functions"}


NOTEBOOK_MODULE = '''
from nbstream import MapFunction

class Step(MapFunction):
    def map(self, value):
        return value + {delta}
'''


def test_a_notebooks_local_module_and_its_edits_reach_the_workers(tmp_path):
    """In a real kernel: a module beside the notebook (the kernel's working directory),
    imported in a cell, runs in process mode's workers; edited and reloaded, the warm
    workers run the new version, as thread mode does."""
    from kernel import Kernel

    kernel = Kernel()
    try:
        assert kernel.execute(f"import os, importlib; os.chdir({str(tmp_path)!r})").ok
        (tmp_path / "nb_step.py").write_text(NOTEBOOK_MODULE.format(delta=1))
        run = ("from nbstream import StreamExecutionEnvironment\n"
               "def run(mode):\n"
               "    env = StreamExecutionEnvironment.get_execution_environment()\n"
               "    env.set_execution_mode(mode).set_parallelism(2)\n"
               "    return sorted(env.from_collection([1, 2]).map(nb_step.Step()).execute_and_collect())\n")
        assert kernel.execute("import nb_step\n" + run).ok
        first = kernel.execute("print(run('process'), run('thread'))")
        assert first.stdout.strip() == "[2, 3] [2, 3]", first
        (tmp_path / "nb_step.py").write_text(NOTEBOOK_MODULE.format(delta=100))
        os.utime(tmp_path / "nb_step.py", ns=(4_000_000_000_000_000_000,) * 2)
        second = kernel.execute("importlib.reload(nb_step); print(run('process'), run('thread'))")
        assert second.stdout.strip() == "[101, 102] [101, 102]", second
    finally:
        kernel.close()
