"""The keyed streams of PyFlink programs: nbstream's, with two things PyFlink's do in their
own way, so that programs see what they see on Flink.

- A keyed stream in a ``union`` gives its records through an identity step named
  ``_keyed_stream_values_operator``, as PyFlink plans it (its plan shows that step).
- ``execute_and_collect()`` of a keyed stream yields ``Row(key, value)`` for each record:
  PyFlink's keyed records carry their key, and collecting them directly shows it.

>>> from nbstream.compat.pyflink.datastream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> keyed = env.from_collection([("a", 1)]).key_by(lambda v: v[0])
>>> keyed.execute_and_collect(limit=1)
[Row(f0='a', f1=('a', 1))]
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Union

from nbstream.api.datastream import DataStream
from nbstream.api.datastream import KeyedStream as _KeyedStream
from nbstream.runtime.row import Row

__all__ = ["KeyedStream"]

VALUES_STEP = "_keyed_stream_values_operator"


class KeyedStream(_KeyedStream):
    """nbstream's KeyedStream as a PyFlink program sees it (see above)."""

    def _union_input(self) -> DataStream:
        return self.map(lambda value: value, output_type=self._declared_type()).name(VALUES_STEP)

    def execute_and_collect(self, job_execution_name: Optional[str] = None,
                            limit: Optional[int] = None) -> Union[List[Any], "_KeyedRows"]:
        key = self._node.params["partitioning"].key_selector.call
        records = DataStream.execute_and_collect(self, job_execution_name, limit)
        if isinstance(records, list):
            return [_keyed_row(key, r) for r in records]
        return _KeyedRows(records, key)


def _keyed_row(key: Any, value: Any) -> Row:
    row = Row(key(value), value)
    row._fields = ["f0", "f1"]
    return row


class _KeyedRows:
    """The collected records of a keyed stream as ``Row(key, value)``, closeable."""

    def __init__(self, records: Any, key: Any) -> None:
        self._records, self._key = records, key

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        return _keyed_row(self._key, next(self._records))

    def close(self) -> None:
        self._records.close()

    def __enter__(self) -> "_KeyedRows":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
