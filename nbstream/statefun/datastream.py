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
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, NamedTuple, Optional, Tuple

from ..api.functions import KeyedProcessFunction
from ..api.state import ValueStateDescriptor
from ..plan.config import DEFAULT_MAX_PARALLELISM
from ..runtime.histogram import Histogram
from ..runtime.keygroups import subtask_for_key
from ..runtime.operators import Collector
from ..runtime.records import Batch, OutputTag
from .core import SdkAddress, ValueSpec, parse_typename
from .errors import FunctionInvocationError, StatefulFunctionError
from .embedded import EmbeddedRunner, expired, upgraded
from .functions import BatchResult, Context, StatefulFunction, address_of
from .messages import (KAFKA_RECORD_TYPENAME, KINESIS_RECORD_TYPENAME, EgressMessage, Message,
                       from_typed_value, to_typed_value)
from .remote import RemoteCalls, RemoteEndpoint, RemoteFunction, read_module_yaml
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
    """A message inside the loop: its target, value and caller (None from an ingress). An
    ingress :class:`Message` travels as it is (a tuple per message made work for the
    garbage collector); ``_as_envelope`` makes one of it where a path needs it."""

    typename: str
    id: str
    value: Optional[TypedValue]
    caller: Optional[SdkAddress] = None


def _register_plain_types() -> None:
    """Checkpoints hold an address's values, backlogs and delayed messages as data (and the
    messages and egress records that sinks hold or logs keep)."""
    from ..runtime import state_format

    state_format.register(TypedValue, "statefun.TypedValue",
                          lambda v: (v.typename, v.has_value, bytes(v.value)),
                          lambda t: TypedValue(*t))
    state_format.register(Envelope, "statefun.Envelope", tuple, lambda t: Envelope(*t))
    state_format.register(SdkAddress, "statefun.SdkAddress",
                          lambda a: (a.namespace, a.name, a.id, a.typename),
                          lambda t: SdkAddress(*t), dedupe=True)
    # records held for exactly-once output, or read again after a restore
    state_format.register(Message, "statefun.Message",
                          lambda m: (m.target_typename, m.target_id, m.typed_value),
                          lambda t: Message(*t))
    state_format.register(EgressMessage, "statefun.EgressMessage",
                          lambda m: (m.typename, m.typed_value), lambda t: EgressMessage(*t))


_register_plain_types()


def _envelope(record: Any) -> Any:
    """An ingress record as the loop carries it: an SDK :class:`Message` as it is (no copy:
    a message from the ingress has no caller), anything else as an :class:`Envelope`."""
    if record.__class__ is Message:
        return record
    if isinstance(record, Message):
        return _tuple(Envelope, (record.target_typename, record.target_id, record.typed_value,
                                 None))
    if isinstance(record, RoutableMessage):
        tpe = record.value_type or _PY_TYPES.get(type(record.value))
        if tpe is None:
            raise TypeError(f"no value_type for a {type(record.value).__name__} value to "
                            f"{record.target_typename}; give RoutableMessage(..., value_type=...)")
        parse_typename(record.target_typename)
        return Envelope(record.target_typename, record.target_id, to_typed_value(tpe, record.value))
    raise TypeError(f"a StateFun ingress takes RoutableMessage or Message records, not "
                    f"{type(record).__name__}")


_tuple = tuple.__new__  # Envelope(...) without the named tuple's own __new__: a third of the cost


def _by_address(key: str, partitions: int) -> int:
    return subtask_for_key(key, DEFAULT_MAX_PARALLELISM, partitions) if partitions > 1 else 0


def _address_key(envelope: Any) -> str:
    """The key of an address: ``typename NUL id`` (a string hashes faster than a tuple)."""
    if envelope.__class__ is Message:
        return envelope.target_typename + "\x00" + envelope.target_id
    return envelope[0] + "\x00" + envelope[1]


def _as_envelope(record: Any) -> Envelope:
    """An Envelope of a message in the loop (an ingress Message travels as it is)."""
    if record.__class__ is Message:
        return _tuple(Envelope, (record.target_typename, record.target_id, record.typed_value,
                                 None))
    return record


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

#: an address's state, one keyed value: [values, last call, delayed, backlog, in flight,
#: written]. values: name -> the Python value (an embedded function's built-in types) or a
#: TypedValue; last call: ms; delayed: {due ms: [(token, Envelope)]}; backlog: the
#: [(caller, TypedValue)] waiting for an address's remote call; in flight: the batch of its
#: call, kept until the reply is applied (so a checkpoint holds it and a restore sends it
#: again); written: name -> ms of the last write (functions with expiring specs only)
_VALUES, _LAST_CALL, _DELAYED, _BACKLOG, _IN_FLIGHT, _WRITTEN = range(6)
_STATS = ("messages in", "invocations", "messages out", "egress", "delayed")  # per function type
_POLL_MS = 2          # how often a task with remote calls out looks for their replies
_MAX_QUEUED = 100_000  # messages waiting in one instance's backlogs before the ingress waits


class _Dispatcher(KeyedProcessFunction):
    """Runs the functions of the messages of a batch, address by address: one state access
    per address, the messages in their order, the effects applied after each call."""

    def __init__(self, functions: Dict[str, StatefulFunction], egress: Dict[str, OutputTag],
                 feedback_ms: int, remote: Optional[List[RemoteEndpoint]] = None) -> None:
        self.functions, self.egress, self.feedback_ms = functions, egress, feedback_ms
        # while work is pending, something goes round the loop this often
        self.keepalive_ms = max(1, feedback_ms // 4)
        self.remote = remote or []

    def open(self, runtime_context: Any) -> None:
        self._op = runtime_context._op  # the operator: its state, timers and output
        self.slot = runtime_context.get_state(ValueStateDescriptor("statefun.address"))
        self._runners: Dict[str, EmbeddedRunner] = {}  # function type -> its reused context
        self._group: Any = None  # where an embedded call's effects go: (add, now)
        self._specs: Dict[str, Tuple[int, Dict[str, ValueSpec], bool]] = {}
        self._stats: Dict[str, List[int]] = {}  # function type -> counts by _STATS, for job.metrics()
        self._latencies: Dict[str, Histogram] = {}  # function type -> invocation latencies
        # remote calls: at most an endpoint's max_in_flight at once, one per address
        self._calls: Any = None  # the event loop they run on
        self._inflight: Dict[str, int] = {}  # address key -> when its call was sent (ms)
        # address keys with a backlog and no call out, first come first sent (an OrderedDict:
        # a plain dict's first key, after many taken from the front, is found by a scan)
        self._ready: "OrderedDict[str, None]" = OrderedDict()
        self._done: Deque[Tuple[str, Any, float]] = deque()  # replies not yet applied
        self._wake = threading.Condition()
        self._queued = 0  # messages in backlogs
        self._polling = False
        self._alive_at = 0  # when the last keep-alive went round the loop (ms)
        self._keepalive_at: Dict[str, int] = {}  # address key -> next keep-alive (delayed)
        if self.remote:  # ready before the first message (a slow start could end the loop)
            self._calls = RemoteCalls(self._replied)

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()
        if getattr(self, "_calls", None) is None:
            return
        try:  # the loop ended (its feedback timeout) with calls out: say so
            with self._wake:
                self._wake.wait_for(lambda: len(self._done) >= len(self._inflight), 1.0)
            failed = [result for _, result, _ in self._done if isinstance(result, Exception)]
            lost = self._unanswered()
        finally:
            self._calls.close()
        if failed:
            raise failed[0]
        if lost:
            raise StatefulFunctionError(
                f"the loop ended with {lost} messages for remote functions not yet answered: no "
                f"feedback came for the feedback timeout ({self.feedback_ms} ms); give "
                f"with_feedback_timeout(...) more time than the endpoint takes")

    def _unanswered(self) -> int:
        """Messages of remote calls out or waiting to go."""
        state, n = self._op.state, 0
        for key in {**self._inflight, **self._ready}:
            state.current_key = key
            slot = self._slot()
            n += len(slot[_IN_FLIGHT] or ()) + len(slot[_BACKLOG] or ())
        return n

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

    def _state(self, fn: Any, slot: List[Any], now: int) -> Dict[str, Optional[TypedValue]]:
        """The values of a call over the protocol: TypedValues, None where expired or unset."""
        specs, expiring = self._spec_index(fn)
        state: Dict[str, Optional[TypedValue]] = dict.fromkeys(specs)
        written = slot[_WRITTEN] or {}
        for name, value in (slot[_VALUES] or {}).items():
            spec = specs.get(name)
            if spec is not None and expiring and expired(spec, written.get(name),
                                                          slot[_LAST_CALL], now):
                continue
            state[name] = value if value.__class__ is TypedValue or spec is None \
                else to_typed_value(spec.type, value)
        return state

    def _slot(self) -> List[Any]:
        slot = self.slot.value()
        if slot is None:
            return [None] * 6
        return slot if len(slot) == 6 else upgraded(slot)  # a savepoint of an earlier version

    # -- a batch of messages ---------------------------------------------------------------

    def _process_batch(self, op: Any, batch: Any) -> None:
        """Run the batch's messages: an embedded function's in their order (runs of one
        function type at once, see ``EmbeddedRunner.run``), the others grouped by address
        (each address's in order) and each address's run at once."""
        values, keys, tss = batch.values, batch.keys, batch.timestamps
        if keys is None:
            keys = [_address_key(v) for v in values]
        out = Collector(op, tss is not None)
        add, state, functions, runners = out.add, op.state, self.functions, self._runners
        now = op.task.time_service.now_ms()
        others: Dict[str, List[int]] = {}  # messages over the protocol, by address
        entries, in_place = self.slot.entries()
        self._group = (add, now)
        i, end = 0, len(values)
        while i < end:
            value = values[i]
            typename = value.target_typename if value.__class__ is Message else value[0]
            runner = runners.get(typename)
            if runner is None:
                fn = functions.get(typename)
                if type(fn) is not StatefulFunction:
                    others.setdefault(keys[i], []).append(i)
                    i += 1
                    continue
                runner = self._runner(fn)
            try:
                i = runner.run(state, entries, in_place, keys, values, tss, i, now, self._emit)
            except FunctionInvocationError as exc:
                raise op.error(exc, values[runner.failed]) from exc
            except Exception as exc:
                raise op.error(exc, None, has_record=False) from exc
        for key, indices in others.items():
            envelopes = [_as_envelope(values[i]) for i in indices]
            first = envelopes[0]
            state.current_key = key
            items = [(e.caller, e.value, tss[i] if tss is not None else None)  # not keep-alives
                     for i, e in zip(indices, envelopes) if e.value is not None]
            try:
                if items:
                    self._address(key, first, items, add, now)
            except Exception as exc:  # the step, the function and the message
                raise op.error(exc, first) from exc
        out.flush()
        if self._inflight or self._ready or self._done:
            self._drain()

    def process_element(self, envelope: Any, ctx: Any) -> List[Any]:
        """One message (the operator hands whole batches to ``_process_batch``)."""
        out: List[Any] = []
        envelope = _as_envelope(envelope)
        if envelope.value is not None:
            now = ctx.timer_service().current_processing_time()
            self._address(ctx.get_current_key(), envelope,
                          [(envelope.caller, envelope.value, None)],
                          lambda results, ts: out.extend(results), now)
            if self._ready:
                self._drain()
        return out

    def _runner(self, fn: StatefulFunction) -> EmbeddedRunner:
        runner = self._runners.get(fn.typename)
        if runner is None:
            runner = self._runners[fn.typename] = EmbeddedRunner(
                fn, self._counts(fn.typename), lambda s, t=fn.typename: self._latency(t, s))
        return runner

    def _emit(self, context: Context, ts: Optional[int], slot: List[Any]) -> None:
        """The effects an embedded call asked for (see ``EmbeddedRunner.run``)."""
        add, now = self._group
        result = BatchResult([], context._messages, context._delayed, context._egress)
        context._messages, context._delayed, context._egress = [], [], []
        add(self._effects(result, context.address, slot, now), ts)

    def _address(self, key: str, first: Envelope, items: List[Tuple[Any, TypedValue, Optional[int]]],
                 add: Any, now: int) -> None:
        """The messages of an address whose function runs over the protocol: remote, hosted
        from the SDK, a 2.x function (TypedValues in and out)."""
        typename = first.typename
        fn = self._function(typename)
        if type(fn) is StatefulFunction:  # (one message, from process_element)
            entries, in_place = self.slot.entries()
            self._group = (add, now)
            self._runner(fn).run(self._op.state, entries, in_place, [key], [first], None, 0, now,
                                 self._emit)
            return None
        counts = self._counts(typename)
        counts[0] += len(items)
        if type(fn) is RemoteFunction:
            return self._remote_messages(fn, key, first, items, add, now)
        address = address_of(typename, first.id)
        slot = self._slot()
        started = time.perf_counter()
        result = fn.invoke(address, self._state(fn, slot, now), [item[:2] for item in items])
        add(self._apply(result, address, slot, now), items[-1][2])
        self._latency(typename, time.perf_counter() - started)
        counts[1] += len(items)
        slot[_LAST_CALL] = now
        self.slot.update(slot)

    def _effects(self, result: BatchResult, address: SdkAddress, slot: List[Any],
                 now: int) -> List[Any]:
        """The outputs of a call's messages and egress; its delayed messages go into ``slot``."""
        counts = self._counts(address.typename)
        counts[2] += len(result.messages)
        counts[3] += len(result.egress)
        if result.delayed:
            counts[4] += len(result.delayed)
            slot[_DELAYED] = self._schedule(result.delayed, address, now, slot[_DELAYED])
        return self._outputs(result, address)

    def _apply(self, result: BatchResult, address: SdkAddress, slot: List[Any], now: int) -> List[Any]:
        """The outputs of a batch's result over the protocol; its state goes into ``slot``."""
        out = self._effects(result, address, slot, now)
        if result.mutations:
            values, written = dict(slot[_VALUES] or {}), dict(slot[_WRITTEN] or {})
            for name, value in result.mutations:
                if value is None:
                    values.pop(name, None)
                    written.pop(name, None)
                else:
                    values[name], written[name] = value, now
            slot[_VALUES], slot[_WRITTEN] = values or None, written or None
        return out

    # -- remote functions: many calls out at once, one per address; the backlog goes as the
    #    address's next batch; replies are applied on the task's thread

    def _remote_messages(self, fn: RemoteFunction, key: str, first: Envelope,
                         items: List[Any], add: Any, now: int) -> None:
        slot = self._slot()
        backlog = slot[_BACKLOG] or []
        for caller, value, _ in items:
            if caller is None and self._full(fn, key, backlog):  # only the ingress is held back
                slot[_BACKLOG] = backlog or None
                self.slot.update(slot)
                if key not in self._inflight:
                    self._ready[key] = None
                self._backpressure(fn, key)
                slot = self._slot()
                backlog = slot[_BACKLOG] or []
            backlog.append((caller, value))
            self._queued += 1
        slot[_BACKLOG] = backlog
        self.slot.update(slot)
        if key not in self._inflight:
            self._ready[key] = None  # sent once the batch's outputs are out
        if now - self._alive_at >= self.keepalive_ms:  # the loop stays open for the reply
            add([Envelope(first.typename, first.id, None)], None)
            self._alive_at = now

    def _full(self, fn: RemoteFunction, key: str, backlog: List[Any]) -> bool:
        return len(backlog) >= fn.endpoint.max_backlog or self._queued >= _MAX_QUEUED

    def _backpressure(self, fn: RemoteFunction, key: str) -> None:
        """An ingress message finds its address's backlog (or all backlogs) full: send what
        can go and wait here for calls to finish, applying their replies, until there is
        room. The operator stops taking records meanwhile, so the bounded channels slow the
        ingress down; keep-alives go round the loop while it waits. (Messages between
        functions are never held back: the feedback edge must not block, as in StateFun.)"""
        state, timers = self._op.state, self._op.ctx.timer_service()
        while True:
            self._drain()
            state.current_key = key
            if not self._full(fn, key, self._slot()[_BACKLOG] or []):
                return
            self._keep_alive(key, timers.current_processing_time())
            with self._wake:
                if not self._done:
                    self._wake.wait(self.keepalive_ms / 2000.0)

    def _keep_alive(self, key: str, now: int) -> None:
        """Send a keep-alive round the loop now, unless one went within the period."""
        if now - self._alive_at >= self.keepalive_ms:
            self._op.output.emit(Batch([Envelope(*_address_of_key(key), None)]))
            self._alive_at = now

    def _pump(self, now: int) -> None:
        """Send the ready addresses' next batches, as far as the endpoints allow."""
        ready, calls = self._ready, []
        while ready:
            key = next(iter(ready))
            fn = self._function(_address_of_key(key)[0])
            if len(self._inflight) >= fn.endpoint.max_in_flight:
                break
            del ready[key]
            calls.append(self._call(fn, key, now))
        if calls:
            self._calls.submit(calls)
        self._poll_later()

    def _call(self, fn: RemoteFunction, key: str, now: int) -> Tuple[Any, ...]:
        """The next call of an address: its batch leaves the backlog for the slot."""
        state = self._op.state
        saved, state.current_key = state.current_key, key
        slot = self._slot()
        size = fn.endpoint.max_batch
        backlog = (slot[_IN_FLIGHT] or []) + (slot[_BACKLOG] or [])  # a restored call goes first
        batch, slot[_BACKLOG] = backlog[:size], backlog[size:] or None
        self._queued = max(0, self._queued - len(batch))
        slot[_IN_FLIGHT] = batch
        self.slot.update(slot)
        self._inflight[key] = now
        state.current_key = saved
        return key, fn, address_of(*_address_of_key(key)), self._state(fn, slot, now), batch

    def _replied(self, key: str, result: Any, seconds: float) -> None:
        """(On the calls' event loop) a call is over: its reply waits for the task."""
        with self._wake:
            self._done.append((key, result, seconds))
            self._wake.notify()

    def _drain(self) -> None:
        """Apply the replies that came, then send what is ready."""
        op, done = self._op, self._done
        now = op.ctx.timer_service().current_processing_time()
        if done:
            state = op.state
            saved = state.current_key
            out = Collector(op, False)
            while done:
                key, result, seconds = done.popleft()
                state.current_key = key
                del self._inflight[key]
                typename, id = _address_of_key(key)
                if isinstance(result, BaseException):
                    raise op.error(result, None, has_record=False) from result
                slot = self._slot()
                calls = len(slot[_IN_FLIGHT] or ())
                slot[_IN_FLIGHT] = None
                self._latency(typename, seconds)
                self._counts(typename)[1] += calls
                out.add(self._apply(result, address_of(typename, id), slot, now), None)
                slot[_LAST_CALL] = now
                self.slot.update(slot)
                if slot[_BACKLOG]:
                    self._ready[key] = None
            state.current_key = saved
            out.flush()
        self._pump(now)

    def _poll_later(self) -> None:
        if (self._inflight or self._ready) and not self._polling:
            self._polling = True
            service = self._op.task.time_service
            service.schedule(service.now_ms() + _POLL_MS, self._poll)

    def _poll(self, now: int) -> None:
        self._polling = False
        self._drain()
        if self._inflight:  # a long call keeps the feedback loop open
            self._keep_alive(next(iter(self._inflight)), now)
        self._poll_later()

    # checkpoints: an address's calls and backlog are in its state; after a restore, the
    # calls that were out (and the backlogs) go again

    def snapshot_state(self, context: Any) -> None:
        pass  # all is in keyed state (this makes the runtime call initialize_state)

    def initialize_state(self, context: Any) -> None:
        if not self.remote:  # (a fresh instance has no keys: nothing to look at)
            return
        state = self._op.state
        for key in list(self.slot.keys_with_state()):
            state.current_key = key
            slot = self._slot()
            if slot[_IN_FLIGHT] or slot[_BACKLOG]:
                self._ready[key] = None
        if self._ready:
            self._pump(self._op.ctx.timer_service().current_processing_time())

    # the notebook reads an address's state while the job runs (JobClient.statefun_state)

    def serves(self, typename: str) -> bool:
        """Whether messages for ``typename`` run here (bound, or served by a remote endpoint)."""
        return typename in self.functions or any(e.matches(typename) for e in self.remote)

    def read_address(self, key: str, now: int) -> Dict[str, Any]:
        """The values of the address ``key`` (the current key) by name, as its function would
        see them now (expired ones None), read as their specs' types; a remote function's
        values of other than the built-in types stay bytes."""
        fn = self._function(_address_of_key(key)[0])
        specs, _ = self._spec_index(fn)
        return {name: _read(specs.get(name), value)
                for name, value in self._state(fn, self._slot(), now).items()}

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
        """Per function type: messages in, invocations (calls of the function), messages out,
        egress records and delayed messages sent (summed over the instances in
        ``job.metrics()``), and the latency of running an address's messages (embedded) or
        of an HTTP round trip (remote) as p50 and p99."""
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
        out: List[Any] = [_tuple(Envelope, (m.target_typename, m.target_id, m.typed_value, address))
                          for m in result.messages]
        for egress in result.egress:
            tag = self.egress.get(egress.typename)
            if tag is None:
                raise StatefulFunctionError(f"{address.typename} (id {address.id!r}) sent to the egress "
                                            f"{egress.typename}, which is not declared (with_egress_id); "
                                            f"declared: {', '.join(sorted(self.egress)) or 'none'}")
            out.append((tag, egress))
        return out

    def _schedule(self, requests: List[Any], address: SdkAddress, now: int,
                  delayed: Optional[Dict[int, List[Tuple[str, Envelope]]]]
                  ) -> Optional[Dict[int, List[Tuple[str, Envelope]]]]:
        pending = dict(delayed or {})
        timers = self._op.ctx.timer_service()
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
        key = address.typename + "\x00" + address.id
        if pending and key not in self._keepalive_at:
            self._keepalive_at[key] = now + self.keepalive_ms
            timers.register_processing_time_timer(now + self.keepalive_ms)
        return pending or None

    def on_timer(self, timestamp: int, ctx: Any) -> List[Any]:
        key = ctx.get_current_key()
        out: List[Any] = []
        if self._done:
            self._drain()
        slot = self._slot()
        keepalive_at = self._keepalive_at
        pending = dict(slot[_DELAYED] or {})
        due = [ts for ts in sorted(pending) if ts <= timestamp]
        for ts in due:
            out += [envelope for _, envelope in pending.pop(ts)]
        if due:
            slot[_DELAYED] = pending or None
            if any(part is not None for part in slot):
                self.slot.update(slot)
            else:
                self.slot.clear()
        if not pending:
            keepalive_at.pop(key, None)
        elif timestamp >= keepalive_at.get(key, 0):  # keep the loop open while messages wait
            out.append(Envelope(*_address_of_key(key), None))
            keepalive_at[key] = timestamp + self.keepalive_ms
            ctx.timer_service().register_processing_time_timer(timestamp + self.keepalive_ms)
        return out


def _read(spec: Optional[ValueSpec], value: Optional[TypedValue]) -> Any:
    if value is None or not value.has_value:
        return None
    tpe = _BUILT_IN.get(value.typename) or (spec.type if spec is not None else None)
    if tpe is None or tpe.typename != value.typename:
        return value.value
    return tpe.serializer().deserialize(value.value)


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
                                           max_backlog: int = 1000, max_in_flight: int = 64
                                           ) -> "StatefulFunctionDataStreamBuilder":
        """Serve the function types matching ``pattern`` (``ns/name`` or ``ns/*``) by the
        request-reply endpoint at ``url`` (``{function.name}`` is filled in). Calls go out
        over kept-alive connections (aiohttp), up to ``max_in_flight`` at once per parallel
        instance, one per address: messages arriving meanwhile wait and go as its next
        batches, ``max_batch`` invocations at most per request. An address holds at most
        ``max_backlog`` waiting messages: the next one waits for the address's call
        (backpressure on the ingress) rather than growing the backlog."""
        self._remote.append(RemoteEndpoint(pattern, url, timeout, retries, max_batch=max_batch,
                                           max_backlog=max_backlog, max_in_flight=max_in_flight))
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
        # (into one instance, any edge keeps each ingress partition's order: no key to compute)
        routed = envelopes.partition_custom(_by_address, _address_key) if parallelism > 1 \
            else envelopes.rebalance()
        loop = routed.iterate(max_wait_time_ms=self._feedback_ms)
        tags = {egress_id: OutputTag(f"{self.name}: {egress_id}") for egress_id in self._egress}
        dispatcher = _Dispatcher(dict(self._functions), tags, self._feedback_ms, list(self._remote))
        functions = loop.key_by(_address_key).process(dispatcher).name(f"{self.name}: functions")
        loop.close_with(functions)
        return StatefulFunctionEgressStreams({egress_id: functions.get_side_output(tag)
                                              for egress_id, tag in tags.items()})
