"""Turning result rows into a pandas DataFrame (pandas is imported only here, on use).

Columns come from the rows: dict keys, Row field names, named-tuple fields or
dataclass fields; plain tuples and unnamed Rows give ``f0, f1, ...``; any other
value gives one column ``value``.

>>> rows_to_pandas([{"k": "a", "n": 1}, {"k": "b", "n": 2}]).columns.tolist()
['k', 'n']
>>> rows_to_pandas([("a", 1)]).columns.tolist()
['f0', 'f1']
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Sequence

from ..runtime.row import Row

__all__ = ["rows_to_pandas", "row_columns"]


def row_columns(first: Any) -> List[str]:
    """Column names for rows shaped like ``first``."""
    if isinstance(first, dict):
        return [str(k) for k in first]
    if isinstance(first, Row):
        return list(first._fields) if first._fields else [f"f{i}" for i in range(len(first))]
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return list(first._fields)
    if isinstance(first, (tuple, list)):
        return [f"f{i}" for i in range(len(first))]
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        return [f.name for f in dataclasses.fields(first)]
    return ["value"]


def rows_to_pandas(rows: Sequence[Any]) -> Any:
    import pandas as pd

    if not rows:
        return pd.DataFrame()
    first = rows[0]
    columns = row_columns(first)
    if isinstance(first, dict):
        return pd.DataFrame.from_records(list(rows))
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        return pd.DataFrame([dataclasses.astuple(r) for r in rows], columns=columns)
    if columns == ["value"]:
        return pd.DataFrame({"value": list(rows)})
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)
