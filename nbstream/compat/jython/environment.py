"""The old Flink Python API's environment and streams, as thin wrappers over nbstream's.

``PythonStreamExecutionEnvironment`` and ``PythonDataStream`` (keyed, windowed, split,
iterative) have the old API's method names and take its Java-style function classes
(:mod:`.functions`); underneath, every call builds nbstream's own pipeline.

>>> from nbstream.compat.jython.functions import MapFunction
>>> class Double(MapFunction):
...     def map(self, value):
...         return value * 2
>>> env = PythonEnvironmentFactory().get_execution_environment().set_parallelism(1)
>>> env.from_elements(1, 2, 3).map(Double()).output()
>>> _ = env.execute(local=True)
2
4
6
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, Optional

from ...api.datastream import DataStream
from ...api.environment import StreamExecutionEnvironment
from ...api.functions import WindowFunction as _NbWindowFunction
from ...connectors.sinks import WriteMode
from ...runtime.durations import to_millis
from ...runtime.windows import (CountEvictor, CountTrigger, GlobalWindows,
                                  SlidingProcessingTimeWindows, TumblingProcessingTimeWindows)
from . import functions as J

__all__ = ["PythonStreamExecutionEnvironment", "PythonEnvironmentFactory", "PythonDataStream",
           "PythonKeyedStream", "PythonWindowedStream", "PythonSplitStream",
           "PythonIterativeStream", "JavaWindow", "DEFAULTS"]

#: what environments created now start with: ``mode``, ``parallelism``, ``clock`` (a
#: processing-time clock such as ManualClock) and ``launch`` (``launch(env, job_name)``
#: runs a job instead of ``execute``: the notebook shows it live)
DEFAULTS: Dict[str, Any] = {}


def _local_path(path: str) -> str:
    """``file:///x`` -> ``/x`` (the old API takes file URLs); other paths unchanged."""
    path = os.fspath(path)
    return path[len("file://"):] if path.startswith("file://") else path


class PythonStreamExecutionEnvironment:
    """Where an old-API program starts: sources, ``set_parallelism``, ``execute``."""

    def __init__(self, env: Optional[StreamExecutionEnvironment] = None) -> None:
        if env is None:
            env = StreamExecutionEnvironment(None)
            env.set_parallelism(DEFAULTS.get("parallelism") or os.cpu_count() or 1)
            if DEFAULTS.get("mode"):
                env.set_execution_mode(DEFAULTS["mode"])
            if DEFAULTS.get("clock") is not None:
                env.set_processing_time_clock(DEFAULTS["clock"])
        self._env = env

    def __repr__(self) -> str:
        return f"<old-API environment over {self._env!r}>"

    @staticmethod
    def get_execution_environment() -> "PythonStreamExecutionEnvironment":
        return PythonStreamExecutionEnvironment()

    @staticmethod
    def create_local_execution_environment(*args: Any) -> "PythonStreamExecutionEnvironment":
        """``(config)`` or ``(parallelism, config)``: a local environment (the config is
        Flink's JVM configuration and is ignored)."""
        env = PythonStreamExecutionEnvironment()
        if args and isinstance(args[0], int):
            env.set_parallelism(args[0])
        return env

    def get_nbstream_environment(self) -> StreamExecutionEnvironment:
        """The nbstream environment underneath (for ``explain()``, clocks, ...)."""
        return self._env

    # -- sources ---------------------------------------------------------------------------
    def create_python_source(self, source: Any) -> "PythonDataStream":
        """Records a SourceFunction's ``run(ctx)`` emits; one instance unless it is a
        ParallelSourceFunction."""
        J.check("create_python_source", source, J.SourceFunction)
        ds = self._env.add_source(source, type(source).__name__)
        if not isinstance(source, J.ParallelSourceFunction):
            ds = ds.set_parallelism(1)
        return PythonDataStream(ds)

    add_source = create_python_source

    def from_elements(self, *elements: Any) -> "PythonDataStream":
        return PythonDataStream(self._env.from_elements(*elements))

    def from_collection(self, collection: Iterable[Any]) -> "PythonDataStream":
        """The elements of a collection, or of an iterator (read once)."""
        if hasattr(collection, "__next__"):
            return PythonDataStream(self._env.from_iterable(collection))
        return PythonDataStream(self._env.from_collection(collection))

    def generate_sequence(self, from_: int, to: int) -> "PythonDataStream":
        """The numbers ``from_`` to ``to``, both included."""
        return PythonDataStream(self._env.generate_sequence(from_, to))

    def read_text_file(self, path: str) -> "PythonDataStream":
        """The lines of a text file (a path or a ``file://`` URL)."""
        return PythonDataStream(self._env.read_text_file(_local_path(path)))

    def socket_text_stream(self, host: str, port: int) -> "PythonDataStream":
        """Lines from a TCP server, until it closes the connection."""
        return PythonDataStream(self._env.socket_text_stream(host, port))

    # -- settings and running ----------------------------------------------------------------
    def set_parallelism(self, parallelism: int) -> "PythonStreamExecutionEnvironment":
        self._env.set_parallelism(parallelism)
        return self

    def get_parallelism(self) -> int:
        return self._env.get_parallelism()

    def enable_checkpointing(self, interval: int, mode: Any = None
                             ) -> "PythonStreamExecutionEnvironment":
        """Checkpoint every ``interval`` ms (the old API's ``CheckpointingMode`` values
        are taken by name)."""
        from ...api.checkpointing import CheckpointingMode

        name = getattr(mode, "name", None) or (str(mode).rsplit(".", 1)[-1] if mode else None)
        self._env.enable_checkpointing(interval, CheckpointingMode[name] if name else None)
        return self

    def execute(self, *args: Any, local: Optional[bool] = None, job_name: Optional[str] = None
                ) -> Any:
        """Run the job: ``execute()``, ``execute(True)``, ``execute("name")``,
        ``execute("name", True)`` or ``execute(local=True)`` (every run is local here)."""
        for arg in args:
            if isinstance(arg, str):
                job_name = arg
            elif not isinstance(arg, bool):
                raise TypeError(f"execute() takes a job name and/or local=True/False, not {arg!r}")
        launch = DEFAULTS.get("launch")
        if launch is not None:
            return launch(self._env, job_name)
        return self._env.execute(job_name)


class PythonEnvironmentFactory:
    """What ``main(factory)`` receives: ``factory.get_execution_environment()``."""

    get_execution_environment = staticmethod(PythonStreamExecutionEnvironment.get_execution_environment)
    create_local_execution_environment = staticmethod(
        PythonStreamExecutionEnvironment.create_local_execution_environment)


class PythonDataStream:
    """A stream of the old API: ``map``, ``flat_map``, ``filter``, ``key_by``, ``union``,
    ``split``, ``iterate`` and the sinks ``output``, ``write_as_text``, ``write_to_socket``,
    ``add_sink``."""

    def __init__(self, stream: DataStream) -> None:
        self._stream = stream

    def __repr__(self) -> str:
        return f"<{type(self).__name__} over {self._stream!r}>"

    def get_nbstream_stream(self) -> DataStream:
        """The nbstream stream underneath."""
        return self._stream

    def name(self, name: str) -> "PythonDataStream":
        self._stream = self._stream.name(name)
        return self

    def set_parallelism(self, parallelism: int) -> "PythonDataStream":
        self._stream = self._stream.set_parallelism(parallelism)
        return self

    # -- transformations ---------------------------------------------------------------------
    def map(self, mapper: Any) -> "PythonDataStream":
        return PythonDataStream(self._stream.map(J.check("map", mapper, J.MapFunction)))

    def flat_map(self, flat_mapper: Any) -> "PythonDataStream":
        return PythonDataStream(
            self._stream.flat_map(J.check("flat_map", flat_mapper, J.FlatMapFunction)))

    def filter(self, filter_function: Any) -> "PythonDataStream":
        return PythonDataStream(
            self._stream.filter(J.check("filter", filter_function, J.FilterFunction)))

    def key_by(self, selector: Any) -> "PythonKeyedStream":
        return PythonKeyedStream(self._stream.key_by(J.check("key_by", selector, J.KeySelector)))

    def union(self, *streams: "PythonDataStream") -> "PythonDataStream":
        for s in streams:
            if not isinstance(s, PythonDataStream):
                raise TypeError(f"union(): needs streams, not {type(s).__name__}")
        return PythonDataStream(self._stream.union(*(s._stream for s in streams)))

    def split(self, output_selector: Any) -> "PythonSplitStream":
        """Name each record's streams with ``output_selector.select(value)``; pick them
        with ``.select("name", ...)``."""
        return PythonSplitStream(self._stream, J.check("split", output_selector, J.OutputSelector))

    def iterate(self, max_wait_time_ms: Optional[int] = None) -> "PythonIterativeStream":
        """A feedback loop (close it with ``close_with``). It ends once the input has
        ended and nothing came back for ``max_wait_time_ms`` (default: nbstream's 1000 ms;
        the old API's loop without a wait time never ended)."""
        loop = (self._stream.iterate() if max_wait_time_ms is None
                else self._stream.iterate(max_wait_time_ms))
        return PythonIterativeStream(loop)

    # -- sinks ---------------------------------------------------------------------------------
    def output(self) -> None:
        """Print ``str()`` of each record (``N> `` before it when parallelism > 1)."""
        self._stream.print()

    print = output

    def write_as_text(self, path: str, mode: WriteMode = WriteMode.NO_OVERWRITE) -> None:
        """Write ``str()`` of each record as a line (a path or a ``file://`` URL)."""
        self._stream.write_as_text(_local_path(path), mode)

    def write_to_socket(self, host: str, port: int, schema: Any) -> None:
        """Send ``schema.serialize(value)`` of each record to a TCP server."""
        self._stream.write_to_socket(host, port,
                                     J.check("write_to_socket", schema, J.SerializationSchema))


    def add_sink(self, sink_function: Any) -> None:
        """Call ``sink_function.invoke(value)`` with every record (in the process that
        runs the job, whatever the mode)."""
        self._stream.add_sink(J.check("add_sink", sink_function, J.SinkFunction))


class PythonKeyedStream(PythonDataStream):
    """A keyed stream: rolling ``reduce``, and windows ``time_window`` (processing time)
    and ``count_window``."""

    def reduce(self, reducer: Any) -> PythonDataStream:
        return PythonDataStream(self._stream.reduce(J.check("reduce", reducer, J.ReduceFunction)))

    def time_window(self, size: Any, slide: Any = None) -> "PythonWindowedStream":
        """Processing-time windows of ``size`` (sliding by ``slide``), on the
        environment's processing-time clock, as the old API's ``time_window``."""
        assigner = (TumblingProcessingTimeWindows.of(to_millis(size, "size")) if slide is None
                    else SlidingProcessingTimeWindows.of(to_millis(size, "size"),
                                                         to_millis(slide, "slide")))
        return PythonWindowedStream(self._stream.window(assigner))

    def count_window(self, size: int, slide: Optional[int] = None) -> "PythonWindowedStream":
        """Windows of ``size`` records of a key; with ``slide``, as Flink's Java
        ``countWindow(size, slide)``: every ``slide`` records, the last ``size`` of them
        (so the first windows hold fewer)."""
        if slide is None:
            return PythonWindowedStream(self._stream.count_window(size))
        windowed = (self._stream.window(GlobalWindows.create())
                    .trigger(CountTrigger.of(slide)).evictor(CountEvictor.of(size)))
        return PythonWindowedStream(windowed)


class PythonWindowedStream:
    """A windowed keyed stream: ``reduce(ReduceFunction)`` or ``apply(WindowFunction)``."""

    def __init__(self, windowed: Any) -> None:
        self._windowed = windowed

    def reduce(self, reducer: Any) -> PythonDataStream:
        return PythonDataStream(
            self._windowed.reduce(J.check("reduce", reducer, J.ReduceFunction)))

    def apply(self, window_function: Any) -> PythonDataStream:
        fn = J.check("apply", window_function, J.WindowFunction)
        return PythonDataStream(self._windowed.apply(_WindowApply(fn)))


class _WindowApply(_NbWindowFunction):
    """nbstream's ``apply(key, window, inputs)`` calling the old API's
    ``apply(key, window, values, collector)``."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def open(self, runtime_context: Any) -> None:
        self.function.open(runtime_context)

    def close(self) -> None:
        self.function.close()

    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        out = J.Collector()
        self.function.apply(key, JavaWindow(window), list(inputs), out)
        return out.items


class JavaWindow:
    """A window with Java's accessors as well (``getStart()``, ``getEnd()``,
    ``maxTimestamp()``), as the old API's window functions received it.

    >>> from nbstream import TimeWindow
    >>> w = JavaWindow(TimeWindow(0, 50))
    >>> w.getStart(), w.getEnd(), w.maxTimestamp(), w.end
    (0, 50, 49, 50)
    """

    __slots__ = ("window",)

    def __init__(self, window: Any) -> None:
        self.window = window

    def getStart(self) -> int:
        return self.window.start

    def getEnd(self) -> int:
        return self.window.end

    def maxTimestamp(self) -> int:
        return self.window.max_timestamp()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.window, name)

    def __eq__(self, other: Any) -> bool:
        return self.window == getattr(other, "window", other)

    def __hash__(self) -> int:
        return hash(self.window)

    def __repr__(self) -> str:
        return repr(self.window)


class _Selected:
    """Keeps the records ``selector.select(value)`` sends to one of ``names``."""

    def __init__(self, selector: Any, names: frozenset) -> None:
        self.selector = selector
        self.names = names

    def __call__(self, value: Any) -> bool:
        chosen = self.selector.select(value)
        if isinstance(chosen, str):
            raise TypeError(f"{type(self.selector).__name__}.select() must return a list of "
                            f"names, not the string {chosen!r}")
        return any(name in self.names for name in chosen)

    def __repr__(self) -> str:
        return f"{type(self.selector).__name__} select {sorted(self.names)}"


class PythonSplitStream:
    """The result of ``split``: ``select("even")`` or ``select("even", "odd")``."""

    def __init__(self, stream: DataStream, selector: Any) -> None:
        self._stream = stream
        self._selector = selector

    def select(self, *names: str) -> PythonDataStream:
        """The records whose selector named any of ``names`` (each record once)."""
        if not names:
            raise TypeError("select(): name at least one split stream")
        return PythonDataStream(
            self._stream.filter(_Selected(self._selector, frozenset(names))))


class PythonIterativeStream(PythonDataStream):
    """The head of a feedback loop: build the body on it, then ``close_with(feedback)``."""

    def close_with(self, feedback: PythonDataStream) -> PythonDataStream:
        if not isinstance(feedback, PythonDataStream):
            raise TypeError(f"close_with(): needs a stream, not {type(feedback).__name__}")
        return PythonDataStream(self._stream.close_with(feedback._stream))
