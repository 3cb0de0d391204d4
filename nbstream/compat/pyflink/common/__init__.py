"""``pyflink.common`` on nbstream: types, rows, time, configuration, watermark strategies."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {
    "Configuration": "nbstream.compat.pyflink.common.configuration",
    "ExecutionConfig": "nbstream.compat.pyflink.common.execution_config",
    "TypeInformation": "nbstream",
    "Types": "nbstream",
    "Row": "nbstream",
    "RowKind": "nbstream",
    "JobClient": "nbstream",
    "JobExecutionResult": "nbstream",
    "JobStatus": "nbstream",
    "WatermarkStrategy": "nbstream",
    "Duration": "nbstream",
    "Time": "nbstream",
    "Encoder": "nbstream.compat.pyflink.common.serialization",
    **{name: "nbstream.compat.pyflink.common.serialization" for name in (
        "SimpleStringSchema", "SerializationSchema", "DeserializationSchema", "ByteArraySchema")},
    "RestartStrategies": "nbstream", "RestartStrategyConfiguration": "nbstream",
    "Instant": "nbstream.compat.pyflink.common.instant",
}, unavailable=["ConfigOption", "ConfigOptions", "TypeSerializer", "CompletableFuture",
                "InputDependencyConstraint", "JobID", "AssignerWithPeriodicWatermarksWrapper"])
