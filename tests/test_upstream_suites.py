"""The peers' own test suites, unmodified, on nbstream's compatibility layers: Flink 2.3's
PyFlink tests (thread mode, and process mode as the environments' default) and the StateFun
Python SDK 3.3.0's tests (with this environment's protobuf, and beside the real SDK with its
pure-Python protobuf 3.20). Each suite runs in one pytest subprocess
(``tests/upstream/harness.py``); every test passes unless ``tests/upstream/jvm_only.txt``
lists it with the reason it needs Flink's JVM, and no listed test passes.
"""

from __future__ import annotations

import pytest

from statefun_peer import sdk_python
from upstream import harness


def _assert_conforms(run: harness.Run) -> None:
    problems = harness.check(run)
    assert not problems, f"{run.suite} suite ({run.mode}):\n{run.table()}\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def runs():
    """The four runs, started at once: they mostly wait on the upstream tests' own sleeps
    (the PyFlink suite's async tests sleep ~30 s), so together they take as long as one."""
    started = {"pyflink thread": harness.SuiteRun("pyflink", "thread"),
               "pyflink process": harness.SuiteRun("pyflink", "process"),
               "statefun": harness.SuiteRun("statefun"),
               "statefun protobuf 3.20": harness.SuiteRun("statefun", python=str(sdk_python()))}
    results = {}
    try:
        for name, run in started.items():
            results[name] = run.result()
    finally:
        for name, run in started.items():
            if name not in results:
                run._process.kill()
    return results


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_pyflink_suite(runs, mode):
    """Flink 2.3's PyFlink tests; ``mode`` is the environments' default (a test's own
    python.execution-mode setting still wins, as in Flink)."""
    run = runs[f"pyflink {mode}"]
    _assert_conforms(run)
    assert "on nbstream" in run.environment["layer_doc"]
    assert run.counts()[harness.PASSED] >= 240
    print(f"\n{run.table()}")


def test_statefun_suite(runs):
    run = runs["statefun"]
    assert run.counts()[harness.PASSED] == 34
    _assert_conforms(run)
    assert "on nbstream" in run.environment["layer_doc"]


def test_statefun_suite_beside_the_real_sdk_on_protobuf_3_20(runs):
    """In the real SDK's virtualenv (its pure-Python protobuf 3.20), ``statefun`` being
    nbstream's: the request-reply handler works with that protobuf too."""
    run = runs["statefun protobuf 3.20"]
    assert run.counts()[harness.PASSED] == 34
    _assert_conforms(run)
    assert run.environment["protobuf"].startswith("3.20")
    assert run.environment["protobuf_impl"] == "python"
    assert "on nbstream" in run.environment["layer_doc"]


def test_missing_suites_fail_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "ROOT", tmp_path / "repo")
    monkeypatch.setenv(harness.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="cannot run"):
        harness.upstream_root()
    found = tmp_path / "elsewhere"
    (found / harness.SUITES["pyflink"]).mkdir(parents=True)
    monkeypatch.setenv(harness.ENV_VAR, str(found))
    assert harness.upstream_root() == found


def test_the_list_must_stay_true():
    listed = next(iter(harness.expected_failures("pyflink")))
    some_id = listed.replace("*", "AnyClass")
    run = harness.Run("pyflink", "thread", {
        some_id: harness.Outcome(harness.PASSED),
        "x/test_x.py::C::test_y": harness.Outcome(harness.FAILED, "boom")}, 0.0)
    problems = harness.check(run)
    assert any("passes but jvm_only.txt says" in p for p in problems)
    assert any("test_y: failed: boom" in p for p in problems)
    assert any("matches no test" in p for p in problems)
