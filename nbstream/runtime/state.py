"""Keyed state: values scoped to the current key (and, for windows, a namespace).

A :class:`KeyedStateBackend` belongs to one keyed operator instance; the operator
sets ``current_key`` (and ``namespace``) before calling user code, and the state
objects read and write plain dicts, so state access is a dict lookup. Given a ``store``
(the RocksDB backend, :mod:`nbstream.runtime.state_backends`), each state's entries are
a mutable mapping of the store's instead, and the state code is the same.

A descriptor with a ``ttl_config`` gets a state whose entries expire in processing
time, as Flink's TTL state (see :class:`nbstream.StateTtlConfig`).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

__all__ = ["KeyedStateBackend", "StateSpec", "ValueState", "ListState", "MapState", "ReducingState",
           "AggregatingState"]


class StateSpec:
    """A descriptor for the runtime's own states (triggers, assigners): name and kind."""

    __slots__ = ("name", "state_kind", "reduce_function")
    ttl_config = None

    def __init__(self, name: str, state_kind: str, reduce_function: Any = None) -> None:
        self.name = name
        self.state_kind = state_kind
        self.reduce_function = reduce_function

    def __reduce__(self):
        return (StateSpec, (self.name, self.state_kind, self.reduce_function))


class KeyedStateBackend:
    """Holds every keyed state of one operator instance."""

    def __init__(self, now_ms: Optional[Callable[[], int]] = None, store: Any = None) -> None:
        self.current_key: Any = None
        self.namespace: Any = None
        self.now_ms = now_ms if now_ms is not None else _system_now_ms
        self._states: Dict[str, "_State"] = {}
        self._restored: Dict[str, Any] = {}
        # None: each state's entries in a dict. Else ``store.mapping(name)`` gives a
        # state's entries as a mutable mapping (RocksDB: nbstream.runtime.state_backends).
        self.store = store

    def snapshot(self) -> Dict[str, Tuple[str, Dict[Any, Any]]]:
        """Every state's entries by name: ``{name: (kind, {slot: value})}`` (not copied
        with the dict store: the caller serializes at once; read into a dict from a store,
        or for an incremental RocksDB checkpoint a marker of where they are)."""
        if self.store is not None:  # a store's mapping gives a dict, or says where it is
            out = {name: (type(st).kind, st._data.snapshot()) for name, st in self._states.items()}
            for name, data in self._restored.items():
                out.setdefault(name, ("", data.snapshot()))
            for name in self.store.names():  # in the store (a native checkpoint), not used yet
                if name not in out:
                    out[name] = ("", self.store.mapping(name).snapshot())
            return out
        out = {name: (type(st).kind, st._data) for name, st in self._states.items()}
        for name, data in self._restored.items():  # restored but not used since
            out.setdefault(name, ("", data))
        return out

    def restore(self, snapshot: Dict[str, Tuple[str, Dict[Any, Any]]]) -> None:
        """Take entries from :meth:`snapshot`; each state gets them when first used
        (with a store: written to the store at once)."""
        store = self.store
        for name, (_kind, data) in snapshot.items():
            if store is not None and name not in self._states:
                self._restored[name] = store.mapping(name)
                self._restored[name].update(data)
                continue
            self._restored.setdefault(name, {}).update(data)
            state = self._states.get(name)
            if state is not None:
                state._data.update(self._restored.pop(name))

    def entries(self, name: str) -> Any:
        """A dict for an operator's own keyed entries (a window operator's contents),
        or with a store, a mapping of the store's (so those entries leave memory too)."""
        return {} if self.store is None else self.store.mapping(f"#{name}")

    def slot(self) -> Any:
        ns = self.namespace
        return self.current_key if ns is None else (ns, self.current_key)

    def get(self, descriptor: Any) -> "_State":
        """The state object for ``descriptor`` (created on first use, shared after)."""
        name = descriptor.name
        state = self._states.get(name)
        if state is None:
            kind = getattr(descriptor, "state_kind", None)
            ttl = getattr(descriptor, "ttl_config", None)
            cls = (_TTL_KINDS if ttl is not None else _KINDS).get(kind)
            if cls is None:
                raise TypeError(f"{type(descriptor).__name__} is not a state descriptor")
            state = self._states[name] = cls(self, descriptor)
            if self._restored:
                restored = self._restored.pop(name, None)
                if restored is not None and restored is not state._data:
                    state._data.update(restored)
        elif type(state).kind != getattr(descriptor, "state_kind", None):
            raise TypeError(f"state '{name}' was declared as {type(state).kind} state before")
        return state

    def states(self) -> Dict[str, "_State"]:
        return dict(self._states)

    def merge_namespaces(self, descriptor: Any, target: Any, sources: Iterable[Any]) -> None:
        """Fold the state of ``descriptor`` in namespaces ``sources`` into ``target``
        (for the current key), as merging windows do. List, reducing and aggregating
        states merge; others cannot."""
        state = self.get(descriptor)
        merge = getattr(state, "_merge_values", None)
        if merge is None:
            raise TypeError(f"state '{descriptor.name}' ({type(state).kind} state) cannot be "
                            "merged; merging windows need list, reducing or aggregating state")
        key, data = self.current_key, state._data
        slot = (target, key)
        for ns in sources:
            value = data.pop((ns, key), None)
            if value is not None:
                current = data.get(slot)
                data[slot] = value if current is None else merge(current, value)


def _system_now_ms() -> int:
    return int(time.time() * 1000)


class _State:
    kind = ""

    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        self._backend = backend
        self._descriptor = descriptor
        store = backend.store
        self._data: Dict[Any, Any] = {} if store is None else store.mapping(descriptor.name)
        # a declared type that changes values (a FLOAT is 32-bit in PyFlink's state)
        info = getattr(descriptor, "type_info", None)
        self._typed: Any = info.from_value if getattr(info, "converts", False) else None

    def clear(self) -> None:
        self._data.pop(self._backend.slot(), None)

    def keys_with_state(self) -> Iterator[Any]:
        return iter(self._data)

    def entries(self) -> Tuple[Any, bool]:
        """The state's values by key (a state without namespaces), for a loop that reads and
        writes many keys' values itself, and whether a value changed in place is stored
        (a dict: yes; a state store's mapping: write it back)."""
        return self._data, type(self._data) is dict


class ValueState(_State):
    """One value per key: ``value()``, ``update(v)``, ``clear()``."""

    kind = "value"

    @property
    def holds_objects(self) -> bool:
        """Whether ``value()`` is the stored object itself (heap state, no TTL, no type
        conversion), so changing a mutable value in place needs no ``update``."""
        return type(self) is ValueState and type(self._data) is dict and self._typed is None

    def value(self) -> Any:
        return self._data.get(self._backend.slot())

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._data[self._backend.slot()] = value if self._typed is None else self._typed(value)


class ListState(_State):
    """A list per key: ``get()``, ``add(v)``, ``add_all(vs)``, ``update(vs)``, ``clear()``."""

    kind = "list"

    def get(self) -> List[Any]:
        return list(self._data.get(self._backend.slot(), ()))

    def add(self, value: Any) -> None:
        if self._typed is not None:
            value = self._typed(value)
        slot = self._backend.slot()
        lst = self._data.get(slot)
        if lst is None:
            self._data[slot] = [value]
        else:
            lst.append(value)

    def add_all(self, values: Iterable[Any]) -> None:
        if self._typed is not None:
            values = [self._typed(v) for v in values]
        slot = self._backend.slot()
        self._data.setdefault(slot, []).extend(values)
        if not self._data[slot]:
            del self._data[slot]

    def update(self, values: Iterable[Any]) -> None:
        values = [self._typed(v) for v in values] if self._typed is not None else list(values)
        if values:
            self._data[self._backend.slot()] = values
        else:
            self.clear()

    @staticmethod
    def _merge_values(a: List[Any], b: List[Any]) -> List[Any]:
        return a + b


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

    def _merge_values(self, a: Any, b: Any) -> Any:
        return self._reduce(a, b)


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

    def _merge_values(self, a: Any, b: Any) -> Any:
        return self._agg.merge(a, b)


_KINDS = {cls.kind: cls for cls in (ValueState, ListState, MapState, ReducingState,
                                    AggregatingState)}


# -- time-to-live ------------------------------------------------------------------------------
# Entries are stored as (value, last_access_ms). An entry is expired once
# last_access + ttl <= now; reading it removes it (returning it once when the
# visibility is ReturnExpiredIfNotCleanedUp).

class _TtlMixin:
    _backend: KeyedStateBackend
    _descriptor: Any

    def _setup_ttl(self) -> None:
        ttl = self._descriptor.ttl_config
        self._ttl = int(ttl.ttl_ms)
        self._refresh_on_read = ttl.update_type.name == "OnReadAndWrite"
        self._return_expired = ttl.state_visibility.name == "ReturnExpiredIfNotCleanedUp"
        self._now = self._backend.now_ms

    def _check(self, entry: Tuple[Any, int], now: int) -> Tuple[Any, bool, bool]:
        """(value, visible, keep) of a stored entry."""
        value, ts = entry
        if ts + self._ttl <= now:
            return value, self._return_expired, False
        return value, True, True

    def _merge_values(self, a: Any, b: Any) -> Any:
        raise TypeError(f"state '{self._descriptor.name}' has a TTL and cannot be merged")


class TtlValueState(_TtlMixin, ValueState):
    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        super().__init__(backend, descriptor)
        self._setup_ttl()

    def value(self) -> Any:
        slot = self._backend.slot()
        entry = self._data.get(slot)
        if entry is None:
            return None
        now = self._now()
        value, visible, keep = self._check(entry, now)
        if not keep:
            del self._data[slot]
        elif self._refresh_on_read:
            self._data[slot] = (value, now)
        return value if visible else None

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._data[self._backend.slot()] = (value, self._now())


class TtlListState(_TtlMixin, ListState):
    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        super().__init__(backend, descriptor)
        self._setup_ttl()

    def get(self) -> List[Any]:
        slot = self._backend.slot()
        entries = self._data.get(slot)
        if not entries:
            return []
        now = self._now()
        out, kept = [], []
        for entry in entries:
            value, visible, keep = self._check(entry, now)
            if visible:
                out.append(value)
            if keep:
                kept.append((value, now) if self._refresh_on_read else entry)
        if kept:
            self._data[slot] = kept
        else:
            del self._data[slot]
        return out

    def add(self, value: Any) -> None:
        self._data.setdefault(self._backend.slot(), []).append((value, self._now()))

    def add_all(self, values: Iterable[Any]) -> None:
        now = self._now()
        entries = [(v, now) for v in values]
        if entries:
            self._data.setdefault(self._backend.slot(), []).extend(entries)

    def update(self, values: Iterable[Any]) -> None:
        now = self._now()
        entries = [(v, now) for v in values]
        if entries:
            self._data[self._backend.slot()] = entries
        else:
            self.clear()


class TtlMapState(_TtlMixin, MapState):
    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        super().__init__(backend, descriptor)
        self._setup_ttl()

    def _live(self) -> Dict[Any, Any]:
        """The visible entries, dropping expired ones (refreshing read ones if asked)."""
        slot = self._backend.slot()
        stored = self._data.get(slot)
        if not stored:
            return {}
        now = self._now()
        out = {}
        for k, entry in list(stored.items()):
            value, visible, keep = self._check(entry, now)
            if visible:
                out[k] = value
            if not keep:
                del stored[k]
            elif self._refresh_on_read:
                stored[k] = (value, now)
        if not stored:
            del self._data[slot]
        return out

    def get(self, key: Any) -> Any:
        slot = self._backend.slot()
        stored = self._data.get(slot)
        if not stored or key not in stored:
            return None
        now = self._now()
        value, visible, keep = self._check(stored[key], now)
        if not keep:
            del stored[key]
            if not stored:
                del self._data[slot]
        elif self._refresh_on_read:
            stored[key] = (value, now)
        return value if visible else None

    def put(self, key: Any, value: Any) -> None:
        self._map_for_write()[key] = (value, self._now())

    def put_all(self, mapping: Dict[Any, Any]) -> None:
        now = self._now()
        self._map_for_write().update({k: (v, now) for k, v in mapping.items()})

    def contains(self, key: Any) -> bool:
        return self.get(key) is not None

    def items(self) -> List[Tuple[Any, Any]]:
        return list(self._live().items())

    def keys(self) -> List[Any]:
        return list(self._live().keys())

    def values(self) -> List[Any]:
        return list(self._live().values())

    def is_empty(self) -> bool:
        return not self._live()


class TtlReducingState(_TtlMixin, ReducingState):
    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        super().__init__(backend, descriptor)
        self._setup_ttl()

    def _current(self, slot: Any, now: int, reading: bool) -> Any:
        entry = self._data.get(slot)
        if entry is None:
            return None
        value, visible, keep = self._check(entry, now)
        if not keep:
            del self._data[slot]
            return value if (visible and reading) else None
        if reading and self._refresh_on_read:
            self._data[slot] = (value, now)
        return value

    def get(self) -> Any:
        return self._current(self._backend.slot(), self._now(), True)

    def add(self, value: Any) -> None:
        slot, now = self._backend.slot(), self._now()
        current = self._current(slot, now, False)
        self._data[slot] = (value if current is None else self._reduce(current, value), now)


class TtlAggregatingState(_TtlMixin, AggregatingState):
    def __init__(self, backend: KeyedStateBackend, descriptor: Any) -> None:
        super().__init__(backend, descriptor)
        self._setup_ttl()

    _current = TtlReducingState._current

    def get(self) -> Optional[Any]:
        acc = self._current(self._backend.slot(), self._now(), True)
        return None if acc is None else self._agg.get_result(acc)

    def add(self, value: Any) -> None:
        slot, now = self._backend.slot(), self._now()
        acc = self._current(slot, now, False)
        if acc is None:
            acc = self._agg.create_accumulator()
        self._data[slot] = (self._agg.add(value, acc), now)


_TTL_KINDS = {cls.kind: cls for cls in (TtlValueState, TtlListState, TtlMapState,
                                        TtlReducingState, TtlAggregatingState)}
