"""``pyflink.table.TableEnvironment`` / ``StreamTableEnvironment`` on nbstream."""

from __future__ import annotations

from typing import Any

from nbstream.table.environment import StreamTableEnvironment as _Stream
from nbstream.table.environment import TableEnvironment as _Table

__all__ = ["TableEnvironment", "StreamTableEnvironment"]


def _local_environment() -> Any:
    from ..datastream.stream_execution_environment import StreamExecutionEnvironment
    return StreamExecutionEnvironment.get_execution_environment()


class TableEnvironment(_Table):
    """PyFlink's TableEnvironment: each job runs in a PyFlink-style local environment."""

    _stream_environment = staticmethod(_local_environment)


class StreamTableEnvironment(_Stream):
    """PyFlink's StreamTableEnvironment over a (PyFlink-style) StreamExecutionEnvironment."""

    _stream_environment = staticmethod(_local_environment)
