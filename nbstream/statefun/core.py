"""Addresses, typenames and state specifications.

>>> parse_typename("example/greeter")
('example', 'greeter')
>>> from nbstream.statefun.types import IntType
>>> ValueSpec("seen", IntType).name
'seen'
>>> ValueSpec("Seen", IntType)
Traceback (most recent call last):
...
ValueError: Only lower case names are allowed, Seen is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from keyword import iskeyword, kwlist
from typing import Optional, Tuple

from .types import Type

__all__ = ["SdkAddress", "ValueSpec", "parse_typename"]

@dataclass(frozen=True)
class SdkAddress:
    """The address of a function instance: its type (``namespace/name``) and its id."""

    namespace: str
    name: str
    id: str
    typename: str


def parse_typename(typename: Optional[str]) -> Tuple[str, str]:
    """``(namespace, name)`` of a ``<namespace>/<name>`` typename (split at the last ``/``)."""
    if typename is None:
        raise ValueError("function type must be provided")
    namespace, slash, name = typename.rpartition("/")
    if not slash:
        raise ValueError("function type must be of the from namespace/name")
    if not namespace:
        raise ValueError("function type's namespace must not be empty")
    if not name:
        raise ValueError("function type's name must not be empty")
    return namespace, name


def _check_state_name(name: str) -> None:
    if not name:
        raise ValueError("name can not be missing.")
    if not name.isidentifier():
        raise ValueError(
            f"invalid name {name}. A spec name can only contains alphanumeric letters (a-z) and (0-9), "
            f"or underscores ( _). A valid identifier cannot start with a number, or contain any spaces.")
    if iskeyword(name):
        forbidden = "\n".join(kwlist)
        raise ValueError(
            f"invalid spec name {name} (Python SDK specifically). since {name} will result as an "
            f"attribute on context.store.\nThe following names are forbidden:\n {forbidden}")
    if not name.islower():
        raise ValueError(f"Only lower case names are allowed, {name} is given.")


def _millis(duration: timedelta) -> int:
    return int(duration.total_seconds() * 1000.0)


class ValueSpec:
    """A persisted value of a function: a lower-case identifier ``name``, a :class:`Type`, and
    at most one expiry (``expire_after_call`` or ``expire_after_write``)."""

    __slots__ = ("name", "type", "duration", "after_call", "after_write")

    def __init__(self, name: str, type: Type, expire_after_call: Optional[timedelta] = None,
                 expire_after_write: Optional[timedelta] = None) -> None:
        _check_state_name(name)
        if not type:
            raise ValueError("type can not be missing.")
        if not isinstance(type, Type):
            raise TypeError("type is not a StateFun type.")
        if expire_after_call and expire_after_write:
            raise ValueError("Either expire_after_call or expire_after_write can be set, but not both.")
        self.name, self.type = name, type
        self.after_call = bool(expire_after_call)
        self.after_write = not self.after_call and bool(expire_after_write)
        expiry = expire_after_call or expire_after_write
        self.duration = _millis(expiry) if expiry else 0

    def __repr__(self) -> str:
        mode = "after call" if self.after_call else "after write" if self.after_write else None
        expiry = f", expires {mode} {self.duration} ms" if mode else ""
        return f"ValueSpec({self.name!r}, {self.type.typename}{expiry})"
