"""PyFlink functions that run nbstream's user functions inside an Apache Flink job.

Each adapter holds a :class:`Step` (the step's name, its user function and its output
type) and translates what differs between the two APIs: nbstream's contexts and state
descriptors to PyFlink's, nbstream's :class:`~nbstream.OutputTag` to PyFlink's when a
function yields a side output, and a failing user function to a
:class:`~nbstream.UserFunctionError` that names the step, the function and the record
(its message reaches the driver in Flink's job failure).

This module imports PyFlink: it is loaded by the ``flink`` execution mode only, in
the driver and in Flink's Python workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

from pyflink.common import Time, Types
from pyflink.datastream import functions as pf
from pyflink.datastream import state as ps
from pyflink.datastream.output_tag import OutputTag as FlinkOutputTag

from ..errors import UserFunctionError, describe_function
from ..plan.logical import UserFn
from ..runtime.records import MIN_TIMESTAMP, OutputTag
from ..runtime.timers import TimeDomain

__all__ = ["Step", "PICKLED", "flink_tag", "MapAdapter", "FlatMapAdapter", "FilterAdapter",
           "KeySelectorAdapter", "ReduceAdapter", "ProcessAdapter", "KeyedProcessAdapter",
           "CoMapAdapter", "CoFlatMapAdapter", "CoProcessAdapter", "KeyedCoProcessAdapter",
           "BroadcastProcessAdapter", "KeyedBroadcastProcessAdapter",
           "PartitionerAdapter", "SinkTagger", "KeyedSinkTagger", "AggregateAdapter",
           "timestamp_assigner", "flink_descriptor", "WindowAdapter", "gap_extractor",
           "nb_window", "AsyncAdapter"]

PICKLED = Types.PICKLED_BYTE_ARRAY()
_TAGS: Dict[str, FlinkOutputTag] = {}


def flink_tag(tag: OutputTag) -> FlinkOutputTag:
    """The PyFlink OutputTag standing for nbstream's ``tag`` (records travel pickled)."""
    found = _TAGS.get(tag.tag_id)
    if found is None:
        found = _TAGS[tag.tag_id] = FlinkOutputTag(tag.tag_id, PICKLED)
    return found


@dataclass(frozen=True, eq=False)
class Step:
    """What a Flink operator needs to know of the nbstream step it runs."""

    name: str
    fn: Optional[UserFn]
    output_type: Any = None
    job_parameters: Any = None

    @property
    def fn_name(self) -> str:
        if self.fn is None:
            return ""
        owner = self.fn.owner
        return describe_function(owner if owner is not None else self.fn.call)

    def convert(self) -> Optional[Callable[[Any], Any]]:
        """Tuples to Rows (or back) when the step declared a ROW or TUPLE output type."""
        if type(self.output_type).__name__ in ("RowTypeInfo", "TupleTypeInfo"):
            return self.output_type.from_value
        return None

    def error(self, exc: BaseException, record: Any, subtask: int, parallelism: int,
              has_record: bool = True, phase: str = "") -> UserFunctionError:
        if isinstance(exc, UserFunctionError):
            return exc
        return UserFunctionError(self.name, self.fn_name, record, exc, subtask=subtask,
                                 parallelism=parallelism, has_record=has_record, phase=phase)


# -- contexts --------------------------------------------------------------------------------

def task_fact(rc: Any, method: str) -> Any:
    """``rc.<method>()`` of PyFlink's RuntimeContext. In PyFlink 2.x's thread mode these
    call Java methods that moved to ``getTaskInfo()``; read them there instead."""
    try:
        return getattr(rc, method)()
    except AttributeError:
        java = "get" + "".join(p.title() for p in method.split("_")[1:])
        return getattr(rc._runtime_context.getTaskInfo(), java)()


class RuntimeContextAdapter:
    """nbstream's RuntimeContext over PyFlink's: task facts, job parameters, keyed state."""

    def __init__(self, rc: Any, step: Step) -> None:
        self._rc = rc
        self._step = step

    def get_task_name(self) -> str:
        return self._step.name

    def get_task_name_with_subtasks(self) -> str:
        return (f"{self._step.name} ({self.get_index_of_this_subtask() + 1}/"
                f"{self.get_number_of_parallel_subtasks()})")

    def get_number_of_parallel_subtasks(self) -> int:
        return task_fact(self._rc, "get_number_of_parallel_subtasks")

    def get_max_number_of_parallel_subtasks(self) -> int:
        return task_fact(self._rc, "get_max_number_of_parallel_subtasks")

    def get_index_of_this_subtask(self) -> int:
        return task_fact(self._rc, "get_index_of_this_subtask")

    def get_attempt_number(self) -> int:
        return task_fact(self._rc, "get_attempt_number")

    def get_job_parameter(self, key: str, default_value: Any = None) -> Any:
        return dict(self._step.job_parameters or {}).get(key, default_value)

    task_name = property(get_task_name)
    subtask_index = property(get_index_of_this_subtask)
    parallelism = property(get_number_of_parallel_subtasks)
    max_parallelism = property(get_max_number_of_parallel_subtasks)

    @property
    def job_parameters(self) -> Dict[str, Any]:
        return dict(self._step.job_parameters or {})

    def _state(self, descriptor: Any) -> Any:
        kind = getattr(descriptor, "state_kind", None)
        getter = {"value": "get_state", "list": "get_list_state", "map": "get_map_state",
                  "reducing": "get_reducing_state",
                  "aggregating": "get_aggregating_state"}.get(kind)
        if getter is None:
            raise TypeError(f"{type(descriptor).__name__} is not a state descriptor")
        return as_nbstream_state(kind, getattr(self._rc, getter)(flink_descriptor(descriptor)))

    get_state = get_list_state = get_map_state = _state
    get_reducing_state = get_aggregating_state = _state


_DESCRIPTORS: Dict[int, Any] = {}


class _ListState:
    """PyFlink's ListState with nbstream's ``get()``: a list, not a one-pass iterable."""

    __slots__ = ("_state",)

    def __init__(self, state: Any) -> None:
        self._state = state

    def get(self) -> List[Any]:
        return list(self._state.get() or ())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.get())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


class _MapState:
    """PyFlink's MapState with nbstream's ``keys()``/``values()``/``items()``: lists."""

    __slots__ = ("_state",)

    def __init__(self, state: Any) -> None:
        self._state = state

    def keys(self) -> List[Any]:
        return list(self._state.keys())

    def values(self) -> List[Any]:
        return list(self._state.values())

    def items(self) -> List[Any]:
        return list(self._state.items())

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __contains__(self, key: Any) -> bool:
        return self._state.contains(key)

    def __getitem__(self, key: Any) -> Any:
        return self._state.get(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._state.put(key, value)

    def __delitem__(self, key: Any) -> None:
        self._state.remove(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._state, name)


def as_nbstream_state(kind: str, state: Any) -> Any:
    """PyFlink's state object, with nbstream's list-returning reads where they differ."""
    return _ListState(state) if kind == "list" else _MapState(state) if kind == "map" else state


def flink_descriptor(descriptor: Any) -> Any:
    """PyFlink's descriptor for nbstream's (one per descriptor object, as PyFlink keeps
    state by descriptor): same name and kind, values pickled, same TTL."""
    found = _DESCRIPTORS.get(id(descriptor))
    if found is None or found[0] is not descriptor:
        found = _DESCRIPTORS[id(descriptor)] = (descriptor, _flink_descriptor(descriptor))
    return found[1]


def _flink_descriptor(descriptor: Any) -> Any:
    kind, name = descriptor.state_kind, descriptor.name
    if kind == "value":
        fd = ps.ValueStateDescriptor(name, PICKLED)
    elif kind == "list":
        fd = ps.ListStateDescriptor(name, PICKLED)
    elif kind == "map":
        fd = ps.MapStateDescriptor(name, PICKLED, PICKLED)
    elif kind == "reducing":
        fn = descriptor.reduce_function
        fd = ps.ReducingStateDescriptor(name, getattr(fn, "reduce", fn), PICKLED)
    else:
        fd = ps.AggregatingStateDescriptor(name, AggregateAdapter(descriptor.agg_function), PICKLED)
    ttl = getattr(descriptor, "ttl_config", None)
    if ttl is not None:
        fd.enable_time_to_live(
            ps.StateTtlConfig.new_builder(Time.milliseconds(ttl.ttl_ms))
            .set_update_type(ps.StateTtlConfig.UpdateType[ttl.update_type.name])
            .set_state_visibility(ps.StateTtlConfig.StateVisibility[ttl.state_visibility.name])
            .disable_cleanup_in_background()
            .build())
    return fd


class ContextAdapter:
    """The ``ctx`` of nbstream's process functions over PyFlink's context."""

    __slots__ = ("_ctx",)

    def __init__(self) -> None:
        self._ctx: Any = None

    def timestamp(self) -> Optional[int]:
        return _timestamp(self._ctx)

    def timer_service(self) -> Any:
        return self._ctx.timer_service()  # same method names in both APIs

    def current_watermark(self) -> int:
        return self._ctx.timer_service().current_watermark()

    def get_current_key(self) -> Any:
        return self._ctx.get_current_key()

    def time_domain(self) -> Optional[TimeDomain]:
        domain = getattr(self._ctx, "time_domain", None)
        return None if domain is None else TimeDomain[domain().name]

    def current_processing_time(self) -> int:
        return self._ctx.current_processing_time()

    def get_broadcast_state(self, descriptor: Any) -> Any:
        return self._ctx.get_broadcast_state(flink_descriptor(descriptor))

    def apply_to_keyed_state(self, descriptor: Any, function: Any) -> None:
        raise NotImplementedError("apply_to_keyed_state() is not available in PyFlink, so not "
                                  "in the flink execution mode")


def _timestamp(ctx: Any) -> Optional[int]:
    """The record's timestamp, None when it has none (Flink's Long.MIN_VALUE)."""
    ts = ctx.timestamp()
    return None if ts is None or ts == MIN_TIMESTAMP else ts


def _outputs(results: Any, convert: Optional[Callable[[Any], Any]]) -> Iterator[Any]:
    for r in results:
        if type(r) is tuple and len(r) == 2 and type(r[0]) is OutputTag:
            yield flink_tag(r[0]), r[1]
        else:
            yield convert(r) if convert is not None else r


# -- one input -------------------------------------------------------------------------------

class _Adapter:
    """Open/close of the user function, and errors naming the step."""

    def __init__(self, step: Step) -> None:
        self.step = step

    def open(self, runtime_context: Any) -> None:
        self._sub = task_fact(runtime_context, "get_index_of_this_subtask")
        self._par = task_fact(runtime_context, "get_number_of_parallel_subtasks")
        self._convert = self.step.convert()
        self._bind()
        if self.step.fn is not None:
            try:
                self.step.fn.open(RuntimeContextAdapter(runtime_context, self.step))
            except Exception as exc:
                raise self._error(exc, None, False, "open()") from exc

    def _bind(self) -> None:
        self.f = self.step.fn.call

    def close(self) -> None:
        if self.step.fn is not None:
            self.step.fn.close()

    def _error(self, exc: BaseException, record: Any, has_record: bool = True,
               phase: str = "") -> UserFunctionError:
        return self.step.error(exc, record, getattr(self, "_sub", 0), getattr(self, "_par", 1),
                               has_record, phase)


class MapAdapter(_Adapter, pf.MapFunction):
    def map(self, value: Any) -> Any:
        try:
            out = self.f(value)
        except Exception as exc:
            raise self._error(exc, value) from exc
        return self._convert(out) if self._convert is not None else out


class FlatMapAdapter(_Adapter, pf.FlatMapFunction):
    def flat_map(self, value: Any) -> Iterable[Any]:
        try:
            results = self.f(value)
            if results is None:
                raise TypeError(f"{self.step.fn_name} returned None; return an iterable or "
                                "yield values (return [] to emit nothing)")
            out = list(results)
        except Exception as exc:
            raise self._error(exc, value) from exc
        return map(self._convert, out) if self._convert is not None else out


class FilterAdapter(_Adapter, pf.FilterFunction):
    def filter(self, value: Any) -> bool:
        try:
            return bool(self.f(value))
        except Exception as exc:
            raise self._error(exc, value) from exc


class KeySelectorAdapter(pf.KeySelector):
    def __init__(self, step: Step) -> None:
        self.step = step
        self.f = step.fn.call

    def get_key(self, value: Any) -> Any:
        try:
            return self.f(value)
        except Exception as exc:
            raise self.step.error(exc, value, 0, 1, phase="key selector") from exc


class ReduceAdapter(_Adapter, pf.ReduceFunction):
    def __init__(self, step: Step) -> None:
        super().__init__(step)
        self.f = step.fn.call  # a window's reduce function is not opened by PyFlink

    def reduce(self, value1: Any, value2: Any) -> Any:
        try:
            return self.f(value1, value2)
        except Exception as exc:
            raise self._error(exc, value2) from exc


class PartitionerAdapter(pf.Partitioner):
    def __init__(self, step: Step) -> None:
        self.step = step

    def partition(self, key: Any, num_partitions: int) -> int:
        try:
            return int(self.step.fn.call(key, num_partitions))
        except Exception as exc:
            raise self.step.error(exc, key, 0, 1, phase="partitioner") from exc


class _ProcessBase(_Adapter):
    """``process_element(value, ctx)`` (and ``on_timer``) of a user process function."""

    def _bind(self) -> None:
        owner = self.step.fn.owner
        if owner is not None and hasattr(owner, "process_element"):
            self.f = owner.process_element
            self.timer = getattr(owner, "on_timer", None)
        else:
            self.f, self.timer = self.step.fn.call, None
        self.ctx = ContextAdapter()

    def _run(self, f: Callable[[Any, Any], Any], value: Any, ctx: Any) -> Iterator[Any]:
        self.ctx._ctx = ctx
        try:
            results = f(value, self.ctx)
            if results is None:
                raise TypeError(f"{self.step.fn_name} returned None; yield values or return "
                                "an iterable (return [] to emit nothing)")
            out = list(results)
        except Exception as exc:
            raise self._error(exc, value) from exc
        return _outputs(out, self._convert)

    def _on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        if self.timer is None:
            return iter(())
        self.ctx._ctx = ctx
        try:
            out = list(self.timer(timestamp, self.ctx) or ())
        except Exception as exc:
            raise self._error(exc, None, False, f"on_timer for the timer at {timestamp}") from exc
        return _outputs(out, self._convert)


class ProcessAdapter(_ProcessBase, pf.ProcessFunction):
    def process_element(self, value: Any, ctx: Any) -> Iterator[Any]:
        return self._run(self.f, value, ctx)


class KeyedProcessAdapter(_ProcessBase, pf.KeyedProcessFunction):
    def process_element(self, value: Any, ctx: Any) -> Iterator[Any]:
        return self._run(self.f, value, ctx)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        return self._on_timer(timestamp, ctx)


# -- two inputs --------------------------------------------------------------------------------

class CoMapAdapter(_Adapter, pf.CoMapFunction):
    """``map1``/``map2``; a None result is dropped, as nbstream and PyFlink do."""

    def _bind(self) -> None:
        self.f1, self.f2 = self.step.fn.calls

    def _map(self, f: Callable[[Any], Any], value: Any) -> Any:
        try:
            out = f(value)
        except Exception as exc:
            raise self._error(exc, value) from exc
        if out is None:
            return None
        return self._convert(out) if self._convert is not None else out

    def map1(self, value: Any) -> Any:
        return self._map(self.f1, value)

    def map2(self, value: Any) -> Any:
        return self._map(self.f2, value)


class CoFlatMapAdapter(_Adapter, pf.CoFlatMapFunction):
    def _bind(self) -> None:
        self.f1, self.f2 = self.step.fn.calls

    def _flat(self, f: Callable[[Any], Any], value: Any) -> Iterator[Any]:
        try:
            out = list(f(value) or ())
        except Exception as exc:
            raise self._error(exc, value) from exc
        return _outputs(out, self._convert)

    def flat_map1(self, value: Any) -> Iterator[Any]:
        return self._flat(self.f1, value)

    def flat_map2(self, value: Any) -> Iterator[Any]:
        return self._flat(self.f2, value)


class _CoProcessBase(_ProcessBase):
    def _bind(self) -> None:
        owner = self.step.fn.owner
        if owner is not None and hasattr(owner, "process_element1"):
            self.f1, self.f2 = owner.process_element1, owner.process_element2
            self.timer = getattr(owner, "on_timer", None)
        else:
            self.f1, self.f2 = self.step.fn.calls
            self.timer = None
        self.ctx = ContextAdapter()

    def process_element1(self, value: Any, ctx: Any) -> Iterator[Any]:
        return self._run(self.f1, value, ctx)

    def process_element2(self, value: Any, ctx: Any) -> Iterator[Any]:
        return self._run(self.f2, value, ctx)


class CoProcessAdapter(_CoProcessBase, pf.CoProcessFunction):
    pass


class _BroadcastBase(_ProcessBase):
    def _bind(self) -> None:
        owner = self.step.fn.owner
        self.f1, self.f2 = owner.process_element, owner.process_broadcast_element
        self.timer = getattr(owner, "on_timer", None)
        self.ctx = ContextAdapter()

    def process_element(self, value: Any, ctx: Any) -> Iterator[Any]:
        return self._run(self.f1, value, ctx)

    def process_broadcast_element(self, value: Any, ctx: Any) -> Iterator[Any]:
        return self._run(self.f2, value, ctx)


class BroadcastProcessAdapter(_BroadcastBase, pf.BroadcastProcessFunction):
    pass


class KeyedBroadcastProcessAdapter(_BroadcastBase, pf.KeyedBroadcastProcessFunction):
    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        return self._on_timer(timestamp, ctx)


class KeyedCoProcessAdapter(_CoProcessBase, pf.KeyedCoProcessFunction):
    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Any]:
        return self._on_timer(timestamp, ctx)


# -- state, time, results ----------------------------------------------------------------------

class AggregateAdapter(pf.AggregateFunction):
    """nbstream's AggregateFunction (``create_accumulator``/``add``/``get_result``/``merge``);
    the window adapter opens it, as nbstream opens a window step's functions together."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def create_accumulator(self) -> Any:
        return self.function.create_accumulator()

    def add(self, value: Any, accumulator: Any) -> Any:
        return self.function.add(value, accumulator)

    def get_result(self, accumulator: Any) -> Any:
        return self.function.get_result(accumulator)

    def merge(self, acc_a: Any, acc_b: Any) -> Any:
        return self.function.merge(acc_a, acc_b)


# -- windows -------------------------------------------------------------------------------------

def nb_window(window: Any) -> Any:
    """nbstream's window object for PyFlink's (same bounds, nbstream's class)."""
    from ..runtime.windows import CountWindow, GlobalWindow, TimeWindow

    kind = type(window).__name__
    if kind == "TimeWindow":
        return TimeWindow(window.start, window.end)
    if kind == "CountWindow":
        return CountWindow(window.id)
    return GlobalWindow.get()


class _StateStore:
    """``window_state()``/``global_state()`` of a window context, with nbstream descriptors."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def _state(self, descriptor: Any) -> Any:
        getter = {"value": "get_state", "list": "get_list_state", "map": "get_map_state",
                  "reducing": "get_reducing_state",
                  "aggregating": "get_aggregating_state"}[descriptor.state_kind]
        return as_nbstream_state(descriptor.state_kind,
                                 getattr(self._store, getter)(flink_descriptor(descriptor)))

    get_state = get_list_state = get_map_state = _state
    get_reducing_state = get_aggregating_state = _state


class WindowContextAdapter:
    """The ``context`` of nbstream's ProcessWindowFunction over PyFlink's."""

    __slots__ = ("_ctx",)

    def __init__(self) -> None:
        self._ctx: Any = None

    def window(self) -> Any:
        return nb_window(self._ctx.window())

    def current_processing_time(self) -> int:
        return self._ctx.current_processing_time()

    def current_watermark(self) -> int:
        return self._ctx.current_watermark()

    def window_state(self) -> _StateStore:
        return _StateStore(self._ctx.window_state())

    def global_state(self) -> _StateStore:
        return _StateStore(self._ctx.global_state())


class WindowAdapter(_Adapter, pf.ProcessWindowFunction):
    """The function of a window step: emits the reduced/aggregated value or the records
    (no user window function), or calls the user's ``process`` / ``apply``."""

    def __init__(self, step: Step, spec: Any) -> None:
        super().__init__(step)
        self.spec = spec

    def _bind(self) -> None:
        self.ctx = WindowContextAdapter()

    def open(self, runtime_context: Any) -> None:
        super().open(runtime_context)
        try:
            self.spec.open(RuntimeContextAdapter(runtime_context, self.step))
        except Exception as exc:
            raise self._error(exc, None, False, "open()") from exc

    def close(self) -> None:
        self.spec.close()

    def process(self, key: Any, context: Any, elements: Iterable[Any]) -> Iterator[Any]:
        spec, ctx = self.spec, self.ctx
        ctx._ctx = context
        items = list(elements)
        try:
            if spec.style is None:
                results: Any = items
            elif spec.style == "process":
                results = (spec.function.process(key, ctx, items) if spec.keyed
                           else spec.function.process(ctx, items))
            else:
                window = ctx.window()
                results = (spec.function.apply(key, window, items) if spec.keyed
                           else spec.function.apply(window, items))
            out = list(results if results is not None else ())
        except Exception as exc:
            raise self._error(exc, items) from exc
        return _outputs(out, self._convert)

    def clear(self, context: Any) -> None:
        clear = getattr(self.spec.function, "clear", None)
        if self.spec.style == "process" and clear is not None:
            self.ctx._ctx = context
            clear(self.ctx)


def gap_extractor(step: Step, extract: Callable[[Any], Any]) -> Any:
    """PyFlink's SessionWindowTimeGapExtractor calling nbstream's ``extract(element)``."""
    from pyflink.datastream.window import SessionWindowTimeGapExtractor

    from ..runtime.durations import to_millis

    class _Gap(SessionWindowTimeGapExtractor):
        def extract(self, element: Any) -> int:
            try:
                return to_millis(extract(element), "session gap")
            except Exception as exc:
                raise step.error(exc, element, 0, 1, phase="session gap extractor") from exc
    return _Gap()


def timestamp_assigner(step: Step, assign: Callable[[Any, int], Any]) -> Any:
    """A PyFlink TimestampAssigner calling nbstream's ``assign(value, record_timestamp)``."""
    from pyflink.common.watermark_strategy import TimestampAssigner

    class _Assigner(TimestampAssigner):
        def __init__(self) -> None:
            self.step = step
            self.assign = assign

        def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
            from ..runtime.watermarks import as_millis

            try:
                return as_millis(self.assign(value, record_timestamp))
            except Exception as exc:
                raise self.step.error(exc, value, 0, 1, phase="timestamp assigner") from exc
    return _Assigner()


class SinkTagger(pf.ProcessFunction):
    """Tags each record for the driver: ``(sink node id, subtask, value, timestamp)``.

    The tagger runs with the sink's parallelism, so the driver writes each record
    through the sink instance (print prefix, part file) it would have had in nbstream.
    """

    def __init__(self, sink_id: int) -> None:
        self.sink_id = sink_id

    def open(self, runtime_context: Any) -> None:
        self.sub = task_fact(runtime_context, "get_index_of_this_subtask")

    def process_element(self, value: Any, ctx: Any) -> Iterator[Any]:
        yield (self.sink_id, self.sub, value, _timestamp(ctx))


class KeyedSinkTagger(SinkTagger, pf.KeyedProcessFunction):
    """:class:`SinkTagger` for a sink whose input is keyed."""


class AsyncAdapter(pf.AsyncFunction):
    """nbstream's async function (an AsyncFunction or an ``async def``) as PyFlink's."""

    def __init__(self, step: Step) -> None:
        self.step = step

    def open(self, runtime_context: Any) -> None:
        self._sub = task_fact(runtime_context, "get_index_of_this_subtask")
        self._par = task_fact(runtime_context, "get_number_of_parallel_subtasks")
        self.invoke, self.on_timeout = self.step.fn.calls
        self.step.fn.open(RuntimeContextAdapter(runtime_context, self.step))

    def close(self) -> None:
        self.step.fn.close()

    async def async_invoke(self, value: Any) -> List[Any]:
        try:
            return list(await self.invoke(value))
        except Exception as exc:
            raise self.step.error(exc, value, self._sub, self._par) from exc

    def timeout(self, value: Any) -> List[Any]:
        try:
            return list(self.on_timeout(value))
        except Exception as exc:
            raise self.step.error(exc, value, self._sub, self._par, phase="timeout") from exc
