"""How a task hands batches to its chain: in slices timed to the buffer timeout.

>>> from nbstream.runtime.records import Batch
>>> class Running:
...     cancelled = False
>>> seen = []
>>> Pacer(0.05, Running()).feed(lambda b: seen.append(len(b.values)), Batch([1, 2, 3]))
>>> seen  # the cost is unknown at first: one record, then the rest at the measured speed
[1, 2]
"""

from __future__ import annotations

import time
from typing import Any, Callable, Optional

from .records import Batch, TaskCancelled

__all__ = ["Pacer"]


class Pacer:
    """Hands batches to a chain in slices that each take about ``target_s`` to process.

    A fast chain gets whole batches (one timing per batch is all it costs); a slow one
    (a model call, an HTTP request per record) gets slices, down to single records, so
    it emits results within about ``target_s`` and notices a cancel between slices.
    The per-record cost is measured as the job runs and starts unknown (a first slice
    of one record).
    """

    __slots__ = ("target", "cost", "control")

    def __init__(self, target_s: float, control: Any) -> None:
        self.target = max(target_s, 0.001)
        self.cost: Optional[float] = None
        self.control = control

    def feed(self, process: Callable[..., None], batch: Batch, *args: Any) -> None:
        n = len(batch.values)
        cost = self.cost
        step = 1 if cost is None else (n if cost * n <= self.target else
                                       max(1, int(self.target / cost)))
        if step >= n:
            self._timed(process, batch, n, args)
            return
        values, tss, keys = batch.values, batch.timestamps, batch.keys
        i = 0
        while i < n:
            j = min(n, i + step)
            part = Batch(values[i:j], tss[i:j] if tss is not None else None,
                         keys[i:j] if keys is not None else None)
            self._timed(process, part, j - i, args)
            i = j
            if i < n:
                if self.control.cancelled:
                    raise TaskCancelled()
                step = max(1, int(self.target / self.cost)) if self.cost else n - i

    def _timed(self, process: Callable[..., None], batch: Batch, n: int, args: Any) -> None:
        started = time.perf_counter()
        process(batch, *args)
        per_record = (time.perf_counter() - started) / max(n, 1)
        self.cost = per_record if self.cost is None else (self.cost + per_record) / 2
