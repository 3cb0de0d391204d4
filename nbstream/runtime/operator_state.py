"""Operator (non-keyed) state for user functions, as Flink's ``CheckpointedFunction``.

A function with ``initialize_state(context)`` and ``snapshot_state(context)`` keeps
lists in the operator state store: ``context.get_operator_state_store()
.get_list_state(descriptor)`` (split among the instances when the parallelism changes)
or ``.get_union_list_state(descriptor)`` (every instance gets all of it).

>>> store = OperatorStateStore({"seen": ("split", [1, 2])})
>>> counts = store.get_list_state(type("D", (), {"name": "seen"})())
>>> counts.add(3); counts.get()
[1, 2, 3]
>>> store.snapshot()
{'seen': ('split', [1, 2, 3])}
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

__all__ = ["OperatorStateStore", "OperatorListState", "FunctionInitializationContext",
           "FunctionSnapshotContext", "redistribute"]

Snapshot = Dict[str, Tuple[str, List[Any]]]


class OperatorListState:
    """A list of this instance's operator state: ``get()``, ``add``, ``add_all``,
    ``update``, ``clear``."""

    def __init__(self, mode: str, values: Optional[List[Any]] = None) -> None:
        self.mode = mode
        self.values: List[Any] = list(values or [])

    def get(self) -> List[Any]:
        return list(self.values)

    def add(self, value: Any) -> None:
        self.values.append(value)

    def add_all(self, values: Iterable[Any]) -> None:
        self.values.extend(values)

    def update(self, values: Iterable[Any]) -> None:
        self.values = list(values)

    def clear(self) -> None:
        self.values = []


class OperatorStateStore:
    """The operator state of one parallel instance, by descriptor name."""

    def __init__(self, restored: Optional[Snapshot] = None) -> None:
        self._restored = dict(restored or {})
        self._states: Dict[str, OperatorListState] = {}

    def _get(self, descriptor: Any, mode: str) -> OperatorListState:
        name = descriptor.name
        state = self._states.get(name)
        if state is None:
            _mode, values = self._restored.pop(name, (mode, []))
            state = self._states[name] = OperatorListState(mode, values)
        return state

    def get_list_state(self, descriptor: Any) -> OperatorListState:
        return self._get(descriptor, "split")

    def get_union_list_state(self, descriptor: Any) -> OperatorListState:
        return self._get(descriptor, "union")

    def snapshot(self) -> Snapshot:
        out = {name: (mode, list(values)) for name, (mode, values) in self._restored.items()}
        out.update({name: (s.mode, list(s.values)) for name, s in self._states.items()})
        return out


def redistribute(snapshots: List[Snapshot], subtask: int, parallelism: int) -> Snapshot:
    """This instance's share after a change of parallelism: split lists are dealt out
    round-robin, union lists go to everyone whole."""
    merged: Dict[str, Tuple[str, List[Any]]] = {}
    for snap in snapshots:
        for name, (mode, values) in snap.items():
            merged.setdefault(name, (mode, []))[1].extend(values)
    return {name: (mode, values if mode == "union" else values[subtask::parallelism])
            for name, (mode, values) in merged.items()}


class FunctionInitializationContext:
    """What ``initialize_state`` gets: whether state was restored, and the stores."""

    def __init__(self, store: OperatorStateStore, keyed_store: Any, restored: bool) -> None:
        self._store, self._keyed, self._restored = store, keyed_store, restored

    def is_restored(self) -> bool:
        return self._restored

    def get_operator_state_store(self) -> OperatorStateStore:
        return self._store

    def get_keyed_state_store(self) -> Any:
        return self._keyed


class FunctionSnapshotContext:
    """What ``snapshot_state`` gets: the checkpoint's id and time."""

    def __init__(self, checkpoint_id: int) -> None:
        self._id = checkpoint_id
        self._ts = int(time.time() * 1000)

    def get_checkpoint_id(self) -> int:
        return self._id

    def get_checkpoint_timestamp(self) -> int:
        return self._ts
