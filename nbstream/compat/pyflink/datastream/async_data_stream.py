"""``pyflink.datastream.async_data_stream`` on nbstream.

nbstream's :class:`~nbstream.AsyncDataStream`, with PyFlink's one refusal: a program that
configured ``python.execution-mode`` to ``thread`` itself gets PyFlink's error, as on Flink
(whose thread mode cannot run async functions). Under nbstream's own default mode, and in
process mode, async functions run.

>>> from nbstream.compat.pyflink.common import Configuration
>>> from nbstream.compat.pyflink.datastream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment(
...     Configuration().set_string("python.execution-mode", "thread"))
>>> async def twice(v):
...     return [2 * v]
>>> AsyncDataStream.ordered_wait(env.from_collection([1]), twice, 1000)
Traceback (most recent call last):
...
ValueError: AsyncFunction is still not supported for 'thread' mode (as in PyFlink): configure python.execution-mode 'process', or leave it to nbstream's default
"""

from __future__ import annotations

from typing import Any

from nbstream.api.async_io import AsyncDataStream as _AsyncDataStream

__all__ = ["AsyncDataStream"]


def _refuse_thread_mode(data_stream: Any) -> None:
    configured = data_stream.get_execution_environment()._settings.get("python.execution-mode")
    if str(configured or "").strip().lower() == "thread":
        raise ValueError("AsyncFunction is still not supported for 'thread' mode (as in PyFlink): "
                         "configure python.execution-mode 'process', or leave it to nbstream's "
                         "default")


class AsyncDataStream(_AsyncDataStream):
    """PyFlink's AsyncDataStream (see above)."""

    _accept = staticmethod(_refuse_thread_mode)
