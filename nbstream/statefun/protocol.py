"""The request-reply protocol's protobuf messages, built at import time from descriptors
written here (no generated code): package ``io.statefun.sdk.reqreply`` with the SDK's field
names and numbers, so the bytes are the SDK's and a StateFun runtime's. They live in a
private descriptor pool, so the real SDK's generated modules can be imported alongside.

Needs the ``protobuf`` package (``pip install 'nbstream[statefun]'``).

>>> request = ToFunction()
>>> request.invocation.target.namespace = "example"
>>> request.SerializeToString().hex(' ')
'a2 06 0b 0a 09 0a 07 65 78 61 6d 70 6c 65'
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from .errors import ProtobufMissingError

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ProtobufMissingError("The Stateful Functions request-reply protocol") from exc

__all__ = ["ToFunction", "FromFunction", "Address", "TypedValue", "KafkaProducerRecord",
           "KinesisEgressRecord", "BooleanWrapper", "IntWrapper", "FloatWrapper", "LongWrapper",
           "DoubleWrapper", "StringWrapper", "POOL", "MUTATION", "EXPIRE_MODE"]

_F = descriptor_pb2.FieldDescriptorProto
#: (field name, number, type, label, message/enum type name or "")
Field = Tuple[str, int, int, int, str]
_ONE, _MANY = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
REQREPLY = "io.statefun.sdk.reqreply"


def _f(name: str, number: int, kind: int, type_name: str = "", label: int = _ONE) -> Field:
    return (name, number, kind, label, type_name)


def _s(name: str, number: int) -> Field:
    return _f(name, number, _F.TYPE_STRING)


def _m(name: str, number: int, type_name: str, label: int = _ONE) -> Field:
    return _f(name, number, _F.TYPE_MESSAGE, f".{REQREPLY}.{type_name}", label)


def _message(proto: Any, name: str, fields: List[Field], oneof: str = "",
             enums: Dict[str, List[Tuple[str, int]]] = {}) -> Any:  # noqa: B006 - read only
    message = proto.add(name=name)
    if oneof:
        message.oneof_decl.add(name=oneof)
    for field_name, number, kind, label, type_name in fields:
        f = message.field.add(name=field_name, number=number, type=kind, label=label)
        if type_name:
            f.type_name = type_name
        if oneof:
            f.oneof_index = 0
    for enum_name, values in enums.items():
        enum = message.enum_type.add(name=enum_name)
        for value_name, number in values:
            enum.value.add(name=value_name, number=number)
    return message


def _request_reply() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="nbstream/statefun/request-reply.proto",
                                              package=REQREPLY, syntax="proto3")
    msgs = file.message_type
    _message(msgs, "Address", [_s("namespace", 1), _s("type", 2), _s("id", 3)])
    _message(msgs, "TypedValue", [_s("typename", 1), _f("has_value", 2, _F.TYPE_BOOL),
                                  _f("value", 3, _F.TYPE_BYTES)])
    to = _message(msgs, "ToFunction", [_m("invocation", 100, "ToFunction.InvocationBatchRequest")],
                  oneof="request")
    _message(to.nested_type, "PersistedValue", [_s("state_name", 1), _m("state_value", 2, "TypedValue")])
    _message(to.nested_type, "Invocation", [_m("caller", 1, "Address"), _m("argument", 2, "TypedValue")])
    _message(to.nested_type, "InvocationBatchRequest", [
        _m("target", 1, "Address"), _m("state", 2, "ToFunction.PersistedValue", _MANY),
        _m("invocations", 3, "ToFunction.Invocation", _MANY)])
    _from_function(msgs)
    return file


def _from_function(msgs: Any) -> None:
    from_ = _message(msgs, "FromFunction", [
        _m("invocation_result", 100, "FromFunction.InvocationResponse"),
        _m("incomplete_invocation_context", 101, "FromFunction.IncompleteInvocationContext")],
        oneof="response")
    nested, ff = from_.nested_type, "FromFunction"
    _message(nested, "PersistedValueMutation", [
        _f("mutation_type", 1, _F.TYPE_ENUM, f".{REQREPLY}.{ff}.PersistedValueMutation.MutationType"),
        _s("state_name", 2), _m("state_value", 3, "TypedValue")],
        enums={"MutationType": [("DELETE", 0), ("MODIFY", 1)]})
    _message(nested, "Invocation", [_m("target", 1, "Address"), _m("argument", 2, "TypedValue")])
    _message(nested, "DelayedInvocation", [
        _f("is_cancellation_request", 10, _F.TYPE_BOOL), _s("cancellation_token", 11),
        _f("delay_in_ms", 1, _F.TYPE_INT64), _m("target", 2, "Address"), _m("argument", 3, "TypedValue")])
    _message(nested, "EgressMessage", [_s("egress_namespace", 1), _s("egress_type", 2),
                                       _m("argument", 3, "TypedValue")])
    _message(nested, "InvocationResponse", [
        _m("state_mutations", 1, f"{ff}.PersistedValueMutation", _MANY),
        _m("outgoing_messages", 2, f"{ff}.Invocation", _MANY),
        _m("delayed_invocations", 3, f"{ff}.DelayedInvocation", _MANY),
        _m("outgoing_egresses", 4, f"{ff}.EgressMessage", _MANY)])
    _message(nested, "ExpirationSpec", [
        _f("mode", 1, _F.TYPE_ENUM, f".{REQREPLY}.{ff}.ExpirationSpec.ExpireMode"),
        _f("expire_after_millis", 2, _F.TYPE_INT64)],
        enums={"ExpireMode": [("NONE", 0), ("AFTER_WRITE", 1), ("AFTER_INVOKE", 2)]})
    _message(nested, "PersistedValueSpec", [_s("state_name", 1),
                                            _m("expiration_spec", 2, f"{ff}.ExpirationSpec"),
                                            _s("type_typename", 3)])
    _message(nested, "IncompleteInvocationContext", [
        _m("missing_values", 1, f"{ff}.PersistedValueSpec", _MANY)])


def _egress_and_types() -> List[descriptor_pb2.FileDescriptorProto]:
    egress = descriptor_pb2.FileDescriptorProto(name="nbstream/statefun/egress.proto",
                                                package="io.statefun.sdk.egress", syntax="proto3")
    _message(egress.message_type, "KafkaProducerRecord", [
        _s("key", 1), _f("value_bytes", 2, _F.TYPE_BYTES), _s("topic", 3)])
    _message(egress.message_type, "KinesisEgressRecord", [
        _s("partition_key", 1), _f("value_bytes", 2, _F.TYPE_BYTES), _s("stream", 3),
        _s("explicit_hash_key", 4)])
    types = descriptor_pb2.FileDescriptorProto(name="nbstream/statefun/types.proto",
                                               package="io.statefun.sdk.types", syntax="proto3")
    for name, kind in [("BooleanWrapper", _F.TYPE_BOOL), ("IntWrapper", _F.TYPE_SFIXED32),
                       ("FloatWrapper", _F.TYPE_FLOAT), ("LongWrapper", _F.TYPE_SFIXED64),
                       ("DoubleWrapper", _F.TYPE_DOUBLE), ("StringWrapper", _F.TYPE_STRING)]:
        _message(types.message_type, name, [_f("value", 1, kind)])
    return [egress, types]


def _message_class(pool: Any, full_name: str) -> Any:
    descriptor = pool.FindMessageTypeByName(full_name)
    if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
        cls = message_factory.GetMessageClass(descriptor)
    else:  # protobuf 3.20-4.21, the pure-Python one beside the statefun SDK among them
        cls = message_factory.MessageFactory(pool).GetPrototype(descriptor)
    _nest(cls, descriptor, pool)
    return cls


def _nest(cls: Any, descriptor: Any, pool: Any) -> None:
    """Nested messages and enum values as attributes of their message's class
    (``FromFunction.PersistedValueMutation.MODIFY``), as generated code has them; the
    protobuf 3.20 factory leaves them out."""
    for nested in descriptor.nested_types:
        if not hasattr(cls, nested.name):
            setattr(cls, nested.name, _message_class(pool, nested.full_name))
    for enum in descriptor.enum_types:
        for value in enum.values:
            if not hasattr(cls, value.name):
                setattr(cls, value.name, value.number)


def _enum(full_name: str) -> Dict[str, int]:
    return {v.name: v.number for v in POOL.FindEnumTypeByName(full_name).values}


POOL = descriptor_pool.DescriptorPool()
for _file in [_request_reply(), *_egress_and_types()]:
    POOL.Add(_file)

Address = _message_class(POOL, f"{REQREPLY}.Address")
TypedValue = _message_class(POOL, f"{REQREPLY}.TypedValue")
ToFunction = _message_class(POOL, f"{REQREPLY}.ToFunction")
FromFunction = _message_class(POOL, f"{REQREPLY}.FromFunction")
KafkaProducerRecord = _message_class(POOL, "io.statefun.sdk.egress.KafkaProducerRecord")
KinesisEgressRecord = _message_class(POOL, "io.statefun.sdk.egress.KinesisEgressRecord")
BooleanWrapper, IntWrapper, FloatWrapper, LongWrapper, DoubleWrapper, StringWrapper = (
    _message_class(POOL, f"io.statefun.sdk.types.{name}") for name in
    ("BooleanWrapper", "IntWrapper", "FloatWrapper", "LongWrapper", "DoubleWrapper", "StringWrapper"))

#: the enums' numbers by name (``MUTATION["MODIFY"]``), whatever protobuf's version
MUTATION = _enum(f"{REQREPLY}.FromFunction.PersistedValueMutation.MutationType")
EXPIRE_MODE = _enum(f"{REQREPLY}.FromFunction.ExpirationSpec.ExpireMode")
