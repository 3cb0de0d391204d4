"""A function's persisted values: cells, the storage object ``context.storage`` is, and
how the values a request carries are matched with the function's specs (the SDK's
``statefun.storage``: ``make_address_storage_spec``, ``resolve``).

>>> from nbstream.statefun import IntType, ValueSpec, message_builder
>>> spec = make_address_storage_spec([ValueSpec("seen", IntType)])
>>> class Persisted:  # what a request carries per value: its name and TypedValue
...     state_name, state_value = "seen", message_builder("a/b", "1", int_value=4).typed_value
>>> storage = resolve(spec, "example/counter", [Persisted()]).storage
>>> storage.seen += 1
>>> storage.seen, storage._cells["seen"].dirty
(5, True)
>>> resolve(spec, "example/counter", []).missing_specs
[ValueSpec('seen', io.statefun.types/int)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence

from .core import ValueSpec
from .types import Type, TypedValue

__all__ = ["Cell", "StorageSpec", "Resolution", "make_address_storage_spec", "resolve", "ValueSpec"]


class Cell:
    """One persisted value of a call: its type's typename and serializer (looked up once, not
    per access), the TypedValue and whether the call changed it."""

    __slots__ = ("typename", "serializer", "typed_value", "dirty")

    def __init__(self, tpe: Type, typed_value: Optional[Any], serializer: Any = None) -> None:
        self.typename = tpe.typename
        self.serializer = serializer if serializer is not None else tpe.serializer()
        self.typed_value, self.dirty = typed_value, False

    def get(self) -> Any:
        typed_value = self.typed_value
        if typed_value is None or not typed_value.has_value:
            return None
        if typed_value.typename != self.typename:
            raise TypeError(f"Type mismatch: type {typed_value.typename} (remote), yet it is "
                            f"specified locally as {self.typename} ")
        return self.serializer.deserialize(typed_value.value)

    def set(self, value: Any) -> None:
        if value is None:
            raise ValueError("provided value must not be None. To delete a value, please use del.")
        self.typed_value = TypedValue(self.typename, True, self.serializer.serialize(value))
        self.dirty = True

    def delete(self) -> None:
        self.typed_value, self.dirty = None, True


def _value_property(name: str) -> property:
    def get(storage: Any) -> Any:
        return storage._cells[name].get()

    def put(storage: Any, value: Any) -> None:
        storage._cells[name].set(value)

    def delete(storage: Any) -> None:
        storage._cells[name].delete()

    return property(get, put, delete, doc=f"the persisted value {name!r}")


def _undeclared(storage: Any, name: str) -> Any:
    raise AttributeError(f"'{name}' is not a registered ValueSpec for the function "
                         f"'{storage._typename}'")


def _init(storage: Any, cells: Dict[str, Cell], typename: str) -> None:
    storage._cells, storage._typename = cells, typename


@dataclass(frozen=True)
class StorageSpec:
    """A function's specs and the class of its storage objects: one property per spec
    (``context.storage.<name>`` reads, writes, deletes); ``make_instance(cells, typename)``."""

    make_instance: Callable[[Dict[str, Cell], str], Any]
    names: FrozenSet[str]
    specs: List[ValueSpec]

    def cells(self, values: Dict[str, Optional[Any]]) -> Dict[str, Cell]:
        return {spec.name: Cell(spec.type, values[spec.name]) for spec in self.specs}


@dataclass(frozen=True)
class Resolution:
    """The specs a request lacks (None if none), or the storage built from its values."""

    missing_specs: Optional[List[ValueSpec]]
    storage: Any


def make_address_storage_spec(specs: Sequence[ValueSpec]) -> StorageSpec:
    """The storage of a function with ``specs`` (a name may be declared once)."""
    members: Dict[str, Any] = {"__slots__": ("_cells", "_typename"), "__init__": _init,
                               "__getattr__": _undeclared}
    for spec in specs:
        if spec.name in members:
            raise ValueError("duplicate registered value name: " + spec.name)
        members[spec.name] = _value_property(spec.name)
    cls = type("AddressScopedStorage", (), members)
    return StorageSpec(cls, frozenset(s.name for s in specs), list(specs))


def resolve(storage: StorageSpec, typename: str, values: Iterable[Any]) -> Resolution:
    """Match the values a request carries (objects with ``state_name`` and ``state_value``)
    with the specs: the missing specs in their declared order, or the storage of the call.
    Values no spec names are left out."""
    received = {v.state_name: v.state_value for v in values}
    missing = [spec for spec in storage.specs if spec.name not in received]
    if missing:
        return Resolution(missing, None)
    cells = {spec.name: Cell(spec.type, received[spec.name]) for spec in storage.specs}
    return Resolution(None, storage.make_instance(cells, typename))
