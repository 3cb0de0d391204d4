"""``pyflink.table.table_schema`` on nbstream."""

from nbstream.table.result import TableSchema  # noqa: F401

__all__ = ["TableSchema"]
