"""``pyflink.table.types`` on nbstream."""

from nbstream.runtime.row import Row, RowKind  # noqa: F401
from nbstream.table.types import *  # noqa: F401,F403
from nbstream.table.types import DataType, DataTypes, RowField, RowType  # noqa: F401

__all__ = ["DataTypes", "DataType", "RowField", "RowType", "Row", "RowKind"]


def __getattr__(name: str):
    if name == "UserDefinedType":  # imports; using it says why it is not there
        from .._exports import placeholder
        globals()[name] = placeholder(name, __name__, "user-defined types are not built in nbstream yet")
        return globals()[name]
    raise AttributeError(name)
