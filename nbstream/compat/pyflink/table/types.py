"""``pyflink.table.types`` on nbstream."""

from nbstream.runtime.row import Row, RowKind  # noqa: F401
from nbstream.table.types import *  # noqa: F401,F403
from nbstream.table.types import DataType, DataTypes, RowField, RowType  # noqa: F401

__all__ = ["DataTypes", "DataType", "RowField", "RowType", "Row", "RowKind"]
