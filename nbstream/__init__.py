"""nbstream: the Apache Flink DataStream model in the notebook, with no JVM and no cluster.

>>> from nbstream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> (env.from_collection(["to be", "or not", "to be"])
...     .flat_map(str.split)
...     .map(lambda w: (w, 1))
...     .key_by(lambda t: t[0])
...     .sum(1)
...     .filter(lambda t: t[1] == 2)
...     .execute_and_collect(limit=2))
[('to', 2), ('be', 2)]
"""

from .api.async_io import AsyncDataStream, AsyncFunction, AsyncRetryPredicate, AsyncRetryStrategy
from .api.broadcast import BroadcastConnectedStream, BroadcastStream
from .api.checkpointing import (CheckpointConfig, CheckpointingMode, ExternalizedCheckpointCleanup,
                                ExternalizedCheckpointRetention, FileSystemCheckpointStorage,
                                RestartStrategies, RestartStrategyConfiguration)
from .api.columnar import ColumnarStream
from .api.datastream import ConnectedStreams, DataStream, DataStreamSink, KeyedStream
from .api.environment import ExecutionConfig, RuntimeExecutionMode, StreamExecutionEnvironment
from .api.functions import (AggregateFunction, AllWindowFunction, BroadcastProcessFunction,
                            CoFlatMapFunction, CoGroupFunction, CoMapFunction, CoProcessFunction,
                            FilterFunction, FlatJoinFunction, FlatMapFunction, Function,
                            JoinFunction, KeyedBroadcastProcessFunction, KeyedCoProcessFunction,
                            KeyedProcessFunction, KeySelector, MapFunction, Partitioner,
                            ProcessAllWindowFunction, ProcessFunction, ProcessJoinFunction,
                            ProcessWindowFunction, ReduceFunction, RuntimeContext, SinkFunction,
                            SourceFunction, WindowFunction)
from .api.iterate import IterativeStream
from .api.joins import CoGroupedStreams, IntervalJoin, JoinedStreams
from .api.state_backends import EmbeddedRocksDBStateBackend, HashMapStateBackend
from .api.state import (AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor,
                        ReducingStateDescriptor, StateTtlConfig, ValueStateDescriptor)
from .api.types import Row, RowKind, TypeInformation, Types
from .api.watermarks import (TimestampAssigner, Watermark, WatermarkGenerator, WatermarkOutput,
                             WatermarkStrategy)
from .api.windowed import AllWindowedStream, WindowedStream
from .connectors.sinks import DataFrameSink, WriteMode
from .errors import (JobCancelledError, JobFailedError, NbstreamError, NotAvailableError,
                     PlanError, UserFunctionError)
from .runtime.checkpoints import CheckpointError
from .runtime.clock import ManualClock
from .runtime.durations import Duration, Time
from .runtime.collect import CloseableIterator
from .runtime.job import JobClient, JobExecutionResult, JobStatus
from .runtime.records import OutputTag
from .runtime.timers import TimeDomain
from .runtime.windows import (ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger,
                                CountEvictor, CountSlidingWindowAssigner,
                                CountTrigger, CountTumblingWindowAssigner, CountWindow,
                                DeltaEvictor, DynamicEventTimeSessionWindows,
                                DynamicProcessingTimeSessionWindows, EventTimeSessionWindows,
                                EventTimeTrigger, Evictor, GlobalWindow, GlobalWindows,
                                MergingWindowAssigner, NeverTrigger, ProcessingTimeSessionWindows,
                                ProcessingTimeTrigger, PurgingTrigger,
                                SessionWindowTimeGapExtractor, SlidingEventTimeWindows,
                                SlidingProcessingTimeWindows, TimeEvictor, TimestampedValue,
                                TimeWindow, Trigger, TriggerResult, TumblingEventTimeWindows,
                                TumblingProcessingTimeWindows, Window, WindowAssigner)
from .flink import register as _register_flink

_register_flink()  # the flink execution mode (its extra is checked when the mode is chosen)

__version__ = "0.1.0"

__all__ = [
    # environment and streams
    "StreamExecutionEnvironment", "RuntimeExecutionMode", "ExecutionConfig",
    "DataStream", "KeyedStream", "ConnectedStreams", "DataStreamSink", "ColumnarStream",
    "WindowedStream", "AllWindowedStream", "BroadcastStream", "BroadcastConnectedStream",
    "JoinedStreams", "CoGroupedStreams", "IntervalJoin", "IterativeStream",
    # async I/O
    "AsyncDataStream", "AsyncFunction", "AsyncRetryStrategy", "AsyncRetryPredicate",
    # functions
    "Function", "MapFunction", "FlatMapFunction", "FilterFunction", "KeySelector",
    "ReduceFunction", "ProcessFunction", "KeyedProcessFunction", "CoMapFunction",
    "CoFlatMapFunction", "CoProcessFunction", "KeyedCoProcessFunction", "SinkFunction",
    "SourceFunction", "Partitioner", "RuntimeContext", "AggregateFunction", "WindowFunction",
    "AllWindowFunction", "ProcessWindowFunction", "ProcessAllWindowFunction", "JoinFunction",
    "FlatJoinFunction", "CoGroupFunction", "ProcessJoinFunction", "BroadcastProcessFunction",
    "KeyedBroadcastProcessFunction",
    # time and watermarks
    "Time", "Duration", "WatermarkStrategy", "TimestampAssigner", "WatermarkGenerator",
    "WatermarkOutput", "Watermark",
    # windows
    "Window", "TimeWindow", "GlobalWindow", "CountWindow", "TimestampedValue",
    "WindowAssigner", "MergingWindowAssigner", "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows", "SlidingEventTimeWindows", "SlidingProcessingTimeWindows",
    "EventTimeSessionWindows", "ProcessingTimeSessionWindows", "DynamicEventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows", "GlobalWindows", "CountTumblingWindowAssigner",
    "CountSlidingWindowAssigner", "SessionWindowTimeGapExtractor", "TriggerResult", "Trigger",
    "EventTimeTrigger", "ProcessingTimeTrigger", "CountTrigger", "PurgingTrigger",
    "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger", "NeverTrigger",
    "Evictor", "CountEvictor", "TimeEvictor", "DeltaEvictor",
    # state
    "ValueStateDescriptor", "ListStateDescriptor", "MapStateDescriptor",
    "ReducingStateDescriptor", "AggregatingStateDescriptor", "StateTtlConfig",
    # records and types
    "Row", "RowKind", "Types", "TypeInformation", "OutputTag", "TimeDomain",
    # sinks
    "DataFrameSink", "WriteMode",
    # jobs
    "JobClient", "JobExecutionResult", "JobStatus", "CloseableIterator", "ManualClock",
    # fault tolerance
    "CheckpointingMode", "CheckpointConfig", "ExternalizedCheckpointRetention",
    "ExternalizedCheckpointCleanup", "FileSystemCheckpointStorage", "RestartStrategies",
    "RestartStrategyConfiguration", "CheckpointError",
    "HashMapStateBackend", "EmbeddedRocksDBStateBackend",
    # errors
    "NbstreamError", "PlanError", "JobFailedError", "UserFunctionError", "JobCancelledError",
    "NotAvailableError",
]


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """``%load_ext nbstream``: register the notebook magics (see :mod:`nbstream.notebook`)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    from .notebook import unload_ipython_extension as unload

    unload(ipython)
