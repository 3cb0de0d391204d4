"""``pyflink.common.time.Instant``: a point in time (seconds and nanoseconds since the epoch)."""

from __future__ import annotations

from typing import Any

__all__ = ["Instant"]


class Instant:
    """An instant on the time line, as PyFlink's (``Instant.of_epoch_milli(1000)``).

    >>> Instant.of_epoch_milli(1500).to_epoch_milli()
    1500
    """

    def __init__(self, seconds: int, nanos: int) -> None:
        self.seconds = seconds
        self.nanos = nanos

    @staticmethod
    def of_epoch_milli(epoch_milli: int) -> "Instant":
        secs, ms = divmod(epoch_milli, 1000)
        return Instant(secs, ms * 1_000_000)

    def to_epoch_milli(self) -> int:
        if self.seconds < 0 < self.nanos:
            return (self.seconds + 1) * 1000 + self.nanos // 1_000_000 - 1000
        return self.seconds * 1000 + self.nanos // 1_000_000

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Instant) and (self.seconds, self.nanos) == (other.seconds,
                                                                            other.nanos)

    def __hash__(self) -> int:
        return hash((self.seconds, self.nanos))

    def __repr__(self) -> str:
        return f"Instant<{self.seconds}, {self.nanos}>"
