"""Collection rules for the whole repository, and the names the stream classes' doctests
get (the tests' fixtures live in tests/conftest.py).

The flink-mode tests need PyFlink; ``scripts/test`` (the README's test command, and CI)
installs it with ``pip install -e '.[test,flink]'``. Without it they fail, naming the
missing module: nothing is left out silently.
"""

import atexit
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# files nbstream signs (checkpoints, savepoints, recordings) use a key made for this test
# session, never the user's own (~/.config/nbstream/signing.key); worker processes and
# kernels the tests start inherit it
if "NBSTREAM_KEY_FILE" not in os.environ:
    _KEY_FOLDER = tempfile.mkdtemp(prefix="nbstream-key-")
    os.environ["NBSTREAM_KEY_FILE"] = os.path.join(_KEY_FOLDER, "signing.key")
    atexit.register(shutil.rmtree, _KEY_FOLDER, True)

# PyFlink, old-Flink (Jython) and StateFun SDK programs that the tests run as scripts or
# modules: data, not test modules; and the harness of the peers' own test suites, whose
# modules stand for PyFlink's test utilities (they import ``pyflink``)
collect_ignore_glob = ["tests/pyflink_programs/*", "tests/jython_programs/*", "tests/statefun_programs/*",
                       "tests/upstream/*"]


_CELL_LIKE_EXAMPLES = ("nbstream.api.datastream.", "nbstream.api.windowed.")


@pytest.fixture(autouse=True)
def _doctest_names(request):
    """Docstring examples of the stream classes run as a notebook cell would: with
    nbstream's names imported and ``env`` a fresh StreamExecutionEnvironment (only
    there: other modules' examples keep their own names)."""
    if type(request.node).__name__ != "DoctestItem" or not request.node.name.startswith(
            _CELL_LIKE_EXAMPLES):
        yield
        return
    import nbstream

    names = request.getfixturevalue("doctest_namespace")  # one for the whole session
    saved = dict(names)
    names.update({n: getattr(nbstream, n) for n in nbstream.__all__})
    names["env"] = nbstream.StreamExecutionEnvironment.get_execution_environment()
    yield
    names.clear()
    names.update(saved)


def pytest_sessionstart(session):
    """The live view's front end is generated (scripts/build-js bundles js/ with esbuild):
    build it when it is missing or older than its sources, so kernel and browser tests
    never run an old one."""
    static = ROOT / "nbstream" / "notebook" / "static" / "widget.js"
    sources = [p for p in (ROOT / "js").glob("*") if p.is_file()]
    if static.is_file() and all(p.stat().st_mtime <= static.stat().st_mtime for p in sources):
        return
    subprocess.run(["bash", str(ROOT / "scripts" / "build-js")], check=True, cwd=ROOT)
