"""Windows, window assigners, triggers and evictors (Flink's and PyFlink's names).

An assigner puts each record into windows; a trigger decides when a window's
contents are evaluated (FIRE) or dropped (PURGE); an evictor removes records from a
window before or after evaluation. The window operator (:mod:`nbstream.runtime.windows`)
drives them exactly as Flink's ``WindowOperator`` does.

>>> TumblingEventTimeWindows.of(Time.seconds(5)).assign_windows(None, 7_300, None)
[TimeWindow(start=5000, end=10000)]
>>> [w.start for w in SlidingEventTimeWindows.of("10s", "5s").assign_windows(None, 7_300, None)]
[5000, 0]
>>> TimeWindow(0, 5).max_timestamp()
4
"""

from __future__ import annotations

import abc
from enum import Enum
from typing import Any, Callable, Collection, Iterable, List, Optional, Tuple

from .durations import DurationLike, Time, to_millis  # noqa: F401 - Time: doctests
from .records import MAX_TIMESTAMP, MIN_TIMESTAMP
from .state import StateSpec

__all__ = [
    "Window", "TimeWindow", "GlobalWindow", "CountWindow", "TimestampedValue",
    "WindowAssigner", "MergingWindowAssigner", "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows", "SlidingEventTimeWindows", "SlidingProcessingTimeWindows",
    "EventTimeSessionWindows", "ProcessingTimeSessionWindows", "DynamicEventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows", "GlobalWindows", "CountTumblingWindowAssigner",
    "CountSlidingWindowAssigner", "SessionWindowTimeGapExtractor",
    "TriggerResult", "Trigger", "EventTimeTrigger", "ProcessingTimeTrigger", "CountTrigger",
    "PurgingTrigger", "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger",
    "NeverTrigger", "Evictor", "CountEvictor", "TimeEvictor", "DeltaEvictor",
]


# -- windows ------------------------------------------------------------------------------------

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

    def __lt__(self, other: "TimeWindow") -> bool:
        return (self.start, self.end) < (other.start, other.end)

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


# -- triggers ----------------------------------------------------------------------------------

class TriggerResult(Enum):
    """What a trigger decides: CONTINUE, FIRE, PURGE or FIRE_AND_PURGE."""

    CONTINUE = (False, False)
    FIRE_AND_PURGE = (True, True)
    FIRE = (True, False)
    PURGE = (False, True)

    def is_fire(self) -> bool:
        return self._value_[0]  # (not .value: an enum property, slow on the hot path)

    def is_purge(self) -> bool:
        return self._value_[1]


class Trigger(abc.ABC):
    """Decides when a window's contents are evaluated or dropped.

    Triggers keep no state of their own (one instance serves every key and window):
    use ``ctx.get_partitioned_state(descriptor)`` and timers on the context.
    """

    class TriggerContext(abc.ABC):
        """What a trigger may do: read the clocks, set and delete timers for its window,
        and keep state scoped to the key and window."""

        @abc.abstractmethod
        def get_current_processing_time(self) -> int: ...

        @abc.abstractmethod
        def get_current_watermark(self) -> int: ...

        @abc.abstractmethod
        def register_processing_time_timer(self, time: int) -> None: ...

        @abc.abstractmethod
        def register_event_time_timer(self, time: int) -> None: ...

        @abc.abstractmethod
        def delete_processing_time_timer(self, time: int) -> None: ...

        @abc.abstractmethod
        def delete_event_time_timer(self, time: int) -> None: ...

        @abc.abstractmethod
        def get_partitioned_state(self, state_descriptor: Any) -> Any: ...

        def get_metric_group(self) -> Any:
            return None

    class OnMergeContext(TriggerContext):
        @abc.abstractmethod
        def merge_partitioned_state(self, state_descriptor: Any) -> None: ...

    @abc.abstractmethod
    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult: ...

    @abc.abstractmethod
    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult: ...

    @abc.abstractmethod
    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult: ...

    def can_merge(self) -> bool:
        """True if this trigger can be used with merging windows (it implements on_merge)."""
        return False

    def on_merge(self, window: Any, ctx: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not support merging windows")

    @abc.abstractmethod
    def clear(self, window: Any, ctx: Any) -> None: ...


class EventTimeTrigger(Trigger):
    """Fires once the watermark passes the end of the window (the default of event-time windows)."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE  # late but within the allowed lateness
        ctx.register_event_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.FIRE if time == window.max_timestamp() else TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Any) -> None:
        if window.max_timestamp() > ctx.get_current_watermark():
            ctx.register_event_time_timer(window.max_timestamp())

    def clear(self, window: Any, ctx: Any) -> None:
        ctx.delete_event_time_timer(window.max_timestamp())

    @staticmethod
    def create() -> "EventTimeTrigger":
        return EventTimeTrigger()

    def __repr__(self) -> str:
        return "EventTimeTrigger()"


class ProcessingTimeTrigger(Trigger):
    """Fires once processing time passes the end of the window."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        ctx.register_processing_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.FIRE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Any) -> None:
        if window.max_timestamp() > ctx.get_current_processing_time():
            ctx.register_processing_time_timer(window.max_timestamp())

    def clear(self, window: Any, ctx: Any) -> None:
        ctx.delete_processing_time_timer(window.max_timestamp())

    @staticmethod
    def create() -> "ProcessingTimeTrigger":
        return ProcessingTimeTrigger()

    def __repr__(self) -> str:
        return "ProcessingTimeTrigger()"


def _add(a: int, b: int) -> int:
    return a + b


class CountTrigger(Trigger):
    """Fires when the window holds ``count`` more elements since the last firing."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError("CountTrigger needs a count of at least 1")
        self.count = count
        self.state_desc = StateSpec("count", "reducing", _add)

    @staticmethod
    def of(count: int) -> "CountTrigger":
        return CountTrigger(count)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        state = ctx.get_partitioned_state(self.state_desc)
        state.add(1)
        if state.get() >= self.count:
            state.clear()
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Any) -> None:
        ctx.merge_partitioned_state(self.state_desc)

    def clear(self, window: Any, ctx: Any) -> None:
        ctx.get_partitioned_state(self.state_desc).clear()

    def __repr__(self) -> str:
        return f"CountTrigger({self.count})"


class PurgingTrigger(Trigger):
    """Turns the FIRE of a nested trigger into FIRE_AND_PURGE."""

    def __init__(self, nested: Trigger) -> None:
        self.nested = nested

    @staticmethod
    def of(nested_trigger: Trigger) -> "PurgingTrigger":
        return PurgingTrigger(nested_trigger)

    @staticmethod
    def _purging(result: TriggerResult) -> TriggerResult:
        return TriggerResult.FIRE_AND_PURGE if result.is_fire() else result

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        return self._purging(self.nested.on_element(element, timestamp, window, ctx))

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return self._purging(self.nested.on_processing_time(time, window, ctx))

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return self._purging(self.nested.on_event_time(time, window, ctx))

    def can_merge(self) -> bool:
        return self.nested.can_merge()

    def on_merge(self, window: Any, ctx: Any) -> None:
        self.nested.on_merge(window, ctx)

    def clear(self, window: Any, ctx: Any) -> None:
        self.nested.clear(window, ctx)

    def __repr__(self) -> str:
        return f"PurgingTrigger({self.nested!r})"


class _Continuous(Trigger):
    """Shared by the continuous triggers: fire every ``interval`` within a window."""

    def __init__(self, interval: DurationLike) -> None:
        self.interval = to_millis(interval, "interval")
        if self.interval <= 0:
            raise ValueError("the firing interval must be positive")
        self.state_desc = StateSpec("fire-time", "reducing", min)

    def _register_next(self, time: int, window: Any, ctx: Any, state: Any) -> None:
        nxt = min(time + self.interval, window.max_timestamp())
        state.add(nxt)
        self._register(ctx, nxt)

    def _register(self, ctx: Any, ts: int) -> None:
        raise NotImplementedError

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Any) -> None:
        ctx.merge_partitioned_state(self.state_desc)
        nxt = ctx.get_partitioned_state(self.state_desc).get()
        if nxt is not None:
            self._register(ctx, nxt)


class ContinuousEventTimeTrigger(_Continuous):
    """Fires every ``interval`` of event time within a window, and at its end."""

    @staticmethod
    def of(interval: DurationLike) -> "ContinuousEventTimeTrigger":
        return ContinuousEventTimeTrigger(interval)

    def _register(self, ctx: Any, ts: int) -> None:
        ctx.register_event_time_timer(ts)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE
        ctx.register_event_time_timer(window.max_timestamp())
        state = ctx.get_partitioned_state(self.state_desc)
        if state.get() is None:
            self._register_next(timestamp - (timestamp % self.interval), window, ctx, state)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        if time == window.max_timestamp():
            return TriggerResult.FIRE
        state = ctx.get_partitioned_state(self.state_desc)
        if state.get() == time:
            state.clear()
            self._register_next(time, window, ctx, state)
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def clear(self, window: Any, ctx: Any) -> None:
        state = ctx.get_partitioned_state(self.state_desc)
        ts = state.get()
        if ts is not None:
            ctx.delete_event_time_timer(ts)
            state.clear()

    def __repr__(self) -> str:
        return f"ContinuousEventTimeTrigger({self.interval} ms)"


class ContinuousProcessingTimeTrigger(_Continuous):
    """Fires every ``interval`` of processing time within a window."""

    @staticmethod
    def of(interval: DurationLike) -> "ContinuousProcessingTimeTrigger":
        return ContinuousProcessingTimeTrigger(interval)

    def _register(self, ctx: Any, ts: int) -> None:
        ctx.register_processing_time_timer(ts)

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        state = ctx.get_partitioned_state(self.state_desc)
        now = ctx.get_current_processing_time()
        if state.get() is None:
            self._register_next(now - (now % self.interval), window, ctx, state)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        state = ctx.get_partitioned_state(self.state_desc)
        if state.get() == time:
            state.clear()
            self._register_next(time, window, ctx, state)
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def clear(self, window: Any, ctx: Any) -> None:
        state = ctx.get_partitioned_state(self.state_desc)
        ts = state.get()
        if ts is not None:
            ctx.delete_processing_time_timer(ts)
            state.clear()

    def __repr__(self) -> str:
        return f"ContinuousProcessingTimeTrigger({self.interval} ms)"


class NeverTrigger(Trigger):
    """Never fires (the default trigger of GlobalWindows)."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Any) -> None:
        pass

    def clear(self, window: Any, ctx: Any) -> None:
        pass

    def __repr__(self) -> str:
        return "NeverTrigger()"


# -- assigners ----------------------------------------------------------------------------------

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


class _Sliding(WindowAssigner):
    event_time = True

    def __init__(self, size: DurationLike, slide: DurationLike, offset: DurationLike = 0) -> None:
        self.size, self.slide, self.offset = _size_offset(type(self).__name__, size, offset, slide)

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


# -- evictors -----------------------------------------------------------------------------------

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


class CountEvictor(Evictor):
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

    def evict_before(self, elements: List[TimestampedValue], size: int, window: Any,
                     ctx: Any) -> None:
        if not self.after:
            self._evict(elements, size)

    def evict_after(self, elements: List[TimestampedValue], size: int, window: Any,
                    ctx: Any) -> None:
        if self.after:
            self._evict(elements, size)


class TimeEvictor(Evictor):
    """Keeps the elements within ``window_size`` of the newest element's timestamp."""

    def __init__(self, window_size: DurationLike, do_evict_after: bool = False) -> None:
        self.window_size = to_millis(window_size, "TimeEvictor window size")
        self.after = do_evict_after

    @staticmethod
    def of(window_size: DurationLike, do_evict_after: bool = False) -> "TimeEvictor":
        return TimeEvictor(window_size, do_evict_after)

    def _evict(self, elements: List[TimestampedValue]) -> None:
        stamps = [e.timestamp for e in elements if e.timestamp is not None]
        if len(stamps) != len(elements) or not stamps:
            return  # as Flink: only when every element has a timestamp
        cut = max(stamps) - self.window_size
        elements[:] = [e for e in elements if e.timestamp > cut]

    def evict_before(self, elements: List[TimestampedValue], size: int, window: Any,
                     ctx: Any) -> None:
        if not self.after:
            self._evict(elements)

    def evict_after(self, elements: List[TimestampedValue], size: int, window: Any,
                    ctx: Any) -> None:
        if self.after:
            self._evict(elements)


class DeltaEvictor(Evictor):
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

    def _evict(self, elements: List[TimestampedValue]) -> None:
        if not elements:
            return
        last = elements[-1].value
        elements[:] = [e for e in elements if self.delta(e.value, last) < self.threshold]

    def evict_before(self, elements: List[TimestampedValue], size: int, window: Any,
                     ctx: Any) -> None:
        if not self.after:
            self._evict(elements)

    def evict_after(self, elements: List[TimestampedValue], size: int, window: Any,
                    ctx: Any) -> None:
        if self.after:
            self._evict(elements)


