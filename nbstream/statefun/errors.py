"""Errors of Stateful Functions (all :class:`nbstream.errors.NbstreamError`)."""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import NbstreamError, short_repr

__all__ = ["StatefulFunctionError", "FunctionInvocationError", "UnknownFunctionTypeError",
           "ProtobufMissingError"]


class StatefulFunctionError(NbstreamError):
    """Base class of the Stateful Functions errors."""


class FunctionInvocationError(StatefulFunctionError):
    """A function raised: names its type, the id it ran for and the message it was handling.
    Nothing of its batch took effect. The function's exception is ``__cause__``."""

    def __init__(self, typename: str, id: str, message: Any, cause: BaseException) -> None:
        self.typename, self.id, self.message, self.cause = typename, id, message, cause
        super().__init__(f"stateful function {typename} (id {id!r}) raised on message "
                         f"{short_repr(message)}: {type(cause).__name__}: {cause}; "
                         f"no effect of its batch was applied")

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.args[0], self.typename, self.id, self.cause))


def _rebuild(cls: type, text: str, typename: str, id: str, cause: BaseException) -> Any:
    err = cls.__new__(cls)
    Exception.__init__(err, text)
    err.typename, err.id, err.message, err.cause = typename, id, None, cause
    err.__cause__ = cause
    return err


class UnknownFunctionTypeError(StatefulFunctionError, KeyError):
    """A message for a function type no registry binds (a ``KeyError``, as the SDK's
    registry raises)."""

    def __init__(self, typename: str, known: Iterable[str]) -> None:
        self.typename = typename
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"Unable to find a function of type {typename} (bound types: {names})")

    def __str__(self) -> str:  # KeyError would quote the text
        return str(self.args[0])


class ProtobufMissingError(StatefulFunctionError, ImportError):
    """The request-reply protocol and the 2.x API need the protobuf package."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs the protobuf package: pip install 'nbstream[statefun]'")
