"""From nbstream's physical plan to a PyFlink DataStream job.

Every real node of the plan becomes the PyFlink operator that does the same (map,
flat_map, filter, process, key_by + reduce, connect + co-map/co-flat-map/co-process,
windows, timestamps and watermarks, async I/O when PyFlink runs Python in process mode),
running the user's function through an adapter of :mod:`nbstream.flink.functions`;
virtual nodes become PyFlink's partitioning calls, unions and side outputs. Records
travel pickled, so any Python value works.

Sinks do not run in Flink: each sink's input is tagged with the sink and its subtask,
all sinks are united into one stream, and the executor collects that stream back into
the driver, where nbstream's own sink writers (print, files, DataFrames, collect) run.

Anything that cannot be translated raises :class:`~nbstream.PlanError` naming the step,
before the job is submitted.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from pyflink.common import WatermarkStrategy as FlinkWatermarkStrategy
from pyflink.datastream import DataStream as FlinkDataStream

from ..errors import PlanError
from ..plan.logical import Node, UserFn
from ..plan.physical import FORWARD, REBALANCE, Edge, PhysicalPlan
from ..runtime.columnar import frame_rows
from . import functions as A

__all__ = ["Translator", "untranslatable"]


def untranslatable(node: Node, why: str) -> PlanError:
    return PlanError(f"step '{node.name}' ({node.kind}) cannot run in flink mode: {why}")


class Translator:
    """Builds the PyFlink job of ``plan`` in the PyFlink environment ``fenv``."""

    def __init__(self, plan: PhysicalPlan, fenv: Any, driver_address: str = "127.0.0.1") -> None:
        self.plan = plan
        self.fenv = fenv
        self.streams: Dict[int, Any] = {}
        self.params = dict(plan.config.job_parameters)
        self.driver_address = driver_address
        self.feeds: List[Any] = []  # sources that run in the driver (started after submission)

    def step(self, node: Node, fn: Any = None) -> A.Step:
        return A.Step(node.name, node.fn if fn is None else fn, node.output_type, self.params)

    # -- the whole job -----------------------------------------------------------------------
    def translate(self) -> Any:
        """Translate every node; return the one stream of tagged sink records."""
        sinks: List[Any] = []
        for nid, node in self.plan.nodes.items():
            if node.is_virtual:
                continue
            handler: Optional[Callable[[Node], Any]] = getattr(self, f"_{node.kind}", None)
            if handler is None:
                raise untranslatable(node, "nbstream has no Flink translation for this kind of "
                                     "step" + (" (for a DataFrame: set the flink mode before "
                                               "from_dataframe, or give it columnar=False)"
                                               if node.kind.startswith(("columnar", "to_rows"))
                                               else ""))
            # operators PyFlink adds on its own (key extraction, conversions) take the
            # environment's parallelism: make it the step's, so they keep each key's order
            self.fenv.set_parallelism(self.plan.parallelism[nid])
            out = handler(node)
            out = self._configure(out, node)
            if node.is_sink:
                sinks.append(out)
            else:
                self.streams[nid] = out
        return sinks[0].union(*sinks[1:]) if len(sinks) > 1 else sinks[0]

    def _configure(self, ds: Any, node: Node) -> Any:
        nid = node.id
        ds = ds.name(node.name)
        if node.uid:
            ds = ds.uid(node.uid)
        ds = ds.set_parallelism(self.plan.parallelism[nid])
        if node.max_parallelism:
            ds = ds.set_max_parallelism(node.max_parallelism)
        if node.chaining == "head":
            ds = ds.start_new_chain()
        elif node.chaining == "never":
            ds = ds.disable_chaining()
        return ds

    # -- inputs ------------------------------------------------------------------------------
    def input(self, node: Node, index: int = 0) -> Tuple[Any, bool]:
        """The PyFlink stream feeding input ``index`` of ``node``, and whether it is keyed."""
        edges = [e for e in self.plan.in_edges(node.id) if e.input_index == index]
        streams = [self._edge_stream(node, e) for e in edges]
        if len(streams) > 1:  # Flink unites streams of one type: make Java-typed ones pickled
            streams = [ds if ds.get_type() == A.PICKLED else ds.map(_identity) for ds in streams]
        hashed = [e for e in edges if e.partitioning.kind == "hash"]
        if hashed and len(hashed) != len(edges):
            raise untranslatable(node, "its inputs mix keyed and unkeyed streams")
        ds = streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]
        if not hashed:
            return ds, False
        selector = hashed[0].partitioning.key_selector
        if any(e.partitioning.key_selector is not selector for e in hashed[1:]):
            raise untranslatable(node, "a union of streams keyed by different key selectors")
        # PyFlink extracts keys in an operator of its own: give it the input's parallelism
        self.fenv.set_parallelism(self.plan.parallelism[edges[0].source])
        keyed = ds.key_by(A.KeySelectorAdapter(A.Step(f"key_by before '{node.name}'", selector)))
        self.fenv.set_parallelism(self.plan.parallelism[node.id])
        return keyed, True

    def _edge_stream(self, node: Node, edge: Edge) -> Any:
        ds = self.streams[edge.source]
        if edge.tag is not None:
            ds = ds.get_side_output(A.flink_tag(edge.tag))
        part = edge.partitioning
        if part is FORWARD or part is REBALANCE or part.kind == "hash":
            return ds  # Flink chooses forward/rebalance itself; key_by comes after a union
        if part.kind in ("rebalance", "rescale", "shuffle", "broadcast", "forward"):
            return getattr(ds, part.kind)()
        if part.kind == "global":
            return FlinkDataStream(getattr(ds._j_data_stream, "global")())
        if part.kind == "custom":
            return ds.partition_custom(A.PartitionerAdapter(A.Step(node.name, part.partitioner)),
                                       A.KeySelectorAdapter(A.Step(node.name, part.key_selector)))
        raise untranslatable(node, f"its input is partitioned by '{part.kind}'")

    # -- sources -----------------------------------------------------------------------------
    def _source(self, node: Node) -> Any:
        spec = node.params["source"]
        kind = type(spec).__name__
        fenv = self.fenv
        if kind == "CollectionSource":
            convert = getattr(spec.type_info, "from_value", None)
            values = [convert(v) for v in spec.values] if convert else list(spec.values)
            return self._collection(node, values)
        if kind == "IterableSource" and not spec.single_use and not callable(spec.source):
            return self._collection(node, list(spec.source))
        if kind == "SequenceSource":
            from pyflink.datastream.connectors.number_seq import NumberSequenceSource
            return fenv.from_source(NumberSequenceSource(spec.start, spec.end),
                                    FlinkWatermarkStrategy.no_watermarks(), node.name)
        if kind == "TextFileSource":
            from pyflink.datastream.connectors.file_system import FileSource, StreamFormat
            source = FileSource.for_record_stream_format(
                StreamFormat.text_line_format(spec.encoding.upper()), spec.path).build()
            return fenv.from_source(source, FlinkWatermarkStrategy.no_watermarks(), node.name)
        if kind == "SocketTextSource":
            j_env = fenv._j_stream_execution_environment
            return FlinkDataStream(j_env.socketTextStream(spec.host, spec.port, spec.delimiter,
                                                          spec.max_retry))
        if hasattr(spec, "flink_source"):  # a connector Flink has itself (Kafka)
            try:
                source = spec.flink_source(dict(self.plan.config.settings or {}))
            except PlanError as exc:
                raise untranslatable(node, str(exc)) from None
            return fenv.from_source(source, FlinkWatermarkStrategy.no_watermarks(), node.name)
        if kind == "DataFrameSource" and spec.timestamp_column is None:
            return self._collection(node, frame_rows(spec.df, spec.rows))
        return self._fed(node, spec, with_timestamps=kind != "IterableSource")

    def _fed(self, node: Node, spec: Any, with_timestamps: bool) -> Any:
        """A Python source (a generator, a SourceFunction, ...): it runs in the driver and
        feeds the job through Flink's socket source (see :mod:`nbstream.flink.feed`)."""
        from .feed import DriverFeed

        feed = DriverFeed(node.name, spec, self.driver_address, self.params)
        self.feeds.append(feed)
        j_env = self.fenv._j_stream_execution_environment
        lines = FlinkDataStream(j_env.socketTextStream(self.driver_address, feed.port, "\n", 0))
        pairs = lines.flat_map(feed.decoder()).name(f"{node.name}: decode")
        if with_timestamps:
            strategy = FlinkWatermarkStrategy.no_watermarks().with_timestamp_assigner(
                A.timestamp_assigner(self.step(node, None), _pair_timestamp))
            pairs = pairs.assign_timestamps_and_watermarks(strategy)
        return pairs.map(_first)

    def _collection(self, node: Node, values: List[Any]) -> Any:
        if not values:  # Flink refuses an empty collection: an empty sequence source instead
            from pyflink.datastream.connectors.number_seq import NumberSequenceSource
            one = self.fenv.from_source(NumberSequenceSource(0, 0),
                                        FlinkWatermarkStrategy.no_watermarks(), node.name)
            return one.filter(_nothing)
        # pickled here with cloudpickle: classes of a notebook (__main__) travel by value
        import cloudpickle

        return self.fenv.from_collection([cloudpickle.dumps(v) for v in values]).map(_unpickle)

    # -- one input -----------------------------------------------------------------------------
    def _map(self, node: Node) -> Any:
        ds, _ = self.input(node)
        return ds.map(A.MapAdapter(self.step(node)))

    def _flat_map(self, node: Node) -> Any:
        ds, _ = self.input(node)
        return ds.flat_map(A.FlatMapAdapter(self.step(node)))

    def _filter(self, node: Node) -> Any:
        ds, _ = self.input(node)
        return ds.filter(A.FilterAdapter(self.step(node)))

    def _process(self, node: Node) -> Any:
        ds, keyed = self.input(node)
        adapter = A.KeyedProcessAdapter if keyed else A.ProcessAdapter
        return ds.process(adapter(self.step(node)))

    def _async_wait(self, node: Node) -> Any:
        from pyflink.common import Time as FlinkTime
        from pyflink.datastream import AsyncDataStream as FlinkAsync
        from pyflink.datastream import async_retry_strategies

        from ..api.async_io import NO_RETRY_STRATEGY

        if str(self.plan.config.settings.get("nbstream.flink.python-mode", "thread")) == "thread":
            raise untranslatable(node, "PyFlink runs an AsyncFunction only in its process Python "
                                       "mode: configure nbstream.flink.python-mode=process")
        ds, _ = self.input(node)
        p = node.params
        retry = p["retry"]
        if retry is NO_RETRY_STRATEGY:
            retry = async_retry_strategies.NO_RETRY_STRATEGY
        wait = FlinkAsync.ordered_wait_with_retry if p["ordered"] else \
            FlinkAsync.unordered_wait_with_retry
        return wait(ds, A.AsyncAdapter(self.step(node)), FlinkTime.milliseconds(p["timeout_ms"]),
                    retry, p["capacity"], A.PICKLED)

    def _reduce(self, node: Node) -> Any:
        ds, keyed = self.input(node)
        if not keyed:
            raise untranslatable(node, "reduce needs a keyed stream")
        return ds.reduce(A.ReduceAdapter(self.step(node)))

    # -- two inputs ----------------------------------------------------------------------------
    def _connected(self, node: Node) -> Tuple[Any, bool]:
        (ds1, k1), (ds2, k2) = self.input(node, 0), self.input(node, 1)
        if k1 != k2:
            raise untranslatable(node, "one input is keyed and the other is not")
        return ds1.connect(ds2), k1

    def _co_map(self, node: Node) -> Any:
        connected, _ = self._connected(node)
        return connected.map(A.CoMapAdapter(self.step(node)))

    def _co_flat_map(self, node: Node) -> Any:
        connected, _ = self._connected(node)
        return connected.flat_map(A.CoFlatMapAdapter(self.step(node)))

    def _co_process(self, node: Node) -> Any:
        connected, keyed = self._connected(node)
        adapter = A.KeyedCoProcessAdapter if keyed else A.CoProcessAdapter
        return connected.process(adapter(self.step(node)))

    def _broadcast_process(self, node: Node) -> Any:
        ds, keyed = self.input(node, 0)
        edges = [e for e in self.plan.in_edges(node.id) if e.input_index == 1]
        if len(edges) != 1:
            raise untranslatable(node, "its broadcast input is a union")
        rules = self.streams[edges[0].source]
        if edges[0].tag is not None:
            rules = rules.get_side_output(A.flink_tag(edges[0].tag))
        descriptors = [A.flink_descriptor(d) for d in node.params.get("descriptors", ())]
        connected = ds.connect(rules.broadcast(*descriptors))
        adapter = A.KeyedBroadcastProcessAdapter if keyed else A.BroadcastProcessAdapter
        return connected.process(adapter(self.step(node)))

    # -- event time and windows -------------------------------------------------------------------
    def _timestamps_watermarks(self, node: Node) -> Any:
        from pyflink.common import Duration

        from ..api.watermarks import BoundedOutOfOrdernessWatermarks, _NoWatermarks

        ds, keyed = self.input(node)
        if keyed:
            raise untranslatable(node, "timestamps are assigned to a keyed stream")
        strategy = node.params["strategy"]
        try:
            generator = strategy._factory(None)
        except Exception:
            generator = None
        if isinstance(generator, BoundedOutOfOrdernessWatermarks):
            fs = FlinkWatermarkStrategy.for_bounded_out_of_orderness(
                Duration.of_millis(generator.bound))
        elif isinstance(generator, _NoWatermarks):
            fs = FlinkWatermarkStrategy.no_watermarks()
        else:
            raise untranslatable(node, "PyFlink runs no Python watermark generator; use "
                                       "for_monotonous_timestamps() or "
                                       "for_bounded_out_of_orderness()")
        assign = strategy.create_timestamp_assigner()
        if assign is not None:
            fs = fs.with_timestamp_assigner(A.timestamp_assigner(self.step(node), assign))
        if strategy._idle_ms is not None:
            fs = fs.with_idleness(Duration.of_millis(strategy._idle_ms))
        return ds.assign_timestamps_and_watermarks(fs)

    def _window(self, node: Node) -> Any:
        ds, keyed = self.input(node)
        if not keyed:  # pragma: no cover - window_all keys by a constant in the plan
            raise untranslatable(node, "a window needs a keyed stream")
        params, spec = node.params, node.fn.owner
        if params.get("evictor") is not None:
            raise untranslatable(node, "PyFlink's windows take no evictor")
        windowed = ds.window(flink_assigner(node, params["assigner"]))
        windowed = windowed.trigger(flink_trigger(node, params["trigger"]))
        if params.get("allowed_lateness"):
            windowed = windowed.allowed_lateness(params["allowed_lateness"])
        if params.get("late_tag") is not None:
            windowed = windowed.side_output_late_data(A.flink_tag(params["late_tag"]))
        step = self.step(node)
        function = A.WindowAdapter(step, spec)
        if spec.contents == "reduce":
            reduce = A.ReduceAdapter(A.Step(node.name, UserFn((spec.reduce,), name=node.name)))
            return windowed.reduce(reduce, window_function=function)
        if spec.contents == "aggregate":
            return windowed.aggregate(A.AggregateAdapter(spec.aggregate), window_function=function)
        return windowed.process(function)

    # -- sinks ---------------------------------------------------------------------------------
    def _sink(self, node: Node) -> Any:
        ds, keyed = self.input(node)
        tagger = A.KeyedSinkTagger(node.id) if keyed else A.SinkTagger(node.id)
        return ds.process(tagger)


def flink_assigner(node: Node, assigner: Any) -> Any:
    """PyFlink's window assigner for one of nbstream's built-in assigners."""
    from pyflink.common import Time
    from pyflink.datastream import window as W

    kind = type(assigner).__name__
    ms = Time.milliseconds
    if kind in ("TumblingEventTimeWindows", "TumblingProcessingTimeWindows"):
        return getattr(W, kind).of(ms(assigner.size), ms(assigner.offset))
    if kind in ("SlidingEventTimeWindows", "SlidingProcessingTimeWindows"):
        return getattr(W, kind).of(ms(assigner.size), ms(assigner.slide), ms(assigner.offset))
    if kind in ("EventTimeSessionWindows", "ProcessingTimeSessionWindows",
                "DynamicEventTimeSessionWindows", "DynamicProcessingTimeSessionWindows"):
        base = getattr(W, kind.replace("Dynamic", ""))
        if assigner.extract is None:
            return base.with_gap(ms(assigner.gap_ms))
        return base.with_dynamic_gap(A.gap_extractor(A.Step(node.name, None), assigner.extract))
    if kind == "GlobalWindows":
        return W.GlobalWindows.create()
    if kind == "CountTumblingWindowAssigner":
        return W.CountTumblingWindowAssigner.of(assigner.size)
    if kind == "CountSlidingWindowAssigner":
        return W.CountSlidingWindowAssigner.of(assigner.size, assigner.slide)
    raise untranslatable(node, f"its window assigner {assigner!r} is not one of Flink's")


def flink_trigger(node: Node, trigger: Any) -> Any:
    """PyFlink's trigger for one of nbstream's built-in triggers."""
    from pyflink.common import Time
    from pyflink.datastream import window as W

    kind = type(trigger).__name__
    if kind in ("EventTimeTrigger", "ProcessingTimeTrigger"):
        return getattr(W, kind).create()
    if kind == "CountTrigger":
        return W.CountTrigger.of(trigger.count)
    if kind == "PurgingTrigger":
        return W.PurgingTrigger.of(flink_trigger(node, trigger.nested))
    if kind in ("ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger"):
        return getattr(W, kind).of(Time.milliseconds(trigger.interval))
    if kind == "NeverTrigger":
        return W.NeverTrigger()
    raise untranslatable(node, f"its trigger {trigger!r} is not one of Flink's")


def _identity(value: Any) -> Any:
    return value


def _unpickle(data: bytes) -> Any:
    import pickle

    return pickle.loads(data)


def _pair_timestamp(pair: Any, record_timestamp: int) -> int:
    return pair[1] if pair[1] is not None else record_timestamp


def _first(pair: Any) -> Any:
    return pair[0]


def _nothing(_value: Any) -> bool:
    return False
