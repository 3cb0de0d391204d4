"""The public surface: a pinned export list, a fast import that needs no IPython."""

import json
import subprocess
import sys

import nbstream

EXPECTED = sorted([
    "StreamExecutionEnvironment", "RuntimeExecutionMode", "ExecutionConfig",
    "DataStream", "KeyedStream", "ConnectedStreams", "DataStreamSink", "ColumnarStream",
    "Function", "MapFunction", "FlatMapFunction", "FilterFunction", "KeySelector",
    "ReduceFunction", "ProcessFunction", "KeyedProcessFunction", "CoMapFunction",
    "CoFlatMapFunction", "CoProcessFunction", "KeyedCoProcessFunction", "SinkFunction",
    "SourceFunction", "Partitioner", "RuntimeContext",
    "Row", "RowKind", "Types", "TypeInformation", "OutputTag", "TimeDomain",
    "DataFrameSink", "WriteMode",
    "JobClient", "JobExecutionResult", "JobStatus", "CloseableIterator", "ManualClock",
    "NbstreamError", "PlanError", "JobFailedError", "UserFunctionError", "JobCancelledError",
    "NotAvailableError",
    # event time, windows, state, joins, broadcast, iterations (issue 3)
    "WindowedStream", "AllWindowedStream", "BroadcastStream", "BroadcastConnectedStream",
    "JoinedStreams", "CoGroupedStreams", "IntervalJoin", "IterativeStream",
    "AggregateFunction", "WindowFunction", "AllWindowFunction", "ProcessWindowFunction",
    "ProcessAllWindowFunction", "JoinFunction", "FlatJoinFunction", "CoGroupFunction",
    "ProcessJoinFunction", "BroadcastProcessFunction", "KeyedBroadcastProcessFunction",
    "Time", "Duration", "WatermarkStrategy", "TimestampAssigner", "WatermarkGenerator",
    "WatermarkOutput", "Watermark",
    "Window", "TimeWindow", "GlobalWindow", "CountWindow", "TimestampedValue",
    "WindowAssigner", "MergingWindowAssigner", "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows", "SlidingEventTimeWindows", "SlidingProcessingTimeWindows",
    "EventTimeSessionWindows", "ProcessingTimeSessionWindows", "DynamicEventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows", "GlobalWindows", "CountTumblingWindowAssigner",
    "CountSlidingWindowAssigner", "SessionWindowTimeGapExtractor", "TriggerResult", "Trigger",
    "EventTimeTrigger", "ProcessingTimeTrigger", "CountTrigger", "PurgingTrigger",
    "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger", "NeverTrigger",
    "Evictor", "CountEvictor", "TimeEvictor", "DeltaEvictor",
    "ValueStateDescriptor", "ListStateDescriptor", "MapStateDescriptor",
    "ReducingStateDescriptor", "AggregatingStateDescriptor", "StateTtlConfig",
    # async I/O (issue 13)
    "AsyncDataStream", "AsyncFunction", "AsyncRetryStrategy", "AsyncRetryPredicate",
    # fault tolerance (issue 10)
    "CheckpointingMode", "CheckpointConfig", "ExternalizedCheckpointRetention",
    "ExternalizedCheckpointCleanup", "FileSystemCheckpointStorage", "RestartStrategies",
    "RestartStrategyConfiguration", "CheckpointError",
    "HashMapStateBackend", "EmbeddedRocksDBStateBackend",
])


def test_export_list_is_pinned():
    assert sorted(nbstream.__all__) == EXPECTED


def test_jython_compat_exports_are_pinned():
    from nbstream.compat import jython
    from nbstream.compat.jython import functions

    assert sorted(jython.__all__) == sorted([
        "install", "uninstall", "activated", "is_installed", "run_main", "run_source",
        "error_line", "ProgramError", "NotAvailableError", "MODULES",
        "PythonStreamExecutionEnvironment", "PythonEnvironmentFactory"])
    assert sorted(functions.__all__) == sorted([
        "ProgramError", "Collector", "check", "MapFunction", "FlatMapFunction",
        "FilterFunction", "ReduceFunction", "KeySelector", "SourceFunction",
        "ParallelSourceFunction", "SinkFunction", "RichSinkFunction", "WindowFunction",
        "OutputSelector", "SerializationSchema",
        "SimpleStringSchema", "RichMapFunction", "RichFlatMapFunction", "RichFilterFunction",
        "RichReduceFunction", "RichSourceFunction", "RichParallelSourceFunction",
        "RichWindowFunction"])
    assert all(hasattr(jython, n) for n in jython.__all__)
    assert all(hasattr(functions, n) for n in functions.__all__)


def test_every_export_exists():
    missing = [name for name in nbstream.__all__ if not hasattr(nbstream, name)]
    assert missing == []


def test_import_is_fast_and_needs_no_notebook_stack():
    code = (
        "import sys, time, json\n"
        "t = time.perf_counter()\n"
        "import nbstream\n"
        "dt = time.perf_counter() - t\n"
        "heavy = [m for m in ('IPython', 'ipywidgets', 'pandas', 'pyarrow', 'cloudpickle')"
        " if m in sys.modules]\n"
        "print(json.dumps({'seconds': dt, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["heavy"] == []
    assert report["seconds"] < 1.0


def test_package_is_typed():
    from importlib.resources import files

    assert files("nbstream").joinpath("py.typed").is_file()
