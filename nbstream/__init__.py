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

from .api.datastream import ConnectedStreams, DataStream, DataStreamSink, KeyedStream
from .api.environment import ExecutionConfig, RuntimeExecutionMode, StreamExecutionEnvironment
from .api.functions import (CoFlatMapFunction, CoMapFunction, CoProcessFunction, FilterFunction,
                            FlatMapFunction, Function, KeyedCoProcessFunction,
                            KeyedProcessFunction, KeySelector, MapFunction, Partitioner,
                            ProcessFunction, ReduceFunction, RuntimeContext, SinkFunction,
                            SourceFunction)
from .api.types import Row, RowKind, TypeInformation, Types
from .connectors.sinks import DataFrameSink, WriteMode
from .errors import (JobCancelledError, JobFailedError, NbstreamError, PlanError,
                     UserFunctionError)
from .runtime.clock import ManualClock
from .runtime.job import CloseableIterator, JobClient, JobExecutionResult, JobStatus
from .runtime.records import OutputTag
from .runtime.timers import TimeDomain

__version__ = "0.1.0"

__all__ = [
    # environment and streams
    "StreamExecutionEnvironment", "RuntimeExecutionMode", "ExecutionConfig",
    "DataStream", "KeyedStream", "ConnectedStreams", "DataStreamSink",
    # functions
    "Function", "MapFunction", "FlatMapFunction", "FilterFunction", "KeySelector",
    "ReduceFunction", "ProcessFunction", "KeyedProcessFunction", "CoMapFunction",
    "CoFlatMapFunction", "CoProcessFunction", "KeyedCoProcessFunction", "SinkFunction",
    "SourceFunction", "Partitioner", "RuntimeContext",
    # records and types
    "Row", "RowKind", "Types", "TypeInformation", "OutputTag", "TimeDomain",
    # sinks
    "DataFrameSink", "WriteMode",
    # jobs
    "JobClient", "JobExecutionResult", "JobStatus", "CloseableIterator", "ManualClock",
    # errors
    "NbstreamError", "PlanError", "JobFailedError", "UserFunctionError", "JobCancelledError",
]
