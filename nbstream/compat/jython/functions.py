"""The old Flink Python API's function classes, with their Java-style methods.

A program subclasses them as it subclassed Flink's Java interfaces through Jython:
``Tokenizer(FlatMapFunction)`` with ``flatMap(self, value, collector)``,
``Selector(KeySelector)`` with ``getKey(self, value)``, ... Each class is also an
nbstream function (``FlatMapFunction.flat_map`` calls ``flatMap`` with a collector), so
an instance works in nbstream's own API too; rich functions' ``open(config)`` receives
nbstream's runtime context.

>>> class Tokenizer(FlatMapFunction):
...     def flatMap(self, value, collector):
...         for word in value.split():
...             collector.collect((1, word))
>>> Tokenizer().flat_map("to be")
[(1, 'to'), (1, 'be')]
>>> class Broken(FlatMapFunction):
...     def flat_map_typo(self, value, collector):
...         pass
>>> try:
...     check("flat_map", Broken(), FlatMapFunction)
... except ProgramError as exc:
...     print(exc)
flat_map(): Broken (a FlatMapFunction) has no method flatMap(self, value, collector)
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Iterable, List, Optional, Tuple, Type

from ...api import functions as F
from ...errors import NbstreamError

__all__ = [
    "ProgramError", "Collector", "check", "MapFunction", "FlatMapFunction", "FilterFunction",
    "ReduceFunction", "KeySelector", "SourceFunction", "ParallelSourceFunction", "SinkFunction",
    "RichSinkFunction", "WindowFunction",
    "OutputSelector", "SerializationSchema", "SimpleStringSchema", "RichMapFunction",
    "RichFlatMapFunction", "RichFilterFunction", "RichReduceFunction", "RichSourceFunction",
    "RichParallelSourceFunction", "RichWindowFunction",
]

class ProgramError(NbstreamError, TypeError):
    """A program that breaks the old API's rules: no ``main(factory)``, a function class
    without the method the old API calls, a function where another kind is needed."""


class Collector:
    """What ``flatMap`` and ``apply`` emit into: ``collector.collect(value)``."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: List[Any] = []

    def collect(self, value: Any) -> None:
        self.items.append(value)


class _Java:
    """Mixin: the Java-style method (name, signature) a subclass must define, and the
    Pythonic method that may stand in for it."""

    _java: Tuple[str, str] = ("", "")
    _python: Optional[str] = None


def _defines(obj: Any, name: Optional[str], base: type) -> bool:
    """True if ``obj``'s class defines ``name`` itself (not only ``base``)."""
    if name is None:
        return False
    return any(name in vars(k) for k in type(obj).__mro__ if k not in base.__mro__)


def check(step: str, fn: Any, base: Type[Any]) -> Any:
    """``fn`` if it is a ``base`` defining its method; otherwise a TypeError that names
    the step, the class and the method the old API calls."""
    kind = base.__name__
    if not isinstance(fn, base):
        raise ProgramError(f"{step}(): needs a {kind} (from the old Flink Python API), "
                        f"not {type(fn).__name__}")
    java, signature = base._java
    if not (_defines(fn, java, base) or _defines(fn, base._python, base)):
        raise ProgramError(f"{step}(): {type(fn).__name__} (a {kind}) has no method "
                        f"{java}({signature})")
    return fn


def _missing(fn: Any, base: Type[Any]) -> ProgramError:
    java, signature = base._java
    return ProgramError(f"{type(fn).__name__} (a {base.__name__}) has no method "
                     f"{java}({signature})")


class MapFunction(_Java, F.MapFunction):
    """``map(self, value)`` returns one record."""

    _java = ("map", "self, value")

    def map(self, value: Any) -> Any:
        raise _missing(self, MapFunction)


class FlatMapFunction(_Java, F.FlatMapFunction):
    """``flatMap(self, value, collector)`` emits with ``collector.collect(x)``."""

    _java = ("flatMap", "self, value, collector")
    _python = "flat_map"

    def flatMap(self, value: Any, collector: Collector) -> None:
        raise _missing(self, FlatMapFunction)

    def flat_map(self, value: Any) -> Iterable[Any]:
        out = Collector()
        self.flatMap(value, out)
        return out.items


class FilterFunction(_Java, F.FilterFunction):
    """``filter(self, value)`` is true for the records to keep."""

    _java = ("filter", "self, value")

    def filter(self, value: Any) -> bool:
        raise _missing(self, FilterFunction)


class ReduceFunction(_Java, F.ReduceFunction):
    """``reduce(self, value1, value2)`` combines two records of a key."""

    _java = ("reduce", "self, value1, value2")

    def reduce(self, value1: Any, value2: Any) -> Any:
        raise _missing(self, ReduceFunction)


class KeySelector(_Java, F.KeySelector):
    """``getKey(self, value)`` returns the record's key."""

    _java = ("getKey", "self, value")
    _python = "get_key"

    def getKey(self, value: Any) -> Any:
        raise _missing(self, KeySelector)

    def get_key(self, value: Any) -> Any:
        return self.getKey(value)


class SourceFunction(_Java, F.SourceFunction):
    """``run(self, ctx)`` emits with ``ctx.collect(value)``; ``cancel(self)`` stops it.
    A non-parallel source (one instance), as in Flink."""

    _java = ("run", "self, ctx")

    def run(self, ctx: Any) -> None:
        raise _missing(self, SourceFunction)


class ParallelSourceFunction(SourceFunction):
    """A source that runs as one instance per parallel subtask."""


class SinkFunction(_Java, F.SinkFunction):
    """``invoke(self, value)`` receives every record (for ``add_sink``); it runs in the
    process that runs the job (the notebook's kernel, the runner)."""

    _java = ("invoke", "self, value")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        method = cls.__dict__.get("invoke")
        if callable(method) and len(inspect.signature(method).parameters) == 2:
            @functools.wraps(method)
            def invoke(self: Any, value: Any, context: Any = None) -> None:
                method(self, value)  # the old API's invoke(value): no context
            cls.invoke = invoke  # type: ignore[method-assign]

    def invoke(self, value: Any, context: Any = None) -> None:
        raise _missing(self, SinkFunction)


class RichSinkFunction(SinkFunction):
    """A SinkFunction with ``open(self, config)`` and ``close(self)``."""


class WindowFunction(_Java, F.Function):
    """``apply(self, key, window, values, collector)`` emits the results of one window
    (``values`` is a list of the window's records)."""

    _java = ("apply", "self, key, window, values, collector")


class OutputSelector(_Java, F.Function):
    """``select(self, value)`` returns the names of the split streams a record goes to."""

    _java = ("select", "self, value")


class SerializationSchema(_Java, F.Function):
    """``serialize(self, value)`` returns the bytes (or text) ``write_to_socket`` sends."""

    _java = ("serialize", "self, value")


class SimpleStringSchema(SerializationSchema):
    """Sends ``str(value)`` as UTF-8 (no separator, as Flink's)."""

    def serialize(self, value: Any) -> bytes:
        return str(value).encode("utf-8")


class RichMapFunction(MapFunction):
    """A MapFunction with ``open(self, config)`` and ``close(self)``."""


class RichFlatMapFunction(FlatMapFunction):
    """A FlatMapFunction with ``open(self, config)`` and ``close(self)``."""


class RichFilterFunction(FilterFunction):
    """A FilterFunction with ``open(self, config)`` and ``close(self)``."""


class RichReduceFunction(ReduceFunction):
    """A ReduceFunction with ``open(self, config)`` and ``close(self)``."""


class RichSourceFunction(SourceFunction):
    """A SourceFunction with ``open(self, config)`` and ``close(self)``."""


class RichParallelSourceFunction(ParallelSourceFunction):
    """A ParallelSourceFunction with ``open(self, config)`` and ``close(self)``."""


class RichWindowFunction(WindowFunction):
    """A WindowFunction with ``open(self, config)`` and ``close(self)``."""
