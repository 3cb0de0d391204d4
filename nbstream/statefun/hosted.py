"""Registries built with the real ``statefun`` SDK, hosted by nbstream's runtime in-process.

``StatefulFunctionDataStreamBuilder.with_functions`` takes the SDK's own ``StatefulFunctions``
(or its ``RequestReplyHandler``) as well as nbstream's. nbstream does not reach into the SDK's
function objects: each batch goes through the SDK's ``handle_async`` as ``ToFunction`` bytes
and comes back as ``FromFunction`` bytes, exactly as if the SDK served it over HTTP, only
without the HTTP. The state the functions declare is learned through the protocol's handshake.

Recognised by duck typing, so nbstream never imports the SDK: a handler is an object with an
``async handle_async(bytes)`` and a ``functions`` registry; a registry is an object with
``for_typename`` and a ``_functions`` mapping of typenames (the SDK 3.x layout), whose
handler is its package's ``RequestReplyHandler``.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
from typing import Any, Dict, List, Optional, Tuple

from .core import SdkAddress, ValueSpec
from .errors import StatefulFunctionError
from .remote import ProtocolFunction

__all__ = ["HostedFunction", "hosted_functions", "is_sdk_registry"]


def is_sdk_registry(functions: Any) -> bool:
    """Whether ``functions`` is a registry or handler of the real SDK (not nbstream's)."""
    if hasattr(functions, "typenames"):  # nbstream's registries (3.x and 2.x)
        return False
    if callable(getattr(functions, "handle_async", None)):
        return True
    return callable(getattr(functions, "for_typename", None)) and isinstance(
        getattr(functions, "_functions", None), dict)


def _handler_and_registry(functions: Any) -> Tuple[Any, Any]:
    if callable(getattr(functions, "handle_async", None)):
        return functions, functions.functions
    package = importlib.import_module(type(functions).__module__.partition(".")[0])
    handler_class = getattr(package, "RequestReplyHandler", None)
    if handler_class is None:
        raise StatefulFunctionError(f"{type(functions).__module__}.{type(functions).__name__} looks "
                                    f"like a StateFun SDK registry, but its package has no "
                                    f"RequestReplyHandler to run it with")
    return handler_class(functions), functions


def hosted_functions(functions: Any) -> Dict[str, "HostedFunction"]:
    """The function types of a real-SDK registry (or handler), by typename."""
    handler, registry = _handler_and_registry(functions)
    typenames = list(getattr(registry, "_functions", None) or {})
    if not typenames:
        raise StatefulFunctionError("the StateFun SDK registry binds no function")
    return {typename: HostedFunction(typename, handler) for typename in typenames}


class HostedFunction(ProtocolFunction):
    """One function type of a real-SDK registry, called through the SDK's ``handle_async``
    on an event loop of the calling thread."""

    def __init__(self, typename: str, handler: Any) -> None:
        self.typename, self.handler = typename, handler
        self.url = f"in-process {type(handler).__module__}.{type(handler).__name__}"
        self.specs: List[ValueSpec] = []
        self._loops = threading.local()

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        del state["_loops"]
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._loops = threading.local()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: Optional[asyncio.AbstractEventLoop] = getattr(self._loops, "loop", None)
        if loop is None or loop.is_closed():
            loop = self._loops.loop = asyncio.new_event_loop()
        return loop

    def _post(self, body: bytes, address: SdkAddress) -> bytes:
        try:
            return self._loop().run_until_complete(self.handler.handle_async(body))
        except Exception as exc:  # the SDK lets a function's exception through
            raise StatefulFunctionError(
                f"stateful function {self.typename} (id {address.id!r}), hosted from the StateFun "
                f"SDK, raised: {type(exc).__name__}: {exc}; no effect of its batch was applied"
            ) from exc
