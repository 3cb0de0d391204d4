"""``pyflink.datastream.connectors.number_seq`` on nbstream.

>>> from nbstream.compat.pyflink.common import WatermarkStrategy
>>> from nbstream.compat.pyflink.datastream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> ds = env.from_source(NumberSequenceSource(1, 4), WatermarkStrategy.no_watermarks(), "seq")
>>> sorted(ds.execute_and_collect(limit=4))
[1, 2, 3, 4]
"""

from __future__ import annotations

from typing import Any

__all__ = ["NumberSequenceSource"]


class NumberSequenceSource:
    """The numbers ``start`` to ``end`` (both included), read in parallel."""

    def __init__(self, start: int, end: int) -> None:
        self.start, self.end = int(start), int(end)

    def _nbstream_source(self, env: Any, name: str, type_info: Any) -> Any:
        return env.from_sequence(self.start, self.end).name(name)
