"""Which ``org.apache.flink...`` names an old-API program may import, and what to say
about the ones nbstream does not provide."""

from __future__ import annotations

from typing import Any, Dict, Optional

from ...connectors.sinks import WriteMode
from ...runtime.durations import Time
from ..pyflink._exports import NotAvailableError
from . import environment as E
from . import functions as J

__all__ = ["MODULES", "unavailable"]

_RICH = ("RichMapFunction", "RichFlatMapFunction", "RichFilterFunction", "RichReduceFunction")

#: module -> {name: value}. ``...time.Time`` and ``...fs.FileSystem`` are Java classes
#: the old API imported from as if they were modules (``from ...Time import seconds``).
MODULES: Dict[str, Dict[str, Any]] = {
    "org.apache.flink.api.common.functions": {
        n: getattr(J, n) for n in ("MapFunction", "FlatMapFunction", "FilterFunction",
                                   "ReduceFunction") + _RICH},
    "org.apache.flink.api.java.functions": {"KeySelector": J.KeySelector},
    "org.apache.flink.streaming.api.functions.source": {
        n: getattr(J, n) for n in ("SourceFunction", "ParallelSourceFunction",
                                   "RichSourceFunction", "RichParallelSourceFunction")},
    "org.apache.flink.streaming.api.functions.sink": {
        "SinkFunction": J.SinkFunction, "RichSinkFunction": J.RichSinkFunction},
    "org.apache.flink.streaming.api.functions.windowing": {
        "WindowFunction": J.WindowFunction, "RichWindowFunction": J.RichWindowFunction},
    "org.apache.flink.streaming.api.collector.selector": {"OutputSelector": J.OutputSelector},
    "org.apache.flink.streaming.api.windowing.time.Time": {
        "milliseconds": Time.milliseconds, "seconds": Time.seconds, "minutes": Time.minutes,
        "hours": Time.hours, "days": Time.days},
    "org.apache.flink.streaming.api.windowing.time": {},
    "org.apache.flink.core.fs.FileSystem": {"WriteMode": WriteMode},
    "org.apache.flink.core.fs": {},
    "org.apache.flink.streaming.util.serialization": {
        "SerializationSchema": J.SerializationSchema, "SimpleStringSchema": J.SimpleStringSchema},
    "org.apache.flink.api.common.serialization": {
        "SerializationSchema": J.SerializationSchema, "SimpleStringSchema": J.SimpleStringSchema},
    "org.apache.flink.streaming.python.api.environment": {
        "PythonStreamExecutionEnvironment": E.PythonStreamExecutionEnvironment,
        "PythonEnvironmentFactory": E.PythonEnvironmentFactory},
    "org.apache.flink.python.api.jython": {
        "PythonStreamExecutionEnvironment": E.PythonStreamExecutionEnvironment},
}

_SOURCES_AND_SINKS = ("read input with socket_text_stream(host, port), read_text_file(path) or "
                      "create_python_source(SourceFunction), write output with output(), "
                      "write_as_text(path) or write_to_socket(host, port, schema)")
_NBSTREAM = "the old Python API has no such operation: write it with nbstream's own API " \
            "(import nbstream), which has it"

#: name or module prefix -> what to use instead
_HINTS: Dict[str, str] = {
    "ParameterTool": "read the parameters given after `-` from sys.argv (e.g. with argparse)",
    "AllWindowFunction": "key the stream first (key_by(...).time_window(...).apply(...))",
    "TimeCharacteristic": "time_window() is processing time here, as in the old Python API",
    "org.apache.flink.api.java.utils": "read the parameters given after `-` from sys.argv "
                                       "(e.g. with argparse)",
    "org.apache.flink.streaming.connectors": _SOURCES_AND_SINKS,
    "org.apache.flink.streaming.python.connectors": _SOURCES_AND_SINKS,
    "org.apache.flink.table": "the Table API was never part of the old Python streaming API; "
                              "use nbstream's own API (import nbstream)",
}
for _name in ("CoMapFunction", "CoFlatMapFunction", "ProcessFunction", "KeyedProcessFunction",
              "AggregateFunction", "JoinFunction", "CoGroupFunction", "FoldFunction",
              "ProcessWindowFunction"):
    _HINTS[_name] = _NBSTREAM


def _hint(name: str, module: Optional[str]) -> str:
    if name in _HINTS:
        return _HINTS[name]
    for prefix in sorted((k for k in _HINTS if "." in k), key=len, reverse=True):
        if (module or name).startswith(prefix):
            return _HINTS[prefix]
    offered = sorted(MODULES.get(module or "", {}))
    if offered:
        return f"from {module} it provides {', '.join(offered)}"
    return ("it provides the old Python streaming API's functions, Time, WriteMode and "
            "serialization schemas (see nbstream.compat.jython.MODULES)")


def unavailable(name: str, module: Optional[str] = None) -> NotAvailableError:
    """The error for ``import``ing a name (``module`` given) or module nbstream lacks."""
    what = f"{name} ({module})" if module else name
    return NotAvailableError(f"{what} is not available in nbstream's old Flink Python API: "
                             f"{_hint(name, module)}")
