"""The lazy stream API: DataStream, KeyedStream, ConnectedStreams, DataStreamSink.

Every method adds a node to the environment's graph and returns a new stream;
nothing runs until ``env.execute()``, ``execute_async()``, ``execute_and_collect()``
or ``to_pandas()``.

>>> from nbstream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> words = env.from_collection(["a", "b", "a"])
>>> counts = words.map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1)
>>> sorted(counts.execute_and_collect(limit=3))
[('a', 1), ('a', 2), ('b', 1)]
"""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Optional, Union

from ..connectors.sinks import (CollectSink, FunctionSink, PrintSink, SinkSpec,
                                SocketSink, TextFileSink, WriteMode)
from ..errors import PlanError, whole_number
from ..plan.config import parallelism_of
from ..plan.logical import Node, Partitioning, UserFn
from ..runtime.aggregations import accumulator
from ..runtime.records import OutputTag
from . import functions as F
from .functions_util import key_selector_fn, user_fn
from .types import PickledTypeInfo, RowTypeInfo, TupleTypeInfo, TypeInformation

if TYPE_CHECKING:  # pragma: no cover
    from ..runtime.collect import CloseableIterator
    from .environment import StreamExecutionEnvironment

__all__ = ["DataStream", "KeyedStream", "ConnectedStreams", "DataStreamSink"]


def as_rows(stream: Any, what: str) -> Any:
    """``stream`` where a step needs records: a columnar stream (or a keyed one) is
    turned into its rows (one ``ToRows`` step, naming ``what``), anything else is kept."""
    to_rows = getattr(type(stream), "_as_rows", None)
    return to_rows(stream, f"{what}()") if to_rows is not None else stream


class DataStream:
    """A stream of records, built lazily.

    The examples of this class and of :class:`KeyedStream`, ``WindowedStream`` and
    ``AllWindowedStream`` run as a notebook cell would, after::

        from nbstream import *
        env = StreamExecutionEnvironment.get_execution_environment()
    """

    def __init__(self, env: "StreamExecutionEnvironment", node_id: int) -> None:
        self._env = env
        self._id = node_id

    # -- node helpers ----------------------------------------------------------------------
    @property
    def _node(self) -> Node:
        return self._env._graph.nodes[self._id]

    def _add(self, kind: str, name: str, fn: Optional[UserFn] = None,
             output_type: Any = None, inputs: Optional[tuple] = None, **params: Any) -> "DataStream":
        node = self._env._graph.add(kind, name, inputs if inputs is not None else (self._id,),
                                    fn=fn, params=params, output_type=output_type)
        return DataStream(self._env, node.id)

    def _update(self, **changes: Any) -> "DataStream":
        self._env._graph.update(self._id, **changes)
        return self

    def _partition(self, kind: str, **fields: Any) -> "DataStream":
        part = Partitioning(kind, **fields)
        return self._add("partition", kind.upper(), partitioning=part)

    def get_execution_environment(self) -> "StreamExecutionEnvironment":
        """The environment this stream belongs to.

        >>> env.from_collection([1]).get_execution_environment() is env
        True
        """
        return self._env

    def _declared_type(self) -> Optional[TypeInformation]:
        node = self._node
        while node.output_type is None and node.is_virtual and node.inputs:
            node = self._env._graph.nodes[node.inputs[0]]
        return node.output_type

    def get_type(self) -> TypeInformation:
        """The declared type of the records (PICKLED_BYTE_ARRAY when none was given).

        >>> env.from_collection([1, 2], type_info=Types.INT()).get_type()
        INT
        """
        declared = self._declared_type()
        return declared if declared is not None else PickledTypeInfo()

    def __repr__(self) -> str:
        node = self._node
        return f"<{type(self).__name__} {node.name!r} (node {node.id})>"

    # -- properties of the step ------------------------------------------------------------------
    def name(self, name: str) -> "DataStream":
        """Name this step (shown in plans, metrics and error messages).

        >>> env.from_collection([1]).map(lambda x: x).name("double").get_name()
        'double'
        """
        return self._update(name=str(name))

    def get_name(self) -> str:
        """The step's name.

        >>> env.from_collection([1]).map(lambda x: x).get_name()
        'Map'
        """
        return self._node.name

    def uid(self, uid: str) -> "DataStream":
        """A stable id for this step (Flink matches state in savepoints by it).

        >>> env.from_collection([1]).map(lambda x: x).uid("parse")._node.uid
        'parse'
        """
        return self._update(uid=str(uid))

    def set_parallelism(self, parallelism: int) -> "DataStream":
        """Run this step as ``parallelism`` instances.

        >>> _ = env.from_sequence(1, 4).map(lambda x: x).set_parallelism(2)
        >>> "chain 1  parallelism 2" in env.explain()
        True
        """
        parallelism = parallelism_of(parallelism, f"'{self._node.name}': parallelism")
        if self._node.params.get("non_parallel") and parallelism != 1:
            raise PlanError(f"'{self._node.name}' is a non-parallel source: its parallelism "
                            f"must be 1, not {parallelism}")
        return self._update(parallelism=parallelism)

    def set_max_parallelism(self, max_parallelism: int) -> "DataStream":
        """The number of key groups of this step (the upper bound of its parallelism).

        >>> env.from_sequence(1, 4).key_by(lambda x: x % 2).sum(0).set_max_parallelism(8)._node.max_parallelism
        8
        """
        max_parallelism = parallelism_of(max_parallelism, f"'{self._node.name}': max parallelism",
                                         maximum=True)
        return self._update(max_parallelism=max_parallelism)

    def force_non_parallel(self) -> "DataStream":
        """Run this step with parallelism 1 (and max parallelism 1).

        >>> env.from_sequence(1, 4).map(lambda x: x).force_non_parallel()._node.parallelism
        1
        """
        return self._update(parallelism=1, max_parallelism=1)

    def start_new_chain(self) -> "DataStream":
        """Begin a new chain at this step (it will not fuse with its input).

        >>> _ = env.from_collection([1]).map(lambda x: x).start_new_chain()
        >>> env.explain().splitlines()[0]
        "Job 'nbstream job': 2 chains, 2 tasks"
        """
        return self._update(chaining="head")

    def disable_chaining(self) -> "DataStream":
        """Never fuse this step with its input or its output.

        >>> _ = env.from_collection([1]).map(lambda x: x).disable_chaining().map(lambda x: x)
        >>> env.explain().splitlines()[0]
        "Job 'nbstream job': 3 chains, 3 tasks"
        """
        return self._update(chaining="never")

    def set_execution_mode(self, mode: str) -> "DataStream":
        """Run this step in ``mode`` ("thread", "process", "auto") whatever the job's mode; the
        steps fused with it follow (a step of another mode starts a new chain).

        >>> ds = env.from_collection([1, 2]).map(lambda x: x * 2).set_execution_mode("process")
        >>> print(env.explain().splitlines()[3])
        chain 1  parallelism 1  process (set on the step)  <- FORWARD from chain 0
        """
        return self._update(execution_mode=_checked_mode(mode))

    def slot_sharing_group(self, slot_sharing_group: Any) -> "DataStream":
        """Flink's slot sharing group of this step: a name, or a ``SlotSharingGroup``
        naming the resources it asks a cluster for. Kept in the plan; on one machine it
        changes nothing.

        >>> ds = env.from_collection([1]).map(lambda x: x)
        >>> ds.slot_sharing_group("heavy") is ds
        True
        """
        name = slot_sharing_group if isinstance(slot_sharing_group, str) \
            else slot_sharing_group.get_name()
        return self._update(params={**self._node.params, "slot_sharing_group": name})

    # -- transformations -------------------------------------------------------------------------
    def project(self, *field_indexes: int) -> "DataStream":
        """A tuple of the fields at ``field_indexes`` of each record (a tuple or a row), as
        Flink's projection; a declared tuple or row type gives the result's type.

        >>> env.from_collection([(1, "a", True)]).project(2, 0).execute_and_collect(limit=1)
        [(True, 1)]
        """
        if not field_indexes:
            raise PlanError("project() needs at least one field index")
        indexes = tuple(whole_number(i, "project() field index", 0) for i in field_indexes)
        declared = self._declared_type()
        output_type = None
        if isinstance(declared, (TupleTypeInfo, RowTypeInfo)):
            types = declared.field_types
            if max(indexes) >= len(types):
                raise PlanError(f"project(): field index {max(indexes)} is out of range for "
                                f"{declared} ({len(types)} fields)")
            output_type = TupleTypeInfo([types[i] for i in indexes])
        elif declared is not None and not isinstance(declared, PickledTypeInfo):
            raise PlanError(f"project() takes tuples or rows, not records of type {declared}")
        pick = _Fields(indexes)
        return self._add("map", "Projection", UserFn((pick,), name=repr(pick)), output_type)

    def map(self, func: Union[Callable[[Any], Any], F.MapFunction],
            output_type: Optional[TypeInformation] = None) -> "DataStream":
        """One record in, one out.

        >>> env.from_collection([1, 2]).map(lambda x: x * 10).execute_and_collect(limit=2)
        [10, 20]
        """
        return self._add("map", "Map", user_fn("map", func, F.MapFunction, ("map",)),
                         output_type)

    def flat_map(self, func: Union[Callable[[Any], Iterable[Any]], F.FlatMapFunction],
                 output_type: Optional[TypeInformation] = None) -> "DataStream":
        """One record in, any number out: return an iterable or ``yield``.

        >>> env.from_collection(["a b", "c"]).flat_map(str.split).execute_and_collect(limit=3)
        ['a', 'b', 'c']
        """
        return self._add("flat_map", "FlatMap",
                         user_fn("flat_map", func, F.FlatMapFunction, ("flat_map",)), output_type)

    def filter(self, func: Union[Callable[[Any], bool], F.FilterFunction]) -> "DataStream":
        """Keep the records for which ``func`` is true.

        >>> env.from_collection([1, 2, 3, 4]).filter(lambda x: x % 2).execute_and_collect(limit=2)
        [1, 3]
        """
        return self._add("filter", "Filter",
                         user_fn("filter", func, F.FilterFunction, ("filter",)),
                         self._declared_type())

    def process(self, func: Any, output_type: Optional[TypeInformation] = None) -> "DataStream":
        """Run a ProcessFunction (or a callable ``f(value, ctx)``) that yields outputs;
        yield ``(OutputTag, value)`` for a side output.

        >>> odd = OutputTag("odd")
        >>> class Split(ProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         yield (odd, value) if value % 2 else value
        >>> evens = env.from_collection([1, 2, 3, 4]).process(Split())
        >>> evens.get_side_output(odd).execute_and_collect(limit=2)
        [1, 3]
        """
        fn = user_fn("process", func, (F.ProcessFunction, F.KeyedProcessFunction),
                     ("process_element",), " (process_element(value, ctx))")
        return self._add("process", "Process", fn, output_type)

    def key_by(self, key_selector: Any, key_type: Optional[TypeInformation] = None) -> "KeyedStream":
        """Partition by key: records with equal keys go to the same parallel instance,
        where keyed state and timers are scoped to the key. ``key_selector`` is a
        KeySelector, a callable, or a field position/name (``key_by("user")``).

        >>> words = env.from_collection([("a", 1), ("b", 2), ("a", 3)])
        >>> words.key_by(lambda t: t[0]).sum(1).execute_and_collect(limit=3)
        [('a', 1), ('b', 2), ('a', 4)]
        """
        fn = key_selector_fn("key_by", key_selector)
        node = self._env._graph.add("partition", "HASH", (self._id,),
                                    params={"partitioning": Partitioning("hash", key_selector=fn,
                                                                         key_type=key_type),
                                            "key_type": key_type})
        return self._env._keyed_stream_type(self._env, node.id, self)

    def union(self, *streams: "DataStream") -> "DataStream":
        """All records of this stream and ``streams``, as one stream.

        >>> a, b = env.from_collection([1, 2]), env.from_collection([3])
        >>> sorted(a.union(b).execute_and_collect(limit=3))
        [1, 2, 3]
        """
        streams = tuple(as_rows(s, "union") for s in streams)
        for s in streams:
            if not isinstance(s, DataStream):
                raise TypeError(f"union() takes DataStreams, not {type(s).__name__}")
            if s._env is not self._env:
                raise PlanError("union() of streams from different environments")
        inputs = (self,) + streams
        return self._add("union", "Union", inputs=tuple(s._union_input()._id for s in inputs))

    def _union_input(self) -> "DataStream":
        """What this stream gives a union (a compatibility layer's keyed stream may add
        the step its framework adds there)."""
        return self

    def connect(self, other: Any) -> Any:
        """Pair this stream with ``other`` for a co-map, co-flat-map or co-process; with a
        :class:`BroadcastStream` (``s.broadcast(descriptor)``) for a broadcast process.

        >>> numbers, words = env.from_collection([1, 2]), env.from_collection(["x"])
        >>> both = numbers.connect(words).map(lambda n: n * 10, lambda w: w.upper())
        >>> sorted(both.execute_and_collect(limit=3), key=str)
        [10, 20, 'X']
        """
        from .broadcast import BroadcastConnectedStream, BroadcastStream

        if isinstance(other, BroadcastStream):
            return BroadcastConnectedStream(self, other)
        other = as_rows(other, "connect")
        if not isinstance(other, DataStream):
            raise TypeError(f"connect() takes a DataStream, not {type(other).__name__}")
        return ConnectedStreams(self, other)

    # -- event time, windows, joins, iterations ---------------------------------------------------
    def assign_timestamps_and_watermarks(self, watermark_strategy: Any) -> "DataStream":
        """Give records event-time timestamps and emit watermarks, as ``watermark_strategy``
        (a :class:`WatermarkStrategy`) says.

        >>> strategy = (WatermarkStrategy.for_monotonous_timestamps()
        ...             .with_timestamp_assigner(lambda event, _: event[1]))
        >>> timed = env.from_collection([("a", 1000), ("a", 2500)]).assign_timestamps_and_watermarks(strategy)
        >>> (timed.key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of("1s")).count()
        ...       .execute_and_collect(limit=2))  # doctest: +NORMALIZE_WHITESPACE
        [{'key': 'a', 'window_start': 1000, 'window_end': 2000, 'count': 1},
         {'key': 'a', 'window_start': 2000, 'window_end': 3000, 'count': 1}]
        """
        if not hasattr(watermark_strategy, "create_watermark_generator"):
            raise TypeError("assign_timestamps_and_watermarks() takes a WatermarkStrategy, "
                            f"not {type(watermark_strategy).__name__}")
        stream = self._add("timestamps_watermarks", "Timestamps/Watermarks", None,
                           self._declared_type(), strategy=watermark_strategy)
        # as Flink, the step takes its input's parallelism (and so chains with it)
        return stream._inherit_parallelism(self)

    def _inherit_parallelism(self, source: "DataStream") -> "DataStream":
        """Give this step the parallelism of ``source``'s step (through side outputs), so
        that the two chain; a virtual step or one with no parallelism of its own gives
        nothing."""
        node = source._node
        while node.kind == "side_output":
            node = self._env._graph.nodes[node.inputs[0]]
        if not node.is_virtual:
            inherited = 1 if node.params.get("non_parallel") else node.parallelism
            if inherited is not None:
                self._update(parallelism=inherited)
        return self

    def window_all(self, window_assigner: Any) -> Any:
        """Windows over the whole stream (not keyed); one parallel instance sees every record.

        >>> env.from_collection([1, 2, 3]).count_window_all(2).sum().execute_and_collect(limit=1)
        [{'window_start': None, 'window_end': None, 'sum': 3}]
        """
        from .windowed import AllWindowedStream

        return AllWindowedStream(self, window_assigner)

    def count_window_all(self, size: int, slide: Optional[int] = None) -> Any:
        """Windows of ``size`` records (every ``slide`` records) over the whole stream.

        >>> (env.from_collection([1, 2, 3, 4]).count_window_all(2).reduce(lambda a, b: a + b)
        ...     .execute_and_collect(limit=2))
        [3, 7]
        """
        return self.window_all(_count_assigner(size, slide))

    def join(self, other: "DataStream") -> Any:
        """Window join: ``a.join(b).where(ka).equal_to(kb).window(assigner).apply(fn)``.

        >>> strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        ...     lambda e, _: e[1])
        >>> clicks = env.from_collection([("u1", 10)]).assign_timestamps_and_watermarks(strategy)
        >>> views = env.from_collection([("u1", 20)]).assign_timestamps_and_watermarks(strategy)
        >>> (clicks.join(views).where(lambda c: c[0]).equal_to(lambda v: v[0])
        ...     .window(TumblingEventTimeWindows.of(100)).apply(lambda c, v: (c[0], v[1] - c[1]))
        ...     .execute_and_collect(limit=1))
        [('u1', 10)]
        """
        from .joins import JoinedStreams

        return JoinedStreams(self, other)

    def co_group(self, other: "DataStream") -> Any:
        """Window co-group: ``a.co_group(b).where(ka).equal_to(kb).window(w).apply(fn)``,
        ``fn.co_group(firsts, seconds)`` per key and window.

        >>> strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        ...     lambda e, _: e[1])
        >>> a = env.from_collection([("k", 1), ("k", 2)]).assign_timestamps_and_watermarks(strategy)
        >>> b = env.from_collection([("k", 3)]).assign_timestamps_and_watermarks(strategy)
        >>> (a.co_group(b).where(lambda e: e[0]).equal_to(lambda e: e[0])
        ...   .window(TumblingEventTimeWindows.of(10)).apply(lambda xs, ys: [(len(xs), len(ys))])
        ...   .execute_and_collect(limit=1))
        [(2, 1)]
        """
        from .joins import CoGroupedStreams

        return CoGroupedStreams(self, other)

    def iterate(self, max_wait_time_ms: Any = 1000) -> Any:
        """Start a feedback loop: build the loop body on the returned stream and close it
        with ``close_with(feedback)``. The loop ends once its input has ended and no
        record has come back within ``max_wait_time_ms`` (0: wait forever, as Flink).

        >>> loop = env.from_collection([5]).iterate(max_wait_time_ms=200)
        >>> step = loop.map(lambda x: x - 1)
        >>> _ = loop.close_with(step.filter(lambda x: x > 0))
        >>> sorted(step.execute_and_collect())
        [0, 1, 2, 3, 4]
        """
        from .iterate import IterativeStream

        return IterativeStream.create(self, max_wait_time_ms)

    def get_side_output(self, output_tag: OutputTag) -> "DataStream":
        """The records this step emitted to side output ``output_tag``.

        >>> big = OutputTag("big")
        >>> small = env.from_collection([1, 50]).process(lambda v, ctx: [(big, v) if v > 9 else v])
        >>> small.get_side_output(big).execute_and_collect(limit=1)
        [50]
        """
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"get_side_output() takes an OutputTag, not {type(output_tag).__name__}")
        return self._add("side_output", f"SideOutput[{output_tag.tag_id}]", tag=output_tag,
                         output_type=output_tag.type_info)

    # -- partitioning ------------------------------------------------------------------------------
    def shuffle(self) -> "DataStream":
        """Send each record to a random parallel instance of the next step.

        >>> _ = env.from_collection([1]).shuffle().map(lambda x: x).set_parallelism(2)
        >>> "<- SHUFFLE" in env.explain()
        True
        """
        return self._partition("shuffle")

    def rebalance(self) -> "DataStream":
        """Spread records round-robin over the next step's parallel instances.

        >>> _ = env.from_collection([1]).rebalance().map(lambda x: x).set_parallelism(2)
        >>> "<- REBALANCE" in env.explain()
        True
        """
        return self._partition("rebalance")

    def rescale(self) -> "DataStream":
        """Round-robin over a local subset of the next step's instances.

        >>> _ = env.from_collection([1]).rescale().map(lambda x: x).set_parallelism(2)
        >>> "<- RESCALE" in env.explain()
        True
        """
        return self._partition("rescale")

    def forward(self) -> "DataStream":
        """Keep each record in the same parallel instance (parallelism must be equal).

        >>> _ = env.from_collection([1]).forward().map(lambda x: x)
        >>> env.explain().splitlines()[0]
        "Job 'nbstream job': 1 chains, 1 tasks"
        """
        return self._partition("forward")

    def broadcast(self, *descriptors: Any) -> Any:
        """Send every record to every parallel instance of the next step. With
        MapStateDescriptors, return a :class:`BroadcastStream` to ``connect`` a stream
        to, whose function keeps those broadcast states.

        >>> copies = env.from_collection(["hi"]).broadcast().map(lambda w: w).set_parallelism(3)
        >>> copies.execute_and_collect(limit=3)
        ['hi', 'hi', 'hi']
        """
        if descriptors:
            from .broadcast import BroadcastStream

            return BroadcastStream(self._partition("broadcast"), descriptors)
        return self._partition("broadcast")

    def partition_custom(self, partitioner: Any, key_selector: Any) -> "DataStream":
        """``partitioner(key, num_partitions)`` chooses the instance of each record.

        >>> spread = env.from_collection([1, 2, 3]).partition_custom(lambda key, n: key % n, lambda x: x)
        >>> sorted(spread.map(lambda x: x).set_parallelism(2).execute_and_collect(limit=3))
        [1, 2, 3]
        """
        part = user_fn("partition_custom", partitioner, F.Partitioner, ("partition",))
        key = key_selector_fn("partition_custom", key_selector)
        return self._partition("custom", key_selector=key, partitioner=part)

    # -- sinks -----------------------------------------------------------------------------------
    def _sink(self, spec: SinkSpec, name: str, parallelism: Optional[int] = None) -> "DataStreamSink":
        node = self._env._graph.add("sink", name, (self._id,), params={"sink": spec},
                                    parallelism=parallelism)
        return DataStreamSink(self._env, node.id, spec)

    def _as_text(self, style: str = "to_flink_string") -> "DataStream":
        """Records as the text Flink writes for their declared type (str() when untyped):
        ``style`` is ``to_flink_string`` (Java's toString) or ``to_print_string`` (print())."""
        fmt = _text_formatter(self.get_type(), style)
        return self._add("map", "Map", UserFn((fmt,), name="format as text"), None)

    def add_sink(self, sink_func: Any) -> "DataStreamSink":
        """Send every record to a SinkFunction (``invoke(value, context)``), a plain
        callable ``f(value)``, a sink spec such as :class:`DataFrameSink`, or a connector
        object that attaches itself (``sink._nbstream_sink(stream)``, as :meth:`sink_to`).

        >>> seen = []
        >>> _ = env.from_collection([1, 2]).add_sink(seen.append)
        >>> _ = env.execute()
        >>> seen
        [1, 2]
        """
        if isinstance(sink_func, SinkSpec):
            return self._sink(sink_func, type(sink_func).__name__)
        attach = getattr(sink_func, "_nbstream_sink", None)
        if attach is not None:  # a connector object that attaches itself (as in sink_to)
            return attach(self)
        if isinstance(sink_func, F.SinkFunction):
            return self._sink(FunctionSink(sink_func.invoke, owner=sink_func), "Sink: Unnamed")
        if callable(sink_func):
            return self._sink(FunctionSink(sink_func), "Sink: Unnamed")
        raise TypeError(f"add_sink() needs a SinkFunction or a callable, "
                        f"not {type(sink_func).__name__}")

    def sink_to(self, sink: Any) -> "DataStreamSink":
        """Send every record to a sink object: a sink spec (as :meth:`add_sink` takes) or a
        connector object that knows how to attach itself (``sink._nbstream_sink(stream)``),
        such as the PyFlink compatibility layer's ``FileSink``.

        >>> frame = DataFrameSink()
        >>> _ = env.from_collection([{"n": 1}]).sink_to(frame)
        >>> _ = env.execute()
        >>> frame.rows()
        [{'n': 1}]
        """
        attach = getattr(sink, "_nbstream_sink", None)
        if attach is not None:
            return attach(self)
        return self.add_sink(sink)

    def print(self, sink_identifier: Optional[str] = None) -> "DataStreamSink":
        """Print each record as a line to the job's output (the notebook cell that ran it).

        >>> _ = env.from_collection(["hello"]).print()
        >>> _ = env.execute()
        hello
        """
        return self._as_text("to_print_string")._sink(PrintSink(sink_identifier),
                                                     "Print to Std. Out")

    def output(self) -> "DataStreamSink":
        """The old Flink Python API's name for :meth:`print`.

        >>> _ = env.from_collection([7]).output()
        >>> _ = env.execute()
        7
        """
        return self.print()

    def write_as_text(self, path: str,
                      write_mode: WriteMode = WriteMode.NO_OVERWRITE) -> "DataStreamSink":
        """Write each record as a line of text; fails if ``path`` exists unless
        ``write_mode=WriteMode.OVERWRITE``. With parallelism > 1, ``path`` is a directory.

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> _ = env.from_collection([1, 2]).write_as_text(path)
        >>> _ = env.execute()
        >>> open(path).read().split()
        ['1', '2']
        """
        return self._as_text()._sink(TextFileSink(path, write_mode), f"Sink: {path}")

    def write_to_socket(self, host: str, port: int,
                        serialization_schema: Any = None) -> "DataStreamSink":
        """Send each record to a TCP server (str + newline unless a serializer is given).

        >>> import socket, threading
        >>> server = socket.create_server(("127.0.0.1", 0))
        >>> got = []
        >>> def serve():
        ...     conn, _ = server.accept()
        ...     with conn:
        ...         got.append(conn.makefile().read())
        >>> reader = threading.Thread(target=serve)
        >>> reader.start()
        >>> _ = env.from_collection(["a", "b"]).write_to_socket("127.0.0.1", server.getsockname()[1])
        >>> _ = env.execute()
        >>> reader.join(); server.close()
        >>> got[0].split()
        ['a', 'b']
        """
        return self._sink(SocketSink(host, port, serialization_schema),
                          f"Sink: Socket {host}:{port}")

    def execute_and_collect(self, job_execution_name: Optional[str] = None,
                            limit: Optional[int] = None) -> Union[List[Any], "CloseableIterator"]:
        """Run the job and return its results: a list of the first ``limit`` records,
        or (no limit) an iterator that yields them while the job runs; close it (or use
        ``with``) to stop the job early.

        >>> env.from_collection([1, 2, 3]).execute_and_collect(limit=2)
        [1, 2]
        >>> with env.from_sequence(1, 10**9).execute_and_collect() as records:
        ...     next(records), next(records)
        (1, 2)
        """
        from ..runtime.collect import CloseableIterator

        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise PlanError(f"limit must be a non-negative int, not {limit!r}")
        spec = CollectSink()
        self._sink(spec, "Collect Sink", parallelism=1)
        job = self._env.execute_async(job_execution_name)
        it = CloseableIterator(job, spec.channel)
        if limit is None:
            return it
        try:
            return list(islice(it, limit))
        finally:
            it.close()

    def to_pandas(self, limit: Optional[int] = None, job_name: Optional[str] = None) -> Any:
        """Run the job to its end (or to ``limit`` records) and return the results as a
        pandas DataFrame (columns as :func:`~nbstream.connectors.frames.rows_to_pandas`).

        >>> env.from_collection([{"k": "a", "n": 1}, {"k": "b", "n": 2}]).to_pandas()
           k  n
        0  a  1
        1  b  2
        """
        from ..connectors.frames import rows_to_pandas

        result = self.execute_and_collect(job_name, limit=limit)
        return rows_to_pandas(result if isinstance(result, list) else list(result))


class KeyedStream(DataStream):
    """A stream partitioned by key. Reduce-style operations keep one value per key."""

    def __init__(self, env: "StreamExecutionEnvironment", node_id: int, origin: DataStream) -> None:
        super().__init__(env, node_id)
        self._origin = origin

    def key_by(self, key_selector: Any, key_type: Optional[TypeInformation] = None) -> "KeyedStream":
        """Key the stream again, by another key (of the records before the first key_by).

        >>> pairs = env.from_collection([("a", 1), ("b", 1)]).key_by(lambda t: t[0])
        >>> pairs.key_by(lambda t: t[1]).sum(1).execute_and_collect(limit=2)
        [('a', 1), ('a', 2)]
        """
        return self._origin.key_by(key_selector, key_type)

    def reduce(self, func: Union[Callable[[Any, Any], Any], F.ReduceFunction]) -> DataStream:
        """Combine the records of each key: emits the rolling value per record in
        STREAMING mode, the final value per key in BATCH mode.

        >>> ds = env.from_collection([("a", 1), ("a", 2), ("b", 5)])
        >>> ds.key_by(lambda t: t[0]).reduce(lambda x, y: (x[0], x[1] + y[1])).execute_and_collect(limit=3)
        [('a', 1), ('a', 3), ('b', 5)]
        """
        fn = user_fn("reduce", func, F.ReduceFunction, ("reduce",))
        return self._add("reduce", "Reduce", fn, self._declared_type())

    def _aggregate(self, kind: str, position: Union[int, str]) -> DataStream:
        fn = UserFn((accumulator(kind, position),), name=f"{kind}({position!r})")
        name = {"min_by": "MinBy", "max_by": "MaxBy"}.get(kind, kind.capitalize())
        return self._add("reduce", name, fn, self._declared_type())

    def sum(self, position_to_sum: Union[int, str] = 0) -> DataStream:
        """Rolling sum of a field (position or name) per key; other fields from the first record.

        >>> sales = env.from_collection([{"shop": "x", "eur": 5}, {"shop": "x", "eur": 7}])
        >>> sales.key_by("shop").sum("eur").execute_and_collect(limit=2)
        [{'shop': 'x', 'eur': 5}, {'shop': 'x', 'eur': 12}]
        """
        return self._aggregate("sum", position_to_sum)

    def min(self, position_to_min: Union[int, str] = 0) -> DataStream:
        """Rolling minimum of a field per key; other fields from the first record.

        >>> temps = env.from_collection([("s1", 20, "9:00"), ("s1", 18, "9:05")])
        >>> temps.key_by(lambda t: t[0]).min(1).execute_and_collect(limit=2)
        [('s1', 20, '9:00'), ('s1', 18, '9:00')]
        """
        return self._aggregate("min", position_to_min)

    def max(self, position_to_max: Union[int, str] = 0) -> DataStream:
        """Rolling maximum of a field per key; other fields from the first record.

        >>> temps = env.from_collection([("s1", 20, "9:00"), ("s1", 23, "9:05")])
        >>> temps.key_by(lambda t: t[0]).max(1).execute_and_collect(limit=2)
        [('s1', 20, '9:00'), ('s1', 23, '9:00')]
        """
        return self._aggregate("max", position_to_max)

    def min_by(self, position_to_min_by: Union[int, str] = 0) -> DataStream:
        """The record with the smallest value of a field so far, per key (first on ties).

        >>> temps = env.from_collection([("s1", 20, "9:00"), ("s1", 18, "9:05")])
        >>> temps.key_by(lambda t: t[0]).min_by(1).execute_and_collect(limit=2)
        [('s1', 20, '9:00'), ('s1', 18, '9:05')]
        """
        return self._aggregate("min_by", position_to_min_by)

    def max_by(self, position_to_max_by: Union[int, str] = 0) -> DataStream:
        """The record with the largest value of a field so far, per key (first on ties).

        >>> temps = env.from_collection([("s1", 20, "9:00"), ("s1", 23, "9:05")])
        >>> temps.key_by(lambda t: t[0]).max_by(1).execute_and_collect(limit=2)
        [('s1', 20, '9:00'), ('s1', 23, '9:05')]
        """
        return self._aggregate("max_by", position_to_max_by)

    def window(self, window_assigner: Any) -> Any:
        """Cut each key's records into windows (``TumblingEventTimeWindows.of("10s")``, ...).

        >>> words = env.from_collection(["a", "b", "a", "a"])
        >>> words.key_by(lambda w: w).count_window(2).count().execute_and_collect(limit=1)
        [{'key': 'a', 'window_start': None, 'window_end': None, 'count': 2}]
        """
        from .windowed import WindowedStream

        return WindowedStream(self, window_assigner)

    def count_window(self, size: int, slide: Optional[int] = None) -> Any:
        """Windows of ``size`` records of a key, starting every ``slide`` records (as
        PyFlink: a window fires once it is full).

        >>> nums = env.from_collection([("k", 1), ("k", 2), ("k", 3), ("k", 4)])
        >>> (nums.key_by(lambda t: t[0]).count_window(2).reduce(lambda a, b: (a[0], a[1] + b[1]))
        ...     .execute_and_collect(limit=2))
        [('k', 3), ('k', 7)]
        """
        return self.window(_count_assigner(size, slide))

    def interval_join(self, other: "KeyedStream") -> Any:
        """Interval join: ``a.key_by(k).interval_join(b.key_by(k)).between(lo, hi).process(f)``
        pairs each ``a`` with the ``b`` of the same key whose timestamps lie in
        ``[a.ts + lo, a.ts + hi]``.

        >>> strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        ...     lambda e, _: e[1])
        >>> orders = env.from_collection([("o1", 100)]).assign_timestamps_and_watermarks(strategy)
        >>> ships = env.from_collection([("o1", 130), ("o1", 900)]).assign_timestamps_and_watermarks(strategy)
        >>> (orders.key_by(lambda e: e[0]).interval_join(ships.key_by(lambda e: e[0]))
        ...     .between(0, 50).process(lambda left, right, ctx: [(left[0], right[1] - left[1])])
        ...     .execute_and_collect(limit=1))
        [('o1', 30)]
        """
        from .joins import IntervalJoin

        return IntervalJoin(self, as_rows(other, "interval_join"))

    def process(self, func: Any, output_type: Optional[TypeInformation] = None) -> DataStream:
        """Run a KeyedProcessFunction (or ``f(value, ctx)``): keyed state, timers,
        ``ctx.get_current_key()``.

        >>> class Count(KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.seen = runtime_context.get_state(ValueStateDescriptor("seen", Types.INT()))
        ...     def process_element(self, value, ctx):
        ...         self.seen.update((self.seen.value() or 0) + 1)
        ...         yield ctx.get_current_key(), self.seen.value()
        >>> env.from_collection(list("abca")).key_by(lambda c: c).process(Count()).execute_and_collect(limit=4)
        [('a', 1), ('b', 1), ('c', 1), ('a', 2)]
        """
        fn = user_fn("process", func, (F.KeyedProcessFunction, F.ProcessFunction),
                     ("process_element",), " (process_element(value, ctx))")
        return self._add("process", "KeyedProcess", fn, output_type)

    def _refuse(self, what: str) -> Any:
        raise PlanError(f"{what} is not supported on a KeyedStream; apply an operation "
                        "(map, reduce, process, ...) first")

    def shuffle(self) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).shuffle()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Overriding the partitioning (shuffle) is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Overriding the partitioning (shuffle)")

    def rebalance(self) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).rebalance()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Overriding the partitioning (rebalance) is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Overriding the partitioning (rebalance)")

    def rescale(self) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).rescale()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Overriding the partitioning (rescale) is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Overriding the partitioning (rescale)")

    def forward(self) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).forward()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Overriding the partitioning (forward) is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Overriding the partitioning (forward)")

    def broadcast(self, *descriptors: Any) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).broadcast()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Overriding the partitioning (broadcast) is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Overriding the partitioning (broadcast)")

    def partition_custom(self, partitioner: Any, key_selector: Any) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).partition_custom(lambda k, n: 0, lambda x: x)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Overriding the partitioning (partition_custom) is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Overriding the partitioning (partition_custom)")

    def name(self, name: str) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).name("n")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Setting a name is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Setting a name")

    def slot_sharing_group(self, slot_sharing_group: Any) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).slot_sharing_group("g")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Setting a slot sharing group is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Setting a slot sharing group")

    def uid(self, uid: str) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).uid("u")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Setting a uid is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Setting a uid")

    def set_parallelism(self, parallelism: int) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).set_parallelism(2)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Setting the parallelism is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Setting the parallelism")

    def set_max_parallelism(self, max_parallelism: int) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).set_max_parallelism(8)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: Setting the max parallelism is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("Setting the max parallelism")

    def force_non_parallel(self) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).force_non_parallel()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: force_non_parallel is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("force_non_parallel")

    def start_new_chain(self) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).start_new_chain()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: start_new_chain is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("start_new_chain")

    def disable_chaining(self) -> DataStream:
        """Refused, as in Flink: a keyed stream is a partitioning, not a step; apply an
        operation (map, reduce, process, ...) first.

        >>> env.from_collection([1]).key_by(lambda x: x).disable_chaining()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nbstream.errors.PlanError: disable_chaining is not supported on a KeyedStream; apply an ...
        """
        return self._refuse("disable_chaining")


class ConnectedStreams:
    """Two streams processed together by one co-function."""

    def __init__(self, stream1: DataStream, stream2: DataStream) -> None:
        if stream1._env is not stream2._env:
            raise PlanError("connect() of streams from different environments")
        self.stream1 = stream1
        self.stream2 = stream2

    def _add(self, kind: str, name: str, fn: UserFn, output_type: Any) -> DataStream:
        return self.stream1._add(kind, name, fn, output_type,
                                 inputs=(self.stream1._id, self.stream2._id))

    def _is_keyed(self) -> bool:
        return isinstance(self.stream1, KeyedStream) and isinstance(self.stream2, KeyedStream)

    def key_by(self, key_selector1: Any, key_selector2: Any,
               key_type: Optional[TypeInformation] = None) -> "ConnectedStreams":
        """Key both inputs, so state and timers are shared per key across them."""
        s1 = self.stream1._origin if isinstance(self.stream1, KeyedStream) else self.stream1
        s2 = self.stream2._origin if isinstance(self.stream2, KeyedStream) else self.stream2
        return ConnectedStreams(s1.key_by(key_selector1, key_type), s2.key_by(key_selector2, key_type))

    def map(self, func: Any, func2: Any = None,
            output_type: Optional[TypeInformation] = None) -> DataStream:
        """``map1`` for the first input, ``map2`` for the second: a CoMapFunction, or two
        callables ``map(f1, f2)``. A None result is dropped."""
        fn = _co_fn("map", func, func2, F.CoMapFunction, ("map1", "map2"))
        if isinstance(func2, TypeInformation):
            output_type = func2
        return self._add("co_map", "Co-Map", fn, output_type)

    def flat_map(self, func: Any, func2: Any = None,
                 output_type: Optional[TypeInformation] = None) -> DataStream:
        """``flat_map1``/``flat_map2``, each returning an iterable (CoFlatMapFunction or two callables)."""
        fn = _co_fn("flat_map", func, func2, F.CoFlatMapFunction, ("flat_map1", "flat_map2"))
        if isinstance(func2, TypeInformation):
            output_type = func2
        return self._add("co_flat_map", "Co-Flat Map", fn, output_type)

    def process(self, func: Any, output_type: Optional[TypeInformation] = None) -> DataStream:
        """A CoProcessFunction (or KeyedCoProcessFunction on keyed inputs)."""
        fn = user_fn("process", func, (F.CoProcessFunction, F.KeyedCoProcessFunction),
                     ("process_element1", "process_element2"))
        name = "Keyed Co-Process" if self._is_keyed() else "Co-Process"
        return self._add("co_process", name, fn, output_type)


def _count_assigner(size: int, slide: Optional[int]) -> Any:
    from ..runtime.windows import CountSlidingWindowAssigner, CountTumblingWindowAssigner

    if slide is None or slide == 0 or slide == size:
        return CountTumblingWindowAssigner(size)
    return CountSlidingWindowAssigner(size, slide)


def _co_fn(step: str, func: Any, func2: Any, base: type, methods: tuple) -> UserFn:
    if isinstance(func, base):
        return user_fn(step, func, base, methods)
    if callable(func) and callable(func2) and not isinstance(func2, TypeInformation):
        from ..errors import describe_function
        return UserFn((func, func2), name=f"{describe_function(func)} / {describe_function(func2)}")
    raise TypeError(f"{step}() on connected streams needs a {base.__name__} or two callables")


class DataStreamSink:
    """The end of a stream: name it, set its parallelism or chaining."""

    def __init__(self, env: "StreamExecutionEnvironment", node_id: int, spec: SinkSpec) -> None:
        self._env = env
        self._id = node_id
        self.spec = spec

    def _update(self, **changes: Any) -> "DataStreamSink":
        self._env._graph.update(self._id, **changes)
        return self

    def name(self, name: str) -> "DataStreamSink":
        return self._update(name=str(name))

    def uid(self, uid: str) -> "DataStreamSink":
        return self._update(uid=str(uid))

    def set_parallelism(self, parallelism: int) -> "DataStreamSink":
        parallelism = parallelism_of(parallelism, "the sink's parallelism")
        return self._update(parallelism=parallelism)

    def disable_chaining(self) -> "DataStreamSink":
        return self._update(chaining="never")

    def start_new_chain(self) -> "DataStreamSink":
        return self._update(chaining="head")

    def set_execution_mode(self, mode: str) -> "DataStreamSink":
        """Run this sink in ``mode`` (sinks that hand records to kernel objects, such as
        ``add_sink(f)`` and :class:`DataFrameSink`, always run in the kernel)."""
        return self._update(execution_mode=_checked_mode(mode))

    def slot_sharing_group(self, slot_sharing_group: Any) -> "DataStreamSink":
        """Flink's slot sharing group of the sink (see :meth:`DataStream.slot_sharing_group`)."""
        name = slot_sharing_group if isinstance(slot_sharing_group, str) \
            else slot_sharing_group.get_name()
        node = self._env._graph.nodes[self._id]
        return self._update(params={**node.params, "slot_sharing_group": name})


class _Fields:
    """The fields at some positions of a record, as a tuple (``project``)."""

    __slots__ = ("indexes",)

    def __init__(self, indexes: tuple) -> None:
        self.indexes = indexes

    def __call__(self, value: Any) -> tuple:
        return tuple([value[i] for i in self.indexes])

    def __getstate__(self) -> tuple:
        return self.indexes

    def __setstate__(self, state: tuple) -> None:
        self.indexes = state

    def __repr__(self) -> str:
        return f"project{self.indexes}"


def _checked_mode(mode: str) -> str:
    from ..runtime.executors import executor_names, unknown_mode

    if mode not in executor_names():
        raise unknown_mode(mode)
    return mode


def _text_formatter(type_info: Any, style: str) -> Callable[[Any], str]:
    fmt = getattr(type_info, style, None)
    if fmt is None or isinstance(type_info, PickledTypeInfo):
        return _str_of
    return fmt


def _str_of(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
