"""A latency histogram that merges across parallel instances and workers: counts in
logarithmic buckets, four per power of two (each about 19% wide), in microseconds.

>>> h = Histogram()
>>> for ms in (1, 1, 2, 40):
...     h.add(ms / 1000)
>>> round(h.quantile(0.5) * 1000, 2), round(h.quantile(0.99) * 1000, 1)
(1.02, 46.3)
"""

from __future__ import annotations

import math
from typing import Dict, Optional

__all__ = ["Histogram"]

_PER_OCTAVE = 4


class Histogram:
    """Counts of durations by bucket; ``add(seconds)``, ``merge(other)``, ``quantile(q)``."""

    __slots__ = ("counts",)

    def __init__(self, counts: Optional[Dict[int, int]] = None) -> None:
        self.counts: Dict[int, int] = counts if counts is not None else {}

    def add(self, seconds: float) -> None:
        micros = seconds * 1e6
        bucket = int(_PER_OCTAVE * math.log2(micros)) if micros > 1.0 else 0
        self.counts[bucket] = self.counts.get(bucket, 0) + 1

    def copy(self) -> "Histogram":
        return Histogram(dict(self.counts))

    def merge(self, other: "Histogram") -> None:
        for bucket, n in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + n

    def __len__(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float:
        """The upper bound (seconds) of the bucket holding quantile ``q`` (0 if empty)."""
        total = len(self)
        if not total:
            return 0.0
        rank, seen = q * total, 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return 2 ** ((bucket + 1) / _PER_OCTAVE) / 1e6
        return 2 ** ((max(self.counts) + 1) / _PER_OCTAVE) / 1e6

    def __reduce__(self):
        return (Histogram, (self.counts,))
