"""DataFrames as tables: the column types PyFlink gives pandas dtypes, and their rows
as the runtime's values.

>>> import pandas as pd
>>> names, types = frame_schema(pd.DataFrame({"a": [1], "b": [0.5], "c": ["x"]}), None)
>>> names, [t.summary_string() for t in types]
(['a', 'b', 'c'], ['BIGINT', 'DOUBLE', 'STRING'])
"""

from __future__ import annotations

from typing import Any, List, Tuple

from .types import DataType, DataTypes, RowType, ValidationError, common_type, infer_type
from .values import converter

__all__ = ["frame_schema", "frame_rows", "dtype_type"]


def dtype_type(dtype: Any, values: Any) -> DataType:
    """The SQL type of a pandas column of ``dtype`` (object columns: from their values)."""
    kind = getattr(dtype, "kind", "O")
    name = str(dtype)
    if name in ("int8", "Int8"):
        return DataTypes.TINYINT()
    if name in ("int16", "Int16", "uint8", "UInt8"):
        return DataTypes.SMALLINT()
    if name in ("int32", "Int32", "uint16", "UInt16"):
        return DataTypes.INT()
    if kind in ("i", "u"):
        return DataTypes.BIGINT()
    if name in ("float32", "Float32"):
        return DataTypes.FLOAT()
    if kind == "f":
        return DataTypes.DOUBLE()
    if kind == "b" or name == "boolean":
        return DataTypes.BOOLEAN()
    if kind == "M":
        unit = name[name.find("[") + 1:name.find("]")] if "[" in name else "ns"
        precision = {"s": 0, "ms": 3, "us": 6, "ns": 9}.get(unit.split(",")[0], 9)
        if "," in name or getattr(dtype, "tz", None) is not None:
            return DataTypes.TIMESTAMP_LTZ(precision)
        return DataTypes.TIMESTAMP(precision)
    if name in ("string", "str"):
        return DataTypes.STRING()
    found = [infer_type(v) for v in values if v is not None and not (isinstance(v, float) and v != v)]
    t = common_type(found) if found else DataTypes.STRING()
    if t is None:
        raise ValidationError(f"a column of dtype {name} holds values of several types")
    return t if t.root != "NULL" else DataTypes.STRING()


def frame_schema(frame: Any, schema: Any) -> Tuple[List[str], List[DataType]]:
    """Names and types of a DataFrame's columns; ``schema`` (a ROW type or a list of
    names) overrides them."""
    if isinstance(schema, RowType):
        if len(schema.names) != len(frame.columns):
            raise ValidationError(f"the schema has {len(schema.names)} columns, the DataFrame "
                                  f"{len(frame.columns)}")
        return schema.names, schema.types
    names = [str(c) for c in frame.columns]
    types = [dtype_type(frame[c].dtype, frame[c].head(1000).tolist()) for c in frame.columns]
    if schema is not None:
        if isinstance(schema, (list, tuple)) and all(isinstance(n, str) for n in schema):
            names = list(schema)
        elif isinstance(schema, (list, tuple)):
            types = [DataTypes.STRING() if t is None else t for t in schema]  # type: ignore
    return names, types


def frame_rows(frame: Any, types: List[DataType]) -> List[tuple]:
    """The rows of ``frame`` as tuples of runtime values of ``types``."""
    columns = []
    for i, t in enumerate(types):
        series = frame.iloc[:, i]
        conv = converter(t)
        if t.root in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE"):
            values = list(series)
        else:
            values = series.tolist()
        columns.append([conv(v) for v in values])
    return list(zip(*columns)) if columns else []


