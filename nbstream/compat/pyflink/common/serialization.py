"""``pyflink.common.serialization`` on nbstream: the string encoder of file sinks and the
schemas that turn records into bytes and back (socket sinks and sources, connectors).

>>> Encoder.simple_string_encoder()
Encoder.simple_string_encoder('UTF-8')
>>> SimpleStringSchema().serialize("hi"), ByteArraySchema().deserialize(b"hi")
(b'hi', b'hi')
>>> from nbstream import Row
>>> RowFieldExtractorSchema(1).serialize(Row("key", b"payload"))
b'payload'

PyFlink code reaches a schema's Java object as ``schema._j_serialization_schema`` (and
``_j_deserialization_schema``); here that is a view of the same Python schema with the
Java methods' names (``serialize``, ``deserialize``, ``getFieldIndex``, ``equals``,
``hashCode``).
"""

from __future__ import annotations

from typing import Any, Optional

from .._exports import exports

__all__ = ["Encoder", "SerializationSchema", "DeserializationSchema", "SimpleStringSchema",
           "ByteArraySchema", "RowFieldExtractorSchema"]


class Encoder:
    """How a row-format file sink writes a record: Java's ``toString`` and a newline."""

    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    @staticmethod
    def simple_string_encoder(charset_name: str = "UTF-8") -> "Encoder":
        return Encoder(charset_name)

    def __repr__(self) -> str:
        return f"Encoder.simple_string_encoder({self.charset!r})"


class _JavaView:
    """A schema seen as PyFlink sees its Java object: the Java methods' names."""

    def __init__(self, schema: Any) -> None:
        self._schema = schema

    def serialize(self, value: Any) -> bytes:
        return self._schema.serialize(value)

    def deserialize(self, message: bytes) -> Any:
        return self._schema.deserialize(message)

    def getFieldIndex(self) -> int:  # noqa: N802 - Java's name
        return self._schema.get_field_index()

    def equals(self, other: Any) -> bool:
        return isinstance(other, _JavaView) and other._schema == self._schema

    def hashCode(self) -> int:  # noqa: N802 - Java's name
        return hash(self._schema)


class SerializationSchema:
    """Turns a record into bytes: ``serialize(value)``."""

    def serialize(self, value: Any) -> bytes:
        raise NotImplementedError

    @property
    def _j_serialization_schema(self) -> _JavaView:
        return _JavaView(self)


class DeserializationSchema:
    """Turns bytes into a record: ``deserialize(message)``."""

    def deserialize(self, message: bytes) -> Any:
        raise NotImplementedError

    def is_end_of_stream(self, next_element: Any) -> bool:
        return False

    @property
    def _j_deserialization_schema(self) -> _JavaView:
        return _JavaView(self)


class SimpleStringSchema(SerializationSchema, DeserializationSchema):
    """Strings to bytes and back (``serialize``/``deserialize``), in ``charset``."""

    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    def serialize(self, value: Any) -> bytes:
        return str(value).encode(self.charset)

    def deserialize(self, message: bytes) -> str:
        return bytes(message).decode(self.charset)

    def __eq__(self, other: Any) -> bool:
        return type(other) is SimpleStringSchema and other.charset == self.charset

    def __hash__(self) -> int:
        return hash((SimpleStringSchema, self.charset))


class ByteArraySchema(SerializationSchema, DeserializationSchema):
    """Bytes as they are, both ways."""

    def serialize(self, value: Any) -> bytes:
        return bytes(value)

    def deserialize(self, message: bytes) -> bytes:
        return bytes(message)

    def __eq__(self, other: Any) -> bool:
        return type(other) is ByteArraySchema

    def __hash__(self) -> int:
        return hash(ByteArraySchema)


class RowFieldExtractorSchema(SerializationSchema):
    """The bytes of one field of a Row (a key or value for a connector): an absent row or
    field gives empty bytes; a field that is not bytes is an error."""

    def __init__(self, field_index: int) -> None:
        if field_index < 0:
            raise ValueError(f"Field index must be non-negative, got: {field_index}")
        self._field_index = int(field_index)

    def get_field_index(self) -> int:
        return self._field_index

    def serialize(self, value: Optional[Any]) -> bytes:
        field = None if value is None else value[self._field_index]
        if field is None:
            return b""
        if not isinstance(field, (bytes, bytearray, memoryview)):
            raise ValueError(f"Field at index {self._field_index} must be a byte array (bytes), "
                             f"not {type(field).__name__}")
        return bytes(field)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, RowFieldExtractorSchema) and other._field_index == self._field_index

    def __hash__(self) -> int:
        return hash((RowFieldExtractorSchema, self._field_index))


_, __getattr__ = exports(__name__, {}, unavailable=["BulkWriterFactory"])
