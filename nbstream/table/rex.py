"""Resolved, typed expressions ("rex", as in Calcite): what the Table API's expressions and
SQL's both become once names are bound to input positions and types are checked.

Only three kinds: :class:`InputRef` (a column of the input row), :class:`Literal` and
:class:`Call` (a scalar function from the registry, with its operands and result type).
They are frozen and compare by value, so ``GROUP BY a + 1`` finds ``a + 1`` in SELECT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional, Tuple

from .types import DataType

__all__ = ["Rex", "InputRef", "Literal", "Call", "walk", "shift", "input_refs"]


class Rex:
    type: DataType

    def digest(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.digest()


@dataclass(frozen=True, eq=True)
class InputRef(Rex):
    """Column ``index`` of the input row (named ``name`` for messages and plans)."""

    index: int
    type: DataType
    name: str = field(default="", compare=False)

    def digest(self) -> str:
        return f"${self.index}" if not self.name else self.name


@dataclass(frozen=True, eq=True)
class Literal(Rex):
    value: Any
    type: DataType

    def __hash__(self) -> int:
        try:
            return hash((type(self.value), self.value, self.type))
        except TypeError:
            return hash((repr(self.value), self.type))

    def digest(self) -> str:
        from .values import sql_string
        if self.value is None:
            return "null"
        text = sql_string(self.value, self.type)
        return f"'{text}'" if self.type.is_string else text


@dataclass(frozen=True, eq=True)
class Call(Rex):
    """A call of scalar function ``name`` (a key of the function registry)."""

    name: str
    operands: Tuple[Rex, ...]
    type: DataType
    params: Tuple[Tuple[str, Any], ...] = ()  # extra compile-time arguments (a cast's target...)

    def param(self, key: str, default: Any = None) -> Any:
        for k, v in self.params:
            if k == key:
                return v
        return default

    def digest(self) -> str:
        args = ", ".join(o.digest() for o in self.operands)
        if self.name == "cast":
            return f"CAST({args} AS {self.type})"
        return f"{self.name.upper()}({args})"


def walk(rex: Rex) -> Iterator[Rex]:
    """``rex`` and every expression inside it, depth first."""
    yield rex
    if isinstance(rex, Call):
        for o in rex.operands:
            yield from walk(o)


def input_refs(rex: Rex) -> set:
    return {r.index for r in walk(rex) if isinstance(r, InputRef)}


def shift(rex: Rex, mapping: Dict[int, int]) -> Rex:
    """``rex`` with its input positions renumbered by ``mapping`` (old -> new)."""
    if isinstance(rex, InputRef):
        return InputRef(mapping[rex.index], rex.type, rex.name)
    if isinstance(rex, Call):
        return Call(rex.name, tuple(shift(o, mapping) for o in rex.operands), rex.type, rex.params)
    return rex


def offset(rex: Rex, by: int) -> Rex:
    """``rex`` with every input position moved by ``by`` (the right side of a join)."""
    if isinstance(rex, InputRef):
        return InputRef(rex.index + by, rex.type, rex.name)
    if isinstance(rex, Call):
        return Call(rex.name, tuple(offset(o, by) for o in rex.operands), rex.type, rex.params)
    return rex


def literal_value(rex: Optional[Rex]) -> Any:
    """The value of a literal (through casts of literals), else raise ValueError."""
    if isinstance(rex, Literal):
        return rex.value
    raise ValueError("not a literal")
