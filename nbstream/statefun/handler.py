"""The request-reply handler: a StateFun runtime's request bytes in, the reply bytes out.

>>> from nbstream.statefun import (StatefulFunctions, RequestReplyHandler, ValueSpec, IntType,
...                                message_builder)
>>> from nbstream.statefun.protocol import ToFunction, FromFunction
>>> functions = StatefulFunctions()
>>> @functions.bind("example/counter", [ValueSpec("count", IntType)])
... def counter(context, message):
...     context.storage.count = (context.storage.count or 0) + message.as_int()
>>> request = ToFunction()
>>> batch = request.invocation
>>> batch.target.namespace, batch.target.type, batch.target.id = "example", "counter", "a"
>>> _ = batch.state.add(state_name="count")  # registered, no value yet
>>> argument = batch.invocations.add().argument
>>> argument.typename, argument.has_value = "io.statefun.types/int", True
>>> argument.value = IntType.serializer().serialize(3)
>>> reply = FromFunction.FromString(RequestReplyHandler(functions).handle_sync(request.SerializeToString()))
>>> reply.invocation_result.state_mutations[0].state_value.value.hex(' ')
'0d 03 00 00 00'
"""

from __future__ import annotations

import asyncio
from typing import Any, List, Optional, Tuple, Union

from .core import SdkAddress, ValueSpec, parse_typename
from .functions import BatchResult, Invocation, StatefulFunction, StatefulFunctions
from .types import TypedValue

__all__ = ["RequestReplyHandler", "parse_request", "encode_result"]


def _proto() -> Any:
    from . import protocol  # raises ProtobufMissingError naming the extra
    return protocol


def _sdk_address(pb: Any) -> Optional[SdkAddress]:
    if not (pb.namespace or pb.type or pb.id):
        return None
    return SdkAddress(pb.namespace, pb.type, pb.id, f"{pb.namespace}/{pb.type}")


def _typed(pb: Any) -> TypedValue:
    return TypedValue(pb.typename, pb.has_value, pb.value)


#: a parsed request: target address, state by name (None: registered, no value), invocations
Request = Tuple[SdkAddress, dict, List[Invocation]]


def parse_request(data: Union[bytes, bytearray, str]) -> Request:
    """The target, the state and the invocations of a ``ToFunction`` request's bytes."""
    request = _proto().ToFunction()
    request.ParseFromString(data.encode() if isinstance(data, str) else bytes(data))
    batch = request.invocation
    target = _sdk_address(batch.target) or SdkAddress("", "", "", "/")
    state = {pv.state_name: _typed(pv.state_value) for pv in batch.state}
    invocations = [(_sdk_address(inv.caller) if inv.HasField("caller") else None, _typed(inv.argument))
                   for inv in batch.invocations]
    return target, state, invocations


def _set_typed(pb: Any, value: TypedValue) -> None:
    pb.typename, pb.has_value, pb.value = value.typename, value.has_value, value.value


def _set_target(pb: Any, typename: str, id: str) -> None:
    pb.namespace, pb.type = parse_typename(typename)
    pb.id = id


def _encode_missing(reply: Any, missing: List[ValueSpec]) -> None:
    expire = _proto().EXPIRE_MODE
    values = reply.incomplete_invocation_context.missing_values
    for spec in missing:
        value = values.add(state_name=spec.name, type_typename=spec.type.typename)
        value.expiration_spec.SetInParent()
        if spec.after_call or spec.after_write:
            value.expiration_spec.expire_after_millis = spec.duration
            value.expiration_spec.mode = expire["AFTER_INVOKE"] if spec.after_call else expire["AFTER_WRITE"]


def _encode_effects(result: Any, batch: BatchResult) -> None:
    for message in batch.messages:
        out = result.outgoing_messages.add()
        _set_target(out.target, message.target_typename, message.target_id)
        _set_typed(out.argument, message.typed_value)
    for delayed in batch.delayed:
        out = result.delayed_invocations.add()
        if delayed.is_cancellation:
            out.is_cancellation_request, out.cancellation_token = True, delayed.cancellation_token
            continue
        assert delayed.message is not None
        _set_target(out.target, delayed.message.target_typename, delayed.message.target_id)
        out.delay_in_ms = delayed.delay_ms
        _set_typed(out.argument, delayed.message.typed_value)
        out.cancellation_token = delayed.cancellation_token or ""
    for egress in batch.egress:
        out = result.outgoing_egresses.add()
        out.egress_namespace, out.egress_type = parse_typename(egress.typename)
        _set_typed(out.argument, egress.typed_value)
    modify, delete = _proto().MUTATION["MODIFY"], _proto().MUTATION["DELETE"]
    for name, value in batch.mutations:
        out = result.state_mutations.add(state_name=name, mutation_type=delete if value is None else modify)
        if value is not None:
            _set_typed(out.state_value, value)


def encode_result(batch: BatchResult) -> bytes:
    """The ``FromFunction`` bytes of a batch's outcome (empty when it asks for nothing)."""
    reply = _proto().FromFunction()
    if batch.missing:
        _encode_missing(reply, batch.missing)
    else:
        _encode_effects(reply.invocation_result, batch)
    return reply.SerializeToString()


class RequestReplyHandler:
    """Serves a :class:`StatefulFunctions` registry over StateFun's request-reply protocol.

    ``await handler.handle_async(request_bytes)`` in an event loop (every Jupyter kernel runs
    one); ``handler.handle_sync(request_bytes)`` elsewhere. A function that raises fails the
    whole batch with a :class:`FunctionInvocationError` (an HTTP server answers 500).
    """

    def __init__(self, functions: StatefulFunctions) -> None:
        if not functions:
            raise ValueError("functions must be provided.")
        _proto()
        self.functions = functions

    def _target(self, data: Union[bytes, bytearray, str]) -> Tuple[StatefulFunction, Request]:
        request = parse_request(data)
        return self.functions.for_typename(request[0].typename), request

    def handle_sync(self, request_bytes: Union[bytes, bytearray, str]) -> bytes:
        """The reply to one request, in a fresh event loop (so not inside a running one, e.g.
        a Jupyter kernel's: there, ``await handle_async``)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.handle_async(request_bytes))
        raise RuntimeError("asyncio.run() cannot be called from a running event loop; in a running "
                           "loop (a Jupyter kernel) use: await handler.handle_async(request_bytes)")

    async def handle_async(self, request_bytes: Union[bytes, bytearray, str]) -> bytes:
        """The reply to one request, awaiting ``async def`` functions in the running loop."""
        fn, (target, state, invocations) = self._target(request_bytes)
        return encode_result(await fn.invoke_async(target, state, invocations))
