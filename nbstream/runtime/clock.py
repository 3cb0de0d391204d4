"""Processing time: the system clock, a manual clock for tests, and a task's timer queue.

>>> clock = ManualClock(1_000)
>>> service = TimeService(clock)
>>> fired = []
>>> service.schedule(1_500, fired.append)
>>> clock.advance(600)
>>> service.fire_due()
>>> fired
[1500]
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable, List, Optional, Tuple

__all__ = ["Clock", "SystemClock", "ManualClock", "TimeService"]


class Clock:
    """Milliseconds since the epoch, as processing time."""

    manual = False

    def now_ms(self) -> int:
        raise NotImplementedError

    def subscribe(self, wake: Callable[[], None]) -> None:
        """Ask to be woken when time jumps (only a manual clock does that)."""

    def unsubscribe(self, wake: Callable[[], None]) -> None:
        pass


class SystemClock(Clock):
    def now_ms(self) -> int:
        return int(time.time() * 1000)


class ManualClock(Clock):
    """A clock that moves only when told to; tasks wake up when it does.

    Use it to test processing-time windows and timers deterministically:
    ``env.set_processing_time_clock(clock)`` then ``clock.advance(ms)``.
    """

    manual = True

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms
        self._lock = threading.Lock()
        self._waiters: List[Callable[[], None]] = []

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        self.set(self._now + ms)

    def set(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise ValueError("a clock does not go backwards")
        self._now = now_ms
        with self._lock:
            waiters = list(self._waiters)
        for wake in waiters:
            wake()

    def subscribe(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._waiters.append(wake)

    def unsubscribe(self, wake: Callable[[], None]) -> None:
        with self._lock:
            if wake in self._waiters:
                self._waiters.remove(wake)


class TimeService:
    """A task's processing-time callbacks, fired from the task's own thread."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: List[Tuple[int, int, Callable[[int], None]]] = []
        self._seq = itertools.count()

    def now_ms(self) -> int:
        return self.clock.now_ms()

    def schedule(self, deadline_ms: int, callback: Callable[[int], None]) -> None:
        """Call ``callback(deadline_ms)`` once processing time reaches ``deadline_ms``."""
        heapq.heappush(self._heap, (deadline_ms, next(self._seq), callback))

    def fire_due(self) -> None:
        heap = self._heap
        while heap and heap[0][0] <= self.clock.now_ms():
            deadline, _, callback = heapq.heappop(heap)
            callback(deadline)

    def wait_seconds(self) -> Optional[float]:
        """How long the task may block waiting for input (None: until a message or tick)."""
        if not self._heap or self.clock.manual:
            return None
        return max(0.0, (self._heap[0][0] - self.clock.now_ms()) / 1000.0)
