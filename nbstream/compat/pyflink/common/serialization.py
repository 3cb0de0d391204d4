"""``pyflink.common.serialization`` on nbstream: the string encoder of file sinks and the
string schema of socket sinks.

>>> Encoder.simple_string_encoder()
Encoder.simple_string_encoder('UTF-8')
>>> SimpleStringSchema().serialize("hi")
b'hi'
"""

from __future__ import annotations

from typing import Any

from .._exports import exports

__all__ = ["Encoder", "SimpleStringSchema"]


class Encoder:
    """How a row-format file sink writes a record: Java's ``toString`` and a newline."""

    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    @staticmethod
    def simple_string_encoder(charset_name: str = "UTF-8") -> "Encoder":
        return Encoder(charset_name)

    def __repr__(self) -> str:
        return f"Encoder.simple_string_encoder({self.charset!r})"


class SimpleStringSchema:
    """Strings to bytes and back (``serialize``/``deserialize``), in ``charset``."""

    def __init__(self, charset: str = "UTF-8") -> None:
        self.charset = charset

    def serialize(self, value: Any) -> bytes:
        return str(value).encode(self.charset)

    def deserialize(self, message: bytes) -> str:
        return message.decode(self.charset)


_, __getattr__ = exports(__name__, {}, unavailable=[
    "SerializationSchema", "DeserializationSchema", "ByteArraySchema", "BulkWriterFactory",
    "RowFieldExtractorSchema"])
