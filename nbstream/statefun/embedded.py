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
>>> values = {}
>>> message = message_builder("example/counter", "7", int_value=5)
>>> from collections import namedtuple  # the runtime's envelopes have .value and .caller
>>> envelopes = [namedtuple("Envelope", "value caller")(message.typed_value, None)] * 2
>>> runner.run("example/counter", "7", values, None, 0, envelopes, [0, 1], None,
...            lambda context, ts: None)
2
>>> values
{'count': 10}
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

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


def _live_property(name: str, tpe: Type, check: Callable[[Any], Any], default: Any) -> property:
    """A value of a built-in type, kept as the Python value it reads back as."""
    typename, serializer = tpe.typename, tpe.serializer()

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

    __slots__ = ("_typename", "_id")

    @property
    def address(self) -> SdkAddress:
        address = self._address
        if address is None:
            address = self._address = address_of(self._typename, self._id)
        return address


def _message(typename: str, id: str, argument: TypedValue) -> Message:
    """A Message of the runtime's (its parts were checked at the ingress)."""
    message = _new(Message)
    message.target_typename, message.target_id, message.typed_value = typename, id, argument
    return message


_new = object.__new__


class EmbeddedRunner:
    """Runs one function type's messages, address by address, on a reused context.

    ``run(typename, id, values, written, now, envelopes, indices, timestamps, emit)`` calls
    the function once per envelope ``envelopes[i]`` for ``i`` in ``indices`` (skipping
    keep-alives) with ``values`` (name -> value, changed in place) as the address's storage;
    after a call that asked for effects, ``emit(context, timestamp)`` takes them (and
    empties the context's lists). It returns the number of calls; a failing call raises
    :class:`FunctionInvocationError`."""

    __slots__ = ("fn", "context", "storage", "expiring", "counts", "failed", "_loop")

    def __init__(self, fn: StatefulFunction, counts: Optional[List[int]] = None) -> None:
        self.fn = fn
        self.storage = storage_class(fn.specs)()
        self.storage._typename = fn.typename
        self.context = _Context(None, self.storage)  # type: ignore[arg-type]
        self.expiring = any(spec.after_call or spec.after_write for spec in fn.specs)
        self.counts = counts  # the dispatcher's counters of this function type
        self.failed = 0  # the index of the envelope whose call raised
        self._loop: Any = None

    def run(self, typename: str, id: str, values: Dict[str, Any], written: Optional[Dict[str, int]],
            now: int, envelopes: Sequence[Any], indices: Iterable[int],
            timestamps: Optional[Sequence[Optional[int]]],
            emit: Callable[[Context, Optional[int]], None]) -> int:
        storage, context, fun = self.storage, self.context, self.fn.fun
        storage._values, storage._written, storage._now = values, written, now
        context._address, context._typename, context._id = None, typename, id
        is_async, calls = self.fn.is_async, 0
        for i in indices:
            envelope = envelopes[i]
            argument = envelope.value
            if argument is None:
                continue  # a keep-alive of the loop
            context._caller = envelope.caller
            message = _message(typename, id, argument)
            try:
                if is_async:
                    self._await(fun(context, message))
                else:
                    fun(context, message)
            except Exception as exc:
                self.failed = i
                raise FunctionInvocationError(typename, id, message, exc) from exc
            calls += 1
            if context._messages or context._egress or context._delayed:
                emit(context, timestamps[i] if timestamps is not None else None)
        return calls

    def _await(self, coroutine: Any) -> Any:
        if self._loop is None:
            import asyncio
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None
