"""``pyflink.table.statement_set`` on nbstream."""

from nbstream.table.environment import StatementSet  # noqa: F401

__all__ = ["StatementSet"]
