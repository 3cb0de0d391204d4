"""``pyflink.datastream`` on nbstream: environment, streams, functions, windows, state."""

from .._exports import exports

_HERE = "nbstream.compat.pyflink.datastream"

__all__, __getattr__ = exports(__name__, {
    "StreamExecutionEnvironment": f"{_HERE}.stream_execution_environment",
    "DataStream": "nbstream", "KeyedStream": "nbstream", "WindowedStream": "nbstream",
    "AllWindowedStream": "nbstream", "ConnectedStreams": "nbstream",
    "BroadcastStream": "nbstream", "BroadcastConnectedStream": "nbstream",
    "DataStreamSink": "nbstream", "CloseableIterator": "nbstream",
    **{name: f"{_HERE}.functions" for name in (
        "MapFunction", "CoMapFunction", "FlatMapFunction", "CoFlatMapFunction", "ReduceFunction",
        "FilterFunction", "ProcessFunction", "KeyedProcessFunction", "CoProcessFunction",
        "KeyedCoProcessFunction", "WindowFunction", "AllWindowFunction", "ProcessWindowFunction",
        "ProcessAllWindowFunction", "AggregateFunction", "BroadcastProcessFunction",
        "KeyedBroadcastProcessFunction", "RuntimeContext", "TimerService", "KeySelector",
        "Partitioner", "SourceFunction", "SinkFunction")},
    "AsyncDataStream": f"{_HERE}.async_data_stream",
    **{name: f"{_HERE}.functions" for name in (
        "AsyncFunction", "AsyncRetryPredicate", "AsyncRetryStrategy")},
    "RuntimeExecutionMode": "nbstream", "TimeDomain": "nbstream", "OutputTag": "nbstream",
    **{name: f"{_HERE}.window" for name in (
        "Window", "TimeWindow", "CountWindow", "GlobalWindow", "WindowAssigner",
        "MergingWindowAssigner", "TriggerResult", "Trigger")},
    "CheckpointingMode": "nbstream", "CheckpointConfig": f"{_HERE}.checkpoint_config",
    "ExternalizedCheckpointRetention": "nbstream",
    **{name: f"{_HERE}.checkpoint_storage" for name in (
        "CheckpointStorage", "JobManagerCheckpointStorage", "FileSystemCheckpointStorage")},
    **{name: f"{_HERE}.state_backend" for name in (
        "StateBackend", "HashMapStateBackend", "EmbeddedRocksDBStateBackend", "PredefinedOptions")},
    "SlotSharingGroup": f"{_HERE}.slot_sharing_group", "MemorySize": f"{_HERE}.slot_sharing_group",
}, unavailable=["CustomStateBackend", "CustomCheckpointStorage"])
