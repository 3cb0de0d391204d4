"""Executors: the one boundary between a physical plan and where its tasks run.

An executor has a ``name`` and ``start(plan, job, clock)``: it starts the job's tasks
and calls ``job._finish()`` once all of them have stopped. ``thread``, ``process`` and
``auto`` are built in; other modes register a factory with :func:`register_executor`
(imported lazily, so ``import nbstream`` stays light), as :mod:`nbstream.flink` does.

Each chain of a plan has a mode (``plan.chain_mode``); :func:`executor_for` picks the
executor that can run that mix: ``process`` runs thread and process chains together,
``auto`` runs all three.

>>> executor_for(["thread", "thread"]), executor_for(["thread", "process"])
('thread', 'process')
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Dict, Iterable, Tuple, Union

__all__ = ["register_executor", "get_executor", "executor_names", "executor_for", "check_mode",
           "unknown_mode",
           "Executor", "gil_enabled", "chain_label"]


def chain_label(plan: Any, chain_id: int) -> str:
    """How a chain is named in ``job.placement``: its id and its steps."""
    names = " -> ".join(plan.nodes[n].name for n in plan.chain(chain_id).nodes)
    return f"chain {chain_id}: {names}"


class Executor:
    """Runs physical plans."""

    name = "?"

    def start(self, plan: Any, job: Any, clock: Any) -> None:
        raise NotImplementedError


def gil_enabled() -> bool:
    """False on a free-threaded CPython (3.13t and later) running without the GIL,
    where threads run Python code in parallel."""
    probe = getattr(sys, "_is_gil_enabled", None)
    return True if probe is None else bool(probe())


_FACTORIES: Dict[str, Union[Callable[[], Executor], str]] = {
    "thread": "nbstream.runtime.executors.thread:ThreadExecutor",
    "process": "nbstream.runtime.executors.process:ProcessExecutor",
    "auto": "nbstream.runtime.executors.auto:AutoExecutor",
}
_INSTANCES: Dict[str, Executor] = {}
#: modes that need an optional extra: a cheap check that raises, saying how to install it
_CHECKS: Dict[str, str] = {}
_DESCRIPTIONS: Dict[str, str] = {
    "thread": ("tasks on threads in this process: no serialization, lowest latency, "
               + ("GIL-bound" if gil_enabled() else "parallel (free-threaded CPython)")),
    "process": ("tasks in a warm pool of worker processes: functions travel with cloudpickle, "
                "records in batches; CPU-heavy Python functions use every core"),
    "auto": ("measures each step on its first records: CPU-bound steps go to worker processes, "
             "I/O-bound ones stay on threads"),
}
# executors that can run plans mixing modes, and the modes each can mix
_MIXERS = (("process", frozenset({"thread", "process"})),
           ("auto", frozenset({"thread", "process", "auto"})))


def register_executor(name: str, factory: Union[Callable[[], Executor], str],
                      description: str = "", check: str = "") -> None:
    """Make execution mode ``name`` available (factory or ``"module:attr"``); ``check``
    (``"module:attr"``) names a cheap function that raises when the mode cannot run here,
    saying how to install what it needs."""
    _FACTORIES[name] = factory
    _INSTANCES.pop(name, None)
    if description:
        _DESCRIPTIONS[name] = description
    if check:
        _CHECKS[name] = check


def executor_names() -> Tuple[str, ...]:
    return tuple(_FACTORIES)


def describe_modes() -> Dict[str, str]:
    return {name: _DESCRIPTIONS.get(name, "") for name in _FACTORIES}


def executor_for(modes: Iterable[str]) -> str:
    """The executor that runs a plan whose chains have ``modes``."""
    wanted = set(modes) or {"thread"}
    if len(wanted) == 1:
        return next(iter(wanted))
    for name, mixes in _MIXERS:
        if wanted <= mixes:
            return name
    from ...errors import PlanError

    raise PlanError("these execution modes cannot run in one job: "
                     + ", ".join(sorted(repr(m) for m in wanted)))


def unknown_mode(name: str) -> ValueError:
    """The error for an execution mode nobody registered."""
    return ValueError(f"unknown execution mode {name!r}; valid modes: "
                      + ", ".join(repr(n) for n in _FACTORIES))


def check_mode(name: str) -> None:
    """Raise if mode ``name`` cannot run here (unknown, or its extra is not installed)."""
    if name not in _FACTORIES:
        raise unknown_mode(name)
    check = _CHECKS.get(name)
    if check is not None:
        module, _, attr = check.partition(":")
        getattr(importlib.import_module(module), attr)()


def get_executor(name: str) -> Executor:
    """The (shared) executor of mode ``name``."""
    if name not in _FACTORIES:
        raise unknown_mode(name)
    inst = _INSTANCES.get(name)
    if inst is None:
        factory = _FACTORIES[name]
        if isinstance(factory, str):
            module, _, attr = factory.partition(":")
            factory = getattr(importlib.import_module(module), attr)
        inst = _INSTANCES[name] = factory()  # type: ignore[operator]
    return inst
