"""Keyed state: values scoped to the current key (and, for windows, a namespace).

A :class:`KeyedStateBackend` belongs to one keyed operator instance; the operator
sets ``current_key`` (and ``namespace``) before calling user code, and the state
objects read and write plain dicts, so state access is a dict lookup.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

__all__ = ["KeyedStateBackend", "ValueState", "ListState", "MapState", "ReducingState",
           "AggregatingState"]


class KeyedStateBackend:
    """Holds every keyed state of one operator instance."""

    def __init__(self) -> None:
        self.current_key: Any = None
        self.namespace: Any = None
        self._states: Dict[str, "_State"] = {}

    def slot(self) -> Any:
        ns = self.namespace
        return self.current_key if ns is None else (ns, self.current_key)

    def get(self, descriptor: Any) -> "_State":
        """The state object for ``descriptor`` (created on first use, shared after)."""
        name = descriptor.name
        state = self._states.get(name)
        if state is None:
            kind = getattr(descriptor, "state_kind", None)
            cls = _KINDS.get(kind)
            if cls is None:
                raise TypeError(f"{type(descriptor).__name__} is not a state descriptor")
            state = self._states[name] = cls(self, descriptor)
            ttl = getattr(descriptor, "ttl_config", None)
            if ttl is not None and hasattr(self, "apply_ttl"):
                self.apply_ttl(state, ttl)  # type: ignore[attr-defined]
        elif type(state).kind != getattr(descriptor, "state_kind", None):
            raise TypeError(f"state '{name}' was declared as {type(state).kind} state before")
        return state

    def states(self) -> Dict[str, "_State"]:
        return dict(self._states)


class _State:
    kind = ""

    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        self._backend = backend
        self._descriptor = descriptor
        self._data: Dict[Any, Any] = {}

    def clear(self) -> None:
        self._data.pop(self._backend.slot(), None)

    # used by window operators and timers
    def _get_raw(self) -> Any:
        return self._data.get(self._backend.slot())

    def _set_raw(self, value: Any) -> None:
        self._data[self._backend.slot()] = value

    def keys_with_state(self) -> Iterator[Any]:
        return iter(self._data)


class ValueState(_State):
    """One value per key: ``value()``, ``update(v)``, ``clear()``."""

    kind = "value"

    def value(self) -> Any:
        return self._data.get(self._backend.slot())

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._data[self._backend.slot()] = value


class ListState(_State):
    """A list per key: ``get()``, ``add(v)``, ``add_all(vs)``, ``update(vs)``, ``clear()``."""

    kind = "list"

    def get(self) -> List[Any]:
        return list(self._data.get(self._backend.slot(), ()))

    def add(self, value: Any) -> None:
        slot = self._backend.slot()
        lst = self._data.get(slot)
        if lst is None:
            self._data[slot] = [value]
        else:
            lst.append(value)

    def add_all(self, values: Iterable[Any]) -> None:
        slot = self._backend.slot()
        self._data.setdefault(slot, []).extend(values)
        if not self._data[slot]:
            del self._data[slot]

    def update(self, values: Iterable[Any]) -> None:
        values = list(values)
        if values:
            self._data[self._backend.slot()] = values
        else:
            self.clear()


class MapState(_State):
    """A dict per key: ``get``, ``put``, ``put_all``, ``remove``, ``contains``, ``items`` ..."""

    kind = "map"

    def _map(self) -> Dict[Any, Any]:
        return self._data.get(self._backend.slot(), {})

    def _map_for_write(self) -> Dict[Any, Any]:
        return self._data.setdefault(self._backend.slot(), {})

    def get(self, key: Any) -> Any:
        return self._map().get(key)

    def put(self, key: Any, value: Any) -> None:
        self._map_for_write()[key] = value

    def put_all(self, mapping: Dict[Any, Any]) -> None:
        self._map_for_write().update(mapping)

    def remove(self, key: Any) -> None:
        m = self._map()
        m.pop(key, None)
        if not m:
            self.clear()

    def contains(self, key: Any) -> bool:
        return key in self._map()

    def items(self) -> List[Tuple[Any, Any]]:
        return list(self._map().items())

    def keys(self) -> List[Any]:
        return list(self._map().keys())

    def values(self) -> List[Any]:
        return list(self._map().values())

    def is_empty(self) -> bool:
        return not self._map()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __contains__(self, key: Any) -> bool:
        return self.contains(key)

    def __getitem__(self, key: Any) -> Any:
        return self.get(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: Any) -> None:
        self.remove(key)


def _call(fn: Any, method: str) -> Callable[..., Any]:
    return getattr(fn, method) if hasattr(fn, method) else fn


class ReducingState(_State):
    """Values folded into one with the descriptor's reduce function: ``add(v)``, ``get()``."""

    kind = "reducing"

    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        super().__init__(backend, descriptor)
        self._reduce = _call(descriptor.reduce_function, "reduce")

    def get(self) -> Any:
        return self._data.get(self._backend.slot())

    def add(self, value: Any) -> None:
        slot = self._backend.slot()
        data = self._data
        data[slot] = value if slot not in data else self._reduce(data[slot], value)


class AggregatingState(_State):
    """Values added into an accumulator of the descriptor's AggregateFunction."""

    kind = "aggregating"

    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        super().__init__(backend, descriptor)
        self._agg = descriptor.agg_function

    def get(self) -> Optional[Any]:
        acc = self._data.get(self._backend.slot())
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        slot = self._backend.slot()
        acc = self._data.get(slot)
        if acc is None:
            acc = self._agg.create_accumulator()
        self._data[slot] = self._agg.add(value, acc)


_KINDS = {cls.kind: cls for cls in (ValueState, ListState, MapState, ReducingState,
                                    AggregatingState)}
