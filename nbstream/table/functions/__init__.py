"""The function registry: every scalar, aggregate and table function, built-in or the
user's, behind one interface.

A **scalar function** is a :class:`ScalarFunctionDef`: ``infer(ctx)`` checks the operand
types of a call and returns its result type (``ctx.fail(...)`` says what is wrong);
``coerce(ctx)`` may cast operands first (implicit casts); ``emit(gen, args, call)``
returns the Python expression text of the call (see :mod:`nbstream.table.codegen`).
Most built-ins are a :class:`Strict`: a plain Python function of non-NULL values,
NULL in -> NULL out. A user's Python UDF is one more ScalarFunctionDef whose ``emit``
binds the user's callable.

An **aggregate function** is an :class:`AggregateFunctionDef`: ``infer`` as above and
``create(arg_types, result_type, retract)`` -> an :class:`Accumulator`, whose methods the
group, window and OVER operators call (``create``, ``add``, ``retract``, ``merge``,
``value``). ``columnar`` names its vectorized form (pyarrow), when it has one.

A **table function** (UDTF) is a :class:`TableFunctionDef` (``infer`` returns a ROW
type; ``create()`` a callable yielding rows).

Registries chain: a :class:`FunctionRegistry` of a TableEnvironment (temporary
functions) looks names up in itself, then in :data:`BUILTINS`.

>>> BUILTINS.scalar("upper").name, BUILTINS.aggregate("count").name
('upper', 'count')
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

from ..rex import Call, Literal, Rex
from ..types import DataType, ValidationError

__all__ = ["CallContext", "ScalarFunctionDef", "Strict", "AggregateFunctionDef", "Accumulator",
           "TableFunctionDef", "FunctionRegistry", "BUILTINS", "family_of", "signature"]


class CallContext:
    """A call being type checked: its operands and how to report a mistake."""

    def __init__(self, name: str, operands: Sequence[Rex], text: str = "",
                 registry: Optional["FunctionRegistry"] = None) -> None:
        self.name = name
        self.operands: List[Rex] = list(operands)
        self.text = text  # the user's spelling of the call, for messages
        self.registry = registry

    @property
    def types(self) -> List[DataType]:
        return [o.type for o in self.operands]

    @property
    def nullable(self) -> bool:
        return any(t.nullable for t in self.types)

    def literal(self, i: int) -> Any:
        """The value of operand ``i``, which must be a literal."""
        o = self.operands[i]
        while isinstance(o, Call) and o.name == "cast" and len(o.operands) == 1:
            o = o.operands[0]
        if not isinstance(o, Literal):
            raise self.fail(f"argument {i + 1} of {self.name.upper()} must be a literal")
        return o.value

    def is_literal(self, i: int) -> bool:
        return isinstance(self.operands[i], Literal)

    def fail(self, message: str) -> ValidationError:
        where = f" in '{self.text}'" if self.text else ""
        return ValidationError(f"{message}{where}")

    def wrong_types(self, forms: Sequence[str] = (), symbol: str = "") -> ValidationError:
        """Flink's (Calcite's) message for operands of the wrong types."""
        types = [f"<{t.summary()}>" for t in self.types]
        if symbol and len(types) == 2:
            op, got = symbol, f" {symbol} ".join(types)
        else:
            op, got = self.name.upper(), f"{self.name.upper()}({', '.join(types)})"
        supported = "; ".join(f"'{f}'" for f in forms)
        return self.fail(f"Cannot apply '{op}' to arguments of type '{got}'"
                         + (f". Supported form(s): {supported}" if supported else ""))

    def cast(self, i: int, to: DataType) -> None:
        """Cast operand ``i`` to ``to`` (an implicit cast)."""
        from .cast import implicit_cast
        self.operands[i] = implicit_cast(self.operands[i], to)


class ScalarFunctionDef:
    """A scalar function as the planner sees it (see the module text)."""

    name: str = ""
    #: the same arguments always give the same result (constant folding may call it)
    deterministic: bool = True

    def coerce(self, ctx: CallContext) -> None:
        """Cast operands in place (``ctx.cast``) before :meth:`infer`; none by default."""

    def infer(self, ctx: CallContext) -> DataType:
        raise NotImplementedError

    def params(self, ctx: CallContext) -> tuple:
        """Compile-time arguments kept with the call (``Call.params``)."""
        return ()

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        raise NotImplementedError

    def arrow(self, args: List[Any], call: Call) -> Any:
        """The call on Arrow arrays (``pyarrow.compute``), or NotImplemented."""
        return NotImplemented


class Strict(ScalarFunctionDef):
    """A function of non-NULL values: NULL if any operand is NULL, else ``fn(*values)``.

    ``check(types) -> result type | None`` (None: wrong types; ``forms`` say which
    are right) and the Python ``fn``; ``template`` (``'({0}).upper()'``) inlines it instead
    of a call."""

    def __init__(self, name: str, check: Callable[[List[DataType]], Optional[DataType]],
                 fn: Optional[Callable[..., Any]] = None, template: Optional[str] = None,
                 forms: Sequence[str] = (), deterministic: bool = True,
                 arity: Optional[Sequence[int]] = None) -> None:
        self.name, self.check, self.fn, self.template = name, check, fn, template
        self.forms, self.deterministic, self.arity = tuple(forms), deterministic, arity

    def infer(self, ctx: CallContext) -> DataType:
        if self.arity is not None and len(ctx.operands) not in self.arity:
            raise ctx.fail(f"{self.name.upper()} takes {' or '.join(map(str, self.arity))} "
                           f"arguments, not {len(ctx.operands)}")
        t = self.check(ctx.types)
        if t is None:
            raise ctx.wrong_types(self.forms)
        return t.copy(ctx.nullable or t.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        if self.template is not None:
            return gen.strict(call, args, lambda vs: self.template.format(*vs))
        f = gen.bind(self.fn, "f")
        return gen.strict(call, args, lambda vs: f"{f}({', '.join(vs)})")


class Accumulator:
    """The runtime side of an aggregate call: accumulators are plain values (picklable),
    returned anew by every method so immutable ones (ints) work."""

    def create(self) -> Any:
        raise NotImplementedError

    def add(self, acc: Any, *args: Any) -> Any:
        raise NotImplementedError

    def retract(self, acc: Any, *args: Any) -> Any:
        raise ValidationError(f"{type(self).__name__} cannot retract")

    def merge(self, acc: Any, other: Any) -> Any:
        raise ValidationError(f"{type(self).__name__} cannot merge")

    def value(self, acc: Any) -> Any:
        raise NotImplementedError


class AggregateFunctionDef:
    """An aggregate function as the planner sees it."""

    name: str = ""
    #: the pyarrow.compute / columnar window name of this aggregate (count, sum, ...)
    columnar: Optional[str] = None

    def infer(self, ctx: CallContext) -> DataType:
        raise NotImplementedError

    def coerce(self, ctx: CallContext) -> None:
        pass

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        raise NotImplementedError


class TableFunctionDef:
    """A table function (LATERAL TABLE / join_lateral): rows per input row."""

    name: str = ""

    def infer(self, ctx: CallContext) -> DataType:
        raise NotImplementedError

    def create(self, arg_types: Sequence[DataType]) -> Callable[..., Any]:
        raise NotImplementedError


class FunctionRegistry:
    """Functions by lower-case name; a lookup falls back to ``parent``."""

    def __init__(self, parent: Optional["FunctionRegistry"] = None) -> None:
        self.parent = parent
        self.scalars: Dict[str, ScalarFunctionDef] = {}
        self.aggregates: Dict[str, AggregateFunctionDef] = {}
        self.tables: Dict[str, TableFunctionDef] = {}

    def add(self, fn: Any, *names: str) -> Any:
        """Register ``fn`` under its name and ``names``; returns it (a decorator too)."""
        table = (self.scalars if isinstance(fn, ScalarFunctionDef) else
                 self.aggregates if isinstance(fn, AggregateFunctionDef) else self.tables)
        for n in (fn.name, *names):
            table[n.lower()] = fn
        return fn

    def remove(self, name: str) -> bool:
        found = False
        for table in (self.scalars, self.aggregates, self.tables):
            found = table.pop(name.lower(), None) is not None or found
        return found

    def _find(self, attr: str, name: str) -> Any:
        r: Optional[FunctionRegistry] = self
        while r is not None:
            fn = getattr(r, attr).get(name.lower())
            if fn is not None:
                return fn
            r = r.parent
        return None

    def scalar(self, name: str) -> ScalarFunctionDef:
        fn = self._find("scalars", name)
        if fn is None:
            raise ValidationError(f"No match found for function signature {name}(): "
                                  "no scalar function of that name")
        return fn

    def find_scalar(self, name: str) -> Optional[ScalarFunctionDef]:
        return self._find("scalars", name)

    def aggregate(self, name: str) -> AggregateFunctionDef:
        fn = self._find("aggregates", name)
        if fn is None:
            raise ValidationError(f"no aggregate function named {name}")
        return fn

    def find_aggregate(self, name: str) -> Optional[AggregateFunctionDef]:
        return self._find("aggregates", name)

    def find_table(self, name: str) -> Optional[TableFunctionDef]:
        return self._find("tables", name)

    def names(self, user_only: bool = False) -> List[str]:
        out = set(self.scalars) | set(self.aggregates) | set(self.tables)
        if self.parent is not None and not user_only:
            out |= set(self.parent.names())
        return sorted(out)

    def candidates(self, name: str) -> List[str]:
        import difflib
        return difflib.get_close_matches(name.lower(), self.names(), n=5)


#: the built-in functions; their modules register into it on import
BUILTINS = FunctionRegistry()


# -- type families for signatures -------------------------------------------------------------
def family_of(t: DataType) -> str:
    if t.root == "NULL":
        return "NULL"
    if t.is_numeric:
        return "NUMERIC"
    if t.is_string:
        return "STRING"
    if t.root in ("BINARY", "VARBINARY"):
        return "BINARY"
    if t.is_timestamp:
        return "TIMESTAMP"
    return t.root


def signature(*families: str, result: Any) -> Callable[[List[DataType]], Optional[DataType]]:
    """A check for :class:`Strict`: operands of these families (``NUMERIC``, ``STRING``,
    ``INTEGER``, ``ANY``, ``BOOLEAN``, ``TIMESTAMP``, ``DATE``...; a trailing ``*`` repeats
    the last), result a DataType or a function of the operand types."""
    def fits(t: DataType, fam: str) -> bool:
        if t.root == "NULL" or fam == "ANY":
            return True
        if fam == "INTEGER":
            return t.is_integer
        if fam == "EXACT":
            return t.is_integer or t.root == "DECIMAL"
        if fam == "DATETIME":
            return t.root in ("DATE", "TIMESTAMP", "TIMESTAMP_LTZ", "TIME")
        return family_of(t) == fam

    def check(types: List[DataType]) -> Optional[DataType]:
        fams = list(families)
        if fams and fams[-1] == "*":
            fams = fams[:-1] + [fams[-2]] * max(0, len(types) - len(fams) + 1)
        if len(types) != len(fams) or not all(fits(t, f) for t, f in zip(types, fams)):
            return None
        return result(types) if callable(result) else result
    return check


def _load() -> None:
    from . import aggregates, cast, scalar, strings, temporal  # noqa: F401  (they register)


_load()
