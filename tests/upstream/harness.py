"""Runs the peers' own test suites, unmodified, on nbstream's compatibility layers.

The suites are Flink 2.3's PyFlink tests and the StateFun Python SDK 3.3.0's tests (see the
README beside them). They are not ours to copy into the repository: the harness finds them
at ``../shared/acceptance/upstream-tests`` beside the repository's root, else at
``$NBSTREAM_UPSTREAM_TESTS``, else in a ``shared/`` beside a folder above the repository,
and fails when none exists. It copies a suite into a
temporary folder (pytest writes there), adds a ``conftest.py`` that puts nbstream's
``pyflink`` or ``statefun`` in place, and runs the whole suite in ONE pytest subprocess.

Every test must pass unless ``jvm_only.txt`` lists it with its reason; a listed test that
passes is an error too, so the list stays true. From the command line, a per-file table::

    python tests/upstream/harness.py pyflink --mode process
    python tests/upstream/harness.py statefun --python .venv-statefun/3.3.0/bin/python
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENV_VAR = "NBSTREAM_UPSTREAM_TESTS"
#: suite -> its folder among the upstream tests
SUITES = {"pyflink": "pyflink-2.3", "statefun": "statefun-sdk-3.3.0"}
EXPECTED = HERE / "jvm_only.txt"

PASSED, FAILED, NOT_RUNNABLE, SKIPPED = "passed", "failed", "not runnable", "skipped"

_CONFTEST = {
    "pyflink": "import os, pyflink_support\n"
               "pyflink_support.install(mode=os.environ['NBSTREAM_UPSTREAM_MODE'])\n",
    "statefun": "import nbstream.compat.statefun\n"
                "nbstream.compat.statefun.install(api=3)\n",
}
#: what every suite's conftest also records: the libraries the tests run on
_ENVIRONMENT = (
    "import json, sys\n"
    "def _versions():\n"
    "    import google.protobuf\n"
    "    from google.protobuf.internal import api_implementation\n"
    "    top = 'pyflink' if 'pyflink' in sys.modules else 'statefun'\n"
    "    return {'protobuf': google.protobuf.__version__, 'protobuf_impl': api_implementation.Type(),\n"
    "            'layer': getattr(sys.modules.get(top), '__name__', None),\n"
    "            'layer_doc': (getattr(sys.modules.get(top), '__doc__', None) or '')[:60]}\n"
    "with open(os.environ['NBSTREAM_UPSTREAM_REPORT'] + '.env', 'w') as _out:\n"
    "    json.dump(_versions(), _out)\n")
#: tests a module's classes inherit from a base class it imports (for modules that cannot be
#: imported, whose tests are then counted from their source)
_INHERITED = {"PythonAPICompletenessTestCase": ["test_completeness"]}


def upstream_root() -> Path:
    """The folder of the upstream suites; raises when it cannot be found (never skips)."""
    beside = ROOT.parent / "shared" / "acceptance" / "upstream-tests"
    configured = os.environ.get(ENV_VAR)
    # beside the repository, else beside a folder above it (a clone made one level deeper)
    above = [p / "shared" / "acceptance" / "upstream-tests" for p in ROOT.parents[1:]]
    for candidate in [beside] + ([Path(configured)] if configured else []) + above:
        if (candidate / SUITES["pyflink"]).is_dir():
            return candidate
    raise FileNotFoundError(
        f"the upstream test suites are not at {beside} and ${ENV_VAR} "
        f"({configured or 'unset'}) does not name them: the conformance harness cannot run")


@dataclass
class Outcome:
    outcome: str
    reason: str = ""


@dataclass
class Run:
    suite: str
    mode: str
    tests: Dict[str, Outcome]
    seconds: float
    problems: List[str] = field(default_factory=list)
    #: the protobuf version and implementation the suite ran on, and its layer's module
    environment: Dict[str, str] = field(default_factory=dict)

    def counts(self) -> Counter:
        return Counter(o.outcome for o in self.tests.values())

    def per_file(self) -> Dict[str, Counter]:
        files: Dict[str, Counter] = {}
        for nodeid, o in sorted(self.tests.items()):
            files.setdefault(nodeid.split("::")[0], Counter())[o.outcome] += 1
        return files

    def table(self) -> str:
        rows = [f"{'file':52} {'passed':>6} {'failed':>6} {'not runnable':>12} {'skipped':>7}"]
        for name, c in self.per_file().items():
            rows.append(f"{name:52} {c[PASSED]:>6} {c[FAILED]:>6} {c[NOT_RUNNABLE]:>12} "
                        f"{c[SKIPPED]:>7}")
        c = self.counts()
        rows.append(f"{'total (' + str(len(self.tests)) + ' tests, ' + f'{self.seconds:.0f} s)':52} "
                    f"{c[PASSED]:>6} {c[FAILED]:>6} {c[NOT_RUNNABLE]:>12} {c[SKIPPED]:>7}")
        return "\n".join(rows)


def declared_tests(path: Path, relative: str) -> List[str]:
    """The test ids of a module, read from its source: every ``test_*`` method of each
    class whose bases reach a ``...TestCase`` (for modules pytest could not import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def base_names(node: ast.ClassDef) -> List[str]:
        return [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]

    def methods(name: str) -> set:
        node = classes.get(name)
        if node is None:
            return set(_INHERITED.get(name, ()))
        own = {f.name for f in node.body if isinstance(f, ast.FunctionDef)
               and f.name.startswith("test")}
        return own.union(*(methods(b) for b in base_names(node)))

    def is_case(name: str) -> bool:
        node = classes.get(name)
        if node is None:
            return name.endswith("TestCase")
        return any(is_case(b) for b in base_names(node))

    ids = []
    for name in classes:
        if is_case(name):
            ids += [f"{relative}::{name}::{t}" for t in sorted(methods(name))]
    return ids


def expected_failures(suite: str) -> Dict[str, str]:
    """``jvm_only.txt``'s entries for ``suite``: test id pattern -> reason."""
    entries = {}
    for line in EXPECTED.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where, _, reason = line.partition(" ")
        name, _, pattern = where.partition(":")
        if name == suite:
            entries[pattern] = reason.strip()
    return entries


def check(run: Run) -> List[str]:
    """What is wrong with ``run``: an unlisted test that did not pass, a listed test that
    passed, or a list entry that matches no test."""
    listed = expected_failures(run.suite)
    problems = list(run.problems)
    used = set()
    for nodeid, o in sorted(run.tests.items()):
        match = next((p for p in listed if fnmatch.fnmatchcase(nodeid, p)), None)
        if match is not None:
            used.add(match)
            if o.outcome == PASSED:
                problems.append(f"{nodeid} passes but jvm_only.txt says: {listed[match]}")
        elif o.outcome != PASSED:
            problems.append(f"{nodeid}: {o.outcome}: {o.reason}")
    problems += [f"jvm_only.txt entry {p!r} matches no test" for p in listed if p not in used]
    return problems


def _copy_suite(suite: str, into: Path) -> Path:
    source = upstream_root() / SUITES[suite]
    if suite == "statefun":  # the SDK's tests are the package ``tests``
        shutil.copytree(source, into / "tests")
    else:
        shutil.copytree(source, into, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.txt", "SHA256SUMS"))
    (into / "conftest.py").write_text("import os\n" + _CONFTEST[suite] + _ENVIRONMENT,
                                      encoding="utf-8")
    (into / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n", encoding="utf-8")
    return into / "tests" if suite == "statefun" else into


class SuiteRun:
    """One suite running in its pytest subprocess (so that several can run at once: the
    suites mostly wait, on the upstream tests' own sleeps); :meth:`result` waits for it."""

    def __init__(self, suite: str, mode: str = "thread", python: Optional[str] = None) -> None:
        self.suite, self.mode = suite, mode
        self._tmp = tempfile.TemporaryDirectory(prefix=f"nbstream-upstream-{suite}-")
        self.folder = Path(self._tmp.name)
        _copy_suite(suite, self.folder)
        self.report = self.folder / "outcomes.json"
        env = dict(os.environ, NBSTREAM_UPSTREAM_MODE=mode, NBSTREAM_UPSTREAM_REPORT=str(self.report),
                   PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]), PYTHONDONTWRITEBYTECODE="1")
        env.pop(ENV_VAR, None)
        command = [sys.executable, "-m", "pytest"]
        if python is not None:
            site, python = sysconfig.get_paths()["purelib"], os.path.abspath(python)
            command = [python, "-c", f"import sys; sys.path.append({site!r}); import pytest; "
                       "sys.exit(pytest.main(sys.argv[1:]))"]
        command += ["-q", "-p", "outcomes", "--continue-on-collection-errors", "-o", "timeout=300",
                    "."]
        self._log = open(self.folder / "pytest.log", "w+", encoding="utf-8")
        self._start = time.monotonic()
        self._process = subprocess.Popen(command, cwd=self.folder, env=env, stdout=self._log,
                                         stderr=subprocess.STDOUT, text=True)

    def result(self, timeout_s: float = 1500.0) -> Run:
        try:
            code = self._process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise
        finally:
            seconds = time.monotonic() - self._start
            self._log.seek(0)
            output = self._log.read()
            self._log.close()
        try:
            return self._read(code, output, seconds)
        finally:
            self._tmp.cleanup()

    def _read(self, code: int, output: str, seconds: float) -> Run:
        if not self.report.exists():
            raise RuntimeError(f"the {self.suite} suite did not run (exit {code}):\n{output[-4000:]}")
        data = json.loads(self.report.read_text(encoding="utf-8"))
        tests = {k: Outcome(*v) for k, v in data["tests"].items()}
        for module, why in data["modules"].items():
            path = self.folder / module
            if path.suffix == ".py" and path.exists():
                for nodeid in declared_tests(path, module):
                    tests.setdefault(nodeid, Outcome(NOT_RUNNABLE, why))
        problems = [] if code in (0, 1) else [f"pytest exited with {code}: {output[-2000:]}"]
        env_file = Path(str(self.report) + ".env")
        environment = json.loads(env_file.read_text()) if env_file.exists() else {}
        return Run(self.suite, self.mode, tests, seconds, problems, environment)


def run_suite(suite: str, mode: str = "thread", python: Optional[str] = None,
              timeout_s: float = 1500.0) -> Run:
    """Run one suite in one pytest subprocess; ``mode`` is the default execution mode of
    the PyFlink suite's environments; ``python`` another interpreter (its own
    site-packages first, then this one's, for pytest)."""
    return SuiteRun(suite, mode, python).result(timeout_s)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=sorted(SUITES))
    parser.add_argument("--mode", default="thread", help="default execution mode (PyFlink suite)")
    parser.add_argument("--python", help="run the suite with this interpreter")
    parser.add_argument("--failures", action="store_true", help="list every test not passing")
    args = parser.parse_args(argv)
    run = run_suite(args.suite, args.mode, args.python)
    print(run.table())
    print(f"environment: {run.environment}")
    if args.failures:
        for nodeid, o in sorted(run.tests.items()):
            if o.outcome != PASSED:
                print(f"{o.outcome:12} {nodeid}  {o.reason[:200]}")
    problems = check(run)
    print(f"\n{len(problems)} problem(s) against jvm_only.txt")
    for p in problems[:50]:
        print("  " + p[:300])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
