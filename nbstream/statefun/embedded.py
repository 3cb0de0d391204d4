"""Embedded functions, run lean: an address's values stay Python objects between its
messages, and one context and storage object per function type serve every address.

A value of a built-in type (int, long, bool, float, double, string) is kept as the Python
value its serializer would give back (``IntType`` checks the range, ``FloatType`` rounds to
32 bits, a zero value is the type's default), so a function reads exactly what it would
have read from the bytes, and nothing is serialized per message: the values are plain data
in checkpoints, and become bytes only at the remote boundary. A value of any other type
(JSON, protobuf, ``simple_type``) is serialized when written and read from its bytes, as
the SDK does, so a mutable object is never shared with the state. A
:class:`~nbstream.statefun.types.TypedValue` found in place of a Python value (restored, or
of a function's earlier version) is read through the spec's type on first access.

>>> from nbstream.statefun import StatefulFunctions, ValueSpec, IntType, message_builder
>>> functions = StatefulFunctions()
>>> @functions.bind("example/counter", [ValueSpec("count", IntType)])
... def counter(context, message):
...     context.storage.count = (context.storage.count or 0) + message.as_int()
>>> runner = EmbeddedRunner(functions.for_typename("example/counter"))
>>> from types import SimpleNamespace
>>> message = message_builder("example/counter", "7", int_value=5)
>>> envelopes = [("example/counter", "7", message.typed_value, None)] * 2
>>> entries = {}  # the addresses' states by key
>>> runner.run(SimpleNamespace(), entries, True, ["k7", "k7"], envelopes, None, 0, 0,
...            lambda context, ts, slot: None)
2
>>> entries["k7"][0]
{'count': 10}
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .core import SdkAddress, ValueSpec
from .errors import FunctionInvocationError
from .functions import Context, StatefulFunction, address_of
from .messages import Message
from .types import Type, TypedValue, _WrapperSerializer

__all__ = ["EmbeddedRunner", "storage_class"]


def _revived(value: TypedValue, typename: str, serializer: Any) -> Any:
    """The Python value of a TypedValue written for the type ``typename`` (None: no value)."""
    if not value.has_value:
        return None
    if value.typename != typename:
        raise TypeError(f"Type mismatch: type {value.typename} (remote), yet it is "
                        f"specified locally as {typename} ")
    return serializer.deserialize(value.value)


_NONE_ERROR = "provided value must not be None. To delete a value, please use del."


def expired(spec: ValueSpec, written: Optional[int], last_call: Optional[int], now: int) -> bool:
    """Whether a value written at ``written`` has expired by ``now`` (the spec's expiry)."""
    if written is None:
        return False
    if spec.after_write:
        return now - written >= spec.duration
    if spec.after_call:
        return now - (last_call if last_call is not None else written) >= spec.duration
    return False


def upgraded(slot: Any) -> List[Any]:
    """An address's state of an earlier version (a tuple, values as (TypedValue, written)
    pairs) as today's slot."""
    slot = list(slot) + [None] * (6 - len(slot))
    if slot[0]:
        pairs = slot[0]
        slot[0] = {name: value for name, (value, _) in pairs.items()}
        slot[5] = {name: written for name, (_, written) in pairs.items()}
    return slot


def _as_is(tpe: Type) -> Callable[[Any], bool]:
    """Whether a value is already what the type's bytes would read back as (the common case,
    told at once: an int in range for IntType, a float for DoubleType, a str for
    StringType); any other value goes through the type's own check."""
    from .types import BoolType, DoubleType, IntType, LongType, StringType

    if tpe is IntType or tpe is LongType:
        bits = 32 if tpe is IntType else 64
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        return lambda v: type(v) is int and low <= v <= high
    exact = {BoolType: bool, DoubleType: float, StringType: str}.get(tpe)  # type: ignore[call-overload]
    if exact is not None:
        return lambda v: type(v) is exact
    return lambda v: False


def _live_property(name: str, tpe: Type, check: Callable[[Any], Any], default: Any) -> property:
    """A value of a built-in type, kept as the Python value it reads back as."""
    typename, serializer, as_is = tpe.typename, tpe.serializer(), _as_is(tpe)

    def get(storage: Any) -> Any:
        value = storage._values.get(name)
        if value.__class__ is TypedValue:
            value = _revived(value, typename, serializer)
            if value is None:
                del storage._values[name]
            else:
                storage._values[name] = value
        return value

    def put(storage: Any, value: Any) -> None:
        if not as_is(value):
            if value is None:
                raise ValueError(_NONE_ERROR)
            value = check(value)
        storage._values[name] = value if value else default  # as the bytes read back
        if storage._written is not None:
            storage._written[name] = storage._now

    return property(get, put, _deleter(name), doc=f"the persisted value {name!r}")


def _bytes_property(name: str, tpe: Type) -> property:
    """A value of any other type: serialized when written, read from its bytes."""
    typename, serializer = tpe.typename, tpe.serializer()

    def get(storage: Any) -> Any:
        value = storage._values.get(name)
        return None if value is None else _revived(value, typename, serializer)

    def put(storage: Any, value: Any) -> None:
        if value is None:
            raise ValueError(_NONE_ERROR)
        storage._values[name] = TypedValue(typename, True, serializer.serialize(value))
        if storage._written is not None:
            storage._written[name] = storage._now

    return property(get, put, _deleter(name), doc=f"the persisted value {name!r}")


def _deleter(name: str) -> Callable[[Any], None]:
    def delete(storage: Any) -> None:
        storage._values.pop(name, None)
        if storage._written is not None:
            storage._written.pop(name, None)
    return delete


def _undeclared(storage: Any, name: str) -> Any:
    raise AttributeError(f"'{name}' is not a registered ValueSpec for the function "
                         f"'{storage._typename}'")


def storage_class(specs: Sequence[ValueSpec]) -> type:
    """The class of a function's storage over a dict of values: ``_values`` (name -> Python
    value or TypedValue), ``_written`` (name -> ms, for expiring specs, else None) and
    ``_now`` (the time of the call)."""
    members: Dict[str, Any] = {"__slots__": ("_values", "_written", "_now", "_typename"),
                               "__getattr__": _undeclared}
    for spec in specs:
        serializer = spec.type.serializer()
        if isinstance(serializer, _WrapperSerializer):
            members[spec.name] = _live_property(spec.name, spec.type, serializer._check,
                                                serializer._default)
        else:
            members[spec.name] = _bytes_property(spec.name, spec.type)
    return type("AddressScopedStorage", (), members)


class _Context(Context):
    """The context of an embedded call; its address is made when first asked for."""

    __slots__ = ("_typename", "_id", "storage")  # storage: a plain attribute, read at once

    @property
    def address(self) -> SdkAddress:
        address = self._address
        if address is None:
            address = self._address = address_of(self._typename, self._id)
        return address


_new = object.__new__


class EmbeddedRunner:
    """Runs one function type's messages in their order, on a reused context.

    ``run(keyed, entries, in_place, keys, envelopes, timestamps, start, now, emit)`` goes
    through ``envelopes`` from ``start`` while they are for its function type (keep-alives,
    without a value, skipped) and returns the index where it stopped. For each message it
    finds the address's state in ``entries`` by its key in ``keys`` (the states by key, see
    ``ValueState.entries``; a new one made, written back unless ``in_place``) and calls the
    function with the address's values as storage: an address's messages run in their order,
    and a dict lookup is all it costs to go from one address to the next (grouping a batch
    by address costed more than it saved). After a call that asked for effects, the key is
    made current in ``keyed`` (the keyed state) and ``emit(context, timestamp, slot)`` takes
    them (and empties the context's lists). A failing call raises
    :class:`FunctionInvocationError` (``failed`` is then its envelope's index).

    An address's state is the dispatcher's slot (a list: its values first, the time of its
    last call second, written times last; see ``nbstream.statefun.datastream``); an
    envelope is a tuple ``(typename, id, value, caller)`` or, from the ingress, the
    :class:`Message` itself (no caller). The :class:`Message` a function gets is the
    runner's: one object from call to call while no function keeps a reference to it."""

    __slots__ = ("fn", "context", "storage", "expiring", "specs", "counts", "failed",
                 "latency", "_loop", "_sampled")

    def __init__(self, fn: StatefulFunction, counts: Optional[List[int]] = None,
                 latency: Optional[Callable[[float], None]] = None) -> None:
        self.fn = fn
        self.storage = storage_class(fn.specs)()
        self.storage._typename = fn.typename
        self.context = _Context(None, self.storage)  # type: ignore[arg-type]
        self.context.storage = self.storage
        self.expiring = any(spec.after_call or spec.after_write for spec in fn.specs)
        self.specs = {spec.name: spec for spec in fn.specs}
        self.counts = counts  # the dispatcher's counters of this function type
        self.latency = latency  # takes the seconds of one call in 16
        self.failed = 0  # the index of the envelope whose call raised
        self._loop: Any = None
        self._sampled = 0  # calls since the last timed one

    def run(self, keyed: Any, entries: Any, in_place: bool, keys: Sequence[Any],
            envelopes: Sequence[Any], timestamps: Optional[Sequence[Optional[int]]], start: int,
            now: int, emit: Callable[[Context, Optional[int], List[Any]], None]) -> int:
        storage, context, fun, fn = self.storage, self.context, self.fn.fun, self.fn
        typename, is_async, expiring = fn.typename, fn.is_async, self.expiring
        storage._written, storage._now = None, now
        context._typename = typename
        calls, latency, sampled = 0, self.latency, self._sampled
        perf_counter, new, end = time.perf_counter, _new, len(envelopes)
        # one Message serves the calls while none keeps it (CPython's reference count tells)
        refcount, message = sys.getrefcount, new(Message)
        message.target_typename = typename
        i = start
        while i < end:
            envelope = envelopes[i]
            if envelope.__class__ is Message:  # from the ingress, as it came
                if envelope.target_typename != typename:
                    break
                id, argument, caller = envelope.target_id, envelope.typed_value, None
            else:
                if envelope[0] != typename:
                    break
                id, argument, caller = envelope[1], envelope[2], envelope[3]
                if argument is None:  # a keep-alive of the loop
                    i += 1
                    continue
            key = keys[i]
            slot = entries.get(key)
            if slot is None:
                slot = entries[key] = [None] * 6
            elif len(slot) != 6:
                slot = entries[key] = upgraded(slot)  # a savepoint of an earlier version
            values = slot[0]
            if values is None:
                values = slot[0] = {}
            if expiring:
                storage._written = self._unexpired(slot, values, now)
            storage._values = values
            context._address, context._id, context._caller = None, id, caller
            if refcount(message) > 2:  # the last call kept its message: a new one
                message = new(Message)
                message.target_typename = typename
            message.target_id, message.typed_value = id, argument
            sampled += 1
            timed = latency is not None and sampled >= 16
            started = perf_counter() if timed else 0.0
            try:
                if is_async:
                    self._await(fun(context, message))
                else:
                    fun(context, message)
            except Exception as exc:
                self.failed = i
                self._sampled = sampled
                raise FunctionInvocationError(typename, id, message, exc) from exc
            if timed:
                latency(perf_counter() - started)
                sampled = 0
            calls += 1
            if expiring:
                slot[1], slot[5] = now, storage._written or None
            if not in_place:
                entries[key] = slot  # (a store's mapping: written back)
            if context._messages or context._egress or context._delayed:
                keyed.current_key = key
                emit(context, timestamps[i] if timestamps is not None else None, slot)
            i += 1
        self._sampled = sampled
        if self.counts is not None:
            self.counts[0] += calls
            self.counts[1] += calls
        return i

    def _unexpired(self, slot: List[Any], values: Dict[str, Any], now: int) -> Dict[str, int]:
        """Drop the values expired by now; the written times (kept for expiring specs)."""
        written = slot[5] or {}
        specs, last_call = self.specs, slot[1]
        for name in [n for n in values if n in specs]:
            if expired(specs[name], written.get(name), last_call, now):
                del values[name]
                written.pop(name, None)
        return written

    def _await(self, coroutine: Any) -> Any:
        if self._loop is None:
            import asyncio
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None
