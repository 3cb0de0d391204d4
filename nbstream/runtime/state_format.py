"""The format of state in checkpoints, savepoints and recordings: plain values as data,
only other Python objects pickled (apart, so a reader can tell and refuse them).

An operator's snapshot is nested plain values: dicts of keys to tuples, lists of timers,
ints and strings. :func:`dumps` writes those as data, column by column (the values of a
big dict's keys are one column, its values another, a column of tuples is a column per
field), so decoding them runs no code of the file's and costs about what ``pickle`` does;
only values of other types (a user's accumulator class, a numpy scalar, a defaultdict) are
*objects*: pickled together into one section of their own. :func:`loads` unpickles that
section only when it is told it may (``objects=True``), and :func:`object_types` says what
a blob's objects are without unpickling anything.

Layout of a blob (integers little-endian)::

    b"NBST" u8 version (1) u8 flags (bit 0: has objects)
    if has objects: u32 k, STR column of the k objects' type names, u64 n, n bytes pickle
                    (a list of the objects, protocol 5; cloudpickle's where needed)
    the value: one column of length 1

A column of ``n`` values (``n`` is known from where the column is) starts with a kind byte:

=========  ==================================================================================
NONE       nothing
BOOL       n bytes, 0 or 1
INT        ints: u8 width w (1, 2, 4 or 8: the least that holds them), n signed w-byte ints
BIGINT     per value: u32 length, the signed big-endian bytes
FLOAT      n float64 (bit exact: NaN, -0.0)
STR        u8 0, u64 length, UTF-8 of the values joined by NUL (none holds one);
           or u8 1, ints (byte lengths), u64 length, UTF-8 (``surrogatepass``)
BYTES      ints (lengths), u64 length, the bytes (BYTEARRAY the same)
TUPLE      u8 0, u32 width w, w columns of n values (the tuples' fields, when all have w);
           or u8 1, ints (lengths), a column of all their fields
LIST       ints (lengths), a column of all the items (SET, FROZENSET the same)
DICT       ints (lengths), a column of all the keys, a column of all the values
UNION      u8 k (< 256 types), n bytes (each value's slot), k columns (one per type)
TYPED      u16 length, name (a registered type, see :func:`register`), u8 0 and a column of
           the values' plain forms; or u8 1 (deduplicated), ints (indices), u64 m, a
           column of m plain forms
OBJECT     u64 first: the values are objects ``first .. first + n - 1`` of the object section
=========  ==================================================================================

Registered types (TimeWindow, GlobalWindow, Row, Batch, datetime, Decimal, ...) are data:
each has a name and a plain form (a tuple) it is rebuilt from by nbstream's own code.
A new kind of operator state needs nothing here: plain values are data at once, other
objects are pickled; :func:`register` makes a class data too.

>>> from nbstream.runtime.windows.window import TimeWindow
>>> state = {"counts": {"a": (1, 2.5), "b": (3, None)}, "w": [TimeWindow(0, 10)]}
>>> loads(dumps(state)) == state
True
>>> class Acc:
...     pass
>>> object_types(dumps({"acc": Acc()}))
['nbstream.runtime.state_format.Acc']
>>> loads(dumps({"acc": Acc()}), objects=False)
Traceback (most recent call last):
...
nbstream.runtime.state_format.ObjectsRefused: holds pickled objects (nbstream.runtime.state_format.Acc)
"""

from __future__ import annotations

import datetime as _dt
import pickle
import struct
import sys
from array import array
from decimal import Decimal
from itertools import chain, islice
from operator import attrgetter, itemgetter
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import NbstreamError

__all__ = ["dumps", "loads", "object_types", "register", "register_as", "StateFormatError",
           "ObjectsRefused", "MAGIC"]

MAGIC = b"NBST"
VERSION = 1
_HAS_OBJECTS = 1

(NONE, BOOL, INT, BIGINT, FLOAT, STR, BYTES, BYTEARRAY, TUPLE, LIST, DICT, SET, FROZENSET, UNION,
 TYPED, OBJECT) = range(16)

_U8, _U16, _U32, _U64 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_SWAP = sys.byteorder == "big"


class StateFormatError(NbstreamError):
    """A blob is not in this format, or is damaged."""


class ObjectsRefused(StateFormatError):
    """The blob holds pickled objects and the reader was told not to unpickle them."""


# -- registered types -----------------------------------------------------------------------------
class _Registered:
    __slots__ = ("name", "to_plain", "from_plain", "dedupe")

    def __init__(self, name: str, to_plain: Callable[[Any], Optional[tuple]],
                 from_plain: Callable[[tuple], Any], dedupe: bool) -> None:
        self.name, self.to_plain, self.from_plain, self.dedupe = name, to_plain, from_plain, dedupe


_BY_TYPE: Dict[type, _Registered] = {}
_BY_NAME: Dict[str, _Registered] = {}
_AS: Dict[type, Callable[[Any], Any]] = {}
_builtins_registered = False


def register(cls: type, name: str, to_plain: Callable[[Any], Optional[tuple]],
             from_plain: Callable[[tuple], Any], dedupe: bool = False) -> None:
    """Store instances of ``cls`` (exactly that type) as data: ``to_plain(obj)`` gives a tuple
    of plain values (or None: pickle this one), ``from_plain(tuple)`` rebuilds it.
    ``dedupe``: instances are immutable and hashable, equal ones are stored once.

    >>> class Point:
    ...     def __init__(self, x, y): self.x, self.y = x, y
    >>> register(Point, "example.Point", lambda p: (p.x, p.y), lambda t: Point(*t))
    >>> loads(dumps(Point(1, 2)), objects=False).y
    2
    """
    entry = _Registered(name, to_plain, from_plain, dedupe)
    _BY_TYPE[cls] = entry
    _BY_NAME[name] = entry


def register_as(cls: type, convert: Callable[[Any], Any]) -> None:
    """Store instances of ``cls`` as what ``convert`` makes of them (a mapping of a state
    store as a plain dict); they come back as that."""
    _AS[cls] = convert


def _register_builtins() -> None:
    """nbstream's own types that appear in state, and a few of the standard library's."""
    global _builtins_registered
    if _builtins_registered:
        return
    _builtins_registered = True
    from .records import Batch
    from .row import Row, RowKind, _make_row
    from .windows.window import CountWindow, GlobalWindow, TimeWindow

    register(TimeWindow, "nbstream.TimeWindow", attrgetter("start", "end"),
             lambda t: TimeWindow(*t), dedupe=True)
    register(GlobalWindow, "nbstream.GlobalWindow", lambda w: (), lambda t: GlobalWindow(),
             dedupe=True)
    register(CountWindow, "nbstream.CountWindow", lambda w: (w.id,), lambda t: CountWindow(*t),
             dedupe=True)
    register(RowKind, "nbstream.RowKind", lambda k: (k.value,), lambda t: RowKind(t[0]),
             dedupe=True)
    register(Row, "nbstream.Row",
             lambda r: (None if r._fields is None else tuple(r._fields), tuple(r._values),
                        r._row_kind.value),
             lambda t: _make_row(t[0], t[1], RowKind(t[2])))
    register(Batch, "nbstream.Batch", lambda b: (b.values, b.timestamps, b.keys),
             lambda t: Batch(*t))
    register(_dt.datetime, "datetime.datetime",
             lambda d: (d.isoformat(),) if _fixed_offset(d.tzinfo) else None,
             lambda t: _dt.datetime.fromisoformat(t[0]), dedupe=True)
    register(_dt.date, "datetime.date", lambda d: (d.toordinal(),),
             lambda t: _dt.date.fromordinal(t[0]), dedupe=True)
    register(_dt.time, "datetime.time",
             lambda d: (d.isoformat(),) if _fixed_offset(d.tzinfo) else None,
             lambda t: _dt.time.fromisoformat(t[0]), dedupe=True)
    register(_dt.timedelta, "datetime.timedelta", lambda d: (d.days, d.seconds, d.microseconds),
             lambda t: _dt.timedelta(*t), dedupe=True)
    register(Decimal, "decimal.Decimal", lambda d: (str(d),), lambda t: Decimal(t[0]),
             dedupe=True)
    register(complex, "complex", lambda c: (c.real, c.imag), lambda t: complex(*t), dedupe=True)
    from .state_backends import RocksDBMap
    from .windows.operator import MergingWindowSet

    def merging_set(t: tuple) -> Any:
        mset = MergingWindowSet(None)  # the operator gives it its assigner on restore
        mset.mapping = t[0]
        return mset
    register(MergingWindowSet, "nbstream.MergingWindowSet", lambda m: (m.mapping,), merging_set)
    register_as(RocksDBMap, lambda m: dict(m.items()))  # a store's entries: a plain dict


def _fixed_offset(tz: Any) -> bool:
    """A time zone that ISO 8601 text keeps exactly: none, or a fixed offset without a name."""
    if tz is None:
        return True
    if type(tz) is not _dt.timezone:
        return False
    offset = tz.utcoffset(None)
    return tz == _dt.timezone(offset) and tz.tzname(None) == _dt.timezone(offset).tzname(None)


# -- writing ----------------------------------------------------------------------------------------
class _Writer:
    def __init__(self) -> None:
        self.out: List[bytes] = []
        self.objects: List[Any] = []
        self.kinds: Dict[type, Callable[[Sequence[Any]], None]] = {
            type(None): self._none, bool: self._bool, int: self._int, float: self._float,
            str: self._str, bytes: self._bytes, bytearray: self._bytearray, tuple: self._tuple,
            list: self._list, dict: self._dict, set: self._set, frozenset: self._frozenset}

    def column(self, values: Sequence[Any]) -> None:
        if not values:
            self.out.append(b"\x00")  # NONE: nothing to store
            return
        types = list(map(type, values))
        first = types[0]
        if types.count(first) == len(types):
            self._one(first, values)
        else:
            self._union(values, types)

    def _one(self, t: type, values: Sequence[Any]) -> None:
        kind = self.kinds.get(t)
        if kind is not None:
            kind(values)
            return
        registered = _BY_TYPE.get(t)
        if registered is not None:
            self._typed(registered, values)
            return
        convert = _AS.get(t)
        if convert is not None:
            self.column([convert(v) for v in values])
            return
        self._object(values)

    def _union(self, values: Sequence[Any], types: List[type]) -> None:
        slots = list(dict.fromkeys(types))
        if len(slots) > 255:
            self._object(values)
            return
        index = {t: i for i, t in enumerate(slots)}
        self.out += [bytes((UNION, len(slots))), bytes(map(index.__getitem__, types))]
        for t in slots:
            self._one(t, [v for v, vt in zip(values, types) if vt is t])

    def _lengths(self, values: Sequence[Any]) -> List[int]:
        lengths = list(map(len, values))
        self.out.append(_int64(lengths))
        return lengths

    def _none(self, values: Sequence[Any]) -> None:
        self.out.append(bytes((NONE,)))

    def _bool(self, values: Sequence[Any]) -> None:
        self.out += [bytes((BOOL,)), bytes(values)]

    def _int(self, values: Sequence[Any]) -> None:
        try:
            data = _int64(values)
        except OverflowError:
            parts = [bytes((BIGINT,))]
            for v in values:
                raw = v.to_bytes((v.bit_length() + 8) // 8, "big", signed=True)
                parts += [_U32.pack(len(raw)), raw]
            self.out += parts
            return
        self.out += [bytes((INT,)), data]

    def _float(self, values: Sequence[Any]) -> None:
        a = array("d", values)
        if _SWAP:
            a.byteswap()
        self.out += [bytes((FLOAT,)), a.tobytes()]

    def _str(self, values: Sequence[Any]) -> None:
        joined = "\x00".join(values)
        if joined.count("\x00") == len(values) - 1:
            data = joined.encode("utf-8", "surrogatepass")
            self.out += [bytes((STR, 0)), _U64.pack(len(data)), data]
            return
        encoded = [v.encode("utf-8", "surrogatepass") for v in values]
        data = b"".join(encoded)
        self.out += [bytes((STR, 1)), _int64(list(map(len, encoded))), _U64.pack(len(data)), data]

    def _bytes(self, values: Sequence[Any], kind: int = BYTES) -> None:
        self.out.append(bytes((kind,)))
        self._lengths(values)
        data = b"".join(values)
        self.out += [_U64.pack(len(data)), data]

    def _bytearray(self, values: Sequence[Any]) -> None:
        self._bytes(values, BYTEARRAY)

    def _tuple(self, values: Sequence[Any]) -> None:
        widths = set(map(len, values))
        if len(widths) == 1:
            width = widths.pop()
            self.out += [bytes((TUPLE, 0)), _U32.pack(width)]
            for i in range(width):
                self.column(list(map(itemgetter(i), values)))
            return
        self.out.append(bytes((TUPLE, 1)))
        self._lengths(values)
        self.column(list(chain.from_iterable(values)))

    def _list(self, values: Sequence[Any], kind: int = LIST) -> None:
        self.out.append(bytes((kind,)))
        self._lengths(values)
        self.column(values[0] if len(values) == 1 and kind == LIST
                    else list(chain.from_iterable(values)))

    def _set(self, values: Sequence[Any]) -> None:
        self._list(values, SET)

    def _frozenset(self, values: Sequence[Any]) -> None:
        self._list(values, FROZENSET)

    def _dict(self, values: Sequence[Any]) -> None:
        self.out.append(bytes((DICT,)))
        self._lengths(values)
        if len(values) == 1:
            self.column(list(values[0]))
            self.column(list(values[0].values()))
        else:
            self.column(list(chain.from_iterable(values)))
            self.column(list(chain.from_iterable(d.values() for d in values)))

    def _typed(self, registered: _Registered, values: Sequence[Any]) -> None:
        to_plain = registered.to_plain
        if registered.dedupe:  # each object once (by identity: windows are shared), and
            ids = list(map(id, values))  # equal plain forms once
            plain_of = {i: to_plain(v) for i, v in dict(zip(ids, values)).items()}
            plains = list(dict.fromkeys(plain_of.values()))
            position = dict(zip(plains, range(len(plains))))
            index_of = {i: position[p] for i, p in plain_of.items()}
        else:
            plains = list(map(to_plain, values))
        if None in plains:  # some of them have no plain form: pickled
            self._object(values)
            return
        name = registered.name.encode()
        self.out += [bytes((TYPED,)), _U16.pack(len(name)), name]
        if registered.dedupe:
            self.out += [b"\x01", _int64(list(map(index_of.__getitem__, ids))),
                         _U64.pack(len(plains))]
        else:
            self.out.append(b"\x00")
        self.column(plains)

    def _object(self, values: Sequence[Any]) -> None:
        self.out += [bytes((OBJECT,)), _U64.pack(len(self.objects))]
        self.objects.extend(values)


_WIDTHS = ((1, "b", -2 ** 7, 2 ** 7), (2, "h", -2 ** 15, 2 ** 15), (4, "i", -2 ** 31, 2 ** 31),
           (8, "q", -2 ** 63, 2 ** 63))
_TYPECODE = {width: code for width, code, _, _ in _WIDTHS}


def _int64(values: Sequence[int]) -> bytes:
    """Integers as u8 width (1, 2, 4 or 8: the least that holds them all) and n signed
    little-endian integers of that width; OverflowError beyond 64 bits."""
    low, high = (min(values), max(values)) if len(values) else (0, 0)
    for width, code, lowest, above in _WIDTHS:
        if lowest <= low and high < above:
            a = array(code, values)
            if _SWAP:
                a.byteswap()
            return bytes((width,)) + a.tobytes()
    raise OverflowError("an integer beyond 64 bits")


def dumps(value: Any) -> bytes:
    """``value`` in this format (objects other than plain values and registered types are
    pickled; raises what pickling raises if one cannot be)."""
    _register_builtins()
    writer = _Writer()
    try:
        writer.column([value])
    except RecursionError:  # nested deeper than a column walk goes: keep it whole
        writer = _Writer()
        writer._object([value])
    head = [MAGIC, bytes((VERSION, _HAS_OBJECTS if writer.objects else 0))]
    if writer.objects:
        pickled = _pickle(writer.objects)
        names = sorted({f"{type(o).__module__}.{type(o).__qualname__}" for o in writer.objects})
        names_writer = _Writer()
        names_writer.column(names)
        head += [_U32.pack(len(names)), *names_writer.out, _U64.pack(len(pickled)), pickled]
    return b"".join(head + writer.out)


def _pickle(objects: List[Any]) -> bytes:
    try:
        return pickle.dumps(objects, protocol=5)
    except Exception:  # noqa: BLE001 - lambdas and classes of a notebook: by value
        import cloudpickle

        return cloudpickle.dumps(objects, protocol=5)


# -- reading ----------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes, objects: Optional[List[Any]]) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.objects = objects
        self.names: List[str] = []
        self.kinds: Dict[int, Callable[[int], List[Any]]] = {
            NONE: lambda n: [None] * n, BOOL: self._bool, INT: self._ints, BIGINT: self._bigint,
            FLOAT: self._float, STR: self._str, BYTES: self._bytes, BYTEARRAY: self._bytearray,
            TUPLE: self._tuple, LIST: self._list, DICT: self._dict, SET: self._set,
            FROZENSET: self._frozenset, UNION: self._union, TYPED: self._typed,
            OBJECT: self._object}

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise StateFormatError("truncated")
        view = self.data[self.pos:end]
        self.pos = end
        return view

    def u8(self) -> int:
        return self.take(1)[0]

    def unpack(self, fmt: struct.Struct) -> int:
        return fmt.unpack(self.take(fmt.size))[0]

    def column(self, n: int) -> List[Any]:
        kind = self.kinds.get(self.u8())
        if kind is None:
            raise StateFormatError("unknown kind of column")
        return kind(n)

    def _ints(self, n: int) -> List[int]:
        width = self.u8()
        code = _TYPECODE.get(width)
        if code is None:
            raise StateFormatError("bad integer width")
        a = array(code)
        a.frombytes(self.take(width * n))
        if _SWAP:
            a.byteswap()
        return a.tolist()

    def _bool(self, n: int) -> List[bool]:
        return list(map(bool, self.take(n)))

    def _bigint(self, n: int) -> List[int]:
        return [int.from_bytes(self.take(self.unpack(_U32)), "big", signed=True) for _ in range(n)]

    def _float(self, n: int) -> List[float]:
        a = array("d")
        a.frombytes(self.take(8 * n))
        if _SWAP:
            a.byteswap()
        return a.tolist()

    def _str(self, n: int) -> List[str]:
        if self.u8() == 0:
            text = bytes(self.take(self.unpack(_U64))).decode("utf-8", "surrogatepass")
            if n == 0:
                return []
            parts = text.split("\x00")
            if len(parts) != n:
                raise StateFormatError("string column of the wrong length")
            return parts
        lengths = self._ints(n)
        data = bytes(self.take(self.unpack(_U64)))
        return [v.decode("utf-8", "surrogatepass") for v in _cut(data, lengths)]

    def _bytes(self, n: int) -> List[bytes]:
        lengths = self._ints(n)
        return _cut(bytes(self.take(self.unpack(_U64))), lengths)

    def _bytearray(self, n: int) -> List[bytearray]:
        return list(map(bytearray, self._bytes(n)))

    def _tuple(self, n: int) -> List[tuple]:
        if self.u8() == 0:
            width = self.unpack(_U32)
            if width == 0:
                return [()] * n
            return list(zip(*[self.column(n) for _ in range(width)]))
        lengths = self._ints(n)
        items = iter(self.column(_total(lengths)))
        return [tuple(islice(items, k)) for k in lengths]

    def _list(self, n: int) -> List[list]:
        lengths = self._ints(n)
        items = self.column(_total(lengths))
        if n == 1:
            return [items]
        it = iter(items)
        return [list(islice(it, k)) for k in lengths]

    def _set(self, n: int, kind: type = set) -> List[Any]:
        lengths = self._ints(n)
        it = iter(self.column(_total(lengths)))
        return [kind(islice(it, k)) for k in lengths]

    def _frozenset(self, n: int) -> List[frozenset]:
        return self._set(n, frozenset)

    def _dict(self, n: int) -> List[dict]:
        lengths = self._ints(n)
        total = _total(lengths)
        keys = self.column(total)
        values = self.column(total)
        if n == 1:
            return [dict(zip(keys, values))]
        it = zip(keys, values)
        return [dict(islice(it, k)) for k in lengths]

    def _union(self, n: int) -> List[Any]:
        k = self.u8()
        slots = bytes(self.take(n))
        counts = [slots.count(i) for i in range(k)]
        nexts = [iter(self.column(c)).__next__ for c in counts]
        return [nexts[s]() for s in slots]

    def _typed(self, n: int) -> List[Any]:
        name = bytes(self.take(self.unpack(_U16))).decode()
        registered = _BY_NAME.get(name)
        if registered is None:
            raise StateFormatError(f"unknown type {name!r}")
        from_plain = registered.from_plain
        if self.u8() == 1:
            indices = self._ints(n)
            distinct = [from_plain(p) for p in self.column(self.unpack(_U64))]
            return list(map(distinct.__getitem__, indices))
        return [from_plain(p) for p in self.column(n)]

    def _object(self, n: int) -> List[Any]:
        first = self.unpack(_U64)
        if self.objects is None:
            raise ObjectsRefused(f"holds pickled objects ({', '.join(self.names)})")
        if first + n > len(self.objects):
            raise StateFormatError("object index out of range")
        return self.objects[first:first + n]


def _cut(data: bytes, lengths: List[int]) -> List[bytes]:
    out, at = [], 0
    for k in lengths:
        out.append(data[at:at + k])
        at += k
    if at != len(data):
        raise StateFormatError("lengths do not match the data")
    return out


def _total(lengths: List[int]) -> int:
    total = sum(lengths)
    if min(lengths, default=0) < 0:
        raise StateFormatError("negative length")
    return total


def _header(reader: _Reader) -> Tuple[bool, int, int]:
    """Read magic, version and flags, and the object section's names; returns whether it
    has objects and the pickle's position and length."""
    if bytes(reader.take(4)) != MAGIC:
        raise StateFormatError("not nbstream state (no NBST header)")
    version = reader.u8()
    if version != VERSION:
        raise StateFormatError(f"state format version {version}; this nbstream reads {VERSION}")
    flags = reader.u8()
    if not flags & _HAS_OBJECTS:
        return False, 0, 0
    count = reader.unpack(_U32)
    reader.names = reader.column(count)
    size = reader.unpack(_U64)
    at = reader.pos
    reader.take(size)
    return True, at, size


def object_types(data: bytes) -> List[str]:
    """The type names of the objects ``data`` holds pickled (none: it is all data)."""
    reader = _Reader(data, None)
    _header(reader)
    return list(reader.names)


def loads(data: bytes, objects: bool = True) -> Any:
    """The value :func:`dumps` wrote. With ``objects=False`` a blob holding pickled objects
    raises :class:`ObjectsRefused` before any is unpickled."""
    _register_builtins()
    reader = _Reader(data, None)
    try:
        has_objects, at, size = _header(reader)
        if has_objects:
            if not objects:
                raise ObjectsRefused(f"holds pickled objects ({', '.join(reader.names)})")
            reader.objects = pickle.loads(reader.data[at:at + size])
        value = reader.column(1)[0]
    except StateFormatError:
        raise
    except (ValueError, TypeError, IndexError, OverflowError, MemoryError, struct.error) as exc:
        raise StateFormatError(f"damaged state ({type(exc).__name__}: {exc})") from None
    if reader.pos != len(reader.data):
        raise StateFormatError("damaged state (bytes after the value)")
    return value
