"""User function interfaces, named as in PyFlink.

Every operator takes either a plain callable or an instance of one of these
classes. Classes add ``open(runtime_context)`` / ``close()`` around the work, which
is where state is declared.

>>> from nbstream import MapFunction, StreamExecutionEnvironment
>>> class Double(MapFunction):
...     def open(self, runtime_context):
...         self.factor = 2
...     def map(self, value):
...         return value * self.factor
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.from_collection([1, 2, 3]).map(Double()).execute_and_collect(limit=3)
[2, 4, 6]
"""

from __future__ import annotations

import abc
from typing import Any, Iterable, Optional

__all__ = [
    "Function", "MapFunction", "FlatMapFunction", "FilterFunction", "KeySelector",
    "ReduceFunction", "ProcessFunction", "KeyedProcessFunction", "CoMapFunction",
    "CoFlatMapFunction", "CoProcessFunction", "KeyedCoProcessFunction", "SinkFunction",
    "SourceFunction", "Partitioner", "RuntimeContext", "AggregateFunction", "WindowFunction",
    "AllWindowFunction", "ProcessWindowFunction", "ProcessAllWindowFunction", "JoinFunction",
    "FlatJoinFunction", "CoGroupFunction", "ProcessJoinFunction", "BroadcastProcessFunction",
    "KeyedBroadcastProcessFunction",
]


class RuntimeContext(abc.ABC):
    """What a function learns about where it runs (given to ``open``).

    The runtime passes an implementation with these methods; keyed operators also
    offer ``get_state``, ``get_list_state``, ``get_map_state``, ``get_reducing_state``
    and ``get_aggregating_state``.
    """

    @abc.abstractmethod
    def get_task_name(self) -> str: ...

    @abc.abstractmethod
    def get_number_of_parallel_subtasks(self) -> int: ...

    @abc.abstractmethod
    def get_max_number_of_parallel_subtasks(self) -> int: ...

    @abc.abstractmethod
    def get_index_of_this_subtask(self) -> int: ...

    @abc.abstractmethod
    def get_job_parameter(self, key: str, default_value: Optional[str] = None) -> Any: ...


class Function(abc.ABC):  # noqa: B024 - a marker base with optional hooks
    """Base of all user function classes."""

    def open(self, runtime_context: RuntimeContext) -> None:
        """Called once per parallel instance before the first record."""

    def close(self) -> None:
        """Called once per parallel instance after the last record (also on failure)."""


class MapFunction(Function):
    """One record in, one record out."""

    @abc.abstractmethod
    def map(self, value: Any) -> Any: ...


class FlatMapFunction(Function):
    """One record in, any number out: return an iterable or ``yield``."""

    @abc.abstractmethod
    def flat_map(self, value: Any) -> Iterable[Any]: ...


class FilterFunction(Function):
    """Keep the records for which ``filter`` is true."""

    @abc.abstractmethod
    def filter(self, value: Any) -> bool: ...


class KeySelector(Function):
    """Extract the key of a record (it must be hashable)."""

    @abc.abstractmethod
    def get_key(self, value: Any) -> Any: ...


class ReduceFunction(Function):
    """Combine two values of the same key into one."""

    @abc.abstractmethod
    def reduce(self, value1: Any, value2: Any) -> Any: ...


class ProcessFunction(Function):
    """The general one-input function: ``process_element(value, ctx)`` yields outputs.

    Yield ``(OutputTag, value)`` to emit to a side output. ``ctx.timestamp()`` is the
    record's event-time timestamp (or None).
    """

    class Context(abc.ABC):
        @abc.abstractmethod
        def timestamp(self) -> Optional[int]: ...

        @abc.abstractmethod
        def timer_service(self) -> Any: ...

    @abc.abstractmethod
    def process_element(self, value: Any, ctx: "ProcessFunction.Context") -> Iterable[Any]: ...


class KeyedProcessFunction(Function):
    """A process function on a keyed stream: keyed state, timers, ``ctx.get_current_key()``."""

    class Context(ProcessFunction.Context):
        @abc.abstractmethod
        def get_current_key(self) -> Any: ...

    class OnTimerContext(Context):
        @abc.abstractmethod
        def time_domain(self) -> Any: ...

    @abc.abstractmethod
    def process_element(self, value: Any, ctx: "KeyedProcessFunction.Context") -> Iterable[Any]: ...

    def on_timer(self, timestamp: int, ctx: "KeyedProcessFunction.OnTimerContext") -> Iterable[Any]:
        """Called when a registered timer fires; yields outputs like process_element."""
        return ()


class CoMapFunction(Function):
    """Map each input of a connected stream: ``map1`` for the first, ``map2`` for the second."""

    @abc.abstractmethod
    def map1(self, value: Any) -> Any: ...

    @abc.abstractmethod
    def map2(self, value: Any) -> Any: ...


class CoFlatMapFunction(Function):
    """Flat-map each input of a connected stream."""

    @abc.abstractmethod
    def flat_map1(self, value: Any) -> Iterable[Any]: ...

    @abc.abstractmethod
    def flat_map2(self, value: Any) -> Iterable[Any]: ...


class CoProcessFunction(Function):
    """Process each input of a connected stream (``process_element1`` / ``process_element2``)."""

    Context = ProcessFunction.Context

    @abc.abstractmethod
    def process_element1(self, value: Any, ctx: Any) -> Iterable[Any]: ...

    @abc.abstractmethod
    def process_element2(self, value: Any, ctx: Any) -> Iterable[Any]: ...


class KeyedCoProcessFunction(Function):
    """Process both inputs of a keyed connected stream, with keyed state and timers."""

    Context = KeyedProcessFunction.Context
    OnTimerContext = KeyedProcessFunction.OnTimerContext

    @abc.abstractmethod
    def process_element1(self, value: Any, ctx: Any) -> Iterable[Any]: ...

    @abc.abstractmethod
    def process_element2(self, value: Any, ctx: Any) -> Iterable[Any]: ...

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any]:
        return ()


class SinkFunction(Function):
    """Receives every record: ``invoke(value, context)``."""

    @abc.abstractmethod
    def invoke(self, value: Any, context: Any) -> None: ...


class SourceFunction(Function):
    """A user source: ``run(ctx)`` loops, emitting with ``ctx.collect(value)`` or
    ``ctx.collect_with_timestamp(value, ts)``; ``cancel()`` asks it to stop.

    >>> class Count(SourceFunction):
    ...     def run(self, ctx):
    ...         for i in range(3):
    ...             ctx.collect(i)
    ...     def cancel(self):
    ...         pass
    """

    @abc.abstractmethod
    def run(self, ctx: Any) -> None: ...

    def cancel(self) -> None:
        """Ask ``run`` to return soon (called from another thread)."""


class Partitioner(Function):
    """Choose the partition (0..num_partitions-1) of a key, for ``partition_custom``."""

    @abc.abstractmethod
    def partition(self, key: Any, num_partitions: int) -> int: ...


class AggregateFunction(Function):
    """Incremental aggregation: an accumulator per key and window.

    ``create_accumulator()`` starts one, ``add(value, accumulator)`` returns the updated
    accumulator, ``get_result(accumulator)`` gives the output, ``merge(a, b)`` combines
    two accumulators (merging windows such as sessions need it).

    >>> class Average(AggregateFunction):
    ...     def create_accumulator(self):
    ...         return (0, 0)
    ...     def add(self, value, acc):
    ...         return acc[0] + value, acc[1] + 1
    ...     def get_result(self, acc):
    ...         return acc[0] / acc[1]
    ...     def merge(self, a, b):
    ...         return a[0] + b[0], a[1] + b[1]
    """

    @abc.abstractmethod
    def create_accumulator(self) -> Any: ...

    @abc.abstractmethod
    def add(self, value: Any, accumulator: Any) -> Any: ...

    @abc.abstractmethod
    def get_result(self, accumulator: Any) -> Any: ...

    def merge(self, acc_a: Any, acc_b: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.merge() is needed by merging "
                                  "windows (sessions)")


class WindowFunction(Function):
    """``apply(key, window, inputs)`` yields the results of one window of a keyed stream."""

    @abc.abstractmethod
    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]: ...


class AllWindowFunction(Function):
    """``apply(window, inputs)`` yields the results of one window of a non-keyed stream."""

    @abc.abstractmethod
    def apply(self, window: Any, inputs: Iterable[Any]) -> Iterable[Any]: ...


class ProcessWindowFunction(Function):
    """``process(key, context, elements)`` yields the results of one window.

    ``context.window()``, ``current_processing_time()``, ``current_watermark()``,
    ``window_state()`` (keyed state scoped to the key and window) and ``global_state()``
    (keyed state of the key across windows). ``clear(context)`` is called when the
    window is removed: clear its window state there.
    """

    class Context(abc.ABC):
        @abc.abstractmethod
        def window(self) -> Any: ...

        @abc.abstractmethod
        def current_processing_time(self) -> int: ...

        @abc.abstractmethod
        def current_watermark(self) -> int: ...

        @abc.abstractmethod
        def window_state(self) -> Any: ...

        @abc.abstractmethod
        def global_state(self) -> Any: ...

    @abc.abstractmethod
    def process(self, key: Any, context: "ProcessWindowFunction.Context",
                elements: Iterable[Any]) -> Iterable[Any]: ...

    def clear(self, context: "ProcessWindowFunction.Context") -> None:
        """The window is being removed: clear its window state."""


class ProcessAllWindowFunction(Function):
    """``process(context, elements)``: as ProcessWindowFunction, for ``window_all``."""

    Context = ProcessWindowFunction.Context

    @abc.abstractmethod
    def process(self, context: "ProcessWindowFunction.Context",
                elements: Iterable[Any]) -> Iterable[Any]: ...

    def clear(self, context: "ProcessWindowFunction.Context") -> None:
        """The window is being removed: clear its window state."""


class JoinFunction(Function):
    """``join(first, second)`` returns one result per pair of a window join."""

    @abc.abstractmethod
    def join(self, first: Any, second: Any) -> Any: ...


class FlatJoinFunction(Function):
    """``join(first, second)`` yields any number of results per pair of a window join."""

    @abc.abstractmethod
    def join(self, first: Any, second: Any) -> Iterable[Any]: ...


class CoGroupFunction(Function):
    """``co_group(first, second)`` yields results from the two groups of a key and window."""

    @abc.abstractmethod
    def co_group(self, first: Iterable[Any], second: Iterable[Any]) -> Iterable[Any]: ...


class ProcessJoinFunction(Function):
    """``process_element(left, right, ctx)`` yields results for each pair of an interval join.

    ``ctx.get_left_timestamp()``, ``ctx.get_right_timestamp()``, ``ctx.get_timestamp()``
    (the later of the two, the result's timestamp).
    """

    class Context(abc.ABC):
        @abc.abstractmethod
        def get_left_timestamp(self) -> int: ...

        @abc.abstractmethod
        def get_right_timestamp(self) -> int: ...

        @abc.abstractmethod
        def get_timestamp(self) -> int: ...

    @abc.abstractmethod
    def process_element(self, left: Any, right: Any, ctx: Any) -> Iterable[Any]: ...


class BroadcastProcessFunction(Function):
    """Connects a stream with a broadcast stream.

    ``process_element(value, ctx)`` sees the broadcast state read-only
    (``ctx.get_broadcast_state(descriptor)``); ``process_broadcast_element(value, ctx)``
    may change it. Every parallel instance receives every broadcast element.
    """

    class ReadOnlyContext(ProcessFunction.Context):
        @abc.abstractmethod
        def get_broadcast_state(self, state_descriptor: Any) -> Any: ...

    class Context(ReadOnlyContext):
        pass

    @abc.abstractmethod
    def process_element(self, value: Any, ctx: Any) -> Iterable[Any]: ...

    @abc.abstractmethod
    def process_broadcast_element(self, value: Any, ctx: Any) -> Iterable[Any]: ...


class KeyedBroadcastProcessFunction(Function):
    """As BroadcastProcessFunction, on a keyed stream: keyed state, timers,
    ``ctx.get_current_key()``, and ``ctx.apply_to_keyed_state(descriptor, fn)`` on the
    broadcast side (``fn(key, state)`` for every key with that state)."""

    class ReadOnlyContext(BroadcastProcessFunction.ReadOnlyContext):
        @abc.abstractmethod
        def get_current_key(self) -> Any: ...

    class Context(BroadcastProcessFunction.Context):
        @abc.abstractmethod
        def apply_to_keyed_state(self, state_descriptor: Any, function: Any) -> None: ...

    class OnTimerContext(ReadOnlyContext):
        @abc.abstractmethod
        def time_domain(self) -> Any: ...

    @abc.abstractmethod
    def process_element(self, value: Any, ctx: Any) -> Iterable[Any]: ...

    @abc.abstractmethod
    def process_broadcast_element(self, value: Any, ctx: Any) -> Iterable[Any]: ...

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any]:
        return ()


def _register_runtime_contexts() -> None:
    """The runtime's context objects are what these interfaces describe (isinstance works)."""
    from ..runtime.context import ProcessContext, StreamingRuntimeContext

    RuntimeContext.register(StreamingRuntimeContext)
    for ctx in (ProcessFunction.Context, KeyedProcessFunction.Context,
                KeyedProcessFunction.OnTimerContext):
        ctx.register(ProcessContext)
    from ..runtime.broadcast import _BroadcastContext
    from ..runtime.joins import _JoinContext
    from ..runtime.windows.operator import _WindowContext

    for ctx in (BroadcastProcessFunction.Context, KeyedBroadcastProcessFunction.Context,
                KeyedBroadcastProcessFunction.ReadOnlyContext,
                KeyedBroadcastProcessFunction.OnTimerContext):
        ctx.register(_BroadcastContext)
    ProcessJoinFunction.Context.register(_JoinContext)
    ProcessWindowFunction.Context.register(_WindowContext)


_register_runtime_contexts()
