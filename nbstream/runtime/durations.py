"""Durations: Flink's ``Time`` and ``Duration``, and plain strings like ``"5s"``.

Everything that takes a duration (window sizes, out-of-orderness, idleness, allowed
lateness, TTLs, intervals) accepts any of them, or an int of milliseconds, or a
``datetime.timedelta``; :func:`to_millis` turns each into int milliseconds.

>>> to_millis(Time.seconds(5)), to_millis(Duration.of_minutes(1)), to_millis("250ms")
(5000, 60000, 250)
>>> to_millis("1h"), to_millis("1.5s"), to_millis(42)
(3600000, 1500, 42)
"""

from __future__ import annotations

import re
from typing import Any, Union

__all__ = ["Time", "Duration", "to_millis", "DurationLike"]


class _Millis:
    __slots__ = ("_ms",)

    def __init__(self, milliseconds: int) -> None:
        self._ms = int(milliseconds)

    def to_milliseconds(self) -> int:
        return self._ms

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Millis) and other._ms == self._ms

    def __hash__(self) -> int:
        return hash(self._ms)

    def __reduce__(self):
        return (type(self), (self._ms,))


class Time(_Millis):
    """A length of time, as PyFlink's ``Time``: ``Time.seconds(10)``."""

    @staticmethod
    def milliseconds(n: int) -> "Time":
        return Time(n)

    @staticmethod
    def seconds(n: float) -> "Time":
        return Time(round(n * 1000))

    @staticmethod
    def minutes(n: float) -> "Time":
        return Time(round(n * 60_000))

    @staticmethod
    def hours(n: float) -> "Time":
        return Time(round(n * 3_600_000))

    @staticmethod
    def days(n: float) -> "Time":
        return Time(round(n * 86_400_000))

    def __repr__(self) -> str:
        return f"Time.milliseconds({self._ms})"


class Duration(_Millis):
    """A length of time, as PyFlink's ``Duration``: ``Duration.of_seconds(2)``."""

    @staticmethod
    def of_millis(n: int) -> "Duration":
        return Duration(n)

    @staticmethod
    def of_seconds(n: float) -> "Duration":
        return Duration(round(n * 1000))

    @staticmethod
    def of_minutes(n: float) -> "Duration":
        return Duration(round(n * 60_000))

    @staticmethod
    def of_hours(n: float) -> "Duration":
        return Duration(round(n * 3_600_000))

    @staticmethod
    def of_days(n: float) -> "Duration":
        return Duration(round(n * 86_400_000))

    ZERO: "Duration"

    def to_millis(self) -> int:
        return self._ms

    def __repr__(self) -> str:
        return f"Duration.of_millis({self._ms})"


Duration.ZERO = Duration(0)

DurationLike = Union[int, str, Time, Duration, Any]

_UNITS = {"ms": 1, "s": 1000, "sec": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000,
          "d": 86_400_000}
_PATTERN = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|sec|s|min|m|h|d)?\s*$", re.IGNORECASE)


def to_millis(value: DurationLike, what: str = "duration") -> int:
    """``value`` as int milliseconds: an int (ms), a Time or Duration, a timedelta, or
    a string with a unit (``"250ms"``, ``"5s"``, ``"2min"``, ``"1h"``, ``"1d"``)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a duration, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, _Millis):
        return value.to_milliseconds()
    if hasattr(value, "total_seconds"):  # datetime.timedelta, pandas.Timedelta
        return round(value.total_seconds() * 1000)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = _PATTERN.match(value)
        if m:
            number, unit = m.group(1), (m.group(2) or "ms").lower()
            return round(float(number) * _UNITS[unit])
        raise ValueError(f"{what}: cannot read {value!r} as a duration; use e.g. '250ms', "
                         "'5s', '2min', '1h', '1d', or an int of milliseconds")
    to_ms = getattr(value, "to_milliseconds", None)  # PyFlink's Time and look-alikes
    if to_ms is not None:
        return int(to_ms())
    raise TypeError(f"{what} must be an int of milliseconds, a Time, a Duration, a timedelta "
                    f"or a string like '5s', not {type(value).__name__} {value!r}")
