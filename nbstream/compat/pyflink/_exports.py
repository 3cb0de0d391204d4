"""How the compatibility modules re-export nbstream's names under PyFlink's module paths.

Names resolve lazily (``import pyflink.datastream`` stays as light as ``import
nbstream``). A name PyFlink has but nbstream does not (a JVM connector, a Java-backed
class) imports as a placeholder: a program that imports it but takes another path runs,
and one that uses it (calls it, reads an attribute) gets :class:`NotAvailableError` naming
it and why.

>>> Kafka = placeholder("KafkaSource", "pyflink.datastream.connectors.kafka")
>>> Kafka.builder()
Traceback (most recent call last):
...
nbstream.compat.pyflink._exports.NotAvailableError: KafkaSource.builder (pyflink.datastream.connectors.kafka) is not available in nbstream: it needs Apache Flink's JVM runtime. Run the program on Apache Flink itself, or use nbstream's own sources and sinks (from_collection, from_iterable, read_text_file, from_dataframe, socket_text_stream, print, write_as_text, add_sink, DataFrameSink).
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ... import errors

__all__ = ["NotAvailableError", "exports", "subscriptable", "placeholder", "is_placeholder"]


class NotAvailableError(errors.NotAvailableError, ImportError):
    """A PyFlink class or module that nbstream does not provide (a JVM connector, the Table API)."""


def not_available(what: str, where: str, why: str = "") -> NotAvailableError:
    return NotAvailableError(
        f"{what} ({where}) is not available in nbstream: "
        + (why or "it needs Apache Flink's JVM runtime")
        + ". Run the program on Apache Flink itself, or use nbstream's own sources and sinks "
        "(from_collection, from_iterable, read_text_file, from_dataframe, socket_text_stream, "
        "print, write_as_text, add_sink, DataFrameSink).")


class _Missing(type):
    """The class of placeholders: calling one, or reading its attributes, raises."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        where, why = cls.__dict__.get("_nbstream_missing") or _missing_of(cls)
        raise not_available(cls.__name__, where, why)

    def __getattr__(cls, attr: str) -> Any:
        if attr.startswith("__") or attr == "_nbstream_missing":
            raise AttributeError(attr)
        where, why = _missing_of(cls)
        raise not_available(f"{cls.__name__}.{attr}", where, why)


def _missing_of(cls: type) -> Tuple[str, str]:
    for klass in cls.__mro__:
        if "_nbstream_missing" in klass.__dict__:
            return klass.__dict__["_nbstream_missing"]
    return cls.__module__, ""  # pragma: no cover - every placeholder has its own


def placeholder(name: str, where: str, why: str = "") -> type:
    """A stand-in for PyFlink's ``where.name`` that nbstream does not provide: importable
    (and usable as a base class or in annotations); calling it raises
    :class:`NotAvailableError`."""
    return _Missing(name, (), {"_nbstream_missing": (where, why), "__module__": where,
                               "__doc__": f"Not available in nbstream: {where}.{name}."})


def is_placeholder(value: Any) -> bool:
    """Whether ``value`` stands for a PyFlink name nbstream does not provide."""
    return isinstance(value, _Missing)


def exports(module: str, table: Dict[str, str], unavailable: Iterable[str] = (),
            wrap: Optional[Callable[[str, Any], Any]] = None,
            why: str = "") -> Tuple[List[str], Callable[[str], Any]]:
    """``__all__`` and a module ``__getattr__`` for a compatibility module.

    ``table`` maps each name to the module that defines it (``"nbstream"``) or to
    ``"module:attr"``; ``unavailable`` names are placeholders (see :func:`placeholder`);
    ``wrap(name, value)`` may adapt a value once, when it is first used.
    """
    namespace = importlib.import_module(module).__dict__
    missing = frozenset(unavailable)

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            if name in missing:
                namespace[name] = placeholder(name, module, why)
                return namespace[name]
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        source, _, attr = target.partition(":")
        try:
            value = getattr(importlib.import_module(source), attr or name)
        except (ImportError, AttributeError):
            raise not_available(name, module, "this version of nbstream does not have it") from None
        if wrap is not None:
            value = wrap(name, value)
        namespace[name] = value
        return value

    return sorted(table), __getattr__


#: methods whose ``None`` result PyFlink takes as "no output" (nbstream asks for an iterable)
_MAY_RETURN_NONE = ("process_element", "process_element1", "process_element2", "on_timer",
                    "process", "process_broadcast_element", "apply", "flat_map", "flat_map1",
                    "flat_map2")


def _none_is_empty(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        return () if result is None else result
    return call


def _init_subclass(cls: type, **kwargs: Any) -> None:
    for name in _MAY_RETURN_NONE:
        method = cls.__dict__.get(name)
        if callable(method):
            setattr(cls, name, _none_is_empty(method))


def subscriptable(cls: type) -> type:
    """A subclass of ``cls`` that accepts PyFlink's type parameters
    (``ProcessWindowFunction[tuple, tuple, str, TimeWindow]``) and ignores them;
    its nested ``Context`` classes accept them too, for annotations. As in PyFlink, a
    user's ``process_element`` (``on_timer``, ``process``, ...) may return None to emit
    nothing."""
    attrs: Dict[str, Any] = {"__class_getitem__": classmethod(lambda c, _item: c),
                             "__init_subclass__": classmethod(_init_subclass),
                             "__module__": cls.__module__, "__doc__": cls.__doc__,
                             "__qualname__": cls.__qualname__}
    for inner in ("Context", "OnTimerContext", "ReadOnlyContext"):
        nested = cls.__dict__.get(inner) or getattr(cls, inner, None)
        if isinstance(nested, type):
            attrs[inner] = type(inner, (nested,), {"__class_getitem__": classmethod(
                lambda c, _item: c), "__qualname__": f"{cls.__qualname__}.{inner}"})
    return type(cls.__name__, (cls,), attrs)
