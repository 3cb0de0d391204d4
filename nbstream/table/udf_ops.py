"""Python UDFs in plans and jobs: the Table API's row-based operations (``map``,
``flat_map``, ``join_lateral``, ``aggregate``, ``flat_aggregate``) as plan nodes, and the
steps the planner builds for plan nodes that call Python functions.

* A Calc calling **general** UDFs only runs as generated row code (one call per row of
  the user's function through an invoker that checks its result type), in a map /
  flat_map step named ``PythonCalc(...)`` that opens and closes the functions.
* A Calc calling a **pandas** UDF evaluates whole batches (:class:`~.pandas_udf.BatchCalc`):
  on the row path in a ``bundle`` step; over a DataFrame/Arrow source on the columnar
  path, where batches stay Arrow from the source to ``to_pandas()`` (and cross to worker
  processes as Arrow IPC).
* A Correlate (``join_lateral``, ``LATERAL TABLE``) is a flat_map per row.
* A streaming GROUP BY with a Python aggregate is a keyed ``bundle`` step emitting one
  result per key per bundle (as PyFlink's Python group aggregate: ``+I`` first, ``-U``/``+U``
  when the value changed, ``-D`` when the group is empty); ``flat_aggregate`` re-emits a
  group's rows as ``-D`` of the old ones and ``+I`` of the new ones.

Bundles are the batches the runtime moves (at most ``nbstream.batch-size`` rows), cut at
``python.fn-execution.bundle.size`` rows; pandas batches are cut at
``python.fn-execution.arrow.batch.size`` rows when it is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..api.functions import FlatMapFunction, MapFunction
from ..api.state import ValueStateDescriptor
from ..errors import PlanError
from ..plan.logical import UserFn
from ..runtime.records import Batch
from ..runtime.row import Row, RowKind
from . import builder as B
from .expressions import Expression
from .functions import AggregateFunctionDef, CallContext, ScalarFunctionDef, TableFunctionDef
from .plan import Aggregate, Calc, Correlate, RelNode, Scan
from .rex import Call, InputRef, Rex
from .types import DataType, DataTypes, RowType, ValidationError
from .udf_defs import (FunctionSettings, PythonTableAggregate, UdfError, bound_functions,
                       is_python, python_calls)

__all__ = ["map_table", "flat_map_table", "lateral", "lateral_sql", "aggregate_select",
           "flat_aggregate_select",
           "has_python", "plan_calc", "plan_correlate", "plan_python_aggregate",
           "python_aggregate", "TableAggregate", "columnar_frame", "python_steps"]

INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE = 0, 1, 2, 3


# -- small definitions the row-based operations use ---------------------------------------------
class _WholeRow(ScalarFunctionDef):
    """The input row as one ROW value (a UDF given to map/flat_map without arguments)."""

    name = "row"

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def __eq__(self, other: Any) -> bool:  # calls of it compare by value (GROUP BY matching)
        return isinstance(other, _WholeRow) and other.names == self.names

    def __hash__(self) -> int:
        return hash(tuple(self.names))

    def infer(self, ctx: CallContext) -> DataType:
        return DataTypes.ROW([DataTypes.FIELD(n, t) for n, t in zip(self.names, ctx.types)],
                             nullable=False)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return f"{gen.bind(_RowMaker(self.names), 'f')}({', '.join(args)})"


class _RowMaker:
    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)

    def __call__(self, *values: Any) -> Row:
        r = Row(*values)
        r._fields = self.names
        return r


class _Field(ScalarFunctionDef):
    """Field ``index`` of a ROW value (a ROW result flattened into columns)."""

    name = "get_field"

    def __init__(self, index: int) -> None:
        self.index = index

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return gen.strict(call, args, lambda v: f"{v[0]}[{self.index}]")


class _RowArgument:
    """An aggregate given to ``aggregate()`` without arguments: called with the columns,
    it gets them as one ROW (the whole row, as PyFlink passes it)."""

    def __init__(self, d: Any, names: Sequence[str]) -> None:
        self.packed = _RowArgAggregate(d, names)

    def function_def(self) -> Any:
        return self.packed


class _RowArgAggregate(AggregateFunctionDef):
    python = True
    columnar = None

    def __init__(self, d: Any, names: Sequence[str]) -> None:
        self.d, self.names, self.name = d, list(names), d.name
        self.result_type, self.pandas = d.result_type, getattr(d, "pandas", False)

    def coerce(self, ctx: CallContext) -> None:
        d = _WholeRow(self.names)
        ctx.operands = [_call(d, ctx.operands, d.infer(CallContext("row", ctx.operands)))]

    def infer(self, ctx: CallContext) -> DataType:
        return self.result_type

    def create(self, arg_types: Sequence[DataType], result_type: DataType, retract: bool) -> Any:
        return self.d.create(arg_types, result_type, retract)


def _call(d: Any, operands: Sequence[Rex], t: DataType) -> Call:
    return Call(d.name, tuple(operands), t, (("fn", d),))


def _field_refs(node: RelNode) -> List[Rex]:
    return [InputRef(i, t, n) for i, (n, t) in enumerate(zip(node.names, node.types))]


def _whole_row(node: RelNode) -> Call:
    refs = _field_refs(node)
    d = _WholeRow(node.names)
    return _call(d, refs, d.infer(CallContext("row", refs)))


def _alias_of(e: Any) -> Tuple[Any, List[str]]:
    """``f(...).alias('a', 'b')`` -> (``f(...)``, ['a', 'b'])."""
    if isinstance(e, Expression) and e._op == "alias":
        return e._args[0], list(e._args[1:])
    names = list(getattr(e, "_alias_names", ()) or ())
    return e, names


def _is_function(e: Any) -> bool:
    """A UDF object (not a call expression of one)."""
    return not isinstance(e, Expression) and hasattr(e, "function_def")


def _udf_parts(e: Any, node: RelNode) -> Tuple[Any, Any, List[Rex]]:
    """(wrapper, definition, argument rexes) of a UDF call expression, or of a wrapper
    given without arguments (it then receives the whole row)."""
    if _is_function(e):
        return e, e.function_def(), [_whole_row(node)]
    if not isinstance(e, Expression) or e._op != "udf_call":
        raise ValidationError(f"expected a call of a Python user-defined function, not {e}")
    f = e._args[0]
    d = f.function_def() if hasattr(f, "function_def") else None
    if d is None:
        raise ValidationError(f"{f!r} is not a function nbstream can call")
    return f, d, []


def _resolved_args(e: Any, node: RelNode, ctx: B.Context, d: Any,
                   row_args: List[Rex]) -> Tuple[List[Rex], DataType]:
    if row_args:
        operands = row_args
    else:
        resolver = B.Resolver(B.Scope.of(node), ctx)
        operands = [resolver.resolve(a) for a in e._args[1:]]
    cc = CallContext(d.name, operands, str(e), ctx.functions)
    d.coerce(cc)
    return cc.operands, d.infer(cc)


def _flatten(node: RelNode, names: Sequence[str]) -> Calc:
    """The last column of ``node``, a ROW, as columns (named ``names``); the others kept."""
    refs = _field_refs(node)
    row = refs[-1]
    t = row.type
    assert isinstance(t, RowType)
    fields = [_call(_Field(i), (row,), ft.nullable_() if row.type.nullable else ft)
              for i, ft in enumerate(t.types)]
    return Calc(node, refs[:-1] + fields, None, B.unique_names(list(node.names[:-1]) + list(names)))


# -- map / flat_map --------------------------------------------------------------------------------
def map_table(node: RelNode, func: Any, ctx: Any) -> RelNode:
    """``Table.map(f)``: one row per row; a ROW result becomes its fields' columns."""
    e, alias = _alias_of(func)
    wrapper, d, row_args = _udf_parts(e, node)
    if not isinstance(d, ScalarFunctionDef):
        raise ValidationError(f"map() takes a scalar function (udf), not the "
                              f"{getattr(wrapper, 'kind', 'function')} {d.name}")
    operands, t = _resolved_args(e, node, ctx, d, row_args)
    call = _call(d, operands, t)
    if isinstance(t, RowType):
        calc = Calc(node, [call], None, ["_c0"])
        names = alias or list(t.names)
        if len(names) != len(t.names):
            raise ValidationError(f"map(): {len(names)} alias name(s) for the {len(t.names)} "
                                  f"fields of {d.name}'s result")
        return _flatten(calc, names)
    return Calc(node, [call], None, alias[:1] or ["_c0"])


def flat_map_table(node: RelNode, func: Any, ctx: Any) -> RelNode:
    """``Table.flat_map(f)``: the rows a table function makes of each row (its columns
    only: ``f0, f1, ...`` unless its result type names them or an alias does)."""
    corr = _correlate(node, func, ctx, left=False)
    k = len(node.names)
    refs = _field_refs(corr)[k:]
    return Calc(corr, refs, None, list(corr.names[k:]))


def lateral(node: RelNode, call: Any, left: bool, predicate: Any, ctx: Any) -> RelNode:
    """``join_lateral`` / ``left_outer_join_lateral``: each row joined with the rows its
    table function call makes (a left join keeps rows with none, NULL padded)."""
    corr = _correlate(node, call, ctx, left)
    if predicate is None:
        return corr
    rex = B.Resolver(B.Scope.of(corr), ctx).resolve(predicate)
    B.check_boolean(rex, predicate)
    if left and getattr(rex, "value", None) is not True:
        raise ValidationError("left_outer_join_lateral only takes the predicate lit(True) "
                              f"(as Flink), not {predicate}")
    if left:
        return corr
    return Correlate(node, corr.function, corr.args, False, corr.names, corr.types, rex)


def _correlate(node: RelNode, func: Any, ctx: Any, left: bool,
               names: Optional[Sequence[str]] = None) -> Correlate:
    e, alias = _alias_of(func)
    wrapper, d, row_args = _udf_parts(e, node)
    if not isinstance(d, TableFunctionDef):
        raise ValidationError(f"expected a table function (udtf), not the "
                              f"{getattr(wrapper, 'kind', 'function')} {d.name}")
    operands, t = _resolved_args(e, node, ctx, d, row_args)
    assert isinstance(t, RowType)
    out_names = list(names or alias or t.names)
    if len(out_names) != len(t.names):
        raise ValidationError(f"{len(out_names)} alias name(s) for the {len(t.names)} columns "
                              f"of the table function {d.name}")
    types = list(node.types) + [ft.nullable_() for ft in t.types]
    return Correlate(node, d, operands, left, B.unique_names(list(node.names) + out_names), types)


def lateral_sql(conv: Any, node: RelNode, scope: Any, join: Any) -> Tuple[RelNode, Any]:
    """SQL's ``FROM t, LATERAL TABLE(f(args)) [AS T(a, b)]`` and ``[LEFT] JOIN LATERAL
    TABLE(...) [AS T(a, b)] ON TRUE``: a Correlate with the registered table function
    ``f``; returns the node and the scope names resolve in afterwards."""
    from .sql.convert import to_expression
    lat = join.this
    table_call = lat.this
    inner = table_call.expressions[0] if getattr(table_call, "expressions", None) else None
    if inner is None or str(getattr(table_call, "name", table_call.this)).upper() != "TABLE":
        raise ValidationError(f"LATERAL needs TABLE(function(...)), not {lat.sql()[:80]}")
    name = inner.name if hasattr(inner, "name") and inner.name else str(inner.this)
    args = [to_expression(a) for a in inner.expressions]
    alias_node = lat.args.get("alias")
    qualifier = alias_node.name if alias_node is not None and alias_node.name else None
    columns = [c.name for c in alias_node.columns] if alias_node is not None and \
        alias_node.args.get("columns") else []
    side = (join.args.get("side") or "").upper()
    if side not in ("", "LEFT") or join.args.get("kind") not in (None, "", "INNER", "CROSS"):
        raise ValidationError(f"a {side or join.args.get('kind')} JOIN LATERAL is not "
                              "supported (JOIN or LEFT JOIN ... ON TRUE)")
    on = join.args.get("on")
    if on is not None and on.sql().upper() != "TRUE":
        raise ValidationError("JOIN LATERAL TABLE(...) takes ON TRUE only (as Flink); filter "
                              f"with WHERE instead of ON {on.sql()}")
    d = conv.ctx.functions.find_table(name)
    if d is None:
        close = conv.ctx.functions.candidates(name)
        raise ValidationError(f"No table function named {name}" + (
            f"; did you mean {', '.join(close)}?" if close else "") +
            ": register a udtf with create_temporary_function or CREATE TEMPORARY FUNCTION")
    resolver = B.Resolver(scope, conv.ctx)
    cc = CallContext(d.name, [resolver.resolve(a) for a in args], inner.sql(), conv.ctx.functions)
    d.coerce(cc)
    t = d.infer(cc)
    out = columns or list(t.names)
    if len(out) != len(t.names):
        raise ValidationError(f"{len(out)} column alias(es) for the {len(t.names)} columns of "
                              f"the table function {name}")
    fn_types = [ft.nullable_() for ft in t.types]
    corr = Correlate(node, d, cc.operands, side == "LEFT",
                     B.unique_names(list(node.names) + out), list(node.types) + fn_types)
    return corr, scope + B.Scope(out, fn_types, [qualifier] * len(out))


# -- aggregate / flat_aggregate ----------------------------------------------------------------------
def aggregate_select(node: RelNode, keys: List[Any], func: Any, items: List[Any], ctx: Any,
                     window: Any = None) -> RelNode:
    """``group_by(keys).aggregate(f).select(items)``: the aggregate's ROW result becomes
    its fields' columns (named by the alias, else ``TMP_0$field``), then ``items``."""
    e, alias = _alias_of(func)
    if _is_function(e):  # given without arguments: it gets the whole row
        e = Expression("udf_call", _RowArgument(e.function_def(), node.names),
                       *[Expression("col", n) for n in node.names])
    d = e._args[0].function_def() if isinstance(e, Expression) and e._op == "udf_call" else None
    if not isinstance(d, AggregateFunctionDef) or isinstance(d, PythonTableAggregate):
        raise ValidationError(f"aggregate() takes an aggregate function (udaf), not {e}")
    t = d.result_type
    temp = "TMP_0"
    props: List[Any] = []
    if window is not None:  # the window's properties as columns, for the select after
        wname, spec = window
        keys = [k for k in keys if not (k._op == "col" and k._args[0] == wname)]
        props = [Expression("window_property", Expression("col", wname), p).alias(f"{wname}${p}")
                 for p in ("start", "end", "proctime" if spec.proctime else "rowtime")]
        items = [_window_columns(i, wname) for i in items]
    agg = B.aggregate(node, keys, list(keys) + props + [e.alias(temp)], ctx, window=window)
    if isinstance(t, RowType):
        names = alias or [f"{temp}${n}" for n in t.names]
        if len(names) != len(t.names):
            raise ValidationError(f"aggregate(): {len(names)} alias name(s) for the "
                                  f"{len(t.names)} fields of {d.name}'s result")
        flat: RelNode = _flatten(agg, names)
    else:
        flat = Calc(agg, _field_refs(agg), None, list(agg.names[:-1]) + (alias[:1] or [temp]))
    return B.project(flat, items, ctx)


def _window_columns(e: Any, alias: str) -> Any:
    """``e`` with the properties of window ``alias`` (``w.start``...) as the columns
    ``aggregate_select`` gives them."""
    if not isinstance(e, Expression):
        return e
    if e._op == "window_property" and e._args[0]._op == "col" and e._args[0]._args[0] == alias:
        prop = "rowtime" if e._args[1] == "proctime" else e._args[1]
        return Expression("col", f"{alias}${prop}")
    if e._op == "col" and e._args[0] == alias:
        raise ValidationError(f"the window '{alias}' is not a column: use its properties "
                              f"({alias}.start, {alias}.end, {alias}.rowtime)")
    out = Expression(e._op, *[_window_columns(a, alias) for a in e._args])
    out._text = e._text
    return out


def flat_aggregate_select(node: RelNode, keys: List[Any], func: Any, items: List[Any],
                          ctx: Any) -> RelNode:
    """``group_by(keys).flat_aggregate(f).select(items)``: the rows ``emit_value`` gives
    per group (keys ++ the function's columns), then ``items``."""
    e, alias = _alias_of(func)
    whole = _is_function(e)  # given without arguments: it gets the whole row
    d = e.function_def() if whole else e._args[0].function_def() \
        if isinstance(e, Expression) and e._op == "udf_call" else None
    if not isinstance(d, PythonTableAggregate):
        raise ValidationError(f"flat_aggregate() takes a table aggregate function (udtaf), "
                              f"not {e}")
    resolver = B.Resolver(B.Scope.of(node), ctx)
    key_rexes = [resolver.resolve(k) for k in keys]
    args = [_whole_row(node)] if whole else [resolver.resolve(a) for a in e._args[1:]]
    cc = CallContext(d.name, args, str(e), ctx.functions)
    d.coerce(cc)
    pre_rexes = key_rexes + list(cc.operands)
    pre_names = [r.name if isinstance(r, InputRef) and r.name else f"$f{i}"
                 for i, r in enumerate(pre_rexes)]
    pre = Calc(node, pre_rexes, None, B.unique_names(pre_names))
    k = len(key_rexes)
    names = alias or list(d.row_type.names)
    if len(names) != len(d.row_type.names):
        raise ValidationError(f"flat_aggregate(): {len(names)} alias name(s) for the "
                              f"{len(d.row_type.names)} columns of {d.name}")
    agg = TableAggregate(pre, list(range(k)), d, tuple(range(k, len(pre_rexes))),
                         B.unique_names(list(pre.names[:k]) + names),
                         list(pre.types[:k]) + [t.nullable_() for t in d.row_type.types],
                         batch=not ctx.streaming)
    return B.project(agg, items, ctx)


@dataclass(eq=False)
class TableAggregate(RelNode):
    """GROUP BY ``group`` with a table aggregate function: output = keys ++ the
    function's columns, a changelog of the rows each group emits."""

    input: RelNode
    group: List[int]
    function: Any
    args: Tuple[int, ...]
    names: List[str]
    types: List[DataType]
    batch: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    @property
    def updating(self) -> bool:
        return not self.batch

    def kind(self) -> str:
        return "PythonGroupTableAggregate"

    def terms(self) -> str:
        return (f"groupBy=[{', '.join(self.input.names[g] for g in self.group)}], "
                f"select=[{self.function.name.upper()}("
                f"{', '.join(self.input.names[a] for a in self.args)})]")

    def plan(self, planner: Any) -> Any:
        return _plan_grouped(planner, self, TableAggregateBundle)


# -- what the planner asks ------------------------------------------------------------------------------
def has_python(node: RelNode) -> bool:
    """Whether a Calc calls a Python scalar function."""
    rexes = list(getattr(node, "projects", ())) + [getattr(node, "condition", None)]
    return any(python_calls(r) for r in rexes if r is not None)


def python_aggregate(node: Aggregate) -> bool:
    """Whether an aggregation calls a Python aggregate function."""
    return any(is_python(c.fn) for c in node.aggs)


def _settings(planner: Any) -> Dict[str, str]:
    return {k: str(v) for k, v in planner.config.items()}


def _int_setting(planner: Any, key: str) -> int:
    value = planner.config.get(key)
    if value in (None, ""):
        return 0
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValidationError(f"configuration key '{key}' must be a whole number, not "
                              f"{value!r}") from None
    if n < 1:
        raise ValidationError(f"configuration key '{key}' must be at least 1, not {n}")
    return n


def _bundle_params(planner: Any) -> Dict[str, int]:
    """A bundle step's size and time (PyFlink's defaults: 1000 records, 1000 ms)."""
    from .config import parse_duration
    size = _int_setting(planner, "python.fn-execution.bundle.size") or 1000
    time_ms = parse_duration(planner.config.get("python.fn-execution.bundle.time", "1000"))
    return {"size": size, "time_ms": max(1, time_ms)}


def _arrow_batch_size(planner: Any) -> int:
    return _int_setting(planner, "python.fn-execution.arrow.batch.size")


def _step_name(kind: str, node: RelNode) -> str:
    return f"{kind}({node.terms()})"


def _check_shippable(planner: Any, name: str, owner: Any) -> None:
    """In process mode, a Python function that cannot be pickled is refused before the
    job starts, naming the function and what it captured (auto mode keeps such a step
    on a thread)."""
    mode = planner.env.get_execution_mode()
    if mode != "process":
        return
    from ..runtime.executors.wire import _describe, _pickle_error, find_unpicklable
    for fn in bound_functions(owner):
        user = getattr(fn.inst, "func", fn.inst)  # the callable a udf(...) wraps
        if _pickle_error(user) is None:
            continue
        path, culprit, error = find_unpicklable(user)
        via = (" captures " + ", which refers to ".join(path) + f": {_describe(culprit)}"
               if path else f" ({_describe(user)})")
        raise PlanError(
            f"step '{name}' cannot run in {mode} mode: the Python function {fn.name}{via}, "
            f"which cannot be pickled to go to a worker process ({type(error).__name__}: "
            f"{error}). Create such objects in the function's open() (a ScalarFunction's "
            "open runs in the worker), or set python.execution-mode to thread")


def plan_calc(planner: Any, node: Calc) -> Any:
    """The step of a Calc calling Python scalar functions (see the module text)."""
    calls = [c for r in list(node.projects) + [node.condition] if r is not None
             for c in python_calls(r)]
    name = _step_name("PythonCalc", node)
    settings = FunctionSettings(_settings(planner))
    columnar = columnar_input(planner, node.input)
    if columnar is not None:  # a DataFrame/Arrow source: the Calc on its Arrow batches
        fn = ColumnarCalc(_batch_calc(planner, node), name, settings)
        _check_shippable(planner, name, fn)
        out = columnar.map_batches(fn, format="arrow").name(name)
        return out.to_rows("tuple", reason="the rows after a Python UDF").map(
            _insert_row).name("ToRows")
    if any(c.param("fn").pandas for c in calls):
        calc = _batch_calc(planner, node)
        fn2 = PandasCalcBundle(calc, name, settings)
        _check_shippable(planner, name, fn2)
        ds = planner.translate(node.input)
        return ds._add("bundle", name, UserFn((fn2.add,), owner=fn2, name=name), None,
                       **_bundle_params(planner))
    ds = planner.translate(node.input)
    from .codegen import compile_calc
    compiled = compile_calc(node.projects, node.condition, planner.functions, planner.zone)
    fn3 = PythonCalcFunction(compiled, name, node.input.names, settings,
                             filters=node.condition is not None)
    _check_shippable(planner, name, fn3)
    if node.condition is None:
        return ds.map(fn3).name(name)
    return ds.flat_map(fn3).name(name)


def _batch_calc(planner: Any, node: Calc) -> Any:
    from .pandas_udf import BatchCalc
    return BatchCalc(node.projects, node.condition, node.input.names, node.input.types,
                     node.names, planner.functions, planner.zone, _arrow_batch_size(planner))


def columnar_input(planner: Any, node: RelNode) -> Any:
    """A columnar stream (Arrow batches) of ``node``'s rows when it is a scan of a source
    that has one (a DataFrame, an Arrow table, Parquet), else None."""
    if planner.setting("nbstream.table.columnar", "true").lower() != "true":
        return None
    if isinstance(node, Scan) and not node.updating:
        try:
            return node.source.columnar(planner.env)
        except Exception:
            return None
    return None


def _insert_row(values: tuple) -> tuple:
    return (INSERT,) + values


def plan_correlate(planner: Any, node: Correlate) -> Any:
    """A table function per row (``join_lateral`` / ``LATERAL TABLE``)."""
    from .codegen import compile_calc, compile_predicate
    ds = planner.translate(node.input)
    args = compile_calc(node.args, None, planner.functions, planner.zone, name="udtf_args")
    rows = node.function.create([a.type for a in node.args])
    cond = (compile_predicate(node.condition, planner.functions, planner.zone)
            if node.condition is not None else None)
    width = len(node.types) - len(node.input.types)
    name = _step_name("PythonCorrelate", node)
    fn = CorrelateFunction(args, rows, cond, node.left, width, name, node.input.names,
                           FunctionSettings(_settings(planner)))
    _check_shippable(planner, name, fn)
    return ds.flat_map(fn).name(name)


def plan_python_aggregate(planner: Any, node: Aggregate) -> Any:
    """A streaming GROUP BY with a Python aggregate: one result per key per bundle."""
    return _plan_grouped(planner, node, GroupAggregateBundle)


def _plan_grouped(planner: Any, node: Any, bundle_cls: Any) -> Any:
    from .codegen import compile_key
    from .functions.aggregates import make_accumulator
    from .operators import Aggregates, GroupAggregate, constant_key
    ds = planner.translate(node.input)
    k = len(node.group)
    retract = node.input.updating
    if isinstance(node, TableAggregate):
        fn = node.function
        accs = [fn.create([node.input.types[a] for a in node.args], fn.row_type, retract)]
        aggs = Aggregates(accs, [node.args], [None])
    else:
        accs = [make_accumulator(c.fn, [node.input.types[a] for a in c.args], c.type, retract,
                                 c.distinct) for c in node.aggs]
        aggs = Aggregates(accs, [c.args for c in node.aggs], [c.filter for c in node.aggs])
    key = compile_key(node.group) if k else constant_key
    keyed = ds.key_by(key)
    kind = node.kind() if isinstance(node, TableAggregate) else "PythonGroupAggregate"
    name = _step_name(kind, node)
    settings = FunctionSettings(_settings(planner))
    if node.batch and not isinstance(node, TableAggregate):
        fn0 = GroupAggregate(aggs, k, planner.ttl_ms(), batch=True)
        out = keyed.process(fn0).name(name).uid(planner.uid(node))
    else:
        fn1 = bundle_cls(aggs, k, name, settings, node.input.names, planner.ttl_ms())
        _check_shippable(planner, name, fn1)
        out = keyed._add("bundle", name, UserFn((fn1.add,), owner=fn1, name=name), None,
                         **_bundle_params(planner)).uid(planner.uid(node))
    if k == 0:
        out.set_parallelism(1)
    return out


# -- the runtime functions --------------------------------------------------------------------------
def _failed(exc: BaseException, record: Any) -> BaseException:
    """The exception a step raises when a Python function failed on ``record``: the user's
    own exception (its traceback), or for a result of the wrong type the UdfError saying
    so; it names the function and the record for the step's error (``Operator.error``)."""
    cause = exc.__cause__ if isinstance(exc, UdfError) and exc.__cause__ is not None else exc
    cause.nbstream_where = (getattr(exc, "function", ""), record)  # type: ignore[union-attr]
    return cause


def _shown_row(names: Sequence[str], r: tuple) -> Row:
    row = Row(*r[1:])
    row._fields = list(names)
    row._row_kind = RowKind(r[0]) if isinstance(r[0], int) and 0 <= r[0] <= 3 else RowKind.INSERT
    return row


class _PythonStep:
    """Shared by the steps calling Python functions: open them (with a FunctionContext)
    and close them, and report their metrics with the step's."""

    step = ""

    def _open_functions(self, runtime_context: Any) -> None:
        self.runtime_context = runtime_context
        self.metrics: Dict[str, Any] = {}
        context = self.settings.context(runtime_context, self.metrics)  # type: ignore
        for fn in bound_functions(self._functions()):
            fn.open(context)

    def _functions(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        for fn in bound_functions(self._functions()):
            fn.close()

    def extra_metrics(self) -> Dict[str, Any]:
        from .udf import metric_values
        return metric_values(getattr(self, "metrics", {}))


class PythonCalcFunction(_PythonStep, MapFunction, FlatMapFunction):
    """A Calc with general Python UDFs, as generated row code."""

    def __init__(self, compiled: Any, step: str, input_names: Sequence[str],
                 settings: FunctionSettings, filters: bool = False) -> None:
        self.calc, self.step, self.input_names = compiled, step, list(input_names)
        self.settings, self.filters = settings, filters

    def _functions(self) -> Any:
        return self.calc.bindings

    def open(self, runtime_context: Any) -> None:
        self._open_functions(runtime_context)
        self.f = self.calc.fn

    def map(self, value: tuple) -> tuple:
        try:
            return self.f(value)
        except UdfError as exc:
            raise _failed(exc, _shown_row(self.input_names, value)) from None

    def flat_map(self, value: tuple) -> Any:
        try:
            out = self.f(value)
        except UdfError as exc:
            raise _failed(exc, _shown_row(self.input_names, value)) from None
        return () if out is None else (out,)

    def __repr__(self) -> str:
        return f"<{self.step}>"


class PandasCalcBundle(_PythonStep):
    """A Calc with pandas UDFs on the row path: a bundle's rows evaluated as columns."""

    def __init__(self, calc: Any, step: str, settings: FunctionSettings) -> None:
        self.calc, self.step, self.settings = calc, step, settings

    def _functions(self) -> Any:
        return self.calc

    def open(self, runtime_context: Any) -> None:
        self._open_functions(runtime_context)
        self.rows: List[tuple] = []
        self.tss: List[Any] = []

    def add(self, batch: Batch, ctx: Any) -> None:
        self.rows.extend(batch.values)
        if batch.timestamps is not None:
            self.tss.extend(batch.timestamps)

    def finish(self, ctx: Any) -> Batch:
        from .pandas_udf import _RowFailure
        rows, tss = self.rows, self.tss or None
        self.rows, self.tss = [], []
        try:
            out, kept = self.calc.rows(rows)
        except _RowFailure as exc:
            raise _failed(exc.cause, exc.row if exc.row is not None else
                          f"a batch of {len(rows)} rows") from None
        if tss is not None and kept is not None:
            tss = [tss[i] for i in kept]
        return Batch(out, tss)


class ColumnarCalc(_PythonStep, MapFunction):
    """A Calc with pandas UDFs on the columnar path: an Arrow batch in, one out."""

    def __init__(self, calc: Any, step: str, settings: FunctionSettings) -> None:
        self.calc, self.step, self.settings = calc, step, settings

    def _functions(self) -> Any:
        return self.calc

    def open(self, runtime_context: Any) -> None:
        self._open_functions(runtime_context)

    def map(self, rb: Any) -> Any:
        from .pandas_udf import _RowFailure
        try:
            return self.calc.batch(rb)
        except _RowFailure as exc:
            raise _failed(exc.cause, exc.row if exc.row is not None else
                          f"a batch of {rb.num_rows} rows") from None


class CorrelateFunction(_PythonStep, FlatMapFunction):
    """A table function per row: the row joined with each row it makes."""

    def __init__(self, args: Any, rows: Any, condition: Any, left: bool, width: int, step: str,
                 input_names: Sequence[str], settings: FunctionSettings) -> None:
        self.args, self.rows, self.condition, self.left = args, rows, condition, left
        self.pad = (None,) * width
        self.step, self.input_names, self.settings = step, list(input_names), settings

    def _functions(self) -> Any:
        return [self.rows, self.args.bindings,
                self.condition.bindings if self.condition is not None else None]

    def open(self, runtime_context: Any) -> None:
        self._open_functions(runtime_context)

    def flat_map(self, value: tuple) -> Any:
        try:
            made = self.rows(*self.args(value)[1:])
            out = [value + r for r in made]
            if self.condition is not None:
                out = [r for r in out if self.condition(r)]
        except UdfError as exc:
            raise _failed(exc, _shown_row(self.input_names, value)) from None
        if not out and self.left:
            return (value + self.pad,)
        return out


class GroupAggregateBundle(_PythonStep):
    """A streaming GROUP BY with Python aggregates, as PyFlink evaluates it: the rows of
    a bundle are accumulated first, then each key touched emits once, in the order the
    keys first came: ``+I`` the first time, ``-U`` old / ``+U`` new when the value
    changed (nothing when it did not), ``-D`` when its rows were all retracted.

    State per key: ``[row count, accumulators, last emitted values]``."""

    def __init__(self, aggregates: Any, key_len: int, step: str, settings: FunctionSettings,
                 input_names: Sequence[str], ttl_ms: int = 0) -> None:
        self.aggregates, self.key_len, self.step = aggregates, key_len, step
        self.settings, self.input_names, self.ttl_ms = settings, list(input_names), ttl_ms

    def _functions(self) -> Any:
        return self.aggregates.accs

    def open(self, runtime_context: Any) -> None:
        self._open_functions(runtime_context)
        descriptor = ValueStateDescriptor("python-group-agg")
        if self.ttl_ms > 0:
            from ..api.state import StateTtlConfig
            from ..runtime.durations import Time
            descriptor.enable_time_to_live(StateTtlConfig.new_builder(
                Time.milliseconds(self.ttl_ms)).build())
        self.state = runtime_context.get_state(descriptor)
        self.touched: Dict[Any, tuple] = {}  # keys of the open bundle, in first-seen order

    def add(self, batch: Batch, ctx: Any) -> None:
        state, aggs, k, touched = self.state, self.aggregates, self.key_len, self.touched
        for r, key in zip(batch.values, batch.keys):  # type: ignore[arg-type]
            ctx.set_current_key(key)
            st = state.value()
            accumulate = r[0] == INSERT or r[0] == UPDATE_AFTER
            if st is None:
                if not accumulate:
                    continue  # a retraction of a group that has no state
                st = [0, aggs.create(), None]
            try:
                if accumulate:
                    st[0] += 1
                    aggs.add(st[1], r)
                else:
                    st[0] -= 1
                    aggs.retract(st[1], r)
            except UdfError as exc:
                raise _failed(exc, _shown_row(self.input_names, r)) from None
            state.update(st)
            if key not in touched:
                touched[key] = r[1:k + 1]

    def finish(self, ctx: Any) -> Batch:
        touched, self.touched = self.touched, {}
        out: List[tuple] = []
        for key, key_values in touched.items():
            ctx.set_current_key(key)
            self._emit(self.state.value(), key_values, out)
        return Batch(out)

    def _emit(self, st: Any, key: tuple, out: List[tuple]) -> None:
        prev = st[2]
        if st[0] > 0:
            try:
                new = self.aggregates.values(st[1])
            except UdfError as exc:
                raise _failed(exc, Row(*key)) from None
            if prev is None:
                out.append((INSERT,) + key + new)
            elif new != prev or self.ttl_ms > 0:
                out.append((UPDATE_BEFORE,) + key + prev)
                out.append((UPDATE_AFTER,) + key + new)
            st[2] = new
            self.state.update(st)
            return
        self.state.clear()
        if prev is not None:
            out.append((DELETE,) + key + prev)


class TableAggregateBundle(GroupAggregateBundle):
    """``flat_aggregate``: per bundle, each group touched retracts the rows it emitted
    before (``-D``) and emits its new ones (``+I``)."""

    def _emit(self, st: Any, key: tuple, out: List[tuple]) -> None:
        prev = st[2] or []
        for row in prev:
            out.append((DELETE,) + key + row)
        if st[0] > 0:
            try:
                new = self.aggregates.values(st[1])[0]
            except UdfError as exc:
                raise _failed(exc, Row(*key)) from None
            out.extend((INSERT,) + key + row for row in new)
            st[2] = new
            self.state.update(st)
            return
        self.state.clear()


# -- results and explanations ------------------------------------------------------------------------
def columnar_frame(planner: Any, node: RelNode) -> Any:
    """``Table.to_pandas()`` of a projection calling Python UDFs over a DataFrame/Arrow
    source: the Arrow batches gathered into a DataFrame (no Python object per row);
    None when the query is not of that shape."""
    if not isinstance(node, Calc) or not has_python(node):
        return None
    if columnar_input(planner, node.input) is None:
        return None
    import pyarrow as pa
    from .values import arrow_type
    name = _step_name("PythonCalc", node)
    fn = ColumnarCalc(_batch_calc(planner, node), name, FunctionSettings(_settings(planner)))
    _check_shippable(planner, name, fn)
    from .pandas_udf import _unique
    table = columnar_input(planner, node.input).map_batches(fn, format="arrow").name(name) \
        .to_arrow("to_pandas")
    if table.num_columns == 0:  # no batch at all
        table = pa.schema([pa.field(n, arrow_type(t)) for n, t in
                           zip(_unique(node.names), node.types)]).empty_table()
    frame = table.to_pandas()
    frame.columns = list(node.names)
    return frame


def python_steps(tenv: Any, node: RelNode) -> str:
    """Where each Python function step of ``node``'s job runs (thread, process, auto) and
    why, one line per step: what ``Table.explain()`` adds. Empty without Python steps."""
    if not _calls_python_anywhere(node):
        return ""
    env = tenv._new_env()
    own = getattr(tenv, "_env", None)  # a StreamTableEnvironment's own environment
    if own is not None:
        env.set_execution_mode(own.get_execution_mode())
        env.set_parallelism(own.get_parallelism())
        tenv._configure_env(env)
    try:
        tenv._planner(env).translate(node)
        plan = env._plan("explain", all_nodes=True)
    except Exception as exc:  # explain must not fail on what the job would refuse later
        return f"(not planned: {exc})"
    lines = []
    for c in plan.chains:
        mode, why = plan.chain_mode(c.id), plan.mode_reasons.get(c.id, "")
        for nid in c.nodes:
            name = plan.nodes[nid].name
            if name.startswith("Python"):
                lines.append(f"{name}: {mode} ({why})")
    return "\n".join(lines)


def _calls_python_anywhere(node: RelNode) -> bool:
    if node.kind().startswith("Python"):
        return True
    return any(_calls_python_anywhere(i) for i in node.inputs)
