"""Windows: the buckets records fall into (Flink's ``TimeWindow``, ``GlobalWindow``) and
the timestamped values evictors see.

>>> TimeWindow(0, 5).max_timestamp()
4
>>> TimeWindow(0, 5) <= TimeWindow(0, 5) < TimeWindow(0, 6) < TimeWindow(1, 2)
True
"""

from __future__ import annotations

import abc
from typing import Any, Iterable, List, Optional

from ..records import MAX_TIMESTAMP

__all__ = ["Window", "TimeWindow", "GlobalWindow", "CountWindow", "TimestampedValue"]


class Window(abc.ABC):
    """A finite bucket of records; all of them have arrived once time passes ``max_timestamp()``."""

    @abc.abstractmethod
    def max_timestamp(self) -> int: ...


class TimeWindow(Window):
    """The interval ``[start, end)`` in epoch milliseconds; ``max_timestamp() == end - 1``."""

    __slots__ = ("start", "end", "_hash")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self._hash = hash((start, end))

    def max_timestamp(self) -> int:
        return self.end - 1

    def intersects(self, other: "TimeWindow") -> bool:
        """True when the windows overlap or touch (sessions merge then)."""
        return self.start <= other.end and self.end >= other.start

    def cover(self, other: "TimeWindow") -> "TimeWindow":
        """The smallest window containing both."""
        return TimeWindow(min(self.start, other.start), max(self.end, other.end))

    @staticmethod
    def get_window_start_with_offset(timestamp: int, offset: int, window_size: int) -> int:
        return timestamp - (timestamp - offset + window_size) % window_size

    @staticmethod
    def merge_windows(windows: Iterable["TimeWindow"], callback: Any) -> None:
        """Merge overlapping or touching windows: ``callback.merge(merged, result)``."""
        current: Optional[TimeWindow] = None
        group: List[TimeWindow] = []
        for w in sorted(windows, key=lambda w: (w.start, w.end)):
            if current is None:
                current, group = w, [w]
            elif current.intersects(w):
                current = current.cover(w)
                group.append(w)
            else:
                if len(group) > 1:
                    callback.merge(group, current)
                current, group = w, [w]
        if current is not None and len(group) > 1:
            callback.merge(group, current)

    def __eq__(self, other: Any) -> bool:
        return (type(other) is TimeWindow and other.start == self.start
                and other.end == self.end)

    def __hash__(self) -> int:
        return self._hash

    # ordered by start, then end (as Flink's TimeWindow): sorted() gives time order
    def __lt__(self, other: "TimeWindow") -> bool:
        return (self.start, self.end) < (other.start, other.end)

    def __le__(self, other: "TimeWindow") -> bool:
        return (self.start, self.end) <= (other.start, other.end)

    def __gt__(self, other: "TimeWindow") -> bool:
        return (self.start, self.end) > (other.start, other.end)

    def __ge__(self, other: "TimeWindow") -> bool:
        return (self.start, self.end) >= (other.start, other.end)

    def __repr__(self) -> str:
        return f"TimeWindow(start={self.start}, end={self.end})"

    def __reduce__(self):
        return (TimeWindow, (self.start, self.end))


class GlobalWindow(Window):
    """The single window of :class:`GlobalWindows`; it never ends."""

    __slots__ = ()
    _instance: Optional["GlobalWindow"] = None

    def __new__(cls) -> "GlobalWindow":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    @staticmethod
    def get() -> "GlobalWindow":
        return GlobalWindow()

    def max_timestamp(self) -> int:
        return MAX_TIMESTAMP

    def __eq__(self, other: Any) -> bool:
        return type(other) is GlobalWindow

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "GlobalWindow"

    def __reduce__(self):
        return (GlobalWindow, ())


class CountWindow(Window):
    """A window of count-based assigners, identified by a number."""

    __slots__ = ("id",)

    def __init__(self, id: int) -> None:
        self.id = id

    def max_timestamp(self) -> int:
        return MAX_TIMESTAMP

    def __eq__(self, other: Any) -> bool:
        return type(other) is CountWindow and other.id == self.id

    def __hash__(self) -> int:
        return hash(("CountWindow", self.id))

    def __repr__(self) -> str:
        return f"CountWindow(id={self.id})"

    def __reduce__(self):
        return (CountWindow, (self.id,))


class TimestampedValue:
    """A record and its timestamp, as evictors see them."""

    __slots__ = ("value", "timestamp")

    def __init__(self, value: Any, timestamp: Optional[int]) -> None:
        self.value = value
        self.timestamp = timestamp

    def get_value(self) -> Any:
        return self.value

    def get_timestamp(self) -> Optional[int]:
        return self.timestamp

    def has_timestamp(self) -> bool:
        return self.timestamp is not None

    def __repr__(self) -> str:
        return f"TimestampedValue({self.value!r}, {self.timestamp})"
