"""``pyflink.table.types`` on nbstream."""

from nbstream.runtime.row import Row, RowKind  # noqa: F401
from nbstream.table.types import *  # noqa: F401,F403
from nbstream.table.types import DataType, DataTypes, RowField, RowType  # noqa: F401

__all__ = ["DataTypes", "DataType", "RowField", "RowType", "Row", "RowKind"]


def __getattr__(name: str):
    if name == "UserDefinedType":
        from .._exports import not_available
        raise not_available(name, __name__, "user-defined types are not built in nbstream yet")
    raise AttributeError(name)
