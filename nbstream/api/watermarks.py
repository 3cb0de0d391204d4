"""Event time: where timestamps come from and how watermarks advance (PyFlink's names).

A :class:`WatermarkStrategy` bundles a timestamp assigner (how to read a record's
event time, in epoch milliseconds) and a watermark generator (how far event time has
progressed). Give it to ``DataStream.assign_timestamps_and_watermarks``:

>>> from nbstream import StreamExecutionEnvironment, TumblingEventTimeWindows
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> events = env.from_collection([("a", 1_000), ("b", 2_500), ("a", 7_000)])
>>> strategy = (WatermarkStrategy.for_bounded_out_of_orderness("2s")
...             .with_timestamp_assigner(lambda e, _: e[1]))
>>> (events.assign_timestamps_and_watermarks(strategy)
...        .window_all(TumblingEventTimeWindows.of("5s"))
...        .count()
...        .execute_and_collect(limit=2))
[{'window_start': 0, 'window_end': 5000, 'count': 2}, {'window_start': 5000, 'window_end': 10000, 'count': 1}]

Watermarks are emitted periodically, every ``env.get_config().set_auto_watermark_interval(ms)``
of processing time (200 ms by default; 0 turns periodic emission off), and a final
watermark at the end of a bounded input fires everything that is left.
"""

from __future__ import annotations

import abc
import copy
import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from ..runtime.durations import DurationLike, to_millis
from ..runtime.records import MIN_TIMESTAMP, Watermark

__all__ = ["WatermarkStrategy", "TimestampAssigner", "WatermarkGenerator", "WatermarkOutput",
           "BoundedOutOfOrdernessWatermarks", "Watermark"]


class TimestampAssigner(abc.ABC):
    """Reads the event time of a record: ``extract_timestamp(value, record_timestamp)``
    returns epoch milliseconds (``record_timestamp`` is the record's current timestamp,
    or ``MIN`` = -2**63 when it has none)."""

    @abc.abstractmethod
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int: ...


class WatermarkOutput(abc.ABC):
    """Where a watermark generator emits: ``emit_watermark(Watermark(ts))`` (or an int),
    ``mark_idle()``, ``mark_active()``."""

    @abc.abstractmethod
    def emit_watermark(self, watermark: Union[Watermark, int]) -> None: ...

    @abc.abstractmethod
    def mark_idle(self) -> None: ...

    @abc.abstractmethod
    def mark_active(self) -> None: ...


class WatermarkGenerator(abc.ABC):
    """Generates watermarks from the events it sees (``on_event``) and periodically
    (``on_periodic_emit``, every auto-watermark interval). A watermark emitted in
    ``on_event`` follows that event downstream at once."""

    @abc.abstractmethod
    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None: ...

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        """Called every auto-watermark interval (processing time)."""


class BoundedOutOfOrdernessWatermarks(WatermarkGenerator):
    """Watermark = highest timestamp seen - bound - 1 (bound 0: monotonous timestamps)."""

    def __init__(self, max_out_of_orderness_ms: int) -> None:
        if max_out_of_orderness_ms < 0:
            raise ValueError("the out-of-orderness bound must not be negative")
        self.bound = max_out_of_orderness_ms
        self.max_timestamp = MIN_TIMESTAMP + self.bound + 1

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        if event_timestamp > self.max_timestamp:
            self.max_timestamp = event_timestamp

    def on_timestamps(self, timestamps: Any) -> None:
        """All timestamps of a batch at once (the runtime's fast path)."""
        if timestamps:
            high = max(timestamps)
            if high > self.max_timestamp:
                self.max_timestamp = high

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        output.emit_watermark(self.max_timestamp - self.bound - 1)


class _NoWatermarks(WatermarkGenerator):
    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        pass

    def on_timestamps(self, timestamps: Any) -> None:
        pass


class _WithIdleness(WatermarkGenerator):
    """Marks the output idle when no event arrived for ``idle_ms`` of processing time."""

    def __init__(self, inner: WatermarkGenerator, idle_ms: int, now_ms: Callable[[], int]) -> None:
        self.inner = inner
        self.idle_ms = idle_ms
        self.now_ms = now_ms
        self.events = 0
        self.seen = 0
        self.inactive_since: Optional[int] = None
        self.idle = False
        fast = getattr(inner, "on_timestamps", None)
        if fast is not None:
            def on_timestamps(timestamps: Any) -> None:
                fast(timestamps)
                if timestamps:
                    self.events += 1
                    self.idle = False
            self.on_timestamps = on_timestamps

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        self.inner.on_event(event, event_timestamp, output)
        self.events += 1
        self.idle = False

    def _idle_now(self) -> bool:
        if self.events != self.seen:
            self.seen = self.events
            self.inactive_since = None
            return False
        now = self.now_ms()
        if self.inactive_since is None:
            self.inactive_since = now
            return False
        return now - self.inactive_since >= self.idle_ms

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        if self._idle_now():
            if not self.idle:
                output.mark_idle()
                self.idle = True
        else:
            self.inner.on_periodic_emit(output)


def _arity(fn: Any) -> int:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 2
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 2
    return len(positional)


@dataclass(frozen=True)
class WatermarkAlignment:
    """A watermark alignment group and its bounds (see ``with_watermark_alignment``)."""

    group: str
    max_drift_ms: int
    update_interval_ms: int

    def get_watermark_group(self) -> str:
        return self.group

    def get_max_allowed_watermark_drift(self) -> int:
        return self.max_drift_ms

    def get_update_interval(self) -> int:
        return self.update_interval_ms


class WatermarkStrategy:
    """How a stream gets event-time timestamps and watermarks (immutable: each method
    returns a new strategy)."""

    def __init__(self, generator_factory: Callable[[Any], WatermarkGenerator],
                 timestamp_assigner: Any = None, idle_ms: Optional[int] = None,
                 description: str = "") -> None:
        self._factory = generator_factory
        self._assigner = timestamp_assigner
        self._idle_ms = idle_ms
        self._description = description

    def _replace(self, **changes: Any) -> "WatermarkStrategy":
        new = copy.copy(self)
        for k, v in changes.items():
            setattr(new, k, v)
        return new

    def __repr__(self) -> str:
        extra = f", idle after {self._idle_ms} ms" if self._idle_ms is not None else ""
        return f"WatermarkStrategy({self._description}{extra})"

    # -- the strategies -------------------------------------------------------------------------
    @staticmethod
    def for_monotonous_timestamps() -> "WatermarkStrategy":
        """Timestamps never decrease: watermark = highest timestamp - 1."""
        return WatermarkStrategy(lambda ctx: BoundedOutOfOrdernessWatermarks(0),
                                 description="monotonous timestamps")

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness: DurationLike) -> "WatermarkStrategy":
        """Records arrive at most ``max_out_of_orderness`` late: watermark = highest
        timestamp - bound - 1."""
        bound = to_millis(max_out_of_orderness, "max_out_of_orderness")
        if bound < 0:
            raise ValueError("max_out_of_orderness must not be negative")
        return WatermarkStrategy(lambda ctx: BoundedOutOfOrdernessWatermarks(bound),
                                 description=f"bounded out-of-orderness {bound} ms")

    @staticmethod
    def no_watermarks() -> "WatermarkStrategy":
        """Never emit a watermark (only the final one at the end of a bounded input)."""
        return WatermarkStrategy(lambda ctx: _NoWatermarks(), description="no watermarks")

    @staticmethod
    def for_generator(generator: Any) -> "WatermarkStrategy":
        """A custom :class:`WatermarkGenerator`: pass its class, a factory ``f()`` or
        ``f(context)``, or an instance (copied for every parallel instance)."""
        if isinstance(generator, WatermarkGenerator) or (
                not isinstance(generator, type) and hasattr(generator, "on_event")):
            proto = generator
            factory: Callable[[Any], Any] = lambda ctx: copy.deepcopy(proto)  # noqa: E731
        elif hasattr(generator, "create_watermark_generator"):
            factory = generator.create_watermark_generator
        elif isinstance(generator, type) or (callable(generator) and _arity(generator) == 0):
            factory = lambda ctx: generator()  # noqa: E731
        elif callable(generator):
            factory = generator
        else:
            raise TypeError(f"for_generator() needs a WatermarkGenerator, its class or a "
                            f"factory, not {type(generator).__name__}")
        return WatermarkStrategy(factory, description="custom generator")

    # -- refinements --------------------------------------------------------------------------------
    def with_timestamp_assigner(self, timestamp_assigner: Any) -> "WatermarkStrategy":
        """Read each record's timestamp with a TimestampAssigner or a callable
        ``f(value, record_timestamp)`` (or ``f(value)``) returning epoch milliseconds."""
        if not (isinstance(timestamp_assigner, TimestampAssigner)
                or hasattr(timestamp_assigner, "extract_timestamp") or callable(timestamp_assigner)):
            raise TypeError("with_timestamp_assigner() needs a TimestampAssigner or a callable, "
                            f"not {type(timestamp_assigner).__name__}")
        return self._replace(_assigner=timestamp_assigner)

    def with_idleness(self, idle_timeout: DurationLike) -> "WatermarkStrategy":
        """Mark the stream idle after ``idle_timeout`` without records (processing time),
        so it does not hold back the watermark of operators downstream."""
        idle = to_millis(idle_timeout, "idle_timeout")
        if idle <= 0:
            raise ValueError("the idle timeout must be positive")
        return self._replace(_idle_ms=idle)

    def with_watermark_alignment(self, watermark_group: str,
                                 max_allowed_watermark_drift: DurationLike,
                                 update_interval: DurationLike = 1000) -> "WatermarkStrategy":
        """Flink's watermark alignment: sources of ``watermark_group`` pause while their
        watermark is more than ``max_allowed_watermark_drift`` ahead of the group's lowest,
        to bound the state buffered for the slowest. Kept (``get_alignment_parameters()``);
        nbstream's sources are not paused: results are the same (an operator's watermark is
        the lowest of its inputs'), only what is buffered meanwhile can be larger.

        >>> s = WatermarkStrategy.no_watermarks().with_watermark_alignment("g", 20_000)
        >>> s.get_alignment_parameters()
        WatermarkAlignment(group='g', max_drift_ms=20000, update_interval_ms=1000)
        """
        alignment = WatermarkAlignment(str(watermark_group),
                                       to_millis(max_allowed_watermark_drift, "max drift"),
                                       to_millis(update_interval, "update interval"))
        return self._replace(_alignment=alignment)

    def get_alignment_parameters(self) -> Optional["WatermarkAlignment"]:
        return getattr(self, "_alignment", None)

    # -- used by the runtime --------------------------------------------------------------------------
    def create_timestamp_assigner(self) -> Optional[Callable[[Any, int], Any]]:
        """``f(value, record_timestamp)``, or None to keep the records' own timestamps."""
        a = self._assigner
        if a is None:
            return None
        if hasattr(a, "extract_timestamp"):
            a = copy.deepcopy(a)
            return a.extract_timestamp
        if _arity(a) == 1:
            return lambda value, _ts, f=a: f(value)
        return a

    def describe_assigner(self) -> Any:
        return self._assigner

    def create_watermark_generator(self, context: Any) -> WatermarkGenerator:
        gen = self._factory(context)
        if not hasattr(gen, "on_event"):
            raise TypeError(f"the watermark generator factory returned {type(gen).__name__}, "
                            "not a WatermarkGenerator")
        if self._idle_ms is not None:
            gen = _WithIdleness(gen, self._idle_ms, context.current_processing_time)
        return gen
