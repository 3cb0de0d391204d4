"""Tables and DataStreams: the columns a DataStream's type information gives a table, and
the Rows a table gives a DataStream."""

from __future__ import annotations

from typing import Any, List, Sequence, Tuple

from ..api.types import Types
from ..runtime.row import Row, RowKind
from .types import DataType, DataTypes, ValidationError

__all__ = ["data_stream_columns", "RowsOut", "RowsToRetract", "row_type_info", "sql_type_of"]

_KINDS = (RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER, RowKind.DELETE)

_BASIC = {"STRING": DataTypes.STRING, "BYTE": DataTypes.TINYINT, "BOOLEAN": DataTypes.BOOLEAN,
          "SHORT": DataTypes.SMALLINT, "INT": DataTypes.INT, "LONG": DataTypes.BIGINT,
          "FLOAT": DataTypes.FLOAT, "DOUBLE": DataTypes.DOUBLE, "CHAR": lambda: DataTypes.CHAR(1),
          "BIG_INT": lambda: DataTypes.DECIMAL(38, 0), "BIG_DEC": lambda: DataTypes.DECIMAL(38, 18),
          "SQL_DATE": DataTypes.DATE, "SQL_TIME": lambda: DataTypes.TIME(0),
          "SQL_TIMESTAMP": lambda: DataTypes.TIMESTAMP(3),
          "INSTANT": lambda: DataTypes.TIMESTAMP_LTZ(3),
          "PICKLED_BYTE_ARRAY": DataTypes.BYTES}


def sql_type_of(info: Any) -> DataType:
    """The SQL type of a DataStream TypeInformation."""
    name = getattr(info, "name", "PICKLED_BYTE_ARRAY")
    if name in _BASIC:
        return _BASIC[name]()
    if name == "ROW":
        return DataTypes.ROW([DataTypes.FIELD(n, sql_type_of(t))
                              for n, t in zip(info.field_names, info.field_types)])
    if hasattr(info, "element_type"):
        return DataTypes.ARRAY(sql_type_of(info.element_type))
    if hasattr(info, "key_type"):
        return DataTypes.MAP(sql_type_of(info.key_type), sql_type_of(info.value_type))
    if hasattr(info, "field_types"):
        return DataTypes.ROW([DataTypes.FIELD(f"f{i}", sql_type_of(t))
                              for i, t in enumerate(info.field_types)])
    return DataTypes.BYTES()


def data_stream_columns(ds: Any, fields: Sequence[Any]) -> Tuple[List[str], List[DataType]]:
    """Column names and types of a DataStream as a table: a ROW's fields (``f0, f1..``
    unless named), a tuple's, or one column ``f0``; ``fields`` (expressions) rename."""
    info = ds.get_type()
    if hasattr(info, "field_types"):
        names = list(getattr(info, "field_names", None) or
                     [f"f{i}" for i in range(len(info.field_types))])
        types = [sql_type_of(t) for t in info.field_types]
    else:
        names, types = ["f0"], [sql_type_of(info)]
    if fields:
        renamed = []
        for f in fields:
            op = getattr(f, "_op", None)
            if op == "col":
                renamed.append(f._args[0])
            elif op == "alias":
                renamed.append(f._args[1])
            elif isinstance(f, str):
                renamed.append(f)
            else:
                raise ValidationError(f"from_data_stream takes column names, not {f}")
        if len(renamed) != len(names):
            raise ValidationError(f"from_data_stream: {len(renamed)} names for {len(names)} fields")
        names = renamed
    return names, types


class RowsOut:
    """Runtime rows as the user's Rows: named fields and their RowKind."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def __call__(self, r: tuple) -> Row:
        row = Row(*r[1:])
        row._fields = self.names
        row._row_kind = _KINDS[r[0]]
        return row


class RowsToRetract:
    """``to_retract_stream``: (True, row) for +I/+U, (False, row) for -U/-D."""

    def __call__(self, row: Row) -> Tuple[bool, Row]:
        return (row.get_row_kind() in (RowKind.INSERT, RowKind.UPDATE_AFTER), row)


def type_info_of(t: DataType) -> Any:
    root = t.root
    simple = {"VARCHAR": Types.STRING, "CHAR": Types.STRING, "TINYINT": Types.BYTE,
              "BOOLEAN": Types.BOOLEAN, "SMALLINT": Types.SHORT, "INT": Types.INT,
              "BIGINT": Types.LONG, "FLOAT": Types.FLOAT, "DOUBLE": Types.DOUBLE,
              "DECIMAL": Types.BIG_DEC, "DATE": Types.SQL_DATE, "TIME": Types.SQL_TIME,
              "TIMESTAMP": Types.SQL_TIMESTAMP, "TIMESTAMP_LTZ": Types.INSTANT}
    if root in simple:
        return simple[root]()
    if root == "ROW":
        return Types.ROW_NAMED(t.names, [type_info_of(x) for x in t.types])  # type: ignore
    if root in ("ARRAY", "MULTISET"):
        return Types.LIST(type_info_of(t.element))  # type: ignore[attr-defined]
    if root == "MAP":
        return Types.MAP(type_info_of(t.key), type_info_of(t.value))  # type: ignore
    return Types.PICKLED_BYTE_ARRAY()


def row_type_info(names: Sequence[str], types: Sequence[DataType]) -> Any:
    return Types.ROW_NAMED(list(names), [type_info_of(t) for t in types])
