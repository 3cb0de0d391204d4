"""``pyflink.datastream.functions`` on nbstream: nbstream's function classes, subscriptable
with type parameters as PyFlink's are (``ProcessWindowFunction[tuple, tuple, str, TimeWindow]``)."""

from .._exports import exports, subscriptable

__all__, __getattr__ = exports(__name__, {name: "nbstream" for name in (
    "RuntimeContext", "MapFunction", "CoMapFunction", "FlatMapFunction", "CoFlatMapFunction",
    "ReduceFunction", "AggregateFunction", "KeySelector", "FilterFunction", "Partitioner",
    "SourceFunction", "SinkFunction", "ProcessFunction", "CoProcessFunction",
    "KeyedProcessFunction", "KeyedCoProcessFunction", "WindowFunction", "AllWindowFunction",
    "ProcessWindowFunction", "ProcessAllWindowFunction", "BroadcastProcessFunction",
    "KeyedBroadcastProcessFunction", "AsyncFunction", "AsyncRetryPredicate", "AsyncRetryStrategy")}
    | {"TimerService": "nbstream.runtime.context:TimerServiceView"},
    unavailable=["AsyncFunctionDescriptor", "BaseBroadcastProcessFunction"],
    wrap=lambda name, cls: cls if name == "TimerService" else subscriptable(cls))
