"""What a Table program did, kept so that another engine can do it again: in flink mode,
:mod:`nbstream.flink.tables` replays it on PyFlink's own TableEnvironment.

Every object of the Table API remembers the call that made it (``_recipe``): the object
the call was made on (another recorded object, a TableEnvironment, or a :class:`Root`
such as the ``expressions`` module), the method or attribute, and the arguments. A
TableEnvironment keeps, in order, the statements that changed its catalog
(``_program``: DDL text, views, functions). Replaying a recipe is
``getattr(replay(owner), name)(*replay(args))`` against PyFlink's objects, which have
the same names (nbstream's Table API is PyFlink's).

>>> from nbstream.table.expressions import col
>>> describe((col("a") + 1).alias("b"))
"col('a').__add__(1).alias('b')"
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, NamedTuple, Tuple

from .types import ValidationError

__all__ = ["Recipe", "Root", "EXPRESSIONS", "NotRecorded", "recorded", "recorded_property",
           "recorded_function", "record_methods", "note", "describe"]


class NotRecorded(ValidationError):
    """A program part another engine cannot be handed (say which); the table layer then
    plans the job itself."""


class Root:
    """A module or class the Table API's calls start from (``expressions``, ``Tumble``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Root {self.name}>"


#: ``pyflink.table.expressions``: col, lit, call ...
EXPRESSIONS = Root("expressions")


class Recipe(NamedTuple):
    owner: Any  # what the call was made on
    name: str  # the method, attribute or function
    args: Tuple[Any, ...] = ()
    kwargs: Dict[str, Any] = {}
    attribute: bool = False  # an attribute read (``col('x').sum``), not a call


def note(out: Any, owner: Any, name: str, args: Tuple[Any, ...] = (),
         kwargs: Any = None, attribute: bool = False) -> Any:
    """Remember on ``out`` that ``owner.name(*args, **kwargs)`` made it; returns ``out``."""
    if out is not owner and out is not None and not any(a is out for a in args):
        try:
            out._recipe = Recipe(owner, name, tuple(args), dict(kwargs or {}), attribute)
        except AttributeError:  # a value without a recipe slot (str, int ...)
            pass
    return out


def recorded(fn: Callable[..., Any], name: str = "") -> Callable[..., Any]:
    """A method (called ``name``) whose result remembers the call."""
    name = name or fn.__name__

    @functools.wraps(fn)
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return note(fn(self, *args, **kwargs), self, name, args, kwargs)
    return method


def recorded_property(prop: property, name: str = "") -> property:
    """A property (called ``name``) whose value remembers the attribute read."""
    fget = prop.fget
    assert fget is not None
    name = name or fget.__name__

    @functools.wraps(fget)
    def get(self: Any) -> Any:
        return note(fget(self), self, name, attribute=True)
    return property(get)


def recorded_function(root: Root, fn: Callable[..., Any]) -> Callable[..., Any]:
    """A module function (``col``, ``lit``) whose result remembers the call."""
    @functools.wraps(fn)
    def function(*args: Any, **kwargs: Any) -> Any:
        return note(fn(*args, **kwargs), root, fn.__name__, args, kwargs)
    return function


def record_methods(cls: type, names: Any = None) -> type:
    """Make the public methods and properties of ``cls`` (or those ``names``) record."""
    for name, member in list(vars(cls).items()):
        if names is not None and name not in names:
            continue
        if names is None and name.startswith("_"):
            continue
        if isinstance(member, property):
            setattr(cls, name, recorded_property(member, name))
        elif callable(member) and not isinstance(member, (staticmethod, classmethod, type)):
            setattr(cls, name, recorded(member, name))
    return cls


def describe(obj: Any) -> str:
    """A recorded object as the Python calls that made it (for messages and tests)."""
    recipe = getattr(obj, "_recipe", None)
    if not isinstance(recipe, Recipe):
        return repr(obj)
    owner = recipe.owner
    head = "" if isinstance(owner, Root) else describe(owner) + "."
    if recipe.attribute:
        return head + recipe.name
    args = [describe(a) for a in recipe.args] + [f"{k}={describe(v)}"
                                                 for k, v in recipe.kwargs.items()]
    return f"{head}{recipe.name}({', '.join(args)})"
