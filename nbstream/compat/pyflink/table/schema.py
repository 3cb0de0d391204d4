"""``pyflink.table.schema`` on nbstream."""

from nbstream.table.schema import Schema  # noqa: F401

__all__ = ["Schema"]
