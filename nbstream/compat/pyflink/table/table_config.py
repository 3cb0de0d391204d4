"""``pyflink.table.table_config`` on nbstream."""

from nbstream.table.config import TableConfig  # noqa: F401

__all__ = ["TableConfig"]
