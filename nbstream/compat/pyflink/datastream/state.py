"""``pyflink.datastream.state`` on nbstream: state descriptors and TTL."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream" for name in (
    "ValueStateDescriptor", "ListStateDescriptor", "MapStateDescriptor", "ReducingStateDescriptor",
    "AggregatingStateDescriptor", "StateTtlConfig")} | {
    name: "nbstream.runtime.state" for name in (
        "ValueState", "ListState", "MapState", "ReducingState", "AggregatingState")} | {
    name: "nbstream.runtime.broadcast" for name in ("BroadcastState", "ReadOnlyBroadcastState")},
    unavailable=["OperatorStateStore"])
