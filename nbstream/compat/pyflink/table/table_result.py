"""``pyflink.table.table_result`` on nbstream."""

from nbstream.runtime.collect import CloseableIterator  # noqa: F401
from nbstream.table.result import TableResult  # noqa: F401

__all__ = ["TableResult", "CloseableIterator"]
