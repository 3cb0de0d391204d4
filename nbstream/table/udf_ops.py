"""The Table API's row-based operations on user-defined functions (map, flat_map,
join_lateral, aggregate, flat_aggregate): built with the Python UDF support."""

from __future__ import annotations

from typing import Any, List

from .types import ValidationError

__all__ = ["map_table", "flat_map_table", "lateral", "aggregate_select", "flat_aggregate_select"]


def _missing(what: str) -> ValidationError:
    return ValidationError(f"{what} needs Python user-defined functions, which this version "
                           "of nbstream's Table API does not have yet")


def map_table(node: Any, func: Any, ctx: Any) -> Any:
    raise _missing("Table.map")


def flat_map_table(node: Any, func: Any, ctx: Any) -> Any:
    raise _missing("Table.flat_map")


def lateral(node: Any, call: Any, left: bool, predicate: Any, ctx: Any) -> Any:
    raise _missing("join_lateral")


def aggregate_select(node: Any, keys: List[Any], func: Any, items: List[Any], ctx: Any) -> Any:
    raise _missing("aggregate")


def flat_aggregate_select(node: Any, keys: List[Any], func: Any, items: List[Any],
                          ctx: Any) -> Any:
    raise _missing("flat_aggregate")
