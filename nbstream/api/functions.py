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
    "SourceFunction", "Partitioner", "RuntimeContext",
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


def _register_runtime_contexts() -> None:
    """The runtime's context objects are what these interfaces describe (isinstance works)."""
    from ..runtime.context import ProcessContext, StreamingRuntimeContext

    RuntimeContext.register(StreamingRuntimeContext)
    for ctx in (ProcessFunction.Context, KeyedProcessFunction.Context,
                KeyedProcessFunction.OnTimerContext):
        ctx.register(ProcessContext)


_register_runtime_contexts()
