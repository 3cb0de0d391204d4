"""Stable key hashing: key -> key group -> subtask, the same in every process and run.

Python's ``hash()`` of ``str`` and ``bytes`` changes with every interpreter
(``PYTHONHASHSEED``), so two worker processes would disagree on where a key lives.
:func:`stable_hash` is deterministic; key groups work as in Flink: a key belongs to
group ``stable_hash(key) % max_parallelism`` and group ``g`` to subtask
``g * parallelism // max_parallelism``.

Keys that are equal in Python land on one subtask even when their types differ, as
they share one entry of a dict: ``1``, ``1.0``, ``True``, ``np.int64(1)``,
``Decimal(1)`` and ``Fraction(1)`` hash alike (numpy scalars hash as the Python value
they stand for; other numbers as their ``int`` or ``float``).

>>> subtask_for_key("user-17", max_parallelism=128, parallelism=4) in range(4)
True
>>> stable_hash(("a", 1)) == stable_hash(("a", 1))
True
>>> import numpy as np
>>> stable_hash(np.int64(7)) == stable_hash(7) == stable_hash(7.0)
True

NaN keys: in Python no two NaN objects are equal, so every record keyed by
``float('nan')`` would be a key of its own. Flink compares keys by their serialized
form, and Java serializes every NaN double alike: all NaNs are one key. So here:
:func:`canonical_key` turns a NaN (Python's, numpy's, -NaN, also inside a tuple) into
``NAN_KEY``, one object in every process (it pickles by reference), which the keyed
steps see as the current key.

>>> canonical_key(float("nan")) is canonical_key(np.float64("nan")) is NAN_KEY
True
>>> canonical_key(("a", float("-nan"))) == ("a", NAN_KEY), canonical_key(("a", 1)) == ("a", 1)
(True, True)
"""

from __future__ import annotations

import math
import numbers
import pickle
import struct
import zlib
from decimal import Decimal
from typing import Any

from .row import Row

__all__ = ["stable_hash", "key_group", "subtask_for_key", "subtask_for_key_group",
           "hashable_key", "plain_key", "KeyList", "KeyDict", "KeyTuple", "canonical_key", "NAN_KEY"]

_MASK = (1 << 64) - 1


class _NaNKey(float):
    """The one NaN key (see the module's doc)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "NAN_KEY"


NAN_KEY = _NaNKey("nan")


def canonical_key(key: Any) -> Any:
    """``key`` with every NaN in it (at the top or inside tuples) made ``NAN_KEY``."""
    if isinstance(key, numbers.Real):
        return NAN_KEY if key != key else key
    if type(key) is tuple:
        items = tuple(canonical_key(k) for k in key)
        return items if any(a is not b for a, b in zip(items, key)) else key
    return key


def _mix(h: int) -> int:
    """Spread consecutive integers over the whole range (a 64-bit finaliser)."""
    h &= _MASK
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK
    return h ^ (h >> 33)


def stable_hash(key: Any) -> int:
    """A non-negative hash of ``key`` that does not depend on the process."""
    t = type(key)
    if t is str:
        return _mix(zlib.crc32(key.encode("utf-8", "surrogatepass")))
    if t is int or t is bool:
        return _mix(key)
    if t is tuple:
        h = 0x345678
        for item in key:
            h = (h * 1000003) ^ stable_hash(item)
        return _mix(h)
    if key is None:
        return 0
    if t is float or key is NAN_KEY:
        if key != key:  # every NaN alike, as Java's doubleToLongBits
            return _mix(0x7FF8000000000000)
        return _mix(int(key)) if key.is_integer() else _mix(struct.unpack("<q", struct.pack("<d", key))[0])
    if t is bytes:
        return _mix(zlib.crc32(key))
    if isinstance(key, (frozenset, set)):
        return _mix(sum(stable_hash(k) for k in key))
    if t is KeyList or t is KeyTuple:
        return _mix((0x4C15 if t is KeyList else 0) ^ stable_hash(tuple(key)))
    if t is KeyDict:
        return _mix(0xD1C7 ^ stable_hash(frozenset(key.items())))
    if isinstance(key, (tuple, Row)):  # named tuples, Rows  # namedtuple and other tuple subclasses
        return stable_hash(tuple(key))
    if isinstance(key, str):
        return stable_hash(str(key))
    if type(key).__module__ == "numpy" and hasattr(key, "item"):
        return stable_hash(key.item())  # a numpy scalar hashes as the Python value it equals
    if isinstance(key, numbers.Integral):
        return _mix(int(key))
    if isinstance(key, (numbers.Real, Decimal)):  # equal to an int: hash as that int
        whole = int(key) if math.isfinite(key) else None
        return _mix(whole) if whole == key else stable_hash(float(key))
    return _mix(zlib.crc32(pickle.dumps(key, protocol=4)))


class KeyList(list):
    """A list used as a key: equal to the list it stands for, hashed by its items (as
    PyFlink keys by the serialized value, a list key works). Do not change it."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __reduce__(self) -> Any:
        return (KeyList, (list(self),))


class KeyDict(dict):
    """A dict used as a key (see :class:`KeyList`)."""

    __slots__ = ()

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def __reduce__(self) -> Any:
        return (KeyDict, (dict(self),))


class KeyTuple(tuple):
    """A tuple key holding a :class:`KeyList` or :class:`KeyDict` (so that
    :func:`plain_key` knows to look inside)."""

    __slots__ = ()

    def __reduce__(self) -> Any:
        return (KeyTuple, (tuple(self),))


def plain_key(key: Any) -> Any:
    """The key as the user's key selector gave it (a list, not a :class:`KeyList`): what
    ``ctx.get_current_key()`` and window functions see.

    >>> plain_key(hashable_key(("a", [1]))), plain_key("a")
    (('a', [1]), 'a')
    """
    t = type(key)
    if t is KeyList:
        return [plain_key(k) for k in key]
    if t is KeyDict:
        return {k: plain_key(v) for k, v in key.items()}
    if t is KeyTuple:
        return tuple(plain_key(k) for k in key)
    return key


def hashable_key(key: Any) -> Any:
    """``key`` if it can be hashed, else an equal value that can: lists, dicts and sets
    (at any depth in tuples, lists and dicts) become :class:`KeyList`, :class:`KeyDict`
    and ``frozenset``. Raises TypeError for other unhashable values.

    >>> k = hashable_key([1, {"a": [2]}])
    >>> k == [1, {"a": [2]}], hash(k) == hash(hashable_key([1, {"a": [2]}]))
    (True, True)
    """
    try:
        hash(key)
        return key
    except TypeError:
        pass
    if isinstance(key, list):
        return KeyList(hashable_key(k) for k in key)
    if isinstance(key, dict):
        return KeyDict((hashable_key(k), hashable_key(v)) for k, v in key.items())
    if isinstance(key, (set, frozenset)):
        return frozenset(hashable_key(k) for k in key)
    if type(key) is tuple:
        return KeyTuple(hashable_key(k) for k in key)
    raise TypeError(f"unhashable type: {type(key).__name__!r}")


def key_group(key: Any, max_parallelism: int) -> int:
    return stable_hash(key) % max_parallelism


def subtask_for_key_group(group: int, max_parallelism: int, parallelism: int) -> int:
    return group * parallelism // max_parallelism


def subtask_for_key(key: Any, max_parallelism: int, parallelism: int) -> int:
    """The parallel instance that owns ``key``."""
    return subtask_for_key_group(key_group(key, max_parallelism), max_parallelism, parallelism)
