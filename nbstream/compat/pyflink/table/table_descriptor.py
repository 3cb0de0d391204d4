"""``pyflink.table.table_descriptor`` on nbstream."""

from nbstream.table.schema import FormatDescriptor, TableDescriptor  # noqa: F401

__all__ = ["TableDescriptor", "FormatDescriptor"]
