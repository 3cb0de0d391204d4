"""Stateful functions embedded in a DataStream job, shaped after StateFun's
``StatefulFunctionDataStreamBuilder``.

Ingress records (:class:`RoutableMessage` or SDK :class:`Message`) enter a feedback loop; a
keyed process operator, keyed by address (function type, id), runs the functions: one call
at a time per address, in parallel across key groups. Messages between functions travel the
loop's feedback edge; delayed messages wait on processing-time timers of the sender's
address (so a ``ManualClock`` drives them); egress records leave as side outputs, one
DataStream per egress id.

>>> from nbstream import StreamExecutionEnvironment
>>> from nbstream.statefun import *
>>> functions = StatefulFunctions()
>>> @functions.bind("example/greeter", [ValueSpec("seen", IntType)])
... def greeter(context, message):
...     seen = context.storage.seen = (context.storage.seen or 0) + 1
...     context.send_egress(egress_message_builder(
...         "example/greets", f"Hello {context.address.id} #{seen}", StringType))
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> requests = env.from_collection([RoutableMessage("example/greeter", name, "hi")
...                                 for name in ["Ann", "Bob", "Ann"]])
>>> out = (StatefulFunctionDataStreamBuilder.builder("greeter")
...        .with_data_stream_as_ingress(requests)
...        .with_functions(functions)
...        .with_egress_id("example/greets")
...        .with_feedback_timeout(100)
...        .build(env))
>>> greets = out.get_data_stream_for_egress_id("example/greets")
>>> sorted(egress_value(e, StringType) for e in greets.execute_and_collect())
['Hello Ann #1', 'Hello Ann #2', 'Hello Bob #1']
"""

from __future__ import annotations

import json
import time
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from ..api.functions import KeyedProcessFunction
from ..api.state import ValueStateDescriptor
from ..plan.config import DEFAULT_MAX_PARALLELISM
from ..runtime.histogram import Histogram
from ..runtime.keygroups import subtask_for_key
from ..runtime.records import OutputTag
from .core import SdkAddress, ValueSpec, parse_typename
from .errors import StatefulFunctionError
from .functions import BatchResult, StatefulFunction, address_of
from .messages import (KAFKA_RECORD_TYPENAME, KINESIS_RECORD_TYPENAME, EgressMessage, Message,
                       from_typed_value, to_typed_value)
from .remote import RemoteEndpoint, RemoteFunction, read_module_yaml
from ._wire import decode_fields
from .types import (BoolType, DoubleType, FloatType, IntType, LongType, StringType, Type, TypedValue)

__all__ = ["RoutableMessage", "StatefulFunctionDataStreamBuilder", "StatefulFunctionEgressStreams",
           "egress_value", "egress_row"]

_PY_TYPES = {bool: BoolType, int: IntType, float: FloatType, str: StringType}


@dataclass(frozen=True)
class RoutableMessage:
    """An ingress record: ``value`` for the function (``target_typename``, ``target_id``),
    serialized by ``value_type`` (default: by the Python type of bool, int, float and str)."""

    target_typename: str
    target_id: str
    value: Any
    value_type: Optional[Type] = None


class Envelope(NamedTuple):
    """A message inside the loop: its target, value and caller (None from an ingress)."""

    typename: str
    id: str
    value: Optional[TypedValue]
    caller: Optional[SdkAddress] = None


def _envelope(record: Any) -> Envelope:
    if isinstance(record, Message):
        return Envelope(record.target_typename, record.target_id, record.typed_value)
    if isinstance(record, RoutableMessage):
        tpe = record.value_type or _PY_TYPES.get(type(record.value))
        if tpe is None:
            raise TypeError(f"no value_type for a {type(record.value).__name__} value to "
                            f"{record.target_typename}; give RoutableMessage(..., value_type=...)")
        parse_typename(record.target_typename)
        return Envelope(record.target_typename, record.target_id, to_typed_value(tpe, record.value))
    raise TypeError(f"a StateFun ingress takes RoutableMessage or Message records, not "
                    f"{type(record).__name__}")


def _by_address(key: str, partitions: int) -> int:
    return subtask_for_key(key, DEFAULT_MAX_PARALLELISM, partitions)


def _address_key(envelope: Envelope) -> str:
    """The key of an address: ``typename NUL id`` (a string hashes faster than a tuple)."""
    return envelope.typename + "\x00" + envelope.id


def _address_of_key(key: str) -> Tuple[str, str]:
    typename, _, id = key.partition("\x00")
    return typename, id


def egress_value(message: EgressMessage, value_type: Type) -> Any:
    """The value of an egress record read as ``value_type``."""
    return from_typed_value(value_type, message.typed_value)


_BUILT_IN = {t.typename: t for t in (BoolType, IntType, FloatType, StringType, LongType, DoubleType)}
_RECORDS = {KAFKA_RECORD_TYPENAME: ("kafka", ("key", "value", "topic")),
            KINESIS_RECORD_TYPENAME: ("kinesis", ("partition_key", "value", "stream", "explicit_hash_key"))}


def _text(data: bytes) -> Any:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def egress_row(message: EgressMessage, json_types: tuple = ()) -> Dict[str, Any]:
    """An egress record as a table row: ``egress``, ``type`` and ``value`` (a built-in type's
    value, JSON for a typename in ``json_types``, else UTF-8 text or bytes); a Kafka record gives
    ``topic``, ``key`` and ``value``, a Kinesis one ``stream``, ``partition_key`` and ``value``.

    >>> from nbstream.statefun import kafka_egress_message
    >>> egress_row(kafka_egress_message("example/out", topic="greets", key="Bob", value="hi"))
    {'egress': 'example/out', 'type': 'kafka', 'key': 'Bob', 'value': 'hi', 'topic': 'greets'}
    """
    typename, raw = message.value_typename(), message.raw_value() or b""
    row: Dict[str, Any] = {"egress": message.typename}
    if typename in _RECORDS:
        kind, names = _RECORDS[typename]
        fields = decode_fields(raw)
        row["type"] = kind
        row.update({name: _text(fields[i + 1][1]) if i + 1 in fields else "" for i, name in enumerate(names)})
        return row
    row["type"] = typename
    if typename in _BUILT_IN:
        row["value"] = _BUILT_IN[typename].serializer().deserialize(raw)
    elif typename in json_types:
        row["value"] = json.loads(raw)
    else:
        row["value"] = _text(raw)
    return row


# -- the operator ---------------------------------------------------------------------------

_EMPTY_SLOT = (None, None, None, None, None)
_STATS = ("messages in", "invocations", "messages out", "egress", "delayed")  # per function type


def _expired(spec: ValueSpec, written: int, last_call: Optional[int], now: int) -> bool:
    if spec.after_write:
        return now - written >= spec.duration
    if spec.after_call:
        return now - (last_call if last_call is not None else written) >= spec.duration
    return False


class _Dispatcher(KeyedProcessFunction):
    """Runs the function of the current address for each message, applies its effects."""

    def __init__(self, functions: Dict[str, StatefulFunction], egress: Dict[str, OutputTag],
                 keepalive_ms: int, remote: Optional[List[RemoteEndpoint]] = None) -> None:
        self.functions, self.egress, self.keepalive_ms = functions, egress, keepalive_ms
        self.remote = remote or []

    def open(self, runtime_context: Any) -> None:
        # per address: (values {name: (TypedValue, written at)}, last call,
        #               delayed {due: [(token, Envelope)]}, backlog [(caller, TypedValue)],
        #               the batch of a remote call in flight: kept until its reply is
        #               applied, so a checkpoint holds it and a restore sends it again)
        self.slot = runtime_context.get_state(ValueStateDescriptor("statefun.address"))
        self._specs: Dict[str, Tuple[int, Dict[str, ValueSpec], bool]] = {}
        self._inflight: Dict[Tuple[str, str], Any] = {}  # address -> (future, last sign of life)
        self._keepalive_at: Dict[Tuple[str, str], int] = {}  # address -> next keep-alive (delayed)
        self._stats: Dict[str, List[int]] = {}  # function type -> counts by _STATS, for job.metrics()
        self._latencies: Dict[str, Histogram] = {}  # function type -> invocation latencies
        self._pool: Any = None
        self.backpressure_waits = 0     # records that found their address's backlog full
        self.backpressure_s = 0.0       # time spent waiting for those addresses' calls
        self.backlog_overflows = 0      # ... that still found it full after the wait
        self._blocked_s = 0.0           # waited in the current input batch

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _function(self, typename: str) -> Any:
        fn = self.functions.get(typename)
        if fn is None:
            fn = self._remote_function(typename)
        if fn is None:
            raise StatefulFunctionError(
                f"a message for the function type {typename}, which no registry binds and no remote "
                f"endpoint serves (bound: {', '.join(sorted(self.functions))})")
        return fn

    def _remote_function(self, typename: str) -> Optional[RemoteFunction]:
        endpoint = next((e for e in self.remote if e.matches(typename)), None)
        if endpoint is None:
            return None
        fn = self.functions[typename] = RemoteFunction(typename, endpoint)  # learns its state
        return fn

    def _spec_index(self, fn: Any) -> Tuple[Dict[str, ValueSpec], bool]:
        """The specs of ``fn`` by name, and whether any of them expires."""
        cached = self._specs.get(fn.typename)
        if cached is None or cached[0] != len(fn.specs):  # a remote function learns its specs
            expiring = any(spec.after_call or spec.after_write for spec in fn.specs)
            cached = self._specs[fn.typename] = (len(fn.specs), {spec.name: spec for spec in fn.specs},
                                                 expiring)
        return cached[1], cached[2]

    def _state(self, fn: Any, values: Optional[Dict[str, Tuple[TypedValue, int]]],
               last_call: Optional[int], now: int) -> Dict[str, Optional[TypedValue]]:
        specs, expiring = self._spec_index(fn)
        state: Dict[str, Optional[TypedValue]] = dict.fromkeys(specs)
        if values:
            for name, (value, written) in values.items():
                spec = specs.get(name) if expiring else None
                if spec is None or not _expired(spec, written, last_call, now):
                    state[name] = value
        return state

    def _slot(self) -> List[Any]:
        slot = list(self.slot.value() or _EMPTY_SLOT)
        if len(slot) < 5:  # a savepoint of a version without in-flight batches
            slot += [None] * (5 - len(slot))
        return slot

    def process_element(self, envelope: Envelope, ctx: Any) -> List[Any]:
        if envelope.value is None:
            return []  # a keep-alive of the feedback loop
        typename = envelope.typename
        fn = self._function(typename)
        self._counts(typename)[0] += 1
        now = ctx.timer_service().current_processing_time()
        address = address_of(typename, envelope.id)
        invocation = (envelope.caller, envelope.value)
        if isinstance(fn, RemoteFunction):
            return self._remote_message(fn, address, invocation, ctx, now)
        slot = self._slot()
        state = self._state(fn, slot[0], slot[1], now)
        started = time.perf_counter()
        result = fn.invoke(address, state, [invocation])
        self._latency(typename, time.perf_counter() - started)
        return self._apply(result, address, slot, ctx, now)

    def _apply(self, result: BatchResult, address: SdkAddress, slot: List[Any], ctx: Any,
               now: int) -> List[Any]:
        """The outputs of a batch's result; its delayed messages and state go into ``slot``."""
        out = self._outputs(result, address)
        counts = self._counts(address.typename)
        counts[1] += 1
        counts[2] += len(result.messages)
        counts[3] += len(result.egress)
        if result.delayed:
            counts[4] += len(result.delayed)
            slot[2] = self._schedule(result.delayed, address, ctx, now, slot[2])
        slot[0], slot[1] = _written(slot[0], result.mutations, now), now
        self.slot.update(tuple(slot))
        return out

    # remote functions: one request in flight per address, the backlog goes as the next batch

    def _remote_message(self, fn: RemoteFunction, address: SdkAddress, invocation: Any, ctx: Any,
                        now: int) -> List[Any]:
        key, out = (address.typename, address.id), []
        if (invocation[0] is None and key in self._inflight  # only the ingress is held back
                and len((self.slot.value() or _EMPTY_SLOT)[3] or ()) >= fn.endpoint.max_backlog):
            out = self._backpressure(fn, address, ctx)
        slot = self._slot()
        slot[3] = (slot[3] or []) + [invocation]
        if key in self._inflight:
            self.slot.update(tuple(slot))  # goes with the next batch
        else:
            self._send(fn, address, slot, ctx, now)
        return out

    def _backpressure(self, fn: RemoteFunction, address: SdkAddress, ctx: Any) -> List[Any]:
        """An ingress message finds its address's backlog full: wait here for the address's
        call to finish and apply it. The operator stops taking records meanwhile, so the
        bounded channels slow the ingress down. (Messages between functions are never held
        back: the feedback edge must not block, as in StateFun.)

        The outputs of an input batch leave when the whole batch is done, and a loop whose
        ingress has ended stops when no feedback has come for the feedback timeout. So the
        waits of one batch (reset by the timers that run between batches) stop at half the
        keep-alive period; past it a message joins the backlog over its bound, with a
        keep-alive for the loop."""
        key = (address.typename, address.id)
        future = self._inflight[key][0]
        started = time.monotonic()
        budget = self.keepalive_ms / 2000.0 - self._blocked_s
        if budget > 0:
            try:
                future.exception(timeout=budget)
            except FutureTimeout:
                pass
        waited = time.monotonic() - started
        self._blocked_s += waited
        self.backpressure_s += waited
        self.backpressure_waits += 1
        if future.done():
            now = ctx.timer_service().current_processing_time()
            return self._complete(fn, address, ctx, now)
        self.backlog_overflows += 1
        return [Envelope(key[0], key[1], None)]

    def _send(self, fn: RemoteFunction, address: SdkAddress, slot: List[Any], ctx: Any, now: int) -> None:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="statefun-remote")
        size = fn.endpoint.max_batch
        if slot[4]:  # restored with a call in flight: its batch goes (again) first
            slot[3] = slot[4] + (slot[3] or [])
        batch, slot[3] = slot[3][:size], slot[3][size:] or None
        slot[4] = batch
        self.slot.update(tuple(slot))
        future = self._pool.submit(_timed, fn.invoke, address, self._state(fn, slot[0], slot[1], now),
                                   batch)
        self._inflight[address.typename, address.id] = (future, now, 1)
        ctx.timer_service().register_processing_time_timer(now + 1)  # poll, backing off

    def _complete(self, fn: RemoteFunction, address: SdkAddress, ctx: Any, now: int) -> List[Any]:
        """Apply the in-flight batch's result if it is done, then send the backlog."""
        key = (address.typename, address.id)
        future, alive, poll = self._inflight[key]
        if not future.done():
            out = []
            if now - alive >= self.keepalive_ms:  # a long call keeps the feedback loop open
                out.append(Envelope(key[0], key[1], None))
                alive = now
            poll = min(poll * 2, 128, self.keepalive_ms)  # a poll also keeps the loop open
            self._inflight[key] = (future, alive, poll)
            ctx.timer_service().register_processing_time_timer(now + poll)
            return out
        del self._inflight[key]
        slot = self._slot()
        slot[4] = None
        result, seconds = future.result()
        self._latency(address.typename, seconds)
        out = self._apply(result, address, slot, ctx, now)
        if slot[3]:
            self._send(fn, address, slot, ctx, now)
            out.append(Envelope(key[0], key[1], None))  # the loop is busy: keep it open
        return out

    # the notebook reads an address's state while the job runs (JobClient.statefun_state)

    def serves(self, typename: str) -> bool:
        """Whether messages for ``typename`` run here (bound, or served by a remote endpoint)."""
        return typename in self.functions or any(e.matches(typename) for e in self.remote)

    def read_address(self, key: str, now: int) -> Dict[str, Any]:
        """The values of the address ``key`` (the current key) by name, as its function would
        see them now (expired ones None), read as their specs' types; a remote function's
        values of other than the built-in types stay bytes."""
        fn = self._function(_address_of_key(key)[0])
        values, last_call = (self.slot.value() or _EMPTY_SLOT)[:2]
        specs, _ = self._spec_index(fn)
        return {name: _read(specs.get(name), value)
                for name, value in self._state(fn, values, last_call, now).items()}

    def _counts(self, typename: str) -> List[int]:
        counts = self._stats.get(typename)
        if counts is None:
            counts = self._stats[typename] = [0] * len(_STATS)
        return counts

    def _latency(self, typename: str, seconds: float) -> None:
        histogram = self._latencies.get(typename)
        if histogram is None:
            histogram = self._latencies[typename] = Histogram()
        histogram.add(seconds)

    def extra_metrics(self) -> Dict[str, Any]:
        """Per function type: messages in, invocations, messages out, egress records and
        delayed messages sent (summed over the instances in ``job.metrics()``), and the
        invocation latency (the call embedded, the HTTP round trip remote) as p50 and p99."""
        if not hasattr(self, "_stats"):  # asked before open()
            return {}
        out: Dict[str, Any] = {f"{typename}: {what}": n for typename, counts in list(self._stats.items())
                               for what, n in zip(_STATS, counts) if n}
        for typename, histogram in list(self._latencies.items()):
            out[f"{typename}: latency"] = histogram.copy()
        return out

    def _outputs(self, result: BatchResult, address: SdkAddress) -> List[Any]:
        if not result.messages and not result.egress:
            return []
        out: List[Any] = [Envelope(m.target_typename, m.target_id, m.typed_value, address)
                          for m in result.messages]
        for egress in result.egress:
            tag = self.egress.get(egress.typename)
            if tag is None:
                raise StatefulFunctionError(f"{address.typename} (id {address.id!r}) sent to the egress "
                                            f"{egress.typename}, which is not declared (with_egress_id); "
                                            f"declared: {', '.join(sorted(self.egress)) or 'none'}")
            out.append((tag, egress))
        return out

    def _schedule(self, requests: List[Any], address: SdkAddress, ctx: Any, now: int,
                  delayed: Optional[Dict[int, List[Tuple[str, Envelope]]]]
                  ) -> Optional[Dict[int, List[Tuple[str, Envelope]]]]:
        pending = dict(delayed or {})
        timers = ctx.timer_service()
        for request in requests:
            if request.is_cancellation:  # tokens are scoped to the sending address
                token = request.cancellation_token
                pending = {ts: [(t, e) for t, e in items if t != token] for ts, items in pending.items()}
                continue
            message = request.message
            due = now + max(0, request.delay_ms)
            pending.setdefault(due, []).append((request.cancellation_token, Envelope(
                message.target_typename, message.target_id, message.typed_value, address)))
            timers.register_processing_time_timer(due)
        pending = {ts: items for ts, items in pending.items() if items}
        key = (address.typename, address.id)
        if pending and key not in self._keepalive_at:
            self._keepalive_at[key] = now + self.keepalive_ms
            timers.register_processing_time_timer(now + self.keepalive_ms)
        return pending or None

    def on_timer(self, timestamp: int, ctx: Any) -> List[Any]:
        self._blocked_s = 0.0  # timers run between input batches
        key = _address_of_key(ctx.get_current_key())
        out: List[Any] = []
        if key in self._inflight:
            now = ctx.timer_service().current_processing_time()
            out += self._complete(self.functions[key[0]], address_of(*key), ctx, now)
        slot = self._slot()
        if slot[4] and key not in self._inflight:  # restored with a call in flight: resend
            now = ctx.timer_service().current_processing_time()
            self._send(self._function(key[0]), address_of(*key), slot, ctx, now)
            out.append(Envelope(key[0], key[1], None))
            slot = self._slot()
        pending = dict(slot[2] or {})
        due = [ts for ts in sorted(pending) if ts <= timestamp]
        for ts in due:
            out += [envelope for _, envelope in pending.pop(ts)]
        if due:
            slot[2] = pending or None
            if any(part is not None for part in slot):
                self.slot.update(tuple(slot))
            else:
                self.slot.clear()
        if not pending:
            self._keepalive_at.pop(key, None)
        elif timestamp >= self._keepalive_at.get(key, 0):  # keep the loop open while messages wait
            out.append(Envelope(key[0], key[1], None))
            self._keepalive_at[key] = timestamp + self.keepalive_ms
            ctx.timer_service().register_processing_time_timer(timestamp + self.keepalive_ms)
        return out


def _timed(call: Any, *args: Any) -> Tuple[Any, float]:
    """``call(*args)`` and how long it took (a remote call, on the pool's thread)."""
    started = time.perf_counter()
    result = call(*args)
    return result, time.perf_counter() - started


def _read(spec: Optional[ValueSpec], value: Optional[TypedValue]) -> Any:
    if value is None or not value.has_value:
        return None
    tpe = _BUILT_IN.get(value.typename) or (spec.type if spec is not None else None)
    if tpe is None or tpe.typename != value.typename:
        return value.value
    return tpe.serializer().deserialize(value.value)


def _written(values: Optional[Dict[str, Tuple[TypedValue, int]]],
             mutations: List[Tuple[str, Optional[TypedValue]]], now: int
             ) -> Optional[Dict[str, Tuple[TypedValue, int]]]:
    if not mutations:
        return values
    stored = dict(values or {})
    for name, value in mutations:
        if value is None:
            stored.pop(name, None)
        else:
            stored[name] = (value, now)
    return stored or None


# -- the builder ------------------------------------------------------------------------------

class StatefulFunctionEgressStreams:
    """The egress streams of a built StateFun job, by egress id."""

    def __init__(self, streams: Dict[str, Any]) -> None:
        self._streams = streams

    def get_data_stream_for_egress_id(self, egress_id: str) -> Any:
        """The DataStream of :class:`EgressMessage` sent to ``egress_id``."""
        try:
            return self._streams[egress_id]
        except KeyError:
            raise StatefulFunctionError(f"no egress {egress_id} was declared (declared: "
                                        f"{', '.join(sorted(self._streams)) or 'none'})") from None

    def get_rows_for_egress_id(self, egress_id: str, json_types: tuple = ()) -> Any:
        """The egress records of ``egress_id`` as dict rows (:func:`egress_row`), for tables and
        live views; ``json_types`` names the typenames to read as JSON."""
        names = tuple(t.typename if isinstance(t, Type) else t for t in json_types)
        return self.get_data_stream_for_egress_id(egress_id).map(lambda e: egress_row(e, names))


class StatefulFunctionDataStreamBuilder:
    """Builds a StateFun job on a DataStream ingress (see the module's example)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._ingress: List[Any] = []
        self._functions: Dict[str, StatefulFunction] = {}
        self._egress: List[str] = []
        self._feedback_ms = 500
        self._remote: List[RemoteEndpoint] = []

    @staticmethod
    def builder(name: str) -> "StatefulFunctionDataStreamBuilder":
        return StatefulFunctionDataStreamBuilder(name)

    def with_data_stream_as_ingress(self, stream: Any) -> "StatefulFunctionDataStreamBuilder":
        """Route the records of ``stream`` (RoutableMessage or Message) to their functions."""
        self._ingress.append(stream)
        return self

    def with_functions(self, functions: Any) -> "StatefulFunctionDataStreamBuilder":
        """Run the functions of a registry (3.x or 2.x) in the job; later bindings win. A
        registry built with the real ``statefun`` SDK (or its ``RequestReplyHandler``) is run
        in-process through the SDK's own ``handle_async`` (see :mod:`nbstream.statefun.hosted`)."""
        from .hosted import hosted_functions, is_sdk_registry
        if is_sdk_registry(functions):
            self._functions.update(hosted_functions(functions))
            return self
        for typename in functions.typenames():
            self._functions[typename] = functions.for_typename(typename)
        return self

    def with_request_reply_remote_function(self, pattern: str, url: str, timeout: float = 10.0,
                                           retries: int = 3, max_batch: int = 1000,
                                           max_backlog: int = 1000
                                           ) -> "StatefulFunctionDataStreamBuilder":
        """Serve the function types matching ``pattern`` (``ns/name`` or ``ns/*``) by the
        request-reply endpoint at ``url`` (``{function.name}`` is filled in). Each address has
        one request in flight; messages arriving meanwhile wait and go as its next batches,
        ``max_batch`` invocations at most per request. An address holds at most ``max_backlog``
        waiting messages: the next one waits for the address's call (backpressure on the
        ingress) rather than growing the backlog."""
        self._remote.append(RemoteEndpoint(pattern, url, timeout, retries, max_batch=max_batch,
                                           max_backlog=max_backlog))
        return self

    def with_module_yaml(self, path_or_text: str) -> "StatefulFunctionDataStreamBuilder":
        """Add the remote endpoints and egress ids of a StateFun ``module.yaml`` (a path or its text)."""
        import os
        text = path_or_text
        if "\n" not in path_or_text and os.path.isfile(path_or_text):
            with open(path_or_text, encoding="utf-8") as f:
                text = f.read()
        endpoints, egress = read_module_yaml(text)
        self._remote += endpoints
        self._egress += [e for e in egress if e not in self._egress]
        return self

    def with_egress_id(self, egress_id: str) -> "StatefulFunctionDataStreamBuilder":
        parse_typename(egress_id)
        self._egress.append(egress_id)
        return self

    def with_feedback_timeout(self, millis: int) -> "StatefulFunctionDataStreamBuilder":
        """How long the loop waits for in-flight messages once the ingress has ended
        (delayed messages keep it open until they are delivered). Default 500 ms."""
        self._feedback_ms = int(millis)
        return self

    def build(self, env: Any) -> StatefulFunctionEgressStreams:
        if not self._ingress or not (self._functions or self._remote):
            raise StatefulFunctionError(
                "a StateFun job needs an ingress (with_data_stream_as_ingress) and functions "
                "(with_functions or with_request_reply_remote_function)")
        parallelism = env.get_parallelism()
        ingress = self._ingress[0].union(*self._ingress[1:]) if len(self._ingress) > 1 else self._ingress[0]
        # the envelopes are made where the ingress runs and reach the loop partitioned by
        # address (no rebalance): the messages of one ingress partition reach each
        # address in their order, as in StateFun
        envelopes = ingress.map(_envelope).name(f"{self.name}: ingress")
        envelopes._inherit_parallelism(ingress)
        if envelopes._node.parallelism is None:
            envelopes.set_parallelism(parallelism)
        loop = envelopes.partition_custom(_by_address, _address_key) \
            .iterate(max_wait_time_ms=self._feedback_ms)
        tags = {egress_id: OutputTag(f"{self.name}: {egress_id}") for egress_id in self._egress}
        dispatcher = _Dispatcher(dict(self._functions), tags, max(1, self._feedback_ms // 2),
                                 list(self._remote))
        functions = loop.key_by(_address_key).process(dispatcher).name(f"{self.name}: functions")
        loop.close_with(functions)
        return StatefulFunctionEgressStreams({egress_id: functions.get_side_output(tag)
                                              for egress_id, tag in tags.items()})
