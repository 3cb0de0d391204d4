"""Evictors: remove records from a window's contents before and/or after its function
runs (by count, by time, by a delta function), as Flink's evictors."""

from __future__ import annotations

import abc
from typing import Any, Callable, List

from ..durations import DurationLike, to_millis
from .window import TimestampedValue

__all__ = ["Evictor", "CountEvictor", "TimeEvictor", "DeltaEvictor"]


class Evictor(abc.ABC):
    """Removes elements from a window's contents before and/or after the window function.

    ``evict_before(elements, size, window, ctx)`` and ``evict_after(...)`` get the
    contents as a list of :class:`TimestampedValue` and remove items from it in place;
    ``ctx.get_current_processing_time()`` and ``ctx.get_current_watermark()`` are there.
    """

    @abc.abstractmethod
    def evict_before(self, elements: List[TimestampedValue], size: int, window: Any,
                     ctx: Any) -> None: ...

    @abc.abstractmethod
    def evict_after(self, elements: List[TimestampedValue], size: int, window: Any,
                    ctx: Any) -> None: ...


class _BeforeOrAfter(Evictor):
    """An evictor that works either before the window function or, with
    ``do_evict_after=True``, after it (Flink's built-in evictors)."""

    after = False

    def _evict(self, elements: List[TimestampedValue], size: int) -> None:
        raise NotImplementedError

    def evict_before(self, elements: List[TimestampedValue], size: int, window: Any,
                     ctx: Any) -> None:
        if not self.after:
            self._evict(elements, size)

    def evict_after(self, elements: List[TimestampedValue], size: int, window: Any,
                    ctx: Any) -> None:
        if self.after:
            self._evict(elements, size)


class CountEvictor(_BeforeOrAfter):
    """Keeps the last ``max_count`` elements (before the function, or after with
    ``do_evict_after=True``)."""

    def __init__(self, max_count: int, do_evict_after: bool = False) -> None:
        self.max_count = int(max_count)
        self.after = do_evict_after

    @staticmethod
    def of(max_count: int, do_evict_after: bool = False) -> "CountEvictor":
        return CountEvictor(max_count, do_evict_after)

    def _evict(self, elements: List[TimestampedValue], size: int) -> None:
        if size > self.max_count:
            del elements[: size - self.max_count]


class TimeEvictor(_BeforeOrAfter):
    """Keeps the elements within ``window_size`` of the newest element's timestamp."""

    def __init__(self, window_size: DurationLike, do_evict_after: bool = False) -> None:
        self.window_size = to_millis(window_size, "TimeEvictor window size")
        self.after = do_evict_after

    @staticmethod
    def of(window_size: DurationLike, do_evict_after: bool = False) -> "TimeEvictor":
        return TimeEvictor(window_size, do_evict_after)

    def _evict(self, elements: List[TimestampedValue], size: int) -> None:
        stamps = [e.timestamp for e in elements if e.timestamp is not None]
        if len(stamps) != len(elements) or not stamps:
            return  # as Flink: only when every element has a timestamp
        cut = max(stamps) - self.window_size
        elements[:] = [e for e in elements if e.timestamp > cut]


class DeltaEvictor(_BeforeOrAfter):
    """Drops elements whose ``delta_function(element, last)`` to the newest element is
    at least ``threshold``."""

    def __init__(self, threshold: float, delta_function: Callable[[Any, Any], float],
                 do_evict_after: bool = False) -> None:
        self.threshold = threshold
        self.delta = delta_function
        self.after = do_evict_after

    @staticmethod
    def of(threshold: float, delta_function: Callable[[Any, Any], float],
           do_evict_after: bool = False) -> "DeltaEvictor":
        return DeltaEvictor(threshold, delta_function, do_evict_after)

    def _evict(self, elements: List[TimestampedValue], size: int) -> None:
        if not elements:
            return
        last = elements[-1].value
        elements[:] = [e for e in elements if self.delta(e.value, last) < self.threshold]
