"""Broadcast state: a stream of rules or settings sent to every parallel instance,
kept in MapStates that the other stream's function reads.

>>> from nbstream import (BroadcastProcessFunction, MapStateDescriptor,
...                       StreamExecutionEnvironment)
>>> rates = MapStateDescriptor("rates")
>>> class Convert(BroadcastProcessFunction):
...     def __init__(self):
...         self.waiting = []  # amounts that came before their rate
...     def process_element(self, value, ctx):
...         rate = ctx.get_broadcast_state(rates).get(value[0])
...         if rate is None:
...             self.waiting.append(value)
...         else:
...             yield value[0], value[1] * rate
...     def process_broadcast_element(self, value, ctx):
...         ctx.get_broadcast_state(rates).put(value[0], value[1])
...         ready = [v for v in self.waiting if v[0] == value[0]]
...         self.waiting = [v for v in self.waiting if v[0] != value[0]]
...         for currency, amount in ready:
...             yield currency, amount * value[1]
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> settings = env.from_collection([("EUR", 2)]).broadcast(rates)
>>> amounts = env.from_collection([("EUR", 10), ("EUR", 5)])
>>> sorted(amounts.connect(settings).process(Convert()).execute_and_collect())
[('EUR', 10), ('EUR', 20)]

(The order in which the two inputs arrive is not defined, hence the waiting list; a
real pipeline keeps it in state so that a checkpoint holds it.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Sequence

from ..errors import PlanError
from . import functions as F
from .functions_util import user_fn

if TYPE_CHECKING:  # pragma: no cover
    from .datastream import DataStream

__all__ = ["BroadcastStream", "BroadcastConnectedStream"]


class BroadcastStream:
    """A stream sent to every parallel instance, with the broadcast states it fills
    (``stream.broadcast(MapStateDescriptor(...), ...)``)."""

    def __init__(self, stream: "DataStream", descriptors: Sequence[Any]) -> None:
        for d in descriptors:
            if getattr(d, "state_kind", None) != "map":
                raise PlanError(f"broadcast() takes MapStateDescriptors, not {d!r}")
        self.stream = stream
        self.descriptors = tuple(descriptors)

    def get_execution_environment(self) -> Any:
        return self.stream.get_execution_environment()


class BroadcastConnectedStream:
    """A (keyed or non-keyed) stream connected with a broadcast stream."""

    def __init__(self, non_broadcast: "DataStream", broadcast: BroadcastStream) -> None:
        if non_broadcast._env is not broadcast.stream._env:
            raise PlanError("connect() of streams from different environments")
        self.non_broadcast_stream = non_broadcast
        self.broadcast_stream = broadcast

    def process(self, func: Any, output_type: Optional[Any] = None) -> "DataStream":
        """Run a BroadcastProcessFunction (or, on a keyed stream, a
        KeyedBroadcastProcessFunction)."""
        from .datastream import KeyedStream

        keyed = isinstance(self.non_broadcast_stream, KeyedStream)
        wanted = F.KeyedBroadcastProcessFunction if keyed else F.BroadcastProcessFunction
        if isinstance(func, (F.KeyedBroadcastProcessFunction, F.BroadcastProcessFunction)) \
                and not isinstance(func, wanted):
            side = "a keyed" if keyed else "a non-keyed"
            raise PlanError(f"connect(...).process() on {side} stream needs a "
                            f"{wanted.__name__}, not a {type(func).__name__}")
        fn = user_fn("process", func, (wanted,), ("process_element", "process_broadcast_element"))
        name = "Co-Process-Broadcast-Keyed" if keyed else "Co-Process-Broadcast"
        return self.non_broadcast_stream._add(
            "broadcast_process", name, fn, output_type,
            inputs=(self.non_broadcast_stream._id, self.broadcast_stream.stream._id),
            descriptors=self.broadcast_stream.descriptors)
