"""Turning what the user passed (a callable or a Function object) into a :class:`UserFn`."""

from __future__ import annotations

from typing import Any, Tuple, Type, Union

from ..errors import describe_function
from ..plan.logical import UserFn
from ..runtime.aggregations import get_field

__all__ = ["user_fn", "FieldKey", "key_selector_fn"]


def user_fn(step: str, func: Any, base: Union[Type[Any], Tuple[Type[Any], ...]],
            methods: Tuple[str, ...], arity_hint: str = "") -> UserFn:
    """Wrap ``func``: an instance of ``base`` contributes its ``methods``; a callable is
    used as is. Anything else is refused with a message naming the step."""
    if isinstance(func, base):
        calls = tuple(getattr(func, m) for m in methods)
        return UserFn(calls, owner=func, name=type(func).__qualname__)
    if callable(func) and len(methods) == 1:
        return UserFn((func,), owner=None, name=describe_function(func))
    bases = base if isinstance(base, tuple) else (base,)
    names = " or ".join(b.__name__ for b in bases)
    accepted = f"a {names}" + ("" if len(methods) > 1 else " or a callable")
    raise TypeError(f"{step}() needs {accepted}{arity_hint}, not {type(func).__name__} {func!r}")


class FieldKey:
    """A key selector reading one field: ``key_by("page")`` or ``key_by(0)``."""

    def __init__(self, position: Union[int, str]) -> None:
        self.position = position

    def __call__(self, value: Any) -> Any:
        return get_field(value, self.position)

    def __repr__(self) -> str:
        return f"field {self.position!r}"


def key_selector_fn(step: str, key_selector: Any) -> UserFn:
    """Accept a KeySelector, a callable, or a field position/name."""
    from .functions import KeySelector

    if isinstance(key_selector, (int, str)) and not isinstance(key_selector, bool):
        fk = FieldKey(key_selector)
        return UserFn((fk,), owner=None, name=f"key {key_selector!r}")
    return user_fn(step, key_selector, KeySelector, ("get_key",))
