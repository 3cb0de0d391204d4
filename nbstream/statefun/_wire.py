"""A few protobuf wire-format primitives, enough for the SDK's one-field wrapper types and
its egress records, so that the 3.x API runs without the protobuf package.

Encoders follow proto3: a field holding its default (0, false, "", b"") is not written.
The decoder keeps the last occurrence of a field, as protobuf parsers do, and skips
unknown fields.

>>> encode_fields([(1, FIXED32, b"\\x02\\x00\\x00\\x00")]).hex(' ')
'0d 02 00 00 00'
>>> decode_fields(bytes.fromhex("0a 04 74 69 63 6b"))
{1: (2, b'tick')}
"""

from __future__ import annotations

from typing import Dict, Iterable, Tuple

__all__ = ["VARINT", "FIXED64", "LENGTH", "FIXED32", "varint", "read_varint",
           "encode_fields", "decode_fields", "len_field", "signed"]

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


def varint(n: int) -> bytes:
    """The base-128 varint of ``n`` (negative numbers as their 64-bit two's complement)."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(data: bytes, pos: int) -> Tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint in protobuf data")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ValueError("varint too long in protobuf data")


def encode_fields(fields: Iterable[Tuple[int, int, bytes]]) -> bytes:
    """Concatenate ``(number, wire type, payload)`` fields; a LENGTH payload is the raw bytes."""
    out = bytearray()
    for number, wire_type, payload in fields:
        out += varint(number << 3 | wire_type)
        if wire_type == LENGTH:
            out += varint(len(payload))
        out += payload
    return bytes(out)


def len_field(number: int, payload: bytes) -> Tuple[int, int, bytes]:
    return (number, LENGTH, payload)


_FIXED_SIZE = {FIXED64: 8, FIXED32: 4}


def decode_fields(data: bytes) -> Dict[int, Tuple[int, object]]:
    """``{number: (wire type, value)}``: ints for VARINT, bytes otherwise; last one wins."""
    fields: Dict[int, Tuple[int, object]] = {}
    pos, end = 0, len(data)
    while pos < end:
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        value: object
        if wire_type == VARINT:
            value, pos = read_varint(data, pos)
        elif wire_type == LENGTH:
            size, pos = read_varint(data, pos)
            value, pos = bytes(data[pos:pos + size]), pos + size
        elif wire_type in _FIXED_SIZE:
            size = _FIXED_SIZE[wire_type]
            value, pos = bytes(data[pos:pos + size]), pos + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        if pos > end:
            raise ValueError("truncated protobuf data")
        fields[number] = (wire_type, value)
    return fields


def signed(n: int, bits: int) -> int:
    """A varint read as a signed ``bits``-bit integer."""
    n &= (1 << bits) - 1
    return n - (1 << bits) if n >> (bits - 1) else n

