"""Window assigners: which windows a record belongs to (tumbling, sliding, session,
global and count windows), each time-based kind in an event-time and a processing-time
flavour that differ only in where the time comes from.

>>> TumblingEventTimeWindows.of(Time.seconds(5)).assign_windows(None, 7_300, None)
[TimeWindow(start=5000, end=10000)]
>>> [w.start for w in SlidingEventTimeWindows.of("10s", "5s").assign_windows(None, 7_300, None)]
[5000, 0]
"""

from __future__ import annotations

import abc
import warnings
from typing import Any, Callable, Collection, Iterable, List, Optional, Tuple

from ..durations import DurationLike, Time, to_millis  # noqa: F401 - Time: doctests
from ..records import MIN_TIMESTAMP
from ..state import StateSpec
from .window import CountWindow, GlobalWindow, TimeWindow
from .triggers import (CountTrigger, EventTimeTrigger, ProcessingTimeTrigger, Trigger,
                       NeverTrigger, PurgingTrigger)

__all__ = ["WindowAssigner", "MergingWindowAssigner", "TumblingEventTimeWindows",
           "TumblingProcessingTimeWindows", "SlidingEventTimeWindows",
           "SlidingProcessingTimeWindows", "EventTimeSessionWindows",
           "ProcessingTimeSessionWindows", "DynamicEventTimeSessionWindows",
           "DynamicProcessingTimeSessionWindows", "GlobalWindows", "CountTumblingWindowAssigner",
           "CountSlidingWindowAssigner", "SessionWindowTimeGapExtractor", "NO_TIMESTAMP"]


class WindowAssigner(abc.ABC):
    """Assigns each record to zero or more windows.

    ``assign_windows(element, timestamp, context)``: ``context.get_current_processing_time()``
    and ``context.get_runtime_context()`` (keyed state of the current key) are available.
    """

    class WindowAssignerContext(abc.ABC):
        @abc.abstractmethod
        def get_current_processing_time(self) -> int: ...

        @abc.abstractmethod
        def get_runtime_context(self) -> Any: ...

    @abc.abstractmethod
    def assign_windows(self, element: Any, timestamp: int, context: Any) -> Collection[Any]: ...

    @abc.abstractmethod
    def get_default_trigger(self, env: Any = None) -> Trigger: ...

    @abc.abstractmethod
    def is_event_time(self) -> bool: ...

    def get_window_serializer(self) -> Any:  # PyFlink compatibility: windows are Python objects
        return None


class MergingWindowAssigner(WindowAssigner):
    """An assigner whose windows can merge (sessions): ``merge_windows(windows, callback)``
    calls ``callback.merge(to_be_merged, merge_result)`` for each group to merge."""

    class MergeCallback(abc.ABC):
        @abc.abstractmethod
        def merge(self, to_be_merged: Iterable[Any], merge_result: Any) -> None: ...

    @abc.abstractmethod
    def merge_windows(self, windows: Iterable[Any], callback: Any) -> None: ...


def _size_offset(name: str, size: DurationLike, offset: Optional[DurationLike],
                 slide: Optional[DurationLike] = None) -> Tuple[int, int, int]:
    size_ms = to_millis(size, f"{name} size")
    slide_ms = size_ms if slide is None else to_millis(slide, f"{name} slide")
    offset_ms = 0 if offset is None else to_millis(offset, f"{name} offset")
    if size_ms <= 0 or slide_ms <= 0:
        raise ValueError(f"{name}: size and slide must be positive (size={size_ms} ms, "
                         f"slide={slide_ms} ms)")
    if abs(offset_ms) >= slide_ms:
        raise ValueError(f"{name} parameters must satisfy abs(offset) < "
                         f"{'slide' if slide is not None else 'size'}")
    return size_ms, slide_ms, offset_ms


class _Tumbling(WindowAssigner):
    event_time = True

    def __init__(self, size: int, offset: int = 0) -> None:
        self.size, self.slide, self.offset = _size_offset(type(self).__name__, size, offset)

    def _time(self, timestamp: int, context: Any) -> int:
        return timestamp

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[TimeWindow]:
        t = self._time(timestamp, context)
        start = t - (t - self.offset + self.size) % self.size
        return [TimeWindow(start, start + self.size)]

    def is_event_time(self) -> bool:
        return self.event_time

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size}, {self.offset})"


NO_TIMESTAMP = ("record has no timestamp (event time); call assign_timestamps_and_watermarks"
                "(...) before an event-time window, or use a processing-time window")


def _event_time_of(timestamp: Any) -> int:
    if timestamp is None or timestamp == MIN_TIMESTAMP:
        raise TypeError(NO_TIMESTAMP)
    return timestamp


class TumblingEventTimeWindows(_Tumbling):
    """Fixed-size, non-overlapping windows by event time: ``of(size, offset=0)``."""

    @staticmethod
    def of(size: DurationLike, offset: Optional[DurationLike] = None) -> "TumblingEventTimeWindows":
        return TumblingEventTimeWindows(size, offset or 0)

    def _time(self, timestamp: int, context: Any) -> int:
        return _event_time_of(timestamp)

    def get_default_trigger(self, env: Any = None) -> Trigger:
        return EventTimeTrigger()


class TumblingProcessingTimeWindows(_Tumbling):
    """Fixed-size, non-overlapping windows by processing time: ``of(size, offset=0)``."""

    event_time = False

    @staticmethod
    def of(size: DurationLike, offset: Optional[DurationLike] = None
           ) -> "TumblingProcessingTimeWindows":
        return TumblingProcessingTimeWindows(size, offset or 0)

    def _time(self, timestamp: int, context: Any) -> int:
        return context.get_current_processing_time()

    def get_default_trigger(self, env: Any = None) -> Trigger:
        return ProcessingTimeTrigger()


# Every record is in ceil(size / slide) sliding windows, and updates each: above
# WARN_WINDOWS_PER_RECORD a sliding window warns, above MAX_WINDOWS_PER_RECORD it is
# refused (one record would cost that many state updates; a day over a millisecond is
# 86.4 million). For such shapes, aggregate into tumbling windows of the slide first.
WARN_WINDOWS_PER_RECORD = 1_000
MAX_WINDOWS_PER_RECORD = 100_000


class _Sliding(WindowAssigner):
    event_time = True

    def __init__(self, size: DurationLike, slide: DurationLike, offset: DurationLike = 0) -> None:
        self.size, self.slide, self.offset = _size_offset(type(self).__name__, size, offset, slide)
        per_record = -(-self.size // self.slide)
        shape = (f"{type(self).__name__}: size {self.size:,} ms over slide {self.slide:,} ms "
                 f"{{}} every record in {per_record:,} windows")
        if per_record > MAX_WINDOWS_PER_RECORD:
            raise ValueError(shape.format("would put") + f" (more than {MAX_WINDOWS_PER_RECORD:,}); "
                             "use a larger slide, or tumbling windows of the slide first")
        if per_record > WARN_WINDOWS_PER_RECORD:
            warnings.warn(shape.format("puts") + f" (more than {WARN_WINDOWS_PER_RECORD:,}): each "
                          "record updates every one of them", stacklevel=3)

    def _time(self, timestamp: int, context: Any) -> int:
        return timestamp

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[TimeWindow]:
        t = self._time(timestamp, context)
        size, slide = self.size, self.slide
        last_start = t - (t - self.offset + slide) % slide
        return [TimeWindow(start, start + size)
                for start in range(last_start, t - size, -slide)]

    def is_event_time(self) -> bool:
        return self.event_time

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size}, {self.slide}, {self.offset})"


class SlidingEventTimeWindows(_Sliding):
    """Windows of ``size`` starting every ``slide``, by event time (they overlap)."""

    @staticmethod
    def of(size: DurationLike, slide: DurationLike,
           offset: Optional[DurationLike] = None) -> "SlidingEventTimeWindows":
        return SlidingEventTimeWindows(size, slide, offset or 0)

    def _time(self, timestamp: int, context: Any) -> int:
        return _event_time_of(timestamp)

    def get_default_trigger(self, env: Any = None) -> Trigger:
        return EventTimeTrigger()


class SlidingProcessingTimeWindows(_Sliding):
    """Windows of ``size`` starting every ``slide``, by processing time."""

    event_time = False

    @staticmethod
    def of(size: DurationLike, slide: DurationLike,
           offset: Optional[DurationLike] = None) -> "SlidingProcessingTimeWindows":
        return SlidingProcessingTimeWindows(size, slide, offset or 0)

    def _time(self, timestamp: int, context: Any) -> int:
        return context.get_current_processing_time()

    def get_default_trigger(self, env: Any = None) -> Trigger:
        return ProcessingTimeTrigger()


class SessionWindowTimeGapExtractor(abc.ABC):
    """``extract(element)`` returns the session gap (ms) that follows an element."""

    @abc.abstractmethod
    def extract(self, element: Any) -> int: ...


class _Session(MergingWindowAssigner):
    event_time = True

    def __init__(self, gap: Any) -> None:
        if callable(gap) or hasattr(gap, "extract"):
            self.gap_ms: Optional[int] = None
            self.extract: Optional[Callable[[Any], Any]] = getattr(gap, "extract", gap)
        else:
            self.gap_ms = to_millis(gap, "session gap")
            self.extract = None
            if self.gap_ms <= 0:
                raise ValueError(f"{type(self).__name__}: the session gap must be positive")

    def _gap(self, element: Any) -> int:
        if self.extract is None:
            return self.gap_ms  # type: ignore[return-value]
        gap = to_millis(self.extract(element), "session gap")
        if gap <= 0:
            raise ValueError(f"dynamic session gap must be positive, got {gap} for {element!r}")
        return gap

    def _time(self, timestamp: int, context: Any) -> int:
        return _event_time_of(timestamp)

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[TimeWindow]:
        t = self._time(timestamp, context)
        return [TimeWindow(t, t + self._gap(element))]

    def merge_windows(self, windows: Iterable[Any], callback: Any) -> None:
        TimeWindow.merge_windows(windows, callback)

    def is_event_time(self) -> bool:
        return self.event_time

    def get_default_trigger(self, env: Any = None) -> Trigger:
        return EventTimeTrigger() if self.event_time else ProcessingTimeTrigger()

    def __repr__(self) -> str:
        gap = f"{self.gap_ms} ms" if self.extract is None else "dynamic"
        return f"{type(self).__name__}(gap={gap})"


class EventTimeSessionWindows(_Session):
    """Sessions by event time: a window ends after ``gap`` without records of its key.
    ``with_gap(gap)``, or ``with_dynamic_gap(extractor)`` for a gap per record."""

    @staticmethod
    def with_gap(size: DurationLike) -> "EventTimeSessionWindows":
        return EventTimeSessionWindows(size)

    @staticmethod
    def with_dynamic_gap(extractor: Any) -> "DynamicEventTimeSessionWindows":
        return DynamicEventTimeSessionWindows(extractor)


class DynamicEventTimeSessionWindows(EventTimeSessionWindows):
    """Event-time sessions whose gap is ``extractor(element)`` (ms)."""


class ProcessingTimeSessionWindows(_Session):
    """Sessions by processing time: ``with_gap(gap)`` or ``with_dynamic_gap(extractor)``."""

    event_time = False

    def _time(self, timestamp: int, context: Any) -> int:
        return context.get_current_processing_time()

    @staticmethod
    def with_gap(size: DurationLike) -> "ProcessingTimeSessionWindows":
        return ProcessingTimeSessionWindows(size)

    @staticmethod
    def with_dynamic_gap(extractor: Any) -> "DynamicProcessingTimeSessionWindows":
        return DynamicProcessingTimeSessionWindows(extractor)


class DynamicProcessingTimeSessionWindows(ProcessingTimeSessionWindows):
    """Processing-time sessions whose gap is ``extractor(element)`` (ms)."""


class GlobalWindows(WindowAssigner):
    """One window per key that never ends; give it a trigger (``.trigger(CountTrigger.of(n))``)."""

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[GlobalWindow]:
        return [GlobalWindow()]

    def get_default_trigger(self, env: Any = None) -> Trigger:
        return NeverTrigger()

    def is_event_time(self) -> bool:
        return False

    @staticmethod
    def create() -> "GlobalWindows":
        return GlobalWindows()

    def __repr__(self) -> str:
        return "GlobalWindows()"


class _CountAssigner(WindowAssigner):
    """Count windows as PyFlink's: a counter per key numbers the elements; a window
    fires once it holds ``size`` elements and is then purged (it never gets more)."""

    def __init__(self, size: int, slide: int) -> None:
        if size < 1 or slide < 1:
            raise ValueError("count windows need a size and slide of at least 1")
        self.size, self.slide = int(size), int(slide)
        self.counter = StateSpec(f"count-window-assigner-{size}-{slide}", "value")

    def _next_count(self, context: Any) -> int:
        state = context.get_runtime_context().get_state(self.counter)
        n = state.value() or 0
        state.update(n + 1)
        return n

    def get_default_trigger(self, env: Any = None) -> Trigger:
        return PurgingTrigger(CountTrigger(self.size))

    def is_event_time(self) -> bool:
        return False


class CountTumblingWindowAssigner(_CountAssigner):
    """Windows of ``size`` consecutive elements of a key (``count_window(size)``)."""

    def __init__(self, size: int) -> None:
        super().__init__(size, size)

    @staticmethod
    def of(window_size: int) -> "CountTumblingWindowAssigner":
        return CountTumblingWindowAssigner(window_size)

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[CountWindow]:
        return [CountWindow(self._next_count(context) // self.size)]

    def __repr__(self) -> str:
        return f"CountTumblingWindowAssigner({self.size})"


class CountSlidingWindowAssigner(_CountAssigner):
    """Windows of ``size`` elements starting every ``slide`` elements
    (``count_window(size, slide)``); only full windows fire, as in PyFlink."""

    @staticmethod
    def of(window_size: int, window_slide: int) -> "CountSlidingWindowAssigner":
        return CountSlidingWindowAssigner(window_size, window_slide)

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[CountWindow]:
        n = self._next_count(context)
        size, slide = self.size, self.slide
        windows = []
        wid = n // slide
        while wid >= 0 and wid * slide <= n <= wid * slide + size - 1:
            windows.append(CountWindow(wid))
            wid -= 1
        return windows

    def __repr__(self) -> str:
        return f"CountSlidingWindowAssigner({self.size}, {self.slide})"
