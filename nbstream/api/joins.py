"""Joins beyond PyFlink: window joins and co-groups, and interval joins (as Flink Java).

A window join pairs the records of two streams that have the same key and fall into
the same window; it is built, as in Flink, from a union of the two tagged inputs, a
key_by and a window with a co-group function:

>>> from nbstream import (StreamExecutionEnvironment, TumblingEventTimeWindows,
...                       WatermarkStrategy)
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> wm = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda e, _: e[1])
>>> orders = env.from_collection([("o1", 100, "u1"), ("o2", 1200, "u2")]).assign_timestamps_and_watermarks(wm)
>>> users = env.from_collection([("u1", 300), ("u2", 900)]).assign_timestamps_and_watermarks(wm)
>>> joined = (orders.join(users).where(lambda o: o[2]).equal_to(lambda u: u[0])
...           .window(TumblingEventTimeWindows.of("1s"))
...           .apply(lambda o, u: (o[0], u[0])))
>>> joined.execute_and_collect(limit=1)
[('o1', 'u1')]

An interval join pairs each record of the first keyed stream with the records of the
second whose timestamps lie within ``[ts + lower, ts + upper]``:

>>> left = orders.key_by(lambda o: o[2])
>>> right = users.key_by(lambda u: u[0])
>>> sorted(left.interval_join(right).between(-500, 500)
...        .process(lambda o, u, ctx: [(o[0], u[0], ctx.get_timestamp())])
...        .execute_and_collect())
[('o1', 'u1', 300), ('o2', 'u2', 1200)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Optional

from ..errors import PlanError, describe_function
from ..plan.logical import UserFn
from ..runtime.durations import DurationLike, to_millis
from . import functions as F
from .functions_util import key_selector_fn, user_fn

if TYPE_CHECKING:  # pragma: no cover
    from .datastream import DataStream, KeyedStream

__all__ = ["JoinedStreams", "CoGroupedStreams", "IntervalJoin", "IntervalJoined"]


# -- window join and co-group ---------------------------------------------------------------------

def _tag_first(value: Any) -> Any:
    return (0, value)


def _tag_second(value: Any) -> Any:
    return (1, value)


class _UnionKey:
    """The key of a tagged record: the first or the second key selector."""

    def __init__(self, first: Any, second: Any) -> None:
        self.first = first
        self.second = second

    def __call__(self, tagged: Any) -> Any:
        return (self.first if tagged[0] == 0 else self.second)(tagged[1])


class _CoGroupWindow(F.WindowFunction):
    """Splits a window of tagged records and calls ``co_group(firsts, seconds)``."""

    def __init__(self, co_group: Any) -> None:
        self.co_group = co_group

    def open(self, runtime_context: Any) -> None:
        if hasattr(self.co_group, "open"):
            self.co_group.open(runtime_context)

    def close(self) -> None:
        if hasattr(self.co_group, "close"):
            self.co_group.close()

    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        firsts: List[Any] = []
        seconds: List[Any] = []
        for tag, value in inputs:
            (firsts if tag == 0 else seconds).append(value)
        results = self.co_group.co_group(firsts, seconds)
        return () if results is None else results


class _JoinAsCoGroup:
    """A join as a co-group: every pair of the two groups (none when a side is empty)."""

    def __init__(self, join: Any, flat: bool) -> None:
        self.join = join
        self.flat = flat

    def open(self, runtime_context: Any) -> None:
        owner = getattr(self.join, "__self__", None)
        if owner is not None and hasattr(owner, "open"):
            owner.open(runtime_context)

    def close(self) -> None:
        owner = getattr(self.join, "__self__", None)
        if owner is not None and hasattr(owner, "close"):
            owner.close()

    def co_group(self, firsts: List[Any], seconds: List[Any]) -> Iterable[Any]:
        join = self.join
        for a in firsts:
            for b in seconds:
                if self.flat:
                    yield from join(a, b)
                else:
                    yield join(a, b)


class _TwoStreams:
    _what = "join"

    def __init__(self, first: "DataStream", second: "DataStream") -> None:
        from .datastream import DataStream, as_rows

        second = as_rows(second, self._what)
        if not isinstance(second, DataStream):
            raise TypeError(f"{self._what}() takes a DataStream, not {type(second).__name__}")
        if first._env is not second._env:
            raise PlanError(f"{self._what}() of streams from different environments")
        self._first, self._second = first, second
        self._key1: Optional[UserFn] = None
        self._key2: Optional[UserFn] = None

    def where(self, key_selector: Any) -> Any:
        """The key of the first stream."""
        self._key1 = key_selector_fn("where", key_selector)
        return self

    def equal_to(self, key_selector: Any) -> Any:
        """The key of the second stream (compared with the first's by equality)."""
        if self._key1 is None:
            raise PlanError(f"{self._what}(): call where(...) before equal_to(...)")
        self._key2 = key_selector_fn("equal_to", key_selector)
        return self

    def window(self, assigner: Any) -> "_WindowedTwoStreams":
        """The windows in which records meet."""
        if self._key1 is None or self._key2 is None:
            raise PlanError(f"{self._what}(): call where(...).equal_to(...) before window(...)")
        return _WindowedTwoStreams(self, assigner)


class _WindowedTwoStreams:
    def __init__(self, spec: _TwoStreams, assigner: Any) -> None:
        self._spec = spec
        self._assigner = assigner
        self._trigger: Any = None
        self._evictor: Any = None
        self._lateness: Any = 0

    def trigger(self, trigger: Any) -> "_WindowedTwoStreams":
        self._trigger = trigger
        return self

    def evictor(self, evictor: Any) -> "_WindowedTwoStreams":
        self._evictor = evictor
        return self

    def allowed_lateness(self, lateness: DurationLike) -> "_WindowedTwoStreams":
        self._lateness = to_millis(lateness, "allowed_lateness")
        return self

    def _co_group(self, co_group: Any, name: str, output_type: Any) -> "DataStream":
        s = self._spec
        first = s._first._add("map", "Map (tag first input)", UserFn((_tag_first,), name="tag"))
        second = s._second._add("map", "Map (tag second input)", UserFn((_tag_second,), name="tag"))
        key = _UnionKey(s._key1.call, s._key2.call)  # type: ignore[union-attr]
        windowed = first.union(second).key_by(key).window(self._assigner)
        if self._trigger is not None:
            windowed.trigger(self._trigger)
        if self._evictor is not None:
            windowed.evictor(self._evictor)
        windowed.allowed_lateness(self._lateness)
        out = windowed.apply(_CoGroupWindow(co_group), output_type)
        return out.name(name)

    def apply(self, function: Any, output_type: Any = None) -> "DataStream":
        """Join: a JoinFunction, FlatJoinFunction or callable ``f(first, second)`` per pair;
        co-group: a CoGroupFunction or callable ``f(firsts, seconds)`` yielding results."""
        if isinstance(self._spec, CoGroupedStreams):
            if isinstance(function, F.CoGroupFunction) or hasattr(function, "co_group"):
                co = function
            elif callable(function):
                co = _CallableCoGroup(function)
            else:
                raise TypeError("co_group(...).apply() needs a CoGroupFunction or a callable")
            return self._co_group(co, f"CoGroup({_describe(function)})", output_type)
        flat = isinstance(function, F.FlatJoinFunction)
        fn = user_fn("join", function, (F.JoinFunction, F.FlatJoinFunction), ("join",))
        return self._co_group(_JoinAsCoGroup(fn.call, flat), f"Join({fn.name})", output_type)


class _CallableCoGroup:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def co_group(self, firsts: List[Any], seconds: List[Any]) -> Iterable[Any]:
        results = self.fn(firsts, seconds)
        return () if results is None else results


def _describe(fn: Any) -> str:
    return type(fn).__qualname__ if isinstance(fn, F.Function) else describe_function(fn)


class JoinedStreams(_TwoStreams):
    """``a.join(b)``: then ``where(ka).equal_to(kb).window(assigner).apply(join_function)``."""

    _what = "join"


class CoGroupedStreams(_TwoStreams):
    """``a.co_group(b)``: then ``where(ka).equal_to(kb).window(assigner).apply(co_group_function)``."""

    _what = "co_group"


# -- interval join --------------------------------------------------------------------------------------

class IntervalJoin:
    """``left.interval_join(right)`` of two keyed streams; set ``between(lower, upper)``."""

    def __init__(self, left: "KeyedStream", right: "KeyedStream") -> None:
        from .datastream import KeyedStream

        if not isinstance(left, KeyedStream) or not isinstance(right, KeyedStream):
            raise PlanError("interval_join() joins two keyed streams: "
                            "a.key_by(k).interval_join(b.key_by(k))")
        if left._env is not right._env:
            raise PlanError("interval_join() of streams from different environments")
        self._left, self._right = left, right

    def between(self, lower_bound: DurationLike, upper_bound: DurationLike) -> "IntervalJoined":
        """Pair ``left`` with the ``right`` records whose timestamps are in
        ``[left.ts + lower_bound, left.ts + upper_bound]`` (bounds may be negative)."""
        lower = to_millis(lower_bound, "lower bound")
        upper = to_millis(upper_bound, "upper bound")
        if lower > upper:
            raise PlanError(f"interval_join: the lower bound ({lower} ms) is after the upper "
                            f"bound ({upper} ms)")
        return IntervalJoined(self._left, self._right, lower, upper)


class IntervalJoined:
    def __init__(self, left: "KeyedStream", right: "KeyedStream", lower: int, upper: int) -> None:
        self._left, self._right = left, right
        self._lower, self._upper = lower, upper
        self._lower_inclusive = self._upper_inclusive = True

    def lower_bound_exclusive(self) -> "IntervalJoined":
        self._lower_inclusive = False
        return self

    def upper_bound_exclusive(self) -> "IntervalJoined":
        self._upper_inclusive = False
        return self

    def process(self, process_join_function: Any, output_type: Any = None) -> "DataStream":
        """Call ``process_element(left, right, ctx)`` (a ProcessJoinFunction or a callable)
        for every pair; results carry the later of the two timestamps."""
        fn = user_fn("interval_join", process_join_function, F.ProcessJoinFunction,
                     ("process_element",), " (process_element(left, right, ctx))")
        lower = self._lower + (0 if self._lower_inclusive else 1)
        upper = self._upper - (0 if self._upper_inclusive else 1)
        return self._left._add("interval_join", "IntervalJoin", fn, output_type,
                               inputs=(self._left._id, self._right._id),
                               lower=lower, upper=upper)
