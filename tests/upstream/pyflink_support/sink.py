"""``pyflink.datastream.tests.test_util`` in Python.

``DataStreamTestSinkFunction`` collects a stream's records in the driver.
``get_results()`` gives each as Java's ``toString`` of its declared type (``(hi,0,5,4)``,
``+I[a, 4]``), as Flink's Java collect sink does; ``get_results(True)`` gives ``str()`` of
the Python objects (with ``stringify=False``: the objects themselves).
"""

from __future__ import annotations

import threading
from typing import Any, List, Tuple

from pyflink.common.watermark_strategy import TimestampAssigner
from pyflink.datastream.functions import SinkFunction

__all__ = ["DataStreamTestSinkFunction", "SecondColumnTimestampAssigner"]


class _Collected:
    """The records of one test sink, shared by all its parallel instances."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: List[Tuple[Any, Any]] = []  # (declared type, value)

    def __deepcopy__(self, memo: Any) -> "_Collected":
        return self


class _Collect(SinkFunction):
    def __init__(self, collected: _Collected, type_info: Any) -> None:
        self.collected, self.type_info = collected, type_info

    def invoke(self, value: Any, context: Any) -> None:
        with self.collected.lock:
            self.collected.items.append((self.type_info, value))


class DataStreamTestSinkFunction(SinkFunction):
    """Collects the records of the streams it is added to (``ds.add_sink(sink)``)."""

    def __init__(self) -> None:
        self._collected = _Collected()

    def _nbstream_sink(self, stream: Any) -> Any:
        return stream.add_sink(_Collect(self._collected, stream.get_type()))

    def invoke(self, value: Any, context: Any) -> None:  # pragma: no cover - attached above
        raise TypeError("DataStreamTestSinkFunction is attached with ds.add_sink(sink)")

    def get_results(self, is_python_object: bool = False, stringify: bool = True) -> List[Any]:
        with self._collected.lock:
            items, self._collected.items = self._collected.items, []
        if not is_python_object:  # Java's strings, whatever ``stringify`` says
            return [type_info.to_flink_string(value) for type_info, value in items]
        return [str(value) if stringify else value for _, value in items]

    def clear(self) -> None:
        with self._collected.lock:
            self._collected.items = []


class SecondColumnTimestampAssigner(TimestampAssigner):
    """The event time is the record's second field."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[1])
