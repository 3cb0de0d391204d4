"""A pytest plugin for the harness's subprocess: each test's outcome, and each module that
could not be collected, written as JSON to ``$NBSTREAM_UPSTREAM_REPORT`` at the end."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List

_tests: Dict[str, List[str]] = {}
_modules: Dict[str, str] = {}


def _why(report: Any) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.strip().splitlines()[0] if crash.message.strip() else "failed"
    text = str(report.longrepr).strip().splitlines()
    return text[-1] if text else "failed"


def pytest_collectreport(report: Any) -> None:
    if report.failed:
        _modules[report.nodeid] = _why(report)


def pytest_runtest_logreport(report: Any) -> None:
    known = _tests.get(report.nodeid)
    if report.when == "call" or (report.when == "setup" and not report.passed):
        reason = "" if report.passed else (_why(report) if report.failed else "skipped")
        _tests[report.nodeid] = [report.outcome, reason]
    elif report.when == "teardown" and report.failed and known and known[0] == "passed":
        _tests[report.nodeid] = ["failed", "in teardown: " + _why(report)]


def pytest_sessionfinish(session: Any) -> None:
    with open(os.environ["NBSTREAM_UPSTREAM_REPORT"], "w", encoding="utf-8") as out:
        json.dump({"tests": _tests, "modules": _modules}, out)
