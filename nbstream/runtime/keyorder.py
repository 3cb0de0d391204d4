"""The order in which Flink's BATCH execution hands keys to a keyed operator.

In ``RuntimeExecutionMode.BATCH`` Flink sorts a keyed input before the operator sees it,
by the key's serialized bytes compared as Java compares ``byte`` arrays (signed), so a
keyed reduce emits its final values in that order. The bytes are those of the key's
declared type: ``STRING`` writes its length + 1 as a varint and then its chars,
``LONG``/``INT``/``SHORT``/``BYTE`` big-endian two's complement, ``BOOLEAN`` one byte,
``DOUBLE``/``FLOAT`` their IEEE bits; a key with no declared type is pickled
(``cloudpickle.dumps``) and written with a 4-byte length before it.

>>> sorted(["Is", "a", "Be", "b"], key=sort_key_for("STRING"))
['a', 'b', 'Be', 'Is']
>>> sorted([300, -1, 255, 0], key=sort_key_for("LONG"))
[-1, 255, 0, 300]
"""

from __future__ import annotations

import struct
from typing import Any, Callable, Optional

__all__ = ["sort_key_for", "serialized_key"]

_FIXED = {"LONG": ">q", "INT": ">i", "SHORT": ">h", "BYTE": ">b", "BOOLEAN": ">?",
          "DOUBLE": ">d", "FLOAT": ">f"}
_SIGNED = bytes(range(128, 256)) + bytes(range(128))  # a byte's rank when compared signed


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(value: str) -> bytes:
    chars = value.encode("utf-16-be")
    units = [int.from_bytes(chars[i:i + 2], "big") for i in range(0, len(chars), 2)]
    return _varint(len(units) + 1) + b"".join(_varint(u) for u in units)


def serialized_key(value: Any, type_name: Optional[str]) -> bytes:
    """``value`` as Flink serializes a key of type ``type_name`` (None: pickled)."""
    fmt = _FIXED.get(type_name or "")
    if fmt is not None:
        return struct.pack(fmt, value)
    if type_name == "STRING" and isinstance(value, str):
        return _string(value)
    import cloudpickle

    from .keygroups import plain_key
    data = cloudpickle.dumps(plain_key(value))  # a list key as the list it is
    return struct.pack(">i", len(data)) + data


def sort_key_for(type_name: Optional[str]) -> Callable[[Any], bytes]:
    """A ``sorted`` key giving Flink's BATCH order of keys of type ``type_name``."""
    def key(value: Any) -> bytes:
        return serialized_key(value, type_name).translate(_SIGNED)
    return key
