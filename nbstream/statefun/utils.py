"""The statefun SDK's ``statefun.utils``: typed values as the protobuf messages a request is
made of, for code that builds requests itself (a test of a module, a custom transport).
nbstream's own code keeps the plain :class:`~nbstream.statefun.types.TypedValue`.

>>> from nbstream.statefun import IntType
>>> pb = to_typed_value(IntType, 5)   # a protobuf TypedValue (needs protobuf)
>>> type(pb).__name__, pb.value.hex(' '), from_typed_value(IntType, pb)
('TypedValue', '0d 05 00 00 00', 5)
"""

from __future__ import annotations

from typing import Any, Optional, Union

from .messages import from_typed_value
from .types import Type, make_json_type, make_protobuf_type

__all__ = ["to_typed_value", "from_typed_value", "to_typed_value_deduce", "make_json_type",
           "make_protobuf_type"]


def to_typed_value(type: Type, value: Any) -> Any:  # noqa: A002 - the SDK's parameter name
    """``value`` serialized by ``type`` as a protobuf ``TypedValue`` (None: no value)."""
    from .protocol import TypedValue

    typed_value = TypedValue(typename=type.typename)
    if value is not None:
        typed_value.has_value = True
        typed_value.value = type.serializer().serialize(value)
    return typed_value


def to_typed_value_deduce(value: Union[str, bytes, bytearray],
                          value_type: Optional[Type] = None) -> bytes:
    """The bytes of an egress record's value: ``value_type``'s serialization, else the bytes
    themselves, else the text as UTF-8."""
    if value_type is not None:
        return value_type.serializer().serialize(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("Unable to convert value to bytes. strings, bytes, and anytype that has "
                    "__bytes__ attribute is supported.")
