"""Windowed streams: ``key_by(...).window(assigner)`` and ``window_all(assigner)``.

Configure the window (``trigger``, ``evictor``, ``allowed_lateness``,
``side_output_late_data``), then give it a function: ``reduce``, ``aggregate``,
``apply``, ``process``, or one of the exploration conveniences ``count()``,
``sum(field)``, ``mean(field)``, ``min(field)``, ``max(field)``, ``agg(...)``.

The conveniences emit one dict per key and window: ``{"key": ..., "window_start": ms,
"window_end": ms, <aggregates in the order named>}`` (no ``"key"`` after
``window_all``; the window bounds are None for global and count windows):

>>> from nbstream import (StreamExecutionEnvironment, TumblingEventTimeWindows,
...                       WatermarkStrategy)
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
>>> timed = clicks.assign_timestamps_and_watermarks(
...     WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda c, _: c[1]))
>>> (timed.key_by(lambda c: c[0])
...       .window(TumblingEventTimeWindows.of("1s"))
...       .agg(views="count", seconds=(2, "sum"))
...       .execute_and_collect(limit=3))  # doctest: +NORMALIZE_WHITESPACE
[{'key': 'home', 'window_start': 0, 'window_end': 1000, 'views': 1, 'seconds': 3},
 {'key': 'cart', 'window_start': 1000, 'window_end': 2000, 'views': 1, 'seconds': 1},
 {'key': 'home', 'window_start': 1000, 'window_end': 2000, 'views': 1, 'seconds': 5}]
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, List, Optional, Tuple

from ..errors import PlanError, describe_function
from ..plan.logical import UserFn
from ..runtime.combine import window_panes
from ..runtime.durations import DurationLike, to_millis
from ..runtime.records import OutputTag
from ..runtime.summaries import FieldsAggregate, SummaryRows, parse_spec
from ..runtime.windows import WindowFunctionSpec
from . import functions as F

if TYPE_CHECKING:  # pragma: no cover
    from .datastream import DataStream

__all__ = ["WindowedStream", "AllWindowedStream"]

_RESERVED = ("key", "window_start", "window_end")


def _default_trigger(assigner: Any) -> Any:
    get = assigner.get_default_trigger
    try:
        takes_env = len(inspect.signature(get).parameters) > 0
    except (TypeError, ValueError):
        takes_env = True
    return get(None) if takes_env else get()


def _name_of(obj: Any) -> str:
    if obj is None:
        return ""
    if isinstance(obj, F.Function) or not callable(obj) or isinstance(obj, SimpleNamespace):
        return type(obj).__qualname__
    return describe_function(obj)


class _Windowed:
    """Shared by keyed and all-windowed streams."""

    _keyed = True

    def __init__(self, input_stream: "DataStream", assigner: Any) -> None:
        if not hasattr(assigner, "assign_windows") or not hasattr(assigner, "is_event_time"):
            raise TypeError(f"window() needs a WindowAssigner (e.g. TumblingEventTimeWindows"
                            f".of('5s')), not {type(assigner).__name__}")
        self._input = input_stream
        self._assigner = assigner
        self._trigger: Any = None
        self._evictor: Any = None
        self._lateness = 0
        self._late_tag: Optional[OutputTag] = None

    # -- configuration --------------------------------------------------------------------------
    def trigger(self, trigger: Any) -> Any:
        """Replace the assigner's default trigger (e.g. ``CountTrigger.of(100)``).

        >>> words = env.from_collection(["a", "a", "a"])
        >>> (words.key_by(lambda w: w).window(GlobalWindows.create()).trigger(CountTrigger.of(2))
        ...     .count().execute_and_collect(limit=1))
        [{'key': 'a', 'window_start': None, 'window_end': None, 'count': 2}]
        """
        for method in ("on_element", "on_event_time", "on_processing_time", "clear"):
            if not hasattr(trigger, method):
                raise TypeError(f"trigger() needs a Trigger (missing {method}())")
        if hasattr(self._assigner, "merge_windows") and not trigger.can_merge():
            raise PlanError(f"{trigger!r} cannot be used with merging windows "
                            f"({self._assigner!r}): its can_merge() is False")
        self._trigger = trigger
        return self

    def evictor(self, evictor: Any) -> Any:
        """Remove elements before/after the window function (``CountEvictor.of(n)`` ...).

        >>> nums = env.from_collection([1, 2, 3, 4])
        >>> (nums.window_all(GlobalWindows.create()).trigger(CountTrigger.of(4))
        ...     .evictor(CountEvictor.of(2)).apply(lambda window, values: [list(values)])
        ...     .execute_and_collect(limit=1))
        [[3, 4]]
        """
        if not (hasattr(evictor, "evict_before") and hasattr(evictor, "evict_after")):
            raise TypeError(f"evictor() needs an Evictor, not {type(evictor).__name__}")
        self._evictor = evictor
        return self

    def allowed_lateness(self, time_ms: DurationLike) -> Any:
        """Keep windows ``time_ms`` after their end (event time): late records within it
        update the window and fire it again.

        >>> class EveryEvent(WatermarkGenerator):  # a watermark after each record
        ...     def on_event(self, event, timestamp, output):
        ...         output.emit_watermark(timestamp - 1)
        ...     def on_periodic_emit(self, output):
        ...         pass
        >>> strategy = WatermarkStrategy.for_generator(EveryEvent).with_timestamp_assigner(
        ...     lambda e, _: e)
        >>> stamps = env.from_collection([100, 1500, 200]).assign_timestamps_and_watermarks(strategy)
        >>> (stamps.window_all(TumblingEventTimeWindows.of("1s")).allowed_lateness("5s").count()
        ...     .execute_and_collect(limit=2))  # doctest: +NORMALIZE_WHITESPACE
        [{'window_start': 0, 'window_end': 1000, 'count': 1},
         {'window_start': 0, 'window_end': 1000, 'count': 2}]
        """
        lateness = to_millis(time_ms, "allowed_lateness")
        if lateness < 0:
            raise PlanError("allowed_lateness must not be negative")
        self._lateness = lateness
        return self

    def side_output_late_data(self, output_tag: OutputTag) -> Any:
        """Send records too late for any window to ``output_tag`` instead of dropping them
        (read them with ``result.get_side_output(output_tag)``).

        >>> class EveryEvent(WatermarkGenerator):  # a watermark after each record
        ...     def on_event(self, event, timestamp, output):
        ...         output.emit_watermark(timestamp - 1)
        ...     def on_periodic_emit(self, output):
        ...         pass
        >>> strategy = WatermarkStrategy.for_generator(EveryEvent).with_timestamp_assigner(
        ...     lambda e, _: e)
        >>> late = OutputTag("late")
        >>> counts = (env.from_collection([1000, 2500, 10]).assign_timestamps_and_watermarks(strategy)
        ...           .window_all(TumblingEventTimeWindows.of("1s")).side_output_late_data(late).count())
        >>> counts.get_side_output(late).execute_and_collect(limit=1)
        [10]
        """
        if not isinstance(output_tag, OutputTag):
            raise TypeError("side_output_late_data() takes an OutputTag")
        self._late_tag = output_tag
        return self

    # -- building the node ---------------------------------------------------------------------------
    def _input_for_window(self) -> "DataStream":
        return self._input

    def _build(self, spec: WindowFunctionSpec, fn_name: str, output_type: Any) -> "DataStream":
        trigger = self._trigger if self._trigger is not None else _default_trigger(self._assigner)
        name = f"Window({self._assigner!r}, {trigger!r}, {fn_name})"
        stream = self._input_for_window()._add(
            "window", name, UserFn((), owner=spec, name=fn_name), output_type,
            assigner=self._assigner, trigger=trigger, evictor=self._evictor,
            allowed_lateness=self._lateness, late_tag=self._late_tag,
            combine_panes=window_panes(self._assigner, trigger, self._evictor,
                                       self._lateness, self._late_tag, spec))
        if not self._keyed:
            stream._update(parallelism=1, max_parallelism=1)
        return stream

    def _window_function(self, fn: Any, style: Optional[str]) -> Tuple[Any, Optional[str]]:
        """(function object, style) for a window function given by the user."""
        if fn is None:
            return None, None
        process_cls = F.ProcessWindowFunction if self._keyed else F.ProcessAllWindowFunction
        apply_cls = F.WindowFunction if self._keyed else F.AllWindowFunction
        if isinstance(fn, (F.ProcessWindowFunction, F.ProcessAllWindowFunction)):
            return fn, "process"
        if isinstance(fn, (F.WindowFunction, F.AllWindowFunction)):
            return fn, "apply"
        if not callable(fn) and hasattr(fn, "process"):
            return fn, "process"
        if not callable(fn) and hasattr(fn, "apply"):
            return fn, "apply"
        if callable(fn):
            if style == "process":
                return SimpleNamespace(process=fn), "process"
            return SimpleNamespace(apply=fn), "apply"
        raise TypeError(f"a window function must be a {process_cls.__name__}, a "
                        f"{apply_cls.__name__} or a callable, not {type(fn).__name__}")

    # -- functions ---------------------------------------------------------------------------------
    def reduce(self, reduce_function: Any, window_function: Any = None,
               output_type: Any = None) -> "DataStream":
        """Fold each window's records with ``reduce_function(a, b)`` as they arrive;
        emit the result, or hand it to ``window_function`` (Process/WindowFunction).

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> (timed.key_by(lambda c: c[0]).window(TumblingEventTimeWindows.of("2s"))
        ...     .reduce(lambda a, b: (a[0], max(a[1], b[1]), a[2] + b[2])).execute_and_collect(limit=2))
        [('home', 1800, 8), ('cart', 1500, 1)]
        """
        if isinstance(reduce_function, F.ReduceFunction):
            reduce = reduce_function.reduce
        elif callable(reduce_function):
            reduce = reduce_function
        else:
            raise TypeError(f"reduce() needs a ReduceFunction or a callable, not "
                            f"{type(reduce_function).__name__}")
        function, style = self._window_function(window_function, None)
        spec = WindowFunctionSpec("reduce", reduce=reduce, function=function, style=style,
                                  keyed=self._keyed, owners=[reduce_function, function])
        name = _name_of(reduce_function) + (f", {_name_of(function)}" if function else "")
        if output_type is None and function is None:  # as Flink: a reduce keeps its input's type
            output_type = self._input._declared_type()
        return self._build(spec, name, output_type)

    def aggregate(self, aggregate_function: Any, window_function: Any = None,
                  accumulator_type: Any = None, output_type: Any = None) -> "DataStream":
        """Add each record into an accumulator of an AggregateFunction as it arrives; emit
        ``get_result``, or hand it to ``window_function``.

        >>> class Mean(AggregateFunction):
        ...     def create_accumulator(self): return [0, 0]
        ...     def add(self, value, acc): return [acc[0] + value[2], acc[1] + 1]
        ...     def get_result(self, acc): return acc[0] / acc[1]
        ...     def merge(self, a, b): return [a[0] + b[0], a[1] + b[1]]
        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> (timed.key_by(lambda c: c[0]).window(TumblingEventTimeWindows.of("2s")).aggregate(Mean())
        ...     .execute_and_collect(limit=2))
        [4.0, 1.0]
        """
        for method in ("create_accumulator", "add", "get_result"):
            if not hasattr(aggregate_function, method):
                raise TypeError(f"aggregate() needs an AggregateFunction (missing {method}()), "
                                f"not {type(aggregate_function).__name__}")
        function, style = self._window_function(window_function, None)
        spec = WindowFunctionSpec("aggregate", aggregate=aggregate_function, function=function,
                                  style=style, keyed=self._keyed,
                                  owners=[aggregate_function, function])
        name = _name_of(aggregate_function) + (f", {_name_of(function)}" if function else "")
        return self._build(spec, name, output_type)

    def apply(self, window_function: Any, output_type: Any = None) -> "DataStream":
        """Call ``apply(key, window, inputs)`` (a WindowFunction or a callable; no key
        after ``window_all``) with all records of each window.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> (timed.key_by(lambda c: c[0]).window(TumblingEventTimeWindows.of("2s"))
        ...     .apply(lambda key, window, items: [(key, window.end, len(list(items)))])
        ...     .execute_and_collect(limit=2))
        [('home', 2000, 2), ('cart', 2000, 1)]
        """
        function, style = self._window_function(window_function, "apply")
        spec = WindowFunctionSpec("list", function=function, style=style, keyed=self._keyed,
                                  owners=[function])
        return self._build(spec, _name_of(window_function), output_type)

    def process(self, process_window_function: Any, output_type: Any = None) -> "DataStream":
        """Call ``process(key, context, elements)`` (a ProcessWindowFunction or a callable;
        no key after ``window_all``) with all records of each window.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> (timed.window_all(TumblingEventTimeWindows.of("1s"))
        ...     .process(lambda ctx, items: [(ctx.window().start, sorted(i[0] for i in items))])
        ...     .execute_and_collect(limit=2))
        [(0, ['home']), (1000, ['cart', 'home'])]
        """
        function, style = self._window_function(process_window_function, "process")
        spec = WindowFunctionSpec("list", function=function, style=style, keyed=self._keyed,
                                  owners=[function])
        return self._build(spec, _name_of(process_window_function), output_type)

    # -- exploration conveniences ---------------------------------------------------------------------
    def _summary(self, specs: List[Any]) -> "DataStream":
        names = [s[0] for s in specs]
        for n in names:
            if n in _RESERVED:
                raise PlanError(f"an aggregate cannot be called {n!r} (a column of the result)")
        agg = FieldsAggregate(specs)
        rows = SummaryRows(names, self._keyed)
        spec = WindowFunctionSpec("aggregate", aggregate=agg, function=rows, style="apply",
                                  keyed=self._keyed)
        return self._build(spec, repr(agg), None)

    def count(self) -> "DataStream":
        """Records per window: ``{"key", "window_start", "window_end", "count"}``.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> (timed.key_by(lambda c: c[0]).window(TumblingEventTimeWindows.of("2s")).count()
        ...     .execute_and_collect(limit=2))  # doctest: +NORMALIZE_WHITESPACE
        [{'key': 'home', 'window_start': 0, 'window_end': 2000, 'count': 2},
         {'key': 'cart', 'window_start': 0, 'window_end': 2000, 'count': 1}]
        """
        return self._summary([("count", None, "count")])

    def sum(self, field: Any = None) -> "DataStream":
        """Sum of ``field`` (position or name; None: the record) per window, as ``"sum"``.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> timed.window_all(TumblingEventTimeWindows.of("2s")).sum(2).execute_and_collect(limit=1)
        [{'window_start': 0, 'window_end': 2000, 'sum': 9}]
        """
        return self._summary([("sum", field, "sum")])

    def mean(self, field: Any = None) -> "DataStream":
        """Mean of ``field`` per window, as ``"mean"``.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> timed.window_all(TumblingEventTimeWindows.of("2s")).mean(2).execute_and_collect(limit=1)
        [{'window_start': 0, 'window_end': 2000, 'mean': 3.0}]
        """
        return self._summary([("mean", field, "mean")])

    def min(self, field: Any = None) -> "DataStream":
        """Smallest ``field`` per window, as ``"min"``.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> timed.window_all(TumblingEventTimeWindows.of("2s")).min(2).execute_and_collect(limit=1)
        [{'window_start': 0, 'window_end': 2000, 'min': 1}]
        """
        return self._summary([("min", field, "min")])

    def max(self, field: Any = None) -> "DataStream":
        """Largest ``field`` per window, as ``"max"``.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> timed.window_all(TumblingEventTimeWindows.of("2s")).max(2).execute_and_collect(limit=1)
        [{'window_start': 0, 'window_end': 2000, 'max': 5}]
        """
        return self._summary([("max", field, "max")])

    def agg(self, **aggregates: Any) -> "DataStream":
        """Several named aggregates per window, in order: ``agg(n="count",
        total=("v", "sum"), top=("v", "max"), p90=("v", my_function))``; functions are
        count, sum, mean, min, max, first, last or a callable over the field's values.

        >>> clicks = env.from_collection([("home", 100, 3), ("cart", 1500, 1), ("home", 1800, 5)])
        >>> timed = clicks.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
        ...     .with_timestamp_assigner(lambda c, _: c[1]))
        >>> (timed.window_all(TumblingEventTimeWindows.of("2s"))
        ...     .agg(n="count", pages=(0, lambda pages: sorted(set(pages))), last=(2, "last"))
        ...     .execute_and_collect(limit=1))
        [{'window_start': 0, 'window_end': 2000, 'n': 3, 'pages': ['cart', 'home'], 'last': 5}]
        """
        if not aggregates:
            raise PlanError("agg() needs at least one aggregate, e.g. agg(n='count')")
        return self._summary([parse_spec(n, s) for n, s in aggregates.items()])


class WindowedStream(_Windowed):
    """A keyed stream cut into windows (``key_by(...).window(assigner)``)."""

    def get_execution_environment(self) -> Any:
        """The environment of the windowed stream.

        >>> env.from_collection([1]).key_by(lambda x: x).count_window(2).get_execution_environment() is env
        True
        """
        return self._input.get_execution_environment()


class AllWindowedStream(_Windowed):
    """A non-keyed stream cut into windows (``window_all(assigner)``); one instance
    (parallelism 1) sees every record, as in Flink."""

    _keyed = False

    def _input_for_window(self) -> "DataStream":
        return self._input.key_by(_all_key)


def _all_key(value: Any) -> None:
    return None

