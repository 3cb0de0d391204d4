"""Shared fixtures.

``make_env`` builds environments in every execution mode listed in ``MODES``; tests
of semantics take it (or ``env``) so the same test runs in each mode. After every
test, no nbstream thread may be left running.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, List

import pytest

from nbstream import StreamExecutionEnvironment

MODES: List[str] = ["thread", "process"]


def collect(stream: Any) -> List[Any]:
    """Run the job of ``stream`` to its end and return every record."""
    return list(stream.execute_and_collect())


def _nbstream_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("nbstream[")]


@pytest.fixture(autouse=True)
def no_leaked_threads():
    before = set(_nbstream_threads())
    yield
    deadline = time.monotonic() + 10
    while True:
        left = [t for t in _nbstream_threads() if t not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not left, f"threads left running after the test: {[t.name for t in left]}"


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


@pytest.fixture
def make_env(mode: str) -> Callable[..., StreamExecutionEnvironment]:
    """``make_env(parallelism=1, **config)``: a fresh environment in the test's mode."""
    def make(parallelism: int = 1, **config: Any) -> StreamExecutionEnvironment:
        env = StreamExecutionEnvironment.get_execution_environment(config or None)
        env.set_execution_mode(mode)
        env.set_parallelism(parallelism)
        return env
    return make


@pytest.fixture
def env(make_env) -> StreamExecutionEnvironment:
    return make_env(1)
