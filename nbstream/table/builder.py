"""From unresolved expressions to the relational plan: names bound to columns, types
checked, aggregates pulled out. The Table API and SQL both build their plans here.

:class:`Scope` is what names can refer to (the columns of the input, with the table
aliases of SQL); :class:`Resolver` turns an :class:`~nbstream.table.expressions.Expression`
into a typed :class:`~nbstream.table.rex.Rex`; :func:`aggregate` builds
pre-projection -> aggregate (or window aggregate) -> projection from GROUP BY keys and
a select list.
"""

from __future__ import annotations

import decimal
import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .expressions import Expression
from .functions import BUILTINS, AggregateFunctionDef, CallContext, FunctionRegistry
from .functions.cast import decimal_literal, make_cast
from .plan import (AggCall, Aggregate, Calc, RelNode, WindowAggregate, WindowSpec, WindowTVF)
from .rex import Call, InputRef, Literal, Rex
from .types import (CharType, DataType, DataTypes, IntervalType, RowType,
                    ValidationError, infer_type)

__all__ = ["Scope", "Resolver", "Context", "project", "aggregate", "unique_names", "literal_of"]

_UNIT_MS = {"milli": 1, "millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000,
            "day": 86_400_000, "week": 7 * 86_400_000}
_UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclass
class Context:
    """What resolution needs from the environment: functions, the session time zone,
    streaming or batch."""

    functions: FunctionRegistry = field(default_factory=lambda: BUILTINS)
    zone: Any = None
    streaming: bool = True
    parse_sql_expression: Optional[Callable[[str], Expression]] = None


@dataclass
class Column:
    name: str
    type: DataType
    qualifier: Optional[str] = None


class Scope:
    """The columns names resolve to, in order (an index per column)."""

    def __init__(self, names: Sequence[str], types: Sequence[DataType],
                 qualifiers: Optional[Sequence[Optional[str]]] = None) -> None:
        qs = list(qualifiers) if qualifiers is not None else [None] * len(names)
        self.columns = [Column(n, t, q) for n, t, q in zip(names, types, qs)]

    @staticmethod
    def of(node: RelNode, qualifier: Optional[str] = None) -> "Scope":
        return Scope(node.names, node.types, [qualifier] * len(node.names))

    def __add__(self, other: "Scope") -> "Scope":
        s = Scope([], [])
        s.columns = self.columns + other.columns
        return s

    @property
    def names(self) -> List[str]:
        return [c.name for c in self.columns]

    def lookup(self, name: str, qualifier: Optional[str] = None, text: str = "") -> int:
        """The index of column ``name`` (of table ``qualifier``); an unknown or ambiguous
        name raises, listing the candidates."""
        def same(a: str, b: str) -> bool:
            return a == b
        hits = [i for i, c in enumerate(self.columns) if same(c.name, name)
                and (qualifier is None or (c.qualifier is not None and c.qualifier == qualifier))]
        if len(hits) == 1:
            return hits[0]
        full = f"{qualifier}.{name}" if qualifier else name
        if len(hits) > 1:
            raise ValidationError(f"Column '{full}' is ambiguous")
        if qualifier is not None and not any(c.qualifier == qualifier for c in self.columns):
            tables = sorted({c.qualifier for c in self.columns if c.qualifier})
            raise ValidationError(f"Table '{qualifier}' not found" + (
                f"; tables in scope: {', '.join(tables)}" if tables else ""))
        names = [c.name for c in self.columns]
        close = difflib.get_close_matches(name, names, n=3)
        raise ValidationError(
            f"Column '{full}' not found in any table" + (f" in '{text}'" if text and text != name
                                                          else "")
            + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "")
            + f" Available columns: {', '.join(names) if names else '(none)'}")

    def star(self, qualifier: Optional[str] = None) -> List[int]:
        out = [i for i, c in enumerate(self.columns)
               if qualifier is None or c.qualifier == qualifier]
        if qualifier is not None and not out:
            raise ValidationError(f"Unknown identifier '{qualifier}.*'")
        return out


def literal_of(value: Any, data_type: Optional[DataType] = None, sql: bool = False) -> Literal:
    """A literal with the type Flink gives it (``lit(1)``: INT NOT NULL; ``'ab'``:
    CHAR(2) NOT NULL; ``1.5`` in SQL: DECIMAL(2, 1))."""
    if data_type is not None:
        if value is None:
            return Literal(None, data_type.nullable_())
        from .values import converter
        return Literal(converter(data_type)(value), data_type.not_null() if value is not None
                       else data_type)
    if value is None:
        return Literal(None, DataTypes.NULL())
    if isinstance(value, bool):
        return Literal(value, DataTypes.BOOLEAN(False))
    if isinstance(value, int):
        if -2 ** 31 <= value < 2 ** 31:
            return Literal(value, DataTypes.INT(False))
        if -2 ** 63 <= value < 2 ** 63:
            return Literal(value, DataTypes.BIGINT(False))
        return decimal_literal(str(value))
    if isinstance(value, float):
        return Literal(value, DataTypes.DOUBLE(False))
    if isinstance(value, decimal.Decimal):
        return decimal_literal(str(value))
    if isinstance(value, str):
        return Literal(value, CharType(len(value), nullable=False))
    t = infer_type(value)
    from .values import converter
    return Literal(converter(t)(value), t.not_null())


class Resolver:
    """Resolves expressions against a :class:`Scope`.

    ``hook(expr)`` may answer for an expression before the normal rules (aggregation uses
    it to map GROUP BY keys and aggregate calls to the aggregate's output);
    ``grouped`` makes a bare column an error ("not being grouped")."""

    def __init__(self, scope: Scope, ctx: Context, text: str = "",
                 hook: Optional[Callable[[Expression], Optional[Rex]]] = None,
                 grouped: bool = False, windows: Optional[Dict[str, Any]] = None) -> None:
        self.scope, self.ctx, self.text = scope, ctx, text
        self.hook, self.grouped = hook, grouped
        self.windows = windows or {}

    def resolve(self, e: Expression) -> Rex:
        if self.hook is not None:
            answer = self.hook(e)
            if answer is not None:
                return answer
        op, args = e._op, e._args
        method = getattr(self, "_" + op, None)
        if method is None:
            raise ValidationError(f"the expression {e} ({op}) is not supported here")
        return method(e, *args)

    def text_of(self, e: Expression) -> str:
        return getattr(e, "_text", None) or str(e)

    # -- leaves --------------------------------------------------------------------------------
    def _col(self, e: Expression, name: str, qualifier: Optional[str] = None) -> Rex:
        if name in self.windows and qualifier is None:
            raise ValidationError(f"the window '{name}' is not a column: use its properties "
                                  f"({name}.start, {name}.end, {name}.rowtime)")
        i = self.scope.lookup(name, qualifier, self.text)
        column = self.scope.columns[i]
        if self.grouped:
            raise ValidationError(f"Expression '{self.text_of(e)}' is not being grouped")
        return InputRef(i, column.type, column.name)

    def _lit(self, e: Expression, value: Any, data_type: Optional[DataType] = None,
             sql: bool = False) -> Rex:
        return literal_of(value, data_type, sql)

    def _decimal(self, e: Expression, text: str) -> Rex:
        return decimal_literal(text)

    def _interval(self, e: Expression, value: Expression, unit: str) -> Rex:
        v = self.resolve(value)
        if not isinstance(v, Literal) or not isinstance(v.value, (int, decimal.Decimal, float)):
            raise ValidationError(f"an interval needs a number, not {self.text_of(value)}")
        u = unit.lower().rstrip("s") if unit.lower() not in ("millis",) else "milli"
        if u in _UNIT_MONTHS:
            return Literal(int(v.value) * _UNIT_MONTHS[u],
                           IntervalType("MONTH" if u != "year" else "YEAR", nullable=False))
        ms = _UNIT_MS.get(u)
        if ms is None:
            raise ValidationError(f"unknown interval unit {unit}")
        upper = {"milli": "SECOND", "millisecond": "SECOND", "week": "DAY"}.get(u, u.upper())
        return Literal(int(decimal.Decimal(str(v.value)) * ms), IntervalType(upper, nullable=False))

    def _typed_interval(self, e: Expression, ms: int, t: DataType) -> Rex:
        return Literal(ms, t.not_null())

    def _sql(self, e: Expression, text: str) -> Rex:
        if self.ctx.parse_sql_expression is None:
            raise ValidationError("call_sql() needs the SQL parser")
        return self.resolve(self.ctx.parse_sql_expression(text))

    def _star(self, e: Expression, qualifier: Optional[str] = None) -> Rex:
        raise ValidationError("'*' is only allowed as a whole select item")

    # -- composite -----------------------------------------------------------------------------
    def _alias(self, e: Expression, inner: Expression, *names: str) -> Rex:
        return self.resolve(inner)

    def _cast(self, e: Expression, inner: Expression, to: DataType, try_: bool) -> Rex:
        return make_cast(self.resolve(inner), to, try_, self.text_of(e))

    def _call(self, e: Expression, name: str, *operands: Expression) -> Rex:
        functions = self.ctx.functions
        if functions.find_aggregate(name) is not None and functions.find_scalar(name) is None:
            raise ValidationError(f"the aggregate {name.upper()}(...) is not allowed here "
                                  f"('{self.text_of(e)}'): aggregates belong in the select "
                                  "list of an aggregation (group_by(...).select(...), or a "
                                  "SELECT with GROUP BY)")
        if name == "current_watermark":
            raise ValidationError("CURRENT_WATERMARK is not supported yet")
        fn = functions.find_scalar(name)
        if fn is None:
            close = functions.candidates(name)
            raise ValidationError(
                f"No match found for function signature {name}(...)"
                + (f"; did you mean {', '.join(c.upper() for c in close)}?" if close else ""))
        rexes = [self.resolve(o) for o in operands]
        return resolve_call(fn, name, rexes, self.text_of(e), functions)

    def _udf_call(self, e: Expression, f: Any, *operands: Expression) -> Rex:
        definition = f.function_def() if hasattr(f, "function_def") else None
        if definition is None:
            raise ValidationError(f"{f!r} is not a function nbstream can call")
        from .functions import ScalarFunctionDef
        if not isinstance(definition, ScalarFunctionDef):
            raise ValidationError(f"{definition.name} is not a scalar function: it is not "
                                  "allowed here")
        rexes = [self.resolve(o) for o in operands]
        return resolve_call(definition, definition.name, rexes, self.text_of(e),
                            self.ctx.functions, (("fn", definition),))

    def _get(self, e: Expression, inner: Expression, key: Any) -> Rex:
        base = self.resolve(inner)
        t = base.type
        if not isinstance(t, RowType):
            raise ValidationError(f"'{self.text_of(inner)}' is not a ROW: it has no field {key!r}")
        if isinstance(key, str):
            if key not in t.names:
                raise ValidationError(f"ROW '{self.text_of(inner)}' has no field '{key}'; "
                                      f"fields: {', '.join(t.names)}")
            index = t.names.index(key)
        else:
            index = int(key)
        ft = t.types[index].copy(t.types[index].nullable or t.nullable)
        return Call("get_field", (base,), ft, (("index", index),))

    def _json_value(self, e: Expression, inner: Expression, path: str,
                    returning: Optional[DataType]) -> Rex:
        s = self.resolve(inner)
        if not s.type.is_string:
            raise ValidationError(f"JSON_VALUE needs a string, not {s.type} in '{self.text_of(e)}'")
        t = (returning or DataTypes.STRING()).nullable_()
        return Call("json_value", (s, Literal(path, CharType(len(path), False))), t)

    def _distinct(self, e: Expression, inner: Expression) -> Rex:
        raise ValidationError(f"DISTINCT is only allowed on an aggregate: '{self.text_of(e)}'")

    def _over(self, e: Expression, *args: Any) -> Rex:
        raise ValidationError(f"an OVER aggregate is only allowed in a select list: "
                              f"'{self.text_of(e)}'")

    def _window_property(self, e: Expression, inner: Expression, prop: str) -> Rex:
        raise ValidationError(f"'{self.text_of(e)}' is only allowed in the select list of a "
                              "window aggregation")

    def _asc(self, e: Expression, inner: Expression) -> Rex:
        return self.resolve(inner)

    _desc = _asc
    _nulls_first = _asc
    _nulls_last = _asc


def resolve_call(fn: Any, name: str, operands: List[Rex], text: str,
                 functions: FunctionRegistry, params: tuple = ()) -> Rex:
    """A checked call of scalar function ``fn``: implicit casts, result type, folding of
    a deterministic call of literals."""
    ctx = CallContext(name, operands, text, functions)
    fn.coerce(ctx)
    result = fn.infer(ctx)
    call = Call(fn.name, tuple(ctx.operands), result, params + fn.params(ctx))
    return fold(call, functions)


def fold(call: Call, functions: FunctionRegistry) -> Rex:
    """A deterministic call whose operands are literals, computed now."""
    if not all(isinstance(o, Literal) for o in call.operands):
        return call
    fn = call.param("fn") or functions.scalar(call.name)
    if not fn.deterministic or getattr(fn, "python", False) or call.name in (
            "cast", "try_cast") and call.type.root in ("TIMESTAMP_LTZ",):  # Flink runs Python UDFs
        return call
    from .codegen import compile_expression
    try:
        value = compile_expression(call, functions)(())
    except Exception:
        return call  # a failing constant fails the job when it runs, as Flink's
    return Literal(value, call.type)


# -- naming ---------------------------------------------------------------------------------------
def unique_names(names: Sequence[str]) -> List[str]:
    """Calcite's uniquification: a repeated name gets a number (``a``, ``a0``, ``a1``)."""
    seen: Dict[str, int] = {}
    taken = set()
    out = []
    for n in names:
        if n not in taken:
            out.append(n)
            taken.add(n)
            continue
        k = seen.get(n, 0)
        while f"{n}{k}" in taken:
            k += 1
        seen[n] = k + 1
        out.append(f"{n}{k}")
        taken.add(f"{n}{k}")
    return out


def name_of(e: Expression, position: int, style: str, counter: List[int]) -> str:
    """The output name of a select item: its alias, its column name, else the default
    (Table API: ``_c<position>``, ``EXPR$<n>`` for aggregates; SQL: ``EXPR$<position>``)."""
    op = e._op
    if op == "alias":
        return e._args[1]
    if op == "col":
        return e._args[0]
    if op == "get" and isinstance(e._args[1], str) and style == "sql":
        return e._args[1]
    if style == "sql":
        return f"EXPR${position}"
    if _is_agg_like(e):
        n = counter[0]
        counter[0] += 1
        return f"EXPR${n}"
    return f"_c{position}"


def _is_agg_like(e: Expression) -> bool:
    if e._op in ("window_property", "distinct", "over"):
        return True
    if e._op == "call":
        return BUILTINS.find_aggregate(e._args[0]) is not None and \
            BUILTINS.find_scalar(e._args[0]) is None
    if e._op == "udf_call":
        f = e._args[0]
        d = f.function_def() if hasattr(f, "function_def") else None
        return isinstance(d, AggregateFunctionDef)
    return False


def expand_select(items: Sequence[Expression], scope: Scope) -> List[Expression]:
    """``*`` (and ``t.*``) as the columns they stand for."""
    out: List[Expression] = []
    for item in items:
        if item._op == "star":
            qualifier = item._args[0] if item._args else None
            for i in scope.star(qualifier):
                c = scope.columns[i]
                out.append(Expression("col", c.name, c.qualifier) if _ambiguous(scope, c.name)
                           else Expression("col", c.name))
        else:
            out.append(item)
    return out


def _ambiguous(scope: Scope, name: str) -> bool:
    return sum(1 for c in scope.columns if c.name == name) > 1


# -- projection -----------------------------------------------------------------------------------
def project(node: RelNode, items: Sequence[Expression], ctx: Context, style: str = "table",
            condition: Optional[Expression] = None, scope: Optional[Scope] = None,
            text: str = "") -> Calc:
    """SELECT items (and WHERE ``condition``) over ``node``: one Calc."""
    scope = scope or Scope.of(node)
    items = expand_select(items, scope)
    resolver = Resolver(scope, ctx, text)
    projects, names = [], []
    counter = [0]
    for pos, item in enumerate(items):
        if _contains_agg(item, ctx.functions):
            raise ValidationError(f"the aggregate in '{item}' needs an aggregation: use "
                                  "group_by(...).select(...) or a GROUP BY")
        projects.append(resolver.resolve(item))
        names.append(name_of(item, pos, style, counter))
    cond = None
    if condition is not None:
        cond = resolver.resolve(condition)
        check_boolean(cond, condition)
    return Calc(node, projects, cond, unique_names(names))


def check_boolean(rex: Rex, e: Any) -> None:
    if rex.type.root not in ("BOOLEAN", "NULL"):
        raise ValidationError(f"a condition must be BOOLEAN, not {rex.type}: '{e}'")


def _contains_agg(e: Expression, functions: FunctionRegistry) -> bool:
    if e._op == "call" and functions.find_aggregate(e._args[0]) is not None and \
            functions.find_scalar(e._args[0]) is None:
        return True
    if e._op in ("distinct", "agg_filter"):
        return True
    if e._op == "udf_call":
        f = e._args[0]
        d = f.function_def() if hasattr(f, "function_def") else None
        if isinstance(d, AggregateFunctionDef):
            return True
    return any(isinstance(a, Expression) and _contains_agg(a, functions) for a in e._args)


def filter_node(node: RelNode, condition: Expression, ctx: Context,
                scope: Optional[Scope] = None) -> Calc:
    scope = scope or Scope.of(node)
    rex = Resolver(scope, ctx).resolve(condition)
    check_boolean(rex, condition)
    projects = [InputRef(i, t, n) for i, (n, t) in enumerate(zip(node.names, node.types))]
    return Calc(node, projects, rex, list(node.names))


# -- aggregation ------------------------------------------------------------------------------------
@dataclass
class _AggItem:
    fn: AggregateFunctionDef
    args: List[Rex]
    distinct: bool
    filter: Optional[Rex]
    type: DataType
    text: str


def _agg_call_parts(e: Expression, functions: FunctionRegistry) -> Optional[Tuple[Any, List[Expression], bool, Optional[Expression]]]:
    """(function, argument expressions, distinct, filter) if ``e`` is an aggregate call."""
    distinct = False
    filt: Optional[Expression] = None
    if e._op == "agg_filter":
        inner, filt = e._args
        parts = _agg_call_parts(inner, functions)
        if parts is None:
            raise ValidationError(f"FILTER needs an aggregate: '{e}'")
        return parts[0], parts[1], parts[2], filt
    if e._op == "distinct":
        e = e._args[0]
        distinct = True
    if e._op == "call":
        name = e._args[0]
        fn = functions.find_aggregate(name)
        if fn is not None and (functions.find_scalar(name) is None or distinct):
            args = list(e._args[1:])
            if name == "count" and (not args or args[0]._op == "star"):
                args = []
            if args and distinct and len(args) == 1 and args[0]._op == "distinct_args":
                args = list(args[0]._args)
            return fn, args, distinct, filt
        if e._op == "call" and e._args[0] == "count_distinct":
            return functions.aggregate("count"), list(e._args[1:]), True, filt
    if e._op == "udf_call":
        f = e._args[0]
        d = f.function_def() if hasattr(f, "function_def") else None
        if isinstance(d, AggregateFunctionDef):
            return d, list(e._args[1:]), distinct, filt
    if distinct:
        raise ValidationError(f"DISTINCT needs an aggregate: '{e}'")
    return None


def aggregate(node: RelNode, keys: Sequence[Expression], items: Sequence[Expression],
              ctx: Context, style: str = "table", having: Optional[Expression] = None,
              scope: Optional[Scope] = None, window: Optional[Tuple[str, Any]] = None,
              text: str = "", key_names: Optional[Sequence[Optional[str]]] = None) -> RelNode:
    """``GROUP BY keys`` then ``SELECT items`` (``HAVING having``): a pre-projection, the
    aggregate (a window aggregate when ``window`` = (alias, spec) is given, or when the
    input is a window TVF grouped by its window_start and window_end), and a projection.
    """
    scope = scope or Scope.of(node)
    functions = ctx.functions
    resolver = Resolver(scope, ctx, text, windows={window[0]: window[1]} if window else None)
    window_alias = window[0] if window else None
    key_exprs: List[Expression] = []
    for k in keys:
        if window_alias is not None and k._op == "col" and k._args[0] == window_alias:
            continue
        key_exprs.append(k)
    key_rexes: List[Rex] = []
    for k in key_exprs:
        rex = resolver.resolve(k)
        if rex not in key_rexes:
            key_rexes.append(rex)

    items = list(items)
    if any(i._op == "star" for i in items):
        items = _expand_grouped_star(items, key_rexes, scope)

    # the aggregate calls, in order of appearance
    aggs: List[_AggItem] = []

    def collect(e: Expression) -> None:
        parts = _agg_call_parts(e, functions)
        if parts is not None:
            fn, arg_exprs, distinct, filt = parts
            args = [resolver.resolve(a) for a in arg_exprs]
            ctx_call = CallContext(fn.name, args, str(e), functions)
            fn.coerce(ctx_call)
            t = fn.infer(ctx_call)
            frex = None
            if filt is not None:
                frex = resolver.resolve(filt)
                check_boolean(frex, filt)
            item = _AggItem(fn, ctx_call.operands, distinct, frex, t, str(e))
            if not any(_same_agg(item, a) for a in aggs):
                aggs.append(item)
            return
        if e._op in ("over",):
            raise ValidationError(f"OVER aggregates cannot be mixed with GROUP BY: '{e}'")
        for a in e._args:
            if isinstance(a, Expression):
                collect(a)

    for item in items:
        collect(item)
    if having is not None:
        collect(having)

    # pre-projection: keys, then the aggregates' arguments and filters
    pre: List[Rex] = list(key_rexes)

    def slot(rex: Rex) -> int:
        if rex in pre:
            return pre.index(rex)
        pre.append(rex)
        return len(pre) - 1

    calls: List[AggCall] = []
    for n, a in enumerate(aggs):
        args = tuple(slot(r) for r in a.args)
        f = slot(a.filter) if a.filter is not None else None
        calls.append(AggCall(a.fn, args, a.type, f"agg{n}", a.distinct, f, a.text))

    k = len(key_rexes)
    tvf = _window_tvf_of(node) if window is None else None
    if tvf is not None:
        return _window_tvf_aggregate(node, tvf, key_rexes, key_exprs, calls, aggs, pre, items,
                                     having, ctx, style, scope, text)
    pre_names = [_pre_name(r, i) for i, r in enumerate(pre)]
    pre_calc = Calc(node, pre, None, unique_names(pre_names))
    key_out_names = [key_names[i] if key_names and i < len(key_names) and key_names[i]
                     else pre_calc.names[i] for i in range(k)]
    if window is not None:
        alias, spec = window
        spec, pre_calc = _place_window_time(spec, pre_calc)
        props = ["window_start", "window_end", "window_time"]
        agg_node: RelNode = WindowAggregate(
            pre_calc, spec, list(range(k)), calls, props,
            unique_names(key_out_names + [c.name for c in calls] + props),
            [pre_calc.types[i] for i in range(k)] + [c.type for c in calls] + _prop_types(spec))
    else:
        agg_node = Aggregate(pre_calc, list(range(k)), calls,
                             unique_names(key_out_names + [c.name for c in calls]),
                             [pre_calc.types[i] for i in range(k)] + [c.type for c in calls],
                             batch=not ctx.streaming)
    return _post_project(agg_node, key_rexes, aggs, items, having, ctx, style, resolver,
                         window_alias, text)


def _prop_types(spec: WindowSpec) -> List[DataType]:
    ts = DataTypes.TIMESTAMP(3, False)
    time_type = DataTypes.TIMESTAMP_LTZ(3, False) if spec.proctime else ts
    return [ts, ts, time_type.with_kind("PROCTIME" if spec.proctime else "ROWTIME")]  # type: ignore


def _place_window_time(spec: WindowSpec, pre: Calc) -> Tuple[WindowSpec, Calc]:
    """Put the window's time column into the pre-projection (it indexes the input)."""
    from dataclasses import replace
    base = pre.input
    time_ref = InputRef(spec.time, base.types[spec.time], base.names[spec.time])
    projects = list(pre.projects)
    if time_ref in projects:
        i = projects.index(time_ref)
    else:
        projects.append(time_ref)
        i = len(projects) - 1
    parts = []
    for p in spec.partition:
        ref = InputRef(p, base.types[p], base.names[p])
        if ref not in projects:
            projects.append(ref)
        parts.append(projects.index(ref))
    names = unique_names([_pre_name(r, n) for n, r in enumerate(projects)])
    return replace(spec, time=i, partition=tuple(parts)), Calc(base, projects, None, names)


def _pre_name(rex: Rex, i: int) -> str:
    return rex.name if isinstance(rex, InputRef) and rex.name else f"$f{i}"


def _same_agg(a: _AggItem, b: _AggItem) -> bool:
    return (a.fn is b.fn and a.args == b.args and a.distinct == b.distinct
            and a.filter == b.filter)


def _expand_grouped_star(items: List[Expression], keys: List[Rex], scope: Scope) -> List[Expression]:
    out = []
    for item in items:
        if item._op == "star":
            for r in keys:
                if isinstance(r, InputRef):
                    out.append(Expression("col", scope.columns[r.index].name))
        else:
            out.append(item)
    return out


def _post_project(agg_node: RelNode, key_rexes: List[Rex], aggs: List[_AggItem],
                  items: Sequence[Expression], having: Optional[Expression], ctx: Context,
                  style: str, input_resolver: Resolver, window_alias: Optional[str],
                  text: str) -> RelNode:
    k = len(key_rexes)
    functions = ctx.functions
    props = getattr(agg_node, "props", None) or []
    n_aggs = len(aggs)

    def hook(e: Expression) -> Optional[Rex]:
        parts = _agg_call_parts(e, functions) if e._op in ("call", "distinct", "agg_filter",
                                                              "udf_call") else None
        if parts is not None:
            fn, arg_exprs, distinct, filt = parts
            args = [input_resolver.resolve(a) for a in arg_exprs]
            cc = CallContext(fn.name, args, str(e), functions)
            fn.coerce(cc)
            frex = input_resolver.resolve(filt) if filt is not None else None
            probe = _AggItem(fn, cc.operands, distinct, frex, aggs[0].type if aggs else None,  # type: ignore
                             str(e))
            for i, a in enumerate(aggs):
                if _same_agg(probe, a):
                    return InputRef(k + i, agg_node.types[k + i], agg_node.names[k + i])
            raise AssertionError("an aggregate was not collected")
        if e._op == "window_property":
            inner, prop = e._args
            if window_alias is None or inner._op != "col" or inner._args[0] != window_alias:
                raise ValidationError(f"'{e}' names no window of this aggregation")
            name = {"start": "window_start", "end": "window_end", "rowtime": "window_time",
                    "proctime": "window_time"}[prop]
            i = k + n_aggs + props.index(name)
            return InputRef(i, agg_node.types[i], agg_node.names[i])
        if e._op in ("lit", "alias", "cast", "interval", "decimal", "typed_interval"):
            return None
        try:
            rex = input_resolver.resolve(e)
        except ValidationError:
            return None
        if rex in key_rexes:
            i = key_rexes.index(rex)
            return InputRef(i, agg_node.types[i], agg_node.names[i])
        return None

    resolver = Resolver(Scope.of(agg_node), ctx, text, hook=hook, grouped=True)
    projects, names = [], []
    counter = [0]
    for pos, item in enumerate(items):
        projects.append(resolver.resolve(item))
        names.append(name_of(item, pos, style, counter))
    cond = None
    if having is not None:
        cond = resolver.resolve(having)
        check_boolean(cond, having)
    out_names = unique_names(names)
    return Calc(agg_node, projects, cond, out_names)


# -- window TVF aggregation -----------------------------------------------------------------------
def _window_tvf_of(node: RelNode) -> Optional[WindowTVF]:
    """The window TVF under ``node`` (through projections that keep its window columns)."""
    n = node
    while isinstance(n, Calc) and n.condition is None:
        n = n.input
    return n if isinstance(n, WindowTVF) else None


def _window_tvf_aggregate(node: RelNode, tvf: WindowTVF, key_rexes: List[Rex],
                          key_exprs: List[Expression], calls: List[AggCall], aggs: List[_AggItem],
                          pre: List[Rex], items: Sequence[Expression],
                          having: Optional[Expression], ctx: Context, style: str, scope: Scope,
                          text: str) -> RelNode:
    """GROUP BY window_start, window_end[, window_time], keys over a window TVF: a window
    aggregation over the TVF's input (Flink's rule); otherwise a plain aggregation over
    the TVF rows."""
    from .rex import walk
    # positions of the window columns as ``node`` sees them
    window_cols = _window_columns(node, tvf)
    key_window = {}
    for i, r in enumerate(key_rexes):
        if isinstance(r, InputRef) and r.index in window_cols:
            key_window[i] = window_cols[r.index]
    if not {"window_start", "window_end"} <= set(key_window.values()):
        pre_calc = Calc(node, pre, None, unique_names([_pre_name(r, i) for i, r in enumerate(pre)]))
        k = len(key_rexes)
        agg_node = Aggregate(pre_calc, list(range(k)), calls,
                             unique_names(pre_calc.names[:k] + [c.name for c in calls]),
                             [pre_calc.types[i] for i in range(k)] + [c.type for c in calls],
                             batch=not ctx.streaming)
        return _post_project(agg_node, key_rexes, aggs, items, having, ctx, style,
                             Resolver(scope, ctx, text), None, text)
    # everything else must reach the TVF's input: rewrite ``node``'s projections onto it
    mapping = _to_tvf_input(node, tvf)
    plain_keys = [i for i in range(len(key_rexes)) if i not in key_window]
    new_pre: List[Rex] = []
    for i in plain_keys:
        new_pre.append(_rebase(key_rexes[i], mapping, text))
    k = len(new_pre)
    extra: List[Rex] = []
    for r in pre[len(key_rexes):]:
        for sub in walk(r):
            if isinstance(sub, InputRef) and sub.index in window_cols:
                raise ValidationError(f"the window column {sub.name} can only be a GROUP BY key "
                                      "of a window aggregation")
        extra.append(_rebase(r, mapping, text))
    base = tvf.input
    all_pre = new_pre + extra
    index_of = {j: k + n for n, j in enumerate(range(len(key_rexes), len(pre)))}
    new_calls = [AggCall(c.fn, tuple(index_of[a] for a in c.args), c.type, c.name, c.distinct,
                         index_of[c.filter] if c.filter is not None else None, c.text)
                 for c in calls]
    pre_calc = Calc(base, all_pre, None, unique_names([_pre_name(r, i) for i, r in enumerate(all_pre)]))
    spec, pre_calc = _place_window_time(tvf.window, pre_calc)
    props = ["window_start", "window_end", "window_time"]
    key_names = [pre_calc.names[i] for i in range(k)]
    wagg = WindowAggregate(pre_calc, spec, list(range(k)), new_calls, props,
                           unique_names(key_names + [c.name for c in new_calls] + props),
                           [pre_calc.types[i] for i in range(k)] + [c.type for c in new_calls]
                           + [tvf.types[len(base.types)], tvf.types[len(base.types) + 1],
                              tvf.types[len(base.types) + 2]])
    # reorder to the original key order (window keys as properties) ++ aggregates
    refs: List[Rex] = []
    n_aggs = len(new_calls)
    plain = iter(range(k))
    for i in range(len(key_rexes)):
        if i in key_window:
            j = k + n_aggs + props.index(key_window[i])
        else:
            j = next(plain)
        refs.append(InputRef(j, wagg.types[j], wagg.names[j]))
    for n in range(n_aggs):
        refs.append(InputRef(k + n, wagg.types[k + n], wagg.names[k + n]))
    names = [key_rexes[i].name if isinstance(key_rexes[i], InputRef) and key_rexes[i].name
             else f"$f{i}" for i in range(len(key_rexes))] + [c.name for c in calls]
    shaped = Calc(wagg, refs, None, unique_names(names))
    agg_like = Aggregate.__new__(Aggregate)  # only its output columns are read below
    agg_like.names, agg_like.types = shaped.names, shaped.types
    post = _post_project(agg_like, key_rexes, aggs, items, having, ctx, style,
                         Resolver(scope, ctx, text), None, text)
    assert isinstance(post, Calc)
    return Calc(shaped, post.projects, post.condition, post.names)


def _window_columns(node: RelNode, tvf: WindowTVF) -> Dict[int, str]:
    """Columns of ``node`` that are the TVF's window_start/window_end/window_time."""
    base = len(tvf.input.types)
    props = {base: "window_start", base + 1: "window_end", base + 2: "window_time"}
    chain = []
    n = node
    while n is not tvf:
        chain.append(n)
        n = n.input  # type: ignore[attr-defined]
    cols = dict(props)
    for calc in reversed(chain):
        new = {}
        for i, p in enumerate(calc.projects):  # type: ignore[attr-defined]
            if isinstance(p, InputRef) and p.index in cols:
                new[i] = cols[p.index]
        cols = new
    return cols


def _to_tvf_input(node: RelNode, tvf: WindowTVF) -> List[Optional[Rex]]:
    """For each column of ``node``: the same value over the TVF's input (None for the
    window columns)."""
    base = len(tvf.input.types)
    current: List[Optional[Rex]] = [InputRef(i, t, n) for i, (n, t) in enumerate(
        zip(tvf.input.names, tvf.input.types))] + [None, None, None]
    chain = []
    n = node
    while n is not tvf:
        chain.append(n)
        n = n.input  # type: ignore[attr-defined]
    for calc in reversed(chain):
        new: List[Optional[Rex]] = []
        for p in calc.projects:  # type: ignore[attr-defined]
            new.append(_substitute(p, current))
        current = new
    del base
    return current


def _substitute(rex: Rex, current: List[Optional[Rex]]) -> Optional[Rex]:
    if isinstance(rex, InputRef):
        return current[rex.index]
    if isinstance(rex, Call):
        ops = [_substitute(o, current) for o in rex.operands]
        if any(o is None for o in ops):
            return None
        return Call(rex.name, tuple(ops), rex.type, rex.params)  # type: ignore[arg-type]
    return rex


def _rebase(rex: Rex, mapping: List[Optional[Rex]], text: str) -> Rex:
    out = _substitute(rex, mapping)
    if out is None:
        raise ValidationError(f"a window column is used in an expression in '{text}'")
    return out


def window_tvf(node: RelNode, spec: WindowSpec) -> WindowTVF:
    t = node.types[spec.time]
    if not (t.is_timestamp and getattr(t, "kind", "") in ("ROWTIME", "PROCTIME")):
        raise ValidationError(
            f"The window function requires the timecol is a time attribute type, but is {t}. "
            f"Declare a watermark on '{node.names[spec.time]}' (WATERMARK FOR ... in CREATE "
            "TABLE, or Schema.watermark)")
    from dataclasses import replace
    spec = replace(spec, proctime=getattr(t, "kind", "") == "PROCTIME")
    names = unique_names(list(node.names) + ["window_start", "window_end", "window_time"])
    plain = [tt.plain() if hasattr(tt, "plain") else tt for tt in node.types]  # type: ignore
    types = plain + _prop_types(spec)
    return WindowTVF(node, spec, names, types)
