"""Function registries, address-scoped storage, the invocation context, and the batch
runner that both the request-reply handler and the embedded runtime use.

>>> from nbstream.statefun import StatefulFunctions, ValueSpec, IntType, message_builder
>>> functions = StatefulFunctions()
>>> @functions.bind("example/counter", [ValueSpec("count", IntType)])
... def counter(context, message):
...     context.storage.count = (context.storage.count or 0) + message.as_int()
>>> fn = functions.for_typename("example/counter")
>>> result = run_batch(fn, "7", {"count": None},
...                    [(None, message_builder("example/counter", "7", int_value=5).typed_value)])
>>> [(name, value.value.hex(' ')) for name, value in result.mutations]
[('count', '0d 05 00 00 00')]
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import timedelta
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

from .core import SdkAddress, ValueSpec, parse_typename
from .errors import FunctionInvocationError, UnknownFunctionTypeError
from .messages import EgressMessage, Message
from .storage import Cell, make_address_storage_spec
from .types import Type, TypedValue

__all__ = ["StatefulFunctions", "StatefulFunction", "Context", "DelayedMessage", "BatchResult",
           "run_batch", "run_batch_async", "Invocation"]


# -- registry ----------------------------------------------------------------------------------

class StatefulFunction:
    """A bound function: its code, its value specs (and ``storage_spec``, the storage
    made from them) and whether it is ``async def``."""

    __slots__ = ("typename", "fun", "specs", "is_async", "storage_spec", "_cell_types")

    def __init__(self, typename: str, fun: Callable[..., Any], specs: Sequence[ValueSpec]) -> None:
        self.typename, self.fun, self.specs = typename, fun, list(specs)
        self.is_async = inspect.iscoroutinefunction(fun)
        self.storage_spec = make_address_storage_spec(self.specs)
        self._cell_types = [(spec.name, spec.type, spec.type.serializer()) for spec in self.specs]

    def new_storage(self, cells: Dict[str, Cell]) -> Any:
        return self.storage_spec.make_instance(cells, self.typename)

    def __reduce__(self) -> Any:  # the storage class is rebuilt on the other side
        return (StatefulFunction, (self.typename, self.fun, self.specs))

    def invoke(self, id: Union[str, SdkAddress], state: Mapping[str, Optional[TypedValue]],
               invocations: Iterable["Invocation"]) -> "BatchResult":
        """Run one batch for the address ``id`` (see :func:`run_batch`)."""
        return run_batch(self, id, state, invocations)

    async def invoke_async(self, id: Union[str, SdkAddress], state: Mapping[str, Optional[TypedValue]],
                           invocations: Iterable["Invocation"]) -> "BatchResult":
        """:meth:`invoke`, awaiting an ``async def`` function in the running loop."""
        return await run_batch_async(self, id, state, invocations)


def _positional_parameters(fun: Callable[..., Any]) -> List[str]:
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in inspect.signature(fun).parameters.values() if p.kind in kinds]


class StatefulFunctions:
    """A registry of functions by typename.

    >>> functions = StatefulFunctions()
    >>> @functions.bind("example/hello")
    ... def hello(context, message):
    ...     pass
    >>> functions.for_typename("example/hello").fun is hello
    True
    """

    __slots__ = ("_functions",)

    def __init__(self) -> None:
        self._functions: Dict[str, StatefulFunction] = {}

    def register(self, typename: str, fun: Callable[..., Any],
                 specs: Optional[List[ValueSpec]] = None) -> None:
        """Bind ``fun(context, message)`` to ``typename`` (replacing an earlier binding)."""
        if fun is None:
            raise ValueError("function instance must be provided")
        if not typename:
            raise ValueError("function typename must be provided")
        parse_typename(typename)
        params = _positional_parameters(fun)
        if len(params) != 2:
            raise ValueError(f"The registered function {typename} does not expect a context and a "
                             f"message but rather {params}.")
        self._functions[typename] = StatefulFunction(typename, fun, specs or [])

    def bind(self, typename: str, specs: Optional[List[ValueSpec]] = None
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A decorator registering the function under ``typename``; returns it unchanged."""
        def wrapper(function: Callable[..., Any]) -> Callable[..., Any]:
            self.register(typename, function, specs)
            return function
        return wrapper

    def for_typename(self, typename: str) -> StatefulFunction:
        """The function bound to ``typename``; :class:`UnknownFunctionTypeError` if none is."""
        try:
            return self._functions[typename]
        except KeyError:
            raise UnknownFunctionTypeError(typename, self._functions) from None

    def typenames(self) -> List[str]:
        return list(self._functions)

    def __contains__(self, typename: object) -> bool:
        return typename in self._functions

    def __repr__(self) -> str:
        return f"StatefulFunctions({', '.join(self._functions) or 'empty'})"


# -- context -----------------------------------------------------------------------------------

@dataclass
class DelayedMessage:
    """A ``send_after`` (``message`` set) or a cancellation (``is_cancellation``)."""

    is_cancellation: bool
    delay_ms: int = 0
    message: Optional[Message] = None
    cancellation_token: str = ""


class Context:
    """What a function sees of the runtime while it handles a message: its ``address``, the
    ``caller`` (None from an ingress), its ``storage``, and the effects it may ask for. The
    effects are applied after the function returns, all of the batch or none."""

    __slots__ = ("_address", "_caller", "_storage", "_messages", "_delayed", "_egress")

    def __init__(self, address: SdkAddress, storage: Any) -> None:
        self._address, self._storage, self._caller = address, storage, None
        self._messages: List[Message] = []
        self._delayed: List[DelayedMessage] = []
        self._egress: List[EgressMessage] = []

    @property
    def address(self) -> SdkAddress:
        return self._address

    @property
    def caller(self) -> Optional[SdkAddress]:
        return self._caller

    @property
    def storage(self) -> Any:
        return self._storage

    def send(self, message: Message) -> None:
        """Send ``message`` to its target function."""
        self._messages.append(message)

    def send_after(self, duration: timedelta, message: Message, cancellation_token: str = "") -> None:
        """Send ``message`` after ``duration``; a non-empty ``cancellation_token`` lets a later
        :meth:`cancel_delayed_message` withdraw it."""
        delay = int(duration.total_seconds() * 1000.0)
        self._delayed.append(DelayedMessage(False, delay, message, cancellation_token))

    def cancel_delayed_message(self, cancellation_token: str) -> None:
        """Withdraw the delayed message sent with this token (best effort: no-op once delivered)."""
        self._delayed.append(DelayedMessage(True, cancellation_token=cancellation_token))

    def send_egress(self, message: EgressMessage) -> None:
        """Emit ``message`` to its egress."""
        self._egress.append(message)


# -- running a batch ---------------------------------------------------------------------------

#: one invocation of a batch: the caller (None from an ingress) and the argument
Invocation = Tuple[Optional[SdkAddress], TypedValue]


@dataclass
class BatchResult:
    """What a batch asks of the runtime: ``missing`` specs (then nothing ran), or its effects;
    ``mutations`` lists the changed state in spec order, ``None`` meaning deleted."""

    missing: List[ValueSpec] = field(default_factory=list)
    messages: List[Message] = field(default_factory=list)
    delayed: List[DelayedMessage] = field(default_factory=list)
    egress: List[EgressMessage] = field(default_factory=list)
    mutations: List[Tuple[str, Optional[TypedValue]]] = field(default_factory=list)


_PARSED: Dict[str, Tuple[str, str]] = {}


def address_of(typename: str, id: str) -> SdkAddress:
    """The address of ``id`` of the function type ``typename``."""
    parsed = _PARSED.get(typename)
    if parsed is None:
        parsed = _PARSED[typename] = parse_typename(typename)
    # SdkAddress(namespace, name, id, typename) without the frozen dataclass's four
    # object.__setattr__ calls (the runner makes one address per message): the same object
    address = object.__new__(SdkAddress)
    address.__dict__.update(namespace=parsed[0], name=parsed[1], id=id, typename=typename)
    return address


def _prepare(fn: StatefulFunction, id: Union[str, SdkAddress],
             state: Mapping[str, Optional[TypedValue]]) -> Union[List[ValueSpec], Context]:
    missing = [spec for spec in fn.specs if spec.name not in state]
    if missing:
        return missing
    cells = {name: Cell(tpe, state[name], serializer) for name, tpe, serializer in fn._cell_types}
    address = id if isinstance(id, SdkAddress) else address_of(fn.typename, id)
    return Context(address, fn.new_storage(cells))


def _collect(context: Context) -> BatchResult:
    cells = context._storage._cells
    return BatchResult([], context._messages, context._delayed, context._egress,
                       [(name, cell.typed_value) for name, cell in cells.items() if cell.dirty])


def _failed(fn: StatefulFunction, context: Context, argument: TypedValue,
            cause: BaseException) -> FunctionInvocationError:
    shown = Message(fn.typename, context.address.id or "?", argument)
    return FunctionInvocationError(fn.typename, context.address.id, shown, cause)


def run_batch(fn: StatefulFunction, id: Union[str, SdkAddress],
              state: Mapping[str, Optional[TypedValue]], invocations: Iterable[Invocation]
              ) -> BatchResult:
    """Run ``fn`` for the address ``id`` once per invocation over one storage view; the specs
    missing from ``state`` (a name absent, not a value None) come back instead and nothing runs.
    An ``async def`` function runs in its own event loop (see :func:`run_batch_async`)."""
    if fn.is_async:
        import asyncio
        return asyncio.run(run_batch_async(fn, id, state, invocations))
    context = _prepare(fn, id, state)
    if isinstance(context, list):
        return BatchResult(missing=context)
    fun, typename, target_id = fn.fun, context._address.typename, context._address.id
    for caller, argument in invocations:
        context._caller = caller
        try:
            fun(context, Message(typename, target_id, argument))
        except Exception as exc:
            raise _failed(fn, context, argument, exc) from exc
    return _collect(context)


async def run_batch_async(fn: StatefulFunction, id: Union[str, SdkAddress],
                          state: Mapping[str, Optional[TypedValue]],
                          invocations: Iterable[Invocation]) -> BatchResult:
    """:func:`run_batch` awaiting ``async def`` functions (a plain function is called)."""
    context = _prepare(fn, id, state)
    if isinstance(context, list):
        return BatchResult(missing=context)
    fun, typename, target_id = fn.fun, context._address.typename, context._address.id
    for caller, argument in invocations:
        context._caller = caller
        try:
            outcome = fun(context, Message(typename, target_id, argument))
            if fn.is_async:
                await outcome
        except Exception as exc:
            raise _failed(fn, context, argument, exc) from exc
    return _collect(context)
