"""OVER aggregation and ROW_NUMBER (Top-N, deduplication) in the relational plan."""

from __future__ import annotations

from typing import Any, Dict, List

from . import builder as B
from .expressions import Expression
from .plan import RelNode
from .types import ValidationError

__all__ = ["over_select", "sql_over"]


def over_select(node: RelNode, windows: List[Any], items: List[Expression],
                ctx: B.Context) -> RelNode:
    raise ValidationError("OVER windows are not supported yet")


def sql_over(conv: Any, node: RelNode, scope: B.Scope, items: List[Expression],
             named: Dict[str, Any], tree: Any) -> RelNode:
    raise ValidationError("OVER windows are not supported yet")
