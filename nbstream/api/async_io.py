"""Async I/O, as PyFlink 2.x has it: ``AsyncDataStream``, ``AsyncFunction`` and retry strategies.

Each record starts a coroutine (an HTTP call, a database lookup); up to ``capacity`` of
them are in flight per parallel instance, on one event loop per instance. ``ordered_wait``
emits results in input order; ``unordered_wait`` as calls complete, but never across a
watermark. A call slower than ``timeout`` calls ``timeout(value)`` (which raises by default).

>>> import asyncio
>>> from nbstream import StreamExecutionEnvironment, Time
>>> async def enrich(x):
...     await asyncio.sleep(0.01 * (3 - x))   # the last record answers first
...     return [x * 10]
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> ds = AsyncDataStream.ordered_wait(env.from_collection([1, 2, 3]), enrich, Time.seconds(5))
>>> ds.execute_and_collect(limit=3)
[10, 20, 30]
"""

from __future__ import annotations

import abc
import inspect
from typing import Any, Callable, List, Optional, Union

from ..plan.logical import UserFn
from ..runtime.durations import to_millis
from .functions import Function

__all__ = ["AsyncFunction", "AsyncRetryPredicate", "AsyncRetryStrategy", "AsyncDataStream",
           "RetryPredicate", "NoRetryStrategy", "FixedDelayRetryStrategy",
           "ExponentialBackoffDelayRetryStrategy", "NO_RETRY_STRATEGY",
           "empty_result_predicate", "has_exception_predicate", "exception_type_predicate"]

ResultPredicate = Optional[Callable[[List[Any]], bool]]
ExceptionPredicate = Optional[Callable[[Exception], bool]]


class AsyncFunction(Function):
    """Starts an asynchronous call per record: ``async def async_invoke(self, value) -> list``.

    ``timeout(value)`` is called when a call takes longer than the operator's timeout; it
    returns the results to emit instead, or raises (the default) to fail the job.
    """

    @abc.abstractmethod
    async def async_invoke(self, value: Any) -> List[Any]: ...

    def timeout(self, value: Any) -> List[Any]:
        raise TimeoutError(f"the async call timed out for input: {value!r}")


class AsyncRetryPredicate(abc.ABC):
    """When a call is retried: on its result and/or on its exception."""

    @abc.abstractmethod
    def result_predicate(self) -> ResultPredicate: ...

    @abc.abstractmethod
    def exception_predicate(self) -> ExceptionPredicate: ...


class AsyncRetryStrategy(abc.ABC):
    """Whether and when a call is attempted again (``current_attempts`` starts at 1)."""

    @abc.abstractmethod
    def can_retry(self, current_attempts: int) -> bool: ...

    @abc.abstractmethod
    def get_backoff_time_millis(self, current_attempts: int) -> int: ...

    @abc.abstractmethod
    def get_retry_predicate(self) -> AsyncRetryPredicate: ...

    @staticmethod
    def no_restart() -> "AsyncRetryStrategy":
        return NO_RETRY_STRATEGY

    @staticmethod
    def fixed_delay(max_attempts: int, backoff_time_millis: int,
                    result_predicate: ResultPredicate,
                    exception_predicate: ExceptionPredicate) -> "AsyncRetryStrategy":
        """Retry up to ``max_attempts`` times, ``backoff_time_millis`` apart.

        >>> s = AsyncRetryStrategy.fixed_delay(2, 100, None, has_exception_predicate)
        >>> [s.can_retry(n) for n in (1, 2, 3)], s.get_backoff_time_millis(2)
        ([True, True, False], 100)
        """
        return FixedDelayRetryStrategy(max_attempts, backoff_time_millis, result_predicate,
                                       exception_predicate)

    @staticmethod
    def exponential_backoff(max_attempts: int, initial_delay: int, max_retry_delay: int,
                            multiplier: float, result_predicate: ResultPredicate,
                            exception_predicate: ExceptionPredicate) -> "AsyncRetryStrategy":
        """Retry up to ``max_attempts`` times, the delay growing by ``multiplier`` up to
        ``max_retry_delay``.

        >>> s = AsyncRetryStrategy.exponential_backoff(5, 10, 50, 2.0, None, has_exception_predicate)
        >>> [s.get_backoff_time_millis(n) for n in (1, 2, 3, 4)]
        [10, 20, 40, 50]
        """
        return ExponentialBackoffDelayRetryStrategy(max_attempts, initial_delay, max_retry_delay,
                                                    multiplier, result_predicate,
                                                    exception_predicate)


class RetryPredicate(AsyncRetryPredicate):
    def __init__(self, result_predicate: ResultPredicate,
                 exception_predicate: ExceptionPredicate) -> None:
        self._result_predicate = result_predicate
        self._exception_predicate = exception_predicate

    def result_predicate(self) -> ResultPredicate:
        return self._result_predicate

    def exception_predicate(self) -> ExceptionPredicate:
        return self._exception_predicate


class NoRetryStrategy(AsyncRetryStrategy):
    def can_retry(self, current_attempts: int) -> bool:
        return False

    def get_backoff_time_millis(self, current_attempts: int) -> int:
        return -1

    def get_retry_predicate(self) -> AsyncRetryPredicate:
        return RetryPredicate(None, None)


def _positive(name: str, value: Any) -> None:
    if not value > 0:
        raise ValueError(f"{name} should be greater than zero.")


class FixedDelayRetryStrategy(AsyncRetryStrategy):
    def __init__(self, max_attempts: int, backoff_time_millis: int,
                 result_predicate: ResultPredicate, exception_predicate: ExceptionPredicate) -> None:
        _positive("max_attempts", max_attempts)
        _positive("backoff_time_millis", backoff_time_millis)
        self._max_attempts = max_attempts
        self._backoff = backoff_time_millis
        self._predicate = RetryPredicate(result_predicate, exception_predicate)

    def can_retry(self, current_attempts: int) -> bool:
        return current_attempts <= self._max_attempts

    def get_backoff_time_millis(self, current_attempts: int) -> int:
        return self._backoff

    def get_retry_predicate(self) -> AsyncRetryPredicate:
        return self._predicate


class ExponentialBackoffDelayRetryStrategy(AsyncRetryStrategy):
    """The delay before retry ``n`` is ``initial_delay * multiplier ** (n - 1)``, at most
    ``max_retry_delay`` (computed per call, so concurrent calls do not share a delay)."""

    def __init__(self, max_attempts: int, initial_delay: int, max_retry_delay: int,
                 multiplier: float, result_predicate: ResultPredicate,
                 exception_predicate: ExceptionPredicate) -> None:
        for name, value in (("max_attempts", max_attempts), ("initial_delay", initial_delay),
                            ("max_retry_delay", max_retry_delay), ("multiplier", multiplier)):
            _positive(name, value)
        self._max_attempts = max_attempts
        self._initial, self._max_delay, self._multiplier = initial_delay, max_retry_delay, multiplier
        self._predicate = RetryPredicate(result_predicate, exception_predicate)

    def can_retry(self, current_attempts: int) -> bool:
        return current_attempts <= self._max_attempts

    def get_backoff_time_millis(self, current_attempts: int) -> int:
        delay = self._initial * self._multiplier ** max(0, current_attempts - 1)
        return int(min(delay, self._max_delay))

    def get_retry_predicate(self) -> AsyncRetryPredicate:
        return self._predicate


NO_RETRY_STRATEGY: AsyncRetryStrategy = NoRetryStrategy()


# predicates of ``pyflink.datastream.async_retry_predicates`` ----------------------------------
def empty_result_predicate(result: Optional[List[Any]]) -> bool:
    """Retry when the call returned nothing."""
    return result is None or len(result) == 0


def has_exception_predicate(error: Optional[BaseException]) -> bool:
    """Retry on any exception."""
    return error is not None


def exception_type_predicate(error: Optional[BaseException], expected_error_type: type) -> bool:
    """Retry on exceptions of ``expected_error_type`` (bind it with ``functools.partial``)."""
    return isinstance(error, expected_error_type)


class AsyncDataStream:
    """Applies an :class:`AsyncFunction` (or a plain ``async def`` callable) to a stream."""

    @staticmethod
    def _accept(data_stream: Any) -> None:
        """A layer's own refusal (PyFlink's compat refuses thread mode); none here."""

    @classmethod
    def unordered_wait(cls, data_stream: Any, async_function: Any, timeout: Any,
                       capacity: int = 100, output_type: Any = None) -> Any:
        """Results in completion order (never across a watermark)."""
        return cls.unordered_wait_with_retry(
            data_stream, async_function, timeout, NO_RETRY_STRATEGY, capacity, output_type)

    @classmethod
    def unordered_wait_with_retry(cls, data_stream: Any, async_function: Any, timeout: Any,
                                  async_retry_strategy: AsyncRetryStrategy, capacity: int = 100,
                                  output_type: Any = None) -> Any:
        cls._accept(data_stream)
        return _add(data_stream, async_function, timeout, async_retry_strategy, capacity,
                    output_type, ordered=False)

    @classmethod
    def ordered_wait(cls, data_stream: Any, async_function: Any, timeout: Any,
                     capacity: int = 100, output_type: Any = None) -> Any:
        """Results in input order."""
        return cls.ordered_wait_with_retry(
            data_stream, async_function, timeout, NO_RETRY_STRATEGY, capacity, output_type)

    @classmethod
    def ordered_wait_with_retry(cls, data_stream: Any, async_function: Any, timeout: Any,
                                async_retry_strategy: AsyncRetryStrategy, capacity: int = 100,
                                output_type: Any = None) -> Any:
        cls._accept(data_stream)
        return _add(data_stream, async_function, timeout, async_retry_strategy, capacity,
                    output_type, ordered=True)


def _add(ds: Any, func: Any, timeout: Any, strategy: Any, capacity: int, output_type: Any,
         ordered: bool) -> Any:
    fn = _async_fn(func)
    timeout_ms = to_millis(timeout)
    if strategy is None:
        raise ValueError("Async retry strategy should not be None.")
    if strategy is not NO_RETRY_STRATEGY and timeout_ms <= 0:
        raise ValueError("Timeout should be configured when do async with retry.")
    if strategy.get_retry_predicate() is None:
        raise ValueError(f"Retry predicate of the async retry strategy '{type(strategy)}' is None.")
    if not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity (the calls in flight at most) must be a positive int, "
                         f"not {capacity!r}")
    return ds._add("async_wait", "AsyncWait", fn, output_type, ordered=ordered,
                   timeout_ms=timeout_ms, capacity=capacity, retry=strategy)


def _async_fn(func: Union[AsyncFunction, Callable[..., Any]]) -> UserFn:
    if isinstance(func, AsyncFunction) or hasattr(func, "async_invoke"):
        invoke = func.async_invoke
        if not inspect.iscoroutinefunction(invoke):
            raise TypeError(f"Method 'async_invoke' of class '{type(func)}' should be declared "
                            "as 'async def'.")
        return UserFn((invoke, func.timeout), owner=func, name=type(func).__qualname__)
    call = getattr(func, "__call__", None)
    if not (inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(call)):
        raise TypeError(f"an async function must be declared as 'async def' (or be an "
                        f"AsyncFunction), not {type(func).__name__} {func!r}")
    from ..errors import describe_function

    return UserFn((func, _default_timeout), owner=None, name=describe_function(func))


def _default_timeout(value: Any) -> List[Any]:
    raise TimeoutError(f"the async call timed out for input: {value!r}")
