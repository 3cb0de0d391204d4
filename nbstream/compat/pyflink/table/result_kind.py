"""``pyflink.table.result_kind`` on nbstream."""

from nbstream.table.result import ResultKind  # noqa: F401

__all__ = ["ResultKind"]
