"""``pyflink.table.table_result`` on nbstream."""

from nbstream.table.result import TableResult  # noqa: F401

__all__ = ["TableResult"]
