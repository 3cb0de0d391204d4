"""Timers of a keyed operator: event-time timers fire as the watermark passes them,
processing-time timers when the task's clock reaches them. One timer per
(timestamp, key, namespace); registering it twice keeps one."""

from __future__ import annotations

import heapq
import itertools
from enum import Enum
from typing import Any, Callable, Iterator, List, Set, Tuple

from .clock import TimeService

__all__ = ["TimeDomain", "Timers"]


class TimeDomain(Enum):
    """Which clock fired a timer (``ctx.time_domain()`` in ``on_timer``)."""

    EVENT_TIME = 0
    PROCESSING_TIME = 1


FireFn = Callable[[Iterator[Tuple[int, Any, Any]], TimeDomain], None]


class _Queue:
    def __init__(self) -> None:
        self.heap: List[Tuple[int, int, Any, Any]] = []
        self.live: Set[Tuple[int, Any, Any]] = set()
        self.seq = itertools.count()

    def add(self, ts: int, key: Any, ns: Any) -> bool:
        entry = (ts, key, ns)
        if entry in self.live:
            return False
        self.live.add(entry)
        heapq.heappush(self.heap, (ts, next(self.seq), key, ns))
        return True

    def remove(self, ts: int, key: Any, ns: Any) -> None:
        self.live.discard((ts, key, ns))  # the heap entry is skipped when popped

    def pop_due(self, limit: int) -> Iterator[Tuple[int, Any, Any]]:
        heap, live = self.heap, self.live
        while heap and heap[0][0] <= limit:
            ts, _, key, ns = heapq.heappop(heap)
            if (ts, key, ns) in live:
                live.discard((ts, key, ns))
                yield ts, key, ns

    def earliest(self):
        heap, live = self.heap, self.live
        while heap and (heap[0][0], heap[0][2], heap[0][3]) not in live:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def __len__(self) -> int:
        return len(self.live)


def _order(entry: Tuple[int, Any, Any]) -> int:
    return entry[0]


class Timers:
    """Both timer queues of one operator instance; ``fire(due, domain)`` handles due timers."""

    def __init__(self, fire: FireFn, time_service: TimeService) -> None:
        self._fire = fire
        self._time = time_service
        self._event = _Queue()
        self._proc = _Queue()
        self._scheduled: Any = None

    def register_event(self, ts: int, key: Any, ns: Any = None) -> None:
        self._event.add(ts, key, ns)

    def delete_event(self, ts: int, key: Any, ns: Any = None) -> None:
        self._event.remove(ts, key, ns)

    def register_processing(self, ts: int, key: Any, ns: Any = None) -> None:
        if self._proc.add(ts, key, ns) and (self._scheduled is None or ts < self._scheduled):
            self._scheduled = ts
            self._time.schedule(ts, self._on_processing_time)

    def delete_processing(self, ts: int, key: Any, ns: Any = None) -> None:
        self._proc.remove(ts, key, ns)

    def advance_watermark(self, watermark: int) -> None:
        if self._event.heap and self._event.heap[0][0] <= watermark:
            self._fire(self._event.pop_due(watermark), TimeDomain.EVENT_TIME)

    def _on_processing_time(self, deadline: int) -> None:
        if self._scheduled == deadline:
            self._scheduled = None
        self._fire(self._proc.pop_due(self._time.now_ms()), TimeDomain.PROCESSING_TIME)
        nxt = self._proc.earliest()
        if nxt is not None and (self._scheduled is None or nxt < self._scheduled):
            self._scheduled = nxt
            self._time.schedule(nxt, self._on_processing_time)

    def snapshot(self) -> Tuple[List[Tuple[int, Any, Any]], List[Tuple[int, Any, Any]]]:
        """The registered timers: (event-time, processing-time) lists of (ts, key, ns)."""
        return sorted(self._event.live, key=_order), sorted(self._proc.live, key=_order)

    def restore(self, event: List[Tuple[int, Any, Any]], proc: List[Tuple[int, Any, Any]]) -> None:
        for ts, key, ns in event:
            self.register_event(ts, key, ns)
        for ts, key, ns in proc:
            self.register_processing(ts, key, ns)

    def pending(self) -> int:
        return len(self._event) + len(self._proc)
