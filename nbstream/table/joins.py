"""Joins and set operations of the relational plan (regular, interval, temporal and window
joins; INTERSECT / EXCEPT)."""

from __future__ import annotations

from typing import Any, Optional

from . import builder as B
from .plan import RelNode
from .types import ValidationError

__all__ = ["join_tables", "join_sql", "set_operation"]


def join_tables(left: RelNode, right: RelNode, kind: str, condition: Optional[Any],
                ctx: B.Context) -> RelNode:
    raise ValidationError("joins are not supported yet")


def join_sql(conv: Any, left: RelNode, left_scope: B.Scope, join: Any) -> Any:
    raise ValidationError("joins are not supported yet")


def set_operation(left: RelNode, right: RelNode, kind: str, all_: bool, ctx: B.Context) -> RelNode:
    raise ValidationError(f"{kind} is not supported yet")
