"""User metrics: what a function registers through ``runtime_context.get_metrics_group()``.

Each parallel instance of a step has one :class:`MetricGroup`. Its metrics are reported under
the step's ``user_metrics`` in ``job.metrics()`` (and a line per step in the live view),
summed over the instances: a counter's count, a meter's count and rate (events per second
over its time span), a gauge's value (numbers summed, anything else as one instance reports
it) and a distribution's count, sum, min, max and mean.
``add_group("name")`` scopes the metrics registered through it (``name.metric``).

>>> group = MetricGroup()
>>> hits = group.counter("hits"); hits.inc(); hits.inc(2)
>>> sizes = group.add_group("io").distribution("sizes")
>>> for n in (3, 5): sizes.update(n)
>>> group.gauge("queue", lambda: 7)
>>> report = group.report()
>>> report["hits"], report["queue"], report["io.sizes"].summary()
(3, 7, {'count': 2, 'sum': 8, 'min': 3, 'max': 5, 'mean': 4.0})
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Optional, Tuple

__all__ = ["Metric", "Counter", "Meter", "Distribution", "Gauge", "MetricGroup",
           "DistributionSummary"]


class Metric:
    """Base of the metrics a group registers."""

    def value(self) -> Any:
        raise NotImplementedError


class Counter(Metric):
    """A count that goes up (``inc``) and down (``dec``)."""

    __slots__ = ("_count",)

    def __init__(self) -> None:
        self._count = 0

    def inc(self, n: int = 1) -> None:
        self._count += n

    def dec(self, n: int = 1) -> None:
        self._count -= n

    def get_count(self) -> int:
        return self._count

    def value(self) -> int:
        return self._count


class Meter(Metric):
    """Events (``mark_event(n)``) and their rate per second over the last
    ``time_span_in_seconds``."""

    def __init__(self, time_span_in_seconds: int = 60,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._span = max(1, int(time_span_in_seconds))
        self._count = 0
        self._clock = clock
        self._marks: Deque[Tuple[int, int]] = deque()  # (whole second, events in it)

    def mark_event(self, value: int = 1) -> None:
        self._count += value
        second = int(self._clock())
        if self._marks and self._marks[-1][0] == second:
            self._marks[-1] = (second, self._marks[-1][1] + value)
        else:
            self._marks.append((second, value))
            while self._marks and self._marks[0][0] <= second - self._span:
                self._marks.popleft()

    def get_count(self) -> int:
        return self._count

    def get_rate(self) -> float:
        """Events per second over the time span."""
        since = int(self._clock()) - self._span
        return sum(n for s, n in list(self._marks) if s > since) / self._span

    def value(self) -> int:
        return self._count


class DistributionSummary:
    """Count, sum, min and max of the values a distribution saw (merged over instances)."""

    __slots__ = ("count", "sum", "min", "max")

    def __init__(self) -> None:
        self.count = 0
        self.sum: Any = 0
        self.min: Any = None
        self.max: Any = None

    def add(self, value: Any) -> None:
        self.count += 1
        self.sum += value
        self.min = value if self.min is None or value < self.min else self.min
        self.max = value if self.max is None or value > self.max else self.max

    def merge(self, other: "DistributionSummary") -> None:
        self.count += other.count
        self.sum += other.sum
        for bound in (other.min, other.max):
            if bound is not None:
                self.min = bound if self.min is None or bound < self.min else self.min
                self.max = bound if self.max is None or bound > self.max else self.max

    def copy(self) -> "DistributionSummary":
        copy = DistributionSummary()
        copy.merge(self)
        return copy

    def summary(self) -> Dict[str, Any]:
        mean = self.sum / self.count if self.count else None
        return {"count": self.count, "sum": self.sum, "min": self.min, "max": self.max,
                "mean": mean}

    def __reduce__(self) -> Any:
        return _summary, (self.count, self.sum, self.min, self.max)


def _summary(count: int, total: Any, low: Any, high: Any) -> DistributionSummary:
    s = DistributionSummary()
    s.count, s.sum, s.min, s.max = count, total, low, high
    return s


class Distribution(Metric):
    """Values whose count, sum, min, max and mean are reported (``update(value)``)."""

    __slots__ = ("_summary",)

    def __init__(self) -> None:
        self._summary = DistributionSummary()

    def update(self, value: Any) -> None:
        self._summary.add(value)

    def value(self) -> DistributionSummary:
        return self._summary.copy()


class Gauge(Metric):
    """A value read when metrics are reported: ``obj()``."""

    __slots__ = ("_read",)

    def __init__(self, read: Callable[[], Any]) -> None:
        self._read = read

    def value(self) -> Any:
        return self._read()


class MetricGroup:
    """The metrics of one instance of a step (``runtime_context.get_metrics_group()``)."""

    def __init__(self, scope: str = "", metrics: Optional[Dict[str, Metric]] = None) -> None:
        self._scope = scope
        self._metrics: Dict[str, Metric] = metrics if metrics is not None else {}

    def _register(self, name: str, metric: Metric) -> Any:
        full = f"{self._scope}{name}"
        existing = self._metrics.get(full)
        if existing is not None and type(existing) is type(metric) and not isinstance(metric, Gauge):
            return existing  # registering again gives the same metric
        self._metrics[full] = metric
        return metric

    def add_group(self, name: str, extra: Optional[str] = None) -> "MetricGroup":
        """A group whose metrics are named ``name.<metric>`` (``name.extra.<metric>``)."""
        scope = f"{self._scope}{name}." + (f"{extra}." if extra is not None else "")
        return MetricGroup(scope, self._metrics)

    def counter(self, name: str) -> Counter:
        return self._register(name, Counter())

    def gauge(self, name: str, obj: Callable[[], Any]) -> None:
        self._register(name, Gauge(obj))

    def meter(self, name: str, time_span_in_seconds: int = 60) -> Meter:
        return self._register(name, Meter(time_span_in_seconds))

    def distribution(self, name: str) -> Distribution:
        return self._register(name, Distribution())

    def report(self) -> Dict[str, Any]:
        """Each metric's current value; a meter adds ``<name> rate`` (events per second)."""
        out: Dict[str, Any] = {}
        for name, metric in list(self._metrics.items()):
            try:
                value = metric.value()
            except Exception as exc:  # noqa: BLE001 - a failing gauge must not stop reporting
                value = f"<gauge failed: {exc!r}>"
            if not isinstance(value, (int, float, str, DistributionSummary)) and value is not None:
                value = str(value)  # reports cross processes: plain values only
            out[name] = value
            if isinstance(metric, Meter):
                out[f"{name} rate"] = metric.get_rate()
        return out
