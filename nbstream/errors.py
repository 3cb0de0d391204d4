"""Errors raised by nbstream.

Every error a user can meet derives from :class:`NbstreamError`. A failure inside a
user function surfaces as :class:`UserFunctionError`, which names the step, the
function and the record, and keeps the user's exception as ``__cause__`` so the
original traceback is shown.
"""

from __future__ import annotations

import numbers
import os
from types import TracebackType
from typing import Any, Optional

__all__ = [
    "NbstreamError",
    "PlanError",
    "JobFailedError",
    "UserFunctionError",
    "JobCancelledError",
    "NotAvailableError",
    "describe_function",
    "short_repr",
    "USER_ERRORS",
    "whole_number",
]

_MAX_REPR = 200

#: What a user function may raise that fails its job (named step, function, record) and
#: nothing else: ``sys.exit()`` and ``KeyboardInterrupt`` inside a function are its
#: errors too. Workers ignore SIGINT and tasks run off the main thread, so a kernel
#: interrupt never arrives here as a KeyboardInterrupt.
USER_ERRORS = (Exception, SystemExit, KeyboardInterrupt)


class NbstreamError(Exception):
    """Base class of every error nbstream raises."""


class PlanError(NbstreamError, ValueError):
    """The pipeline cannot be built or planned (raised before anything runs)."""


class JobFailedError(NbstreamError):
    """A job failed while it ran."""


class JobCancelledError(NbstreamError):
    """A result was asked of a job that was cancelled."""


class NotAvailableError(NbstreamError):
    """A PyFlink feature nbstream does not provide (yet), named with the reason."""


class UserFunctionError(JobFailedError):
    """A user function raised while processing a record.

    Attributes: ``step`` (operator name), ``function`` (the user function's name),
    ``record`` (the offending record, or None), ``subtask`` (index of the parallel
    instance). The user's exception is ``__cause__``.
    """

    def __init__(self, step: str, function: str, record: Any, cause: BaseException,
                 subtask: int = 0, parallelism: int = 1, has_record: bool = True,
                 phase: str = "") -> None:
        self.step = step
        self.function = function
        self.record = record
        self.subtask = subtask
        self.cause = cause
        where = f"step '{step}'"
        if parallelism > 1:
            where += f" (subtask {subtask + 1}/{parallelism})"
        what = f" in {function}" if function else ""
        if phase:
            what += f" ({phase})"
        on = f" on record {short_repr(record)}" if has_record else ""
        super().__init__(f"{where} failed{what}{on}: {type(cause).__name__}: {cause}")
        cause.__traceback__ = _from_user_code(cause.__traceback__)

    def __reduce__(self):  # picklable across worker processes (the record as text if it is not)
        return (_rebuild_user_error, (self.args[0], self.step, self.function,
                                      _picklable_or_repr(self.record), self.subtask, self.cause))


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _from_user_code(tb: Optional[TracebackType]) -> Optional[TracebackType]:
    """The traceback from the first frame outside nbstream on: the user's error shows
    the user's frames (the loop that called the function is nbstream's business)."""
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return tb


def _picklable_or_repr(value: Any) -> Any:
    import pickle

    try:
        pickle.dumps(value)
    except Exception:
        return short_repr(value)
    return value


def _rebuild_user_error(message, step, function, record, subtask, cause):
    err = UserFunctionError.__new__(UserFunctionError)
    Exception.__init__(err, message)
    err.step, err.function, err.record, err.subtask, err.cause = (
        step, function, record, subtask, cause)
    err.__cause__ = cause
    return err


def whole_number(value: Any, what: str, minimum: Optional[int] = None,
                 maximum: Optional[int] = None, text: bool = False) -> int:
    """``value`` as an int, or a :class:`PlanError` naming ``what`` and the value.

    Takes ints and integral numbers (numpy's too) and, with ``text`` (configuration
    values), strings of digits; never a bool or a float with a fraction.

    >>> whole_number("4", "configuration key 'parallelism.default'", minimum=1, text=True)
    4
    >>> whole_number("abc", "configuration key 'parallelism.default'", minimum=1, text=True)
    Traceback (most recent call last):
    ...
    nbstream.errors.PlanError: configuration key 'parallelism.default' must be a positive int, not 'abc'
    """
    number: Optional[int] = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif text and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value)
    low_ok = minimum is None or (number is not None and number >= minimum)
    high_ok = maximum is None or (number is not None and number <= maximum)
    if number is None or not low_ok or not high_ok:
        kind = ("a positive int" if minimum == 1 and maximum is None else
                "a non-negative int" if minimum == 0 and maximum is None else
                f"an int in {minimum}..{maximum}" if minimum is not None and maximum is not None
                else f"an int >= {minimum}" if minimum is not None else "an int")
        raise PlanError(f"{what} must be {kind}, not {short_repr(value)}")
    return number


def short_repr(value: Any, limit: int = _MAX_REPR) -> str:
    """``repr(value)`` cut to ``limit`` characters (never raises)."""
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__} (repr failed: {exc})>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_function(fn: Any) -> str:
    """A readable name for a user function: qualified name and, when known, file:line."""
    target = getattr(fn, "__func__", fn)
    name = getattr(target, "__qualname__", None)
    if name is None:
        name = type(fn).__qualname__
    code = getattr(target, "__code__", None)
    if code is not None:
        return f"{name} ({where_in(code)})"
    return name


def where_in(code: Any, line: Optional[int] = None) -> str:
    """``file:line`` of a code object (its first line unless ``line``), the file shortened
    to its folder and name."""
    return f"{_short_file(code.co_filename)}:{code.co_firstlineno if line is None else line}"


def _short_file(path: str) -> str:
    if path.startswith("<"):
        return path
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-2:])
