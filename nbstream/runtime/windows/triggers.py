"""Triggers: when a window's contents are evaluated (FIRE) or dropped (PURGE), in
event time, processing time or by count, as Flink's triggers."""

from __future__ import annotations

import abc
from enum import Enum
from typing import Any

from ..durations import DurationLike, to_millis
from ..state import StateSpec

__all__ = ["TriggerResult", "Trigger", "EventTimeTrigger", "ProcessingTimeTrigger", "CountTrigger",
           "PurgingTrigger", "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger",
           "NeverTrigger"]


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


class _EndOfWindowTrigger(Trigger):
    """Fires once time in one domain passes the end of the window; the two domains'
    triggers differ only in which clock they read and set."""

    event_time = True

    def _now(self, ctx: Any) -> int:
        return ctx.get_current_watermark() if self.event_time else ctx.get_current_processing_time()

    def _register(self, ctx: Any, window: Any) -> None:
        if self.event_time:
            ctx.register_event_time_timer(window.max_timestamp())
        else:
            ctx.register_processing_time_timer(window.max_timestamp())

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        if self.event_time and window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE  # late but within the allowed lateness
        self._register(ctx, window)
        return TriggerResult.CONTINUE

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE if self.event_time else TriggerResult.FIRE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        if self.event_time and time == window.max_timestamp():
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        return True

    def on_merge(self, window: Any, ctx: Any) -> None:
        if window.max_timestamp() > self._now(ctx):
            self._register(ctx, window)

    def clear(self, window: Any, ctx: Any) -> None:
        if self.event_time:
            ctx.delete_event_time_timer(window.max_timestamp())
        else:
            ctx.delete_processing_time_timer(window.max_timestamp())

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EventTimeTrigger(_EndOfWindowTrigger):
    """Fires once the watermark passes the end of the window (the default of event-time windows)."""

    @staticmethod
    def create() -> "EventTimeTrigger":
        return EventTimeTrigger()


class ProcessingTimeTrigger(_EndOfWindowTrigger):
    """Fires once processing time passes the end of the window."""

    event_time = False

    @staticmethod
    def create() -> "ProcessingTimeTrigger":
        return ProcessingTimeTrigger()


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
