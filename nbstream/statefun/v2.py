"""The ``statefun`` SDK's 2.x API (the older documentation's), on the current protocol.

Messages and state values are ``google.protobuf.Any``; a function whose message parameter has
a type hint (a protobuf class, or a union of them) gets the message unpacked. State is
``context["name"]`` or ``context.state("name")``; the names come from the runtime (2.0/2.1:
``module.yaml``) or from ``bind(typename, states=[StateSpec(...)])`` (2.2).

On the wire (the 3.x protocol) a message's Any becomes a typed value named by its type URL
(what ``make_protobuf_type`` names it in 3.x), and a state value is stored as the whole Any,
typed ``type.googleapis.com/google.protobuf.Any``.

>>> from google.protobuf.wrappers_pb2 import StringValue
>>> from nbstream.statefun.v2 import StatefulFunctions, RequestReplyHandler, kafka_egress_record
>>> functions = StatefulFunctions()
>>> @functions.bind("example/greeter")
... def greet(context, name: StringValue):
...     record = kafka_egress_record(topic="greetings", key=name.value, value=name)
...     context.pack_and_send_egress("example/greets", record)
>>> handler = RequestReplyHandler(functions)   # handler(request_bytes) -> reply bytes
"""

from __future__ import annotations

import inspect
import types
import typing
from datetime import timedelta
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

from .core import SdkAddress as _Address3, ValueSpec, parse_typename
from .errors import FunctionInvocationError, ProtobufMissingError, UnknownFunctionTypeError
from .functions import BatchResult, DelayedMessage, Invocation
from .handler import RequestReplyHandler as _Handler3
from .messages import EgressMessage, Message
from .types import TypedValue, simple_type

try:
    from google.protobuf.any_pb2 import Any as ProtoAny
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ProtobufMissingError("The statefun 2.x API") from exc

from .protocol import KafkaProducerRecord, KinesisEgressRecord

__all__ = ["StatefulFunctions", "StatefulFunction", "StateSpec", "AfterInvoke", "AfterWrite",
           "BatchContext", "AnyStateHandle", "SdkAddress", "RequestReplyHandler",
           "AsyncRequestReplyHandler", "kafka_egress_record", "kinesis_egress_record", "ANY_TYPENAME"]

ANY_TYPENAME = "type.googleapis.com/google.protobuf.Any"
_ANY_TYPE = simple_type(ANY_TYPENAME, lambda any_: any_.SerializeToString(), ProtoAny.FromString)


class SdkAddress(typing.NamedTuple):
    """A 2.x address: ``namespace``, ``type``, ``identity``."""

    namespace: str
    type: str
    identity: str

    def typename(self) -> str:
        return f"{self.namespace}/{self.type}"


# -- state ------------------------------------------------------------------------------------

class AfterInvoke:
    """Expire a state value this long after the last call of its function."""

    def __init__(self, duration: timedelta) -> None:
        self.duration = duration


class AfterWrite:
    """Expire a state value this long after it was last written."""

    def __init__(self, duration: timedelta) -> None:
        self.duration = duration


class StateSpec:
    """A state name a 2.2 function declares (``bind(typename, states=[...])``)."""

    def __init__(self, name: str, expire_after: Union[None, AfterInvoke, AfterWrite] = None) -> None:
        if not name:
            raise ValueError("state name must be provided")
        if expire_after is not None and not isinstance(expire_after, (AfterInvoke, AfterWrite)):
            raise TypeError("expire_after must be an AfterInvoke or an AfterWrite")
        self.name, self.expire_after = name, expire_after

    def value_spec(self) -> ValueSpec:
        after = self.expire_after
        spec = ValueSpec.__new__(ValueSpec)  # 2.x names need not be lower-case identifiers
        spec.name, spec.type = self.name, _ANY_TYPE
        spec.after_call, spec.after_write = isinstance(after, AfterInvoke), isinstance(after, AfterWrite)
        spec.duration = int(after.duration.total_seconds() * 1000.0) if after else 0
        return spec


def _to_any(value: Optional[TypedValue]) -> Optional[ProtoAny]:
    if value is None or not value.has_value:
        return None
    if value.typename == ANY_TYPENAME:
        return ProtoAny.FromString(value.value)
    return ProtoAny(type_url=value.typename, value=value.value)


def _typed(any_: ProtoAny) -> TypedValue:
    return TypedValue(any_.type_url, True, any_.value)


class AnyStateHandle:
    """One state value: ``value`` (an Any or None; settable, deletable), ``unpack``, ``pack``."""

    def __init__(self, value: Optional[ProtoAny]) -> None:
        self._value, self.modified = value, False

    @property
    def value(self) -> Optional[ProtoAny]:
        return self._value

    @value.setter
    def value(self, any_: Optional[ProtoAny]) -> None:
        self._value, self.modified = any_, True

    @value.deleter
    def value(self) -> None:
        self._value, self.modified = None, True

    def unpack(self, into_class: type) -> Any:
        """The value unpacked into a new ``into_class`` (None when there is none)."""
        if not self._value:
            return None
        instance = into_class()
        self._value.Unpack(instance)
        return instance

    def pack(self, message: Any) -> None:
        """Store ``message`` packed into an Any."""
        any_ = ProtoAny()
        any_.Pack(message)
        self.value = any_


# -- context ----------------------------------------------------------------------------------

def _packed(message: Any) -> ProtoAny:
    if not message:
        raise ValueError("missing message")
    any_ = ProtoAny()
    any_.Pack(message)
    return any_


class BatchContext:
    """A 2.x function's context: ``address``, ``caller``, state by name, and the effects."""

    def __init__(self, address: SdkAddress, states: Dict[str, AnyStateHandle]) -> None:
        self.address, self.caller, self.states = address, None, states
        self.messages: List[Message] = []
        self.delayed: List[DelayedMessage] = []
        self.egresses: List[EgressMessage] = []

    def state(self, name: str) -> AnyStateHandle:
        if name not in self.states:
            raise KeyError(f"unknown state name {name}, states needed to be explicitly registered "
                           f"(module.yaml, or bind(..., states=[StateSpec({name!r})]))")
        return self.states[name]

    def __getitem__(self, name: str) -> Optional[ProtoAny]:
        return self.state(name).value

    def __setitem__(self, name: str, value: ProtoAny) -> None:
        self.state(name).value = value

    def __delitem__(self, name: str) -> None:
        del self.state(name).value

    def send(self, typename: str, id: str, message: ProtoAny) -> None:
        """Send an Any to the function (``typename``, ``id``)."""
        if not typename:
            raise ValueError("missing type name")
        if not id:
            raise ValueError("missing id")
        if not message:
            raise ValueError("missing message")
        self.messages.append(Message(typename, id, _typed(message)))

    def pack_and_send(self, typename: str, id: str, message: Any) -> None:
        self.send(typename, id, _packed(message))

    def reply(self, message: ProtoAny) -> None:
        """Send an Any back to the caller."""
        if not self.caller:
            raise AssertionError("Unable to reply without a caller. Was this message was sent "
                                 "directly from an ingress?")
        self.send(self.caller.typename(), self.caller.identity, message)

    def pack_and_reply(self, message: Any) -> None:
        self.reply(_packed(message))

    def send_after(self, delay: timedelta, typename: str, id: str, message: ProtoAny) -> None:
        """Send an Any to (``typename``, ``id``) after ``delay``."""
        if delay is None:
            raise ValueError("missing delay")
        if not typename or not id or not message:
            raise ValueError("missing type name, id or message")
        delay_ms = int(delay.total_seconds() * 1000.0)
        self.delayed.append(DelayedMessage(False, delay_ms, Message(typename, id, _typed(message))))

    def pack_and_send_after(self, delay: timedelta, typename: str, id: str, message: Any) -> None:
        self.send_after(delay, typename, id, _packed(message))

    def send_egress(self, typename: str, message: ProtoAny) -> None:
        """Emit an Any to the egress ``typename``."""
        if not typename:
            raise ValueError("missing egress type name")
        if not message:
            raise ValueError("missing message")
        self.egresses.append(EgressMessage(typename, _typed(message)))

    def pack_and_send_egress(self, typename: str, message: Any) -> None:
        self.send_egress(typename, _packed(message))


# -- functions --------------------------------------------------------------------------------

def _accepted_types(fun: Callable[..., Any]) -> Optional[List[type]]:
    """The protobuf classes the message parameter's hint names (None: no hint, an Any)."""
    params = list(inspect.signature(fun, eval_str=True).parameters.values())
    if len(params) != 2:
        raise TypeError(f"A stateful function must have two arguments: a context and a message, "
                        f"but {getattr(fun, '__name__', fun)} has {len(params)}")
    hint = params[1].annotation
    if hint is inspect.Parameter.empty or hint is ProtoAny:
        return None
    if typing.get_origin(hint) is Union or isinstance(hint, getattr(types, "UnionType", ())):
        return list(typing.get_args(hint))
    return [hint]


class StatefulFunction:
    """A bound 2.x function: its code, the message classes it unpacks, its state names."""

    def __init__(self, typename: str, fun: Callable[..., Any],
                 states: Optional[List[StateSpec]] = None) -> None:
        self.typename, self.fun = typename, fun
        self.accepts = _accepted_types(fun)
        self.specs = [state.value_spec() for state in states or []]
        self.is_async = inspect.iscoroutinefunction(fun)

    def unpack_any(self, any_: ProtoAny) -> Any:
        if self.accepts is None:
            return any_
        for cls in self.accepts:
            if any_.Is(cls.DESCRIPTOR):
                instance = cls()
                any_.Unpack(instance)
                return instance
        names = ", ".join(cls.DESCRIPTOR.full_name for cls in self.accepts)
        raise ValueError(f"Unknown message type {any_.type_url} for {self.typename} (accepts {names})")

    def _context(self, id: Union[str, _Address3], state: Mapping[str, Optional[TypedValue]]
                 ) -> Union[List[ValueSpec], BatchContext]:
        missing = [spec for spec in self.specs if spec.name not in state]
        if missing:
            return missing
        target = id.id if isinstance(id, _Address3) else id
        namespace, name = parse_typename(self.typename)
        handles = {key: AnyStateHandle(_to_any(value)) for key, value in state.items()}
        return BatchContext(SdkAddress(namespace, name, target), handles)

    def _call(self, context: BatchContext, caller: Optional[_Address3], argument: TypedValue) -> Any:
        context.caller = caller and SdkAddress(caller.namespace, caller.name, caller.id)
        try:
            any_ = _to_any(argument)
            return self.fun(context, self.unpack_any(ProtoAny() if any_ is None else any_))
        except Exception as exc:
            raise FunctionInvocationError(self.typename, context.address.identity,
                                          Message(self.typename, context.address.identity or "?",
                                                  argument), exc) from exc

    def invoke(self, id: Union[str, _Address3], state: Mapping[str, Optional[TypedValue]],
               invocations: Iterable[Invocation]) -> BatchResult:
        """Run one batch (an ``async def`` function in a fresh event loop)."""
        if self.is_async:
            import asyncio
            return asyncio.run(self.invoke_async(id, state, invocations))
        context = self._context(id, state)
        if isinstance(context, list):
            return BatchResult(missing=context)
        for caller, argument in invocations:
            self._call(context, caller, argument)
        return _collect(context)

    async def invoke_async(self, id: Union[str, _Address3], state: Mapping[str, Optional[TypedValue]],
                           invocations: Iterable[Invocation]) -> BatchResult:
        """Run one batch, awaiting an ``async def`` function in the running loop."""
        context = self._context(id, state)
        if isinstance(context, list):
            return BatchResult(missing=context)
        for caller, argument in invocations:
            outcome = self._call(context, caller, argument)
            if inspect.isawaitable(outcome):
                try:
                    await outcome
                except Exception as exc:
                    raise FunctionInvocationError(self.typename, context.address.identity,
                                                  Message(self.typename, context.address.identity,
                                                          argument), exc) from exc
        return _collect(context)


def _collect(context: BatchContext) -> BatchResult:
    mutations = [(name, None if handle.value is None else TypedValue(
        ANY_TYPENAME, True, handle.value.SerializeToString()))
        for name, handle in context.states.items() if handle.modified]
    return BatchResult([], context.messages, context.delayed, context.egresses, mutations)


class StatefulFunctions:
    """A 2.x registry: ``bind(typename)`` (2.2: ``bind(typename, states=[StateSpec(...)])``)."""

    def __init__(self) -> None:
        self.functions: Dict[str, StatefulFunction] = {}

    def register(self, typename: str, fun: Callable[..., Any],
                 states: Optional[List[StateSpec]] = None) -> None:
        if fun is None:
            raise ValueError("function instance must be provided")
        parse_typename(typename)
        self.functions[typename] = StatefulFunction(typename, fun, states)

    def bind(self, typename: str, states: Optional[List[StateSpec]] = None
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def wrapper(function: Callable[..., Any]) -> Callable[..., Any]:
            self.register(typename, function, states)
            return function
        return wrapper

    def for_type(self, namespace: str, type: str) -> StatefulFunction:
        return self.for_typename(f"{namespace}/{type}")

    def for_typename(self, typename: str) -> StatefulFunction:
        try:
            return self.functions[typename]
        except KeyError:
            raise UnknownFunctionTypeError(typename, self.functions) from None

    def typenames(self) -> List[str]:
        return list(self.functions)

    def __contains__(self, typename: object) -> bool:
        return typename in self.functions


# -- handlers and egress records --------------------------------------------------------------

class RequestReplyHandler(_Handler3):
    """``handler(request_bytes) -> reply bytes`` for a 2.x registry (functions run in the
    calling thread; ``async def`` ones in a fresh event loop)."""

    def __call__(self, request_bytes: Union[bytes, bytearray]) -> bytes:
        return self.handle_sync(request_bytes)


class AsyncRequestReplyHandler(_Handler3):
    """``await handler(request_bytes)`` for a 2.x registry, in the running event loop."""

    async def __call__(self, request_bytes: Union[bytes, bytearray]) -> bytes:
        return await self.handle_async(request_bytes)


def kafka_egress_record(topic: str, value: Any, key: Optional[str] = None) -> Any:
    """A ``KafkaProducerRecord`` of the protobuf message ``value`` for ``topic``."""
    if not topic:
        raise ValueError("A destination Kafka topic is missing")
    if not value:
        raise ValueError("Missing value")
    record = KafkaProducerRecord(topic=topic, value_bytes=value.SerializeToString())
    if key is not None:
        record.key = key
    return record


def kinesis_egress_record(stream: str, value: Any, partition_key: str,
                          explicit_hash_key: Optional[str] = None) -> Any:
    """A ``KinesisEgressRecord`` of the protobuf message ``value`` for ``stream``."""
    if not stream:
        raise ValueError("Missing destination Kinesis stream")
    if not value:
        raise ValueError("Missing value")
    if not partition_key:
        raise ValueError("Missing partition key")
    record = KinesisEgressRecord(stream=stream, value_bytes=value.SerializeToString(),
                                 partition_key=partition_key)
    if explicit_hash_key is not None:
        record.explicit_hash_key = explicit_hash_key
    return record

