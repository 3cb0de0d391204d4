"""Value types of Stateful Functions: a typename plus a serializer, as in the ``statefun`` SDK.

Every value that crosses a function boundary (message, state, egress) travels as a
:class:`TypedValue`: its type's typename and its bytes. The built-in types encode as the
SDK's protobuf wrapper messages (one field, number 1), so the bytes match the SDK's.

>>> IntType.serializer().serialize(2).hex(' ')
'0d 02 00 00 00'
>>> StringType.serializer().deserialize(bytes.fromhex("0a 04 74 69 63 6b"))
'tick'
>>> point = make_json_type("example/point")
>>> point.serializer().deserialize(point.serializer().serialize({"x": 1}))
{'x': 1}
"""

from __future__ import annotations

import abc
import json
import math
import operator
import struct
from typing import Any, Callable, Optional

from ._wire import FIXED32, FIXED64, LENGTH, VARINT, decode_fields, encode_fields, varint

__all__ = ["TypeSerializer", "Type", "TypedValue", "simple_type", "make_json_type",
           "make_protobuf_type", "BoolType", "IntType", "FloatType", "DoubleType", "LongType",
           "StringType"]


class TypedValue:
    """A value on the wire: ``typename``, ``has_value`` and the serialized ``value`` bytes.

    Field for field the SDK's protobuf ``TypedValue``, as a plain object (no protobuf
    needed), with the protobuf message's methods a program may call on
    ``message.typed_value``: ``SerializeToString``, ``ParseFromString``, ``FromString``,
    ``CopyFrom``, ``MergeFrom``, ``Clear``, ``ByteSize``; it equals a protobuf TypedValue
    with the same fields.

    >>> tv = TypedValue("io.statefun.types/int", True, b"\\x0d\\x05\\x00\\x00\\x00")
    >>> TypedValue.FromString(tv.SerializeToString()) == tv
    True
    """

    __slots__ = ("typename", "has_value", "value")

    def __init__(self, typename: str = "", has_value: bool = False, value: bytes = b"") -> None:
        self.typename = typename
        self.has_value = has_value
        self.value = value

    def __eq__(self, other: object) -> bool:
        try:
            return (self.typename == other.typename and self.has_value == other.has_value  # type: ignore[attr-defined]
                    and self.value == other.value)  # type: ignore[attr-defined]
        except AttributeError:
            return False

    # -- the protobuf message's API -----------------------------------------------------------
    def SerializeToString(self, deterministic: Optional[bool] = None) -> bytes:  # noqa: N802
        fields = []
        if self.typename:
            fields.append((1, LENGTH, self.typename.encode("utf-8")))
        if self.has_value:
            fields.append((2, VARINT, varint(1)))
        if self.value:
            fields.append((3, LENGTH, bytes(self.value)))
        return encode_fields(fields)

    def ParseFromString(self, serialized: bytes) -> int:  # noqa: N802
        self.Clear()
        self.MergeFromString(serialized)
        return len(serialized)

    def MergeFromString(self, serialized: bytes) -> int:  # noqa: N802
        fields = decode_fields(bytes(serialized))
        if 1 in fields:
            self.typename = bytes(fields[1][1]).decode("utf-8")  # type: ignore[arg-type]
        if 2 in fields:
            self.has_value = bool(fields[2][1])
        if 3 in fields:
            self.value = bytes(fields[3][1])  # type: ignore[arg-type]
        return len(serialized)

    @classmethod
    def FromString(cls, serialized: bytes) -> "TypedValue":  # noqa: N802
        value = cls()
        value.MergeFromString(serialized)
        return value

    def CopyFrom(self, other: Any) -> None:  # noqa: N802
        self.typename, self.has_value, self.value = other.typename, other.has_value, bytes(other.value)

    def MergeFrom(self, other: Any) -> None:  # noqa: N802 - proto3: set fields win
        self.typename = other.typename or self.typename
        self.has_value = other.has_value or self.has_value
        self.value = bytes(other.value) or self.value

    def Clear(self) -> None:  # noqa: N802
        self.typename, self.has_value, self.value = "", False, b""

    def ByteSize(self) -> int:  # noqa: N802
        return len(self.SerializeToString())

    def __hash__(self) -> int:
        return hash((self.typename, self.has_value, self.value))

    def __repr__(self) -> str:
        return f"TypedValue({self.typename!r}, has_value={self.has_value}, value={self.value!r})"

    def __reduce__(self) -> Any:
        return (TypedValue, (self.typename, self.has_value, self.value))


class TypeSerializer(metaclass=abc.ABCMeta):
    """Turns values of one type into bytes and back."""

    __slots__ = ()

    @abc.abstractmethod
    def serialize(self, value: Any) -> bytes:
        """The bytes of ``value``."""

    @abc.abstractmethod
    def deserialize(self, byte: bytes) -> Any:
        """The value the bytes stand for."""


class Type(metaclass=abc.ABCMeta):
    """A value type: a typename of the form ``<namespace>/<name>`` and a serializer."""

    __slots__ = ("typename",)

    def __init__(self, typename: str) -> None:
        if not typename:
            raise ValueError("typename can not be missing")
        self.typename = typename

    @abc.abstractmethod
    def serializer(self) -> TypeSerializer:
        """The serializer of this type's values."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.typename}>"


class _FunctionSerializer(TypeSerializer):
    __slots__ = ("serialize_fn", "deserialize_fn")

    def __init__(self, serialize_fn: Callable[[Any], bytes], deserialize_fn: Callable[[bytes], Any]):
        self.serialize_fn = serialize_fn
        self.deserialize_fn = deserialize_fn

    def serialize(self, value: Any) -> bytes:
        return self.serialize_fn(value)

    def deserialize(self, byte: bytes) -> Any:
        return self.deserialize_fn(byte)


class SimpleType(Type):
    """A type made of two functions (see :func:`simple_type`)."""

    __slots__ = ("_serializer",)

    def __init__(self, typename: str, serialize_fn: Optional[Callable[[Any], bytes]],
                 deserialize_fn: Optional[Callable[[bytes], Any]]) -> None:
        super().__init__(typename)
        if not serialize_fn:
            raise ValueError("serialize_fn is missing")
        if not deserialize_fn:
            raise ValueError("deserialize_fn is missing")
        self._serializer = _FunctionSerializer(serialize_fn, deserialize_fn)

    def serializer(self) -> TypeSerializer:
        return self._serializer


def simple_type(typename: Optional[str] = None, serialize_fn: Optional[Callable[[Any], bytes]] = None,
                deserialize_fn: Optional[Callable[[bytes], Any]] = None) -> Type:
    """A type named ``typename`` whose values ``serialize_fn`` turns into bytes and
    ``deserialize_fn`` back.

    >>> upper = simple_type("example/upper", lambda s: s.upper().encode(), bytes.decode)
    >>> upper.typename, upper.serializer().serialize("hi")
    ('example/upper', b'HI')
    """
    return SimpleType(typename or "", serialize_fn, deserialize_fn)


def _json_utf8(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def make_json_type(typename: str) -> Type:
    """A type whose values are JSON documents, as UTF-8 bytes."""
    return simple_type(typename, _json_utf8, json.loads)


def make_protobuf_type(cls: Any, namespace: Optional[str] = None) -> Type:
    """A type for a protobuf message class, named ``type.googleapis.com/<full name>``
    (or ``<namespace>/<full name>``)."""
    if not cls:
        raise ValueError("The Protobuf generated class is missing.")
    name = cls().DESCRIPTOR.full_name
    if not name:
        raise TypeError("Unable to deduce the Protobuf Message full name.")

    def parse(data: bytes) -> Any:
        message = cls()
        message.ParseFromString(data)
        return message

    return simple_type(f"{namespace or 'type.googleapis.com'}/{name}",
                       lambda message: message.SerializeToString(), parse)


# -- the built-in types: protobuf wrapper messages with one field, number 1 ------------------

class _WrapperSerializer(TypeSerializer):
    """One scalar in field 1 of a message; proto3, so a default value writes no bytes."""

    __slots__ = ("_check", "_encode", "_decode", "_wire_type", "_default", "_tag", "_size",
                 "_read")

    def __init__(self, check: Callable[[Any], Any], wire_type: int, encode: Callable[[Any], bytes],
                 decode: Callable[[Any], Any], default: Any, fixed: str = "") -> None:
        self._check, self._wire_type = check, wire_type
        self._encode, self._decode, self._default = encode, decode, default
        self._tag = bytes([1 << 3 | wire_type])
        self._size = {FIXED32: 5, FIXED64: 9}.get(wire_type, 0)  # the whole message, fixed types
        # a fixed type's field 1 read where it is (after the tag byte), no slice
        self._read = struct.Struct(fixed).unpack_from if fixed else None

    def serialize(self, value: Any) -> bytes:
        value = self._check(value)
        if not value:
            return b""
        if self._size:
            return self._tag + self._encode(value)
        return encode_fields([(1, self._wire_type, self._encode(value))])

    def deserialize(self, byte: bytes) -> Any:
        if len(byte) == self._size and self._read is not None and byte[0] == self._tag[0]:
            return self._read(byte, 1)[0]  # the common case: just field 1
        field = decode_fields(byte).get(1)
        if field is None or field[0] != self._wire_type:
            return self._default
        return self._decode(field[1])


class _WrapperType(Type):
    __slots__ = ("_serializer",)

    def __init__(self, typename: str, serializer: _WrapperSerializer) -> None:
        super().__init__(typename)
        self._serializer = serializer

    def serializer(self) -> TypeSerializer:
        return self._serializer

    def __reduce__(self) -> str:
        """A built-in type is copied and pickled as itself (by its name in this module): the
        runtime copies a job's functions per instance, and code that tells the built-in types
        by identity (``tpe is IntType``) must still know them."""
        return _BUILT_IN_NAMES[self.typename]


def _index(value: Any) -> int:
    """An integer from anything protobuf's int fields take: ``int``, ``bool``, numpy's
    integer scalars (whatever has ``__index__``, but not an array)."""
    kind = type(value)
    if kind.__name__ == "ndarray" or not hasattr(kind, "__index__"):
        raise TypeError(f"{value!r} has type {kind.__name__}, but expected one of: int")
    if kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"):  # __index__ deprecated
        return int(bool(value))
    return operator.index(value)


def _integer(bits: int) -> Callable[[Any], int]:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def check(value: Any) -> int:
        value = _index(value)
        if not low <= value <= high:
            raise ValueError(f"Value out of range: {value}")
        return value

    return check


def _boolean(value: Any) -> bool:
    return bool(_index(value))


def _real(value: Any) -> float:
    """A float from anything protobuf's float fields take (numbers, numpy scalars, Decimal:
    whatever has ``__float__``, but not text or an array)."""
    if (isinstance(value, (str, bytes, bytearray)) or type(value).__name__ == "ndarray"
            or not hasattr(type(value), "__float__")):
        raise TypeError(f"{value!r} has type {type(value).__name__}, but expected one of: "
                        "int, float")
    return float(value)


_FLOAT32_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]


def _float32(value: Any) -> float:
    value = _real(value)
    if value > _FLOAT32_MAX:
        return math.inf
    if value < -_FLOAT32_MAX:
        return -math.inf
    return struct.unpack("<f", struct.pack("<f", value))[0] if math.isfinite(value) else value


def _string(value: Any) -> str:
    if type(value) is bytes:  # as protobuf's string fields: UTF-8 bytes are text
        return value.decode("utf-8")
    if not isinstance(value, str):
        raise TypeError(f"{value!r} has type {type(value).__name__}, but expected one of: "
                        "bytes, str")
    return value


def _fixed(fmt: str) -> Callable[[Any], bytes]:
    return lambda value: struct.pack(fmt, value)


def _unfixed(fmt: str) -> Callable[[Any], Any]:
    return lambda data: struct.unpack(fmt, data)[0]


BoolType: Type = _WrapperType("io.statefun.types/bool", _WrapperSerializer(
    _boolean, VARINT, lambda value: varint(1), lambda n: bool(n), False))
IntType: Type = _WrapperType("io.statefun.types/int", _WrapperSerializer(
    _integer(32), FIXED32, _fixed("<i"), _unfixed("<i"), 0, "<i"))
LongType: Type = _WrapperType("io.statefun.types/long", _WrapperSerializer(
    _integer(64), FIXED64, _fixed("<q"), _unfixed("<q"), 0, "<q"))
FloatType: Type = _WrapperType("io.statefun.types/float", _WrapperSerializer(
    _float32, FIXED32, _fixed("<f"), _unfixed("<f"), 0.0, "<f"))
DoubleType: Type = _WrapperType("io.statefun.types/double", _WrapperSerializer(
    _real, FIXED64, _fixed("<d"), _unfixed("<d"), 0.0, "<d"))
StringType: Type = _WrapperType("io.statefun.types/string", _WrapperSerializer(
    _string, LENGTH, lambda value: value.encode("utf-8"), lambda data: data.decode("utf-8"), ""))
_BUILT_IN_NAMES = {t.typename: name for name, t in (
    ("BoolType", BoolType), ("IntType", IntType), ("LongType", LongType), ("FloatType", FloatType),
    ("DoubleType", DoubleType), ("StringType", StringType))}
