"""Executors: the one boundary between a physical plan and where its tasks run.

An executor has a ``name`` and ``start(plan, job, clock)``: it starts the job's tasks
and calls ``job._finish()`` once all of them have stopped. ``thread`` is built in;
other modes register a factory with :func:`register_executor` (imported lazily, so
``import nbstream`` stays light).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Tuple, Union

__all__ = ["register_executor", "get_executor", "executor_names", "check_mode", "Executor"]


class Executor:
    """Runs physical plans."""

    name = "?"

    def start(self, plan: Any, job: Any, clock: Any) -> None:
        raise NotImplementedError


_FACTORIES: Dict[str, Union[Callable[[], Executor], str]] = {
    "thread": "nbstream.runtime.executors.thread:ThreadExecutor",
    "flink": "nbstream.flink.executor:FlinkExecutor",
}
_INSTANCES: Dict[str, Executor] = {}
#: modes that need an optional extra: a cheap check that raises, saying how to install it
_CHECKS: Dict[str, str] = {"flink": "nbstream.flink.executor:check_available"}
_DESCRIPTIONS: Dict[str, str] = {
    "thread": "tasks on threads in this process: no serialization, lowest latency, GIL-bound",
    "flink": "a job on Apache Flink (local mini-cluster or remote cluster); needs nbstream[flink]",
}


def register_executor(name: str, factory: Union[Callable[[], Executor], str],
                      description: str = "") -> None:
    """Make execution mode ``name`` available (factory or ``"module:attr"``)."""
    _FACTORIES[name] = factory
    _INSTANCES.pop(name, None)
    if description:
        _DESCRIPTIONS[name] = description


def executor_names() -> Tuple[str, ...]:
    return tuple(_FACTORIES)


def describe_modes() -> Dict[str, str]:
    return {name: _DESCRIPTIONS.get(name, "") for name in _FACTORIES}


def check_mode(name: str) -> None:
    """Raise if mode ``name`` cannot run here (unknown, or its extra is not installed)."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown execution mode {name!r}; valid modes: "
                         + ", ".join(repr(n) for n in _FACTORIES))
    check = _CHECKS.get(name)
    if check is not None:
        module, _, attr = check.partition(":")
        getattr(importlib.import_module(module), attr)()


def get_executor(name: str) -> Executor:
    """The (shared) executor of mode ``name``."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown execution mode {name!r}; valid modes: "
                         + ", ".join(repr(n) for n in _FACTORIES))
    inst = _INSTANCES.get(name)
    if inst is None:
        factory = _FACTORIES[name]
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        inst = _INSTANCES[name] = factory()  # type: ignore[operator]
    return inst
