"""Keyed state descriptors and time-to-live, named as in PyFlink.

A descriptor names a state; ``runtime_context.get_state(descriptor)`` (and friends)
returns the state object of the current key. Declare state in ``open()``:

>>> from nbstream import (KeyedProcessFunction, StreamExecutionEnvironment,
...                       ValueStateDescriptor)
>>> class Count(KeyedProcessFunction):
...     def open(self, runtime_context):
...         self.count = runtime_context.get_state(ValueStateDescriptor("count"))
...     def process_element(self, value, ctx):
...         n = (self.count.value() or 0) + 1
...         self.count.update(n)
...         yield value, n
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.from_collection(["a", "b", "a"]).key_by(lambda w: w).process(Count()).execute_and_collect(limit=3)
[('a', 1), ('b', 1), ('a', 2)]
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Optional

from ..runtime.durations import DurationLike, to_millis

__all__ = ["StateDescriptor", "ValueStateDescriptor", "ListStateDescriptor", "MapStateDescriptor",
           "ReducingStateDescriptor", "AggregatingStateDescriptor", "StateTtlConfig"]


class StateTtlConfig:
    """Time-to-live of keyed state, measured in processing time (as Flink).

    >>> ttl = (StateTtlConfig.new_builder("1s")
    ...        .set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)
    ...        .set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
    ...        .build())
    >>> ttl.ttl_ms, ttl.update_type.name
    (1000, 'OnReadAndWrite')

    An entry expires ``ttl`` after its last update (``OnCreateAndWrite``, the default)
    or its last read or update (``OnReadAndWrite``). An expired entry is never returned
    with ``NeverReturnExpired`` (the default); with ``ReturnExpiredIfNotCleanedUp`` it
    is returned once by the read that finds it expired, which then removes it.
    Expired entries are removed when they are read (there is no background cleanup);
    the cleanup options are accepted for compatibility.
    """

    class UpdateType(Enum):
        Disabled = 0
        OnCreateAndWrite = 1
        OnReadAndWrite = 2

    class StateVisibility(Enum):
        ReturnExpiredIfNotCleanedUp = 0
        NeverReturnExpired = 1

    class TtlTimeCharacteristic(Enum):
        ProcessingTime = 0

    def __init__(self, ttl_ms: int, update_type: "StateTtlConfig.UpdateType",
                 state_visibility: "StateTtlConfig.StateVisibility") -> None:
        if ttl_ms <= 0:
            raise ValueError(f"a state TTL must be positive, not {ttl_ms} ms")
        self.ttl_ms = ttl_ms
        self.update_type = update_type
        self.state_visibility = state_visibility

    def is_enabled(self) -> bool:
        return self.update_type is not StateTtlConfig.UpdateType.Disabled

    def get_ttl(self) -> int:
        return self.ttl_ms

    def get_update_type(self) -> "StateTtlConfig.UpdateType":
        return self.update_type

    def get_state_visibility(self) -> "StateTtlConfig.StateVisibility":
        return self.state_visibility

    @staticmethod
    def new_builder(ttl: DurationLike) -> "StateTtlConfig.Builder":
        return StateTtlConfig.Builder(ttl)

    def __repr__(self) -> str:
        return (f"StateTtlConfig(ttl={self.ttl_ms} ms, {self.update_type.name}, "
                f"{self.state_visibility.name})")

    class Builder:
        def __init__(self, ttl: DurationLike) -> None:
            self._ttl = to_millis(ttl, "state TTL")
            self._update = StateTtlConfig.UpdateType.OnCreateAndWrite
            self._visibility = StateTtlConfig.StateVisibility.NeverReturnExpired

        def set_ttl(self, ttl: DurationLike) -> "StateTtlConfig.Builder":
            self._ttl = to_millis(ttl, "state TTL")
            return self

        def set_update_type(self, update_type: "StateTtlConfig.UpdateType") -> "StateTtlConfig.Builder":
            self._update = update_type
            return self

        def update_ttl_on_create_and_write(self) -> "StateTtlConfig.Builder":
            return self.set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)

        def update_ttl_on_read_and_write(self) -> "StateTtlConfig.Builder":
            return self.set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)

        def set_state_visibility(self, visibility: "StateTtlConfig.StateVisibility"
                                 ) -> "StateTtlConfig.Builder":
            self._visibility = visibility
            return self

        def return_expired_if_not_cleaned_up(self) -> "StateTtlConfig.Builder":
            return self.set_state_visibility(
                StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)

        def never_return_expired(self) -> "StateTtlConfig.Builder":
            return self.set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)

        def set_ttl_time_characteristic(self, characteristic: Any) -> "StateTtlConfig.Builder":
            return self  # processing time is the only one, as in Flink

        def use_processing_time(self) -> "StateTtlConfig.Builder":
            return self

        # cleanup strategies: expired entries go when read; accepted for compatibility
        def disable_cleanup_in_background(self) -> "StateTtlConfig.Builder":
            return self

        def cleanup_full_snapshot(self) -> "StateTtlConfig.Builder":
            return self

        def cleanup_incrementally(self, cleanup_size: int = 5,
                                  run_cleanup_for_every_record: bool = False
                                  ) -> "StateTtlConfig.Builder":
            return self

        def cleanup_in_rocksdb_compact_filter(self, query_time_after_num_entries: int = 1000,
                                              periodic_compaction_time: Any = None
                                              ) -> "StateTtlConfig.Builder":
            return self

        def build(self) -> "StateTtlConfig":
            return StateTtlConfig(self._ttl, self._update, self._visibility)


class StateDescriptor:
    """Names a keyed state; the type information is optional (nbstream keeps Python objects)."""

    state_kind = ""

    def __init__(self, name: str, type_info: Any = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a state descriptor needs a non-empty name")
        self.name = name
        self.type_info = type_info
        self.ttl_config: Optional[StateTtlConfig] = None

    def get_name(self) -> str:
        return self.name

    def enable_time_to_live(self, ttl_config: StateTtlConfig) -> None:
        """Let entries of this state expire (see :class:`StateTtlConfig`)."""
        if not isinstance(ttl_config, StateTtlConfig):
            raise TypeError(f"enable_time_to_live() takes a StateTtlConfig, not {ttl_config!r}")
        self.ttl_config = ttl_config if ttl_config.is_enabled() else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ValueStateDescriptor(StateDescriptor):
    """One value per key: ``value()``, ``update(v)``, ``clear()``."""

    state_kind = "value"

    def __init__(self, name: str, value_type_info: Any = None) -> None:
        super().__init__(name, value_type_info)


class ListStateDescriptor(StateDescriptor):
    """A list per key: ``get()``, ``add(v)``, ``add_all(vs)``, ``update(vs)``, ``clear()``."""

    state_kind = "list"

    def __init__(self, name: str, elem_type_info: Any = None) -> None:
        super().__init__(name, elem_type_info)


class MapStateDescriptor(StateDescriptor):
    """A dict per key (also the descriptor of broadcast state)."""

    state_kind = "map"

    def __init__(self, name: str, key_type_info: Any = None, value_type_info: Any = None) -> None:
        super().__init__(name, (key_type_info, value_type_info))


class ReducingStateDescriptor(StateDescriptor):
    """Values folded into one per key by ``reduce_function`` (a ReduceFunction or callable)."""

    state_kind = "reducing"

    def __init__(self, name: str, reduce_function: Any, type_info: Any = None) -> None:
        super().__init__(name, type_info)
        if not (callable(reduce_function) or hasattr(reduce_function, "reduce")):
            raise TypeError("ReducingStateDescriptor needs a ReduceFunction or a callable")
        self.reduce_function: Callable[[Any, Any], Any] = reduce_function


class AggregatingStateDescriptor(StateDescriptor):
    """Values added into an accumulator per key by an AggregateFunction."""

    state_kind = "aggregating"

    def __init__(self, name: str, agg_function: Any, state_type_info: Any = None) -> None:
        super().__init__(name, state_type_info)
        for method in ("create_accumulator", "add", "get_result"):
            if not hasattr(agg_function, method):
                raise TypeError(f"AggregatingStateDescriptor needs an AggregateFunction "
                                f"(missing {method}())")
        self.agg_function = agg_function
