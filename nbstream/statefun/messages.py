"""Messages between functions and records for egresses.

>>> m = message_builder("example/greeter", "Bob", str_value="hi")
>>> m.is_string(), m.as_string(), m.value_typename()
(True, 'hi', 'io.statefun.types/string')
>>> e = kafka_egress_message("example/out", topic="greetings", key="Bob", value="hello")
>>> e.value_typename()
'type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord'
"""

from __future__ import annotations

import struct
from typing import Any, Optional, Union

from ._wire import encode_fields, len_field
from .types import (BoolType, DoubleType, FloatType, IntType, LongType, StringType, Type,
                    TypedValue)

__all__ = ["Message", "EgressMessage", "message_builder", "egress_message_builder",
           "kafka_egress_message", "kinesis_egress_message", "to_typed_value", "from_typed_value",
           "KAFKA_RECORD_TYPENAME", "KINESIS_RECORD_TYPENAME"]

KAFKA_RECORD_TYPENAME = "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
KINESIS_RECORD_TYPENAME = "type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord"


def to_typed_value(tpe: Type, value: Any) -> TypedValue:
    """``value`` serialized by ``tpe`` (``None``: a typed value without a value)."""
    if value is None:
        return TypedValue(tpe.typename, False, b"")
    return TypedValue(tpe.typename, True, tpe.serializer().serialize(value))


def from_typed_value(tpe: Type, typed_value: Optional[TypedValue]) -> Any:
    """The value of ``typed_value`` read as ``tpe`` (None when it has none)."""
    if typed_value is None or not typed_value.has_value:
        return None
    if tpe.typename != typed_value.typename:
        raise TypeError(f"Type mismatch: type {typed_value.typename} (remote), yet it is specified "
                        f"locally as {tpe.typename} ")
    return tpe.serializer().deserialize(typed_value.value)


def _reader(tpe: Type) -> Any:
    """``as_int`` and the like: :meth:`Message.as_type` of a built-in type, its reader
    bound once (they are called per message)."""
    read = tpe.serializer().deserialize

    def as_value(self: "Message") -> Any:
        tv = self.typed_value
        return read(tv.value) if tv.has_value else None

    as_value.__doc__ = f"The value read as {tpe.typename} (None when the message has none)."
    return as_value


class Message:
    """A message to the function at (``target_typename``, ``target_id``)."""

    __slots__ = ("target_typename", "target_id", "typed_value")

    def __init__(self, target_typename: str, target_id: str, typed_value: TypedValue) -> None:
        if not target_typename:
            raise ValueError("target_typename can not be missing")
        if not target_id:
            raise ValueError("target_id can not be missing")
        if not typed_value:
            raise ValueError("typed_value can not be missing")
        self.target_typename = target_typename
        self.target_id = target_id
        self.typed_value = typed_value

    def __repr__(self) -> str:
        return (f"Message({self.target_typename!r}, {self.target_id!r}, "
                f"{self.typed_value.typename}, {len(self.typed_value.value)} bytes)")

    def __reduce__(self) -> Any:
        return (Message, (self.target_typename, self.target_id, self.typed_value))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Message) and other.target_typename == self.target_typename
                and other.target_id == self.target_id and other.typed_value == self.typed_value)

    def __hash__(self) -> int:
        return hash((self.target_typename, self.target_id, self.typed_value))

    def is_type(self, tpe: Type) -> bool:
        """Whether the value's typename is ``tpe``'s."""
        return self.typed_value.typename == tpe.typename

    def as_type(self, tpe: Type) -> Any:
        """The value read with ``tpe``'s serializer (the typename is not checked)."""
        tv = self.typed_value
        return tpe.serializer().deserialize(tv.value) if tv.has_value else None

    def value_typename(self) -> str:
        return self.typed_value.typename

    def raw_value(self) -> Optional[bytes]:
        tv = self.typed_value
        return tv.value if tv.has_value else None

    def is_int(self) -> bool:
        return self.is_type(IntType)

    as_int = _reader(IntType)

    def is_long(self) -> bool:
        return self.is_type(LongType)

    as_long = _reader(LongType)

    def is_float(self) -> bool:
        return self.is_type(FloatType)

    as_float = _reader(FloatType)

    def is_double(self) -> bool:
        return self.is_type(DoubleType)

    as_double = _reader(DoubleType)

    def is_string(self) -> bool:
        return self.is_type(StringType)

    as_string = _reader(StringType)

    def is_bool(self) -> bool:
        return self.is_type(BoolType)

    def as_bool(self) -> Optional[bool]:
        return self.as_type(BoolType)


class EgressMessage:
    """A record for the egress named ``typename``."""

    __slots__ = ("typename", "typed_value")

    def __init__(self, typename: str, typed_value: TypedValue) -> None:
        if not typename:
            raise ValueError("typename is missing")
        if not typed_value:
            raise ValueError("value is missing")
        self.typename = typename
        self.typed_value = typed_value

    def __repr__(self) -> str:
        return f"EgressMessage({self.typename!r}, {self.typed_value.typename})"

    def __reduce__(self) -> Any:
        return (EgressMessage, (self.typename, self.typed_value))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, EgressMessage) and other.typename == self.typename
                and other.typed_value == self.typed_value)

    def __hash__(self) -> int:
        return hash((self.typename, self.typed_value))

    def value_typename(self) -> str:
        return self.typed_value.typename

    def raw_value(self) -> Optional[bytes]:
        tv = self.typed_value
        return tv.value if tv.has_value else None


_PRIMITIVES = {"int_value": IntType, "float_value": FloatType, "long_value": LongType,
               "str_value": StringType, "double_value": DoubleType, "bool_value": BoolType}


def message_builder(target_typename: str, target_id: str, **kwargs: Any) -> Message:
    """A message for (``target_typename``, ``target_id``) holding exactly one of ``int_value=``,
    ``long_value=``, ``float_value=``, ``double_value=``, ``str_value=``, ``bool_value=``, or
    ``value=`` with ``value_type=``."""
    if len(kwargs) == 2:
        value, value_type = kwargs["value"], kwargs["value_type"]
    elif len(kwargs) == 1:
        keyword, value = next(iter(kwargs.items()))
        value_type = _PRIMITIVES.get(keyword)
    else:
        raise TypeError(f"Wrong number of value keywords given: {kwargs}, there must be exactly one of:"
                        f"\nint_value=..\nfloat_value..\netc'\nor:\nvalue=.. ,value_type=.. ")
    if value is None:
        raise ValueError("value can not be missing")
    if not value_type:
        raise ValueError("Could not deduce the value type, please specify the type explicitly. via "
                         "passing: value=<the value>, value_type=<the type>")
    return Message(target_typename, target_id, to_typed_value(value_type, value))


def egress_message_builder(target_typename: str, value: Any, value_type: Type) -> EgressMessage:
    """A record of ``value`` (serialized by ``value_type``) for the egress ``target_typename``."""
    if not target_typename:
        raise ValueError("target typename is missing")
    if value is None:
        raise ValueError("value can not be missing")
    return EgressMessage(target_typename, to_typed_value(value_type, value))


def _record_bytes(value: Any, value_type: Optional[Type], numbers: bool) -> bytes:
    if value_type:
        return value_type.serializer().serialize(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if numbers and isinstance(value, int):
        return struct.pack(">i", value)  # Kafka's IntegerSerializer
    if numbers and isinstance(value, float):
        return struct.pack(">d", value)  # Kafka's DoubleSerializer
    raise TypeError("Unable to convert value to bytes.")


def _strings(*fields: tuple) -> bytes:
    """Fields in number order; proto3 leaves empty ones out."""
    return encode_fields(len_field(number, payload) for number, payload in fields if payload)


def kafka_egress_message(typename: str, topic: str, value: Union[str, bytes, bytearray, int, float],
                         value_type: Optional[Type] = None, key: Optional[str] = None) -> EgressMessage:
    """A Kafka producer record (``topic``, ``key``, ``value``) for the egress ``typename``."""
    if not topic:
        raise ValueError("A destination Kafka topic is missing")
    if value is None:
        raise ValueError("Missing value")
    record = _strings((1, (key or "").encode("utf-8")), (2, _record_bytes(value, value_type, True)),
                      (3, topic.encode("utf-8")))
    return EgressMessage(typename, TypedValue(KAFKA_RECORD_TYPENAME, True, record))


def kinesis_egress_message(typename: str, stream: str, value: Union[str, bytes, bytearray],
                           partition_key: str, value_type: Optional[Type] = None,
                           explicit_hash_key: Optional[str] = None) -> EgressMessage:
    """A Kinesis record (``stream``, ``partition_key``, ``value``) for the egress ``typename``."""
    if not stream:
        raise ValueError("Missing destination Kinesis stream")
    if value is None:
        raise ValueError("Missing value")
    if partition_key is None:
        raise ValueError("Missing partition key")
    record = _strings((1, partition_key.encode("utf-8")), (2, _record_bytes(value, value_type, False)),
                      (3, stream.encode("utf-8")), (4, (explicit_hash_key or "").encode("utf-8")))
    return EgressMessage(typename, TypedValue(KINESIS_RECORD_TYPENAME, True, record))
