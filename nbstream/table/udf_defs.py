"""Python UDFs as the planner sees them: each wrapper of :mod:`nbstream.table.udf` gives a
definition with the interface of the built-ins (:mod:`nbstream.table.functions`), so type
checking, SQL calls by name and code generation treat it as one more function.

* :class:`PythonScalar` (a ``ScalarFunctionDef``): a general UDF is emitted into the
  generated row code as a call of an *invoker*, which calls the user's ``eval`` and checks
  the result against the declared type; a pandas UDF is evaluated on batches
  (:mod:`nbstream.table.pandas_udf`). A call carries its definition (``Call.params``
  ``udf``), so a UDF used inline needs no registration.
* :class:`PythonAggregate` (an ``AggregateFunctionDef``): an :class:`Accumulator` over the
  user's ``AggregateFunction`` (or, for a pandas UDAF, over the argument rows).
* :class:`PythonTable` (a ``TableFunctionDef``): rows per input row.
* :class:`PythonTableAggregate`: ``flat_aggregate``'s ``emit_value``.

Each parallel instance of a step calls its own copy of the user's function object
(``open(FunctionContext)`` first, ``close()`` last), as Flink does.
"""

from __future__ import annotations

import copy
from types import GeneratorType
from typing import Any, Callable, Dict, List, Optional, Sequence

from ..errors import USER_ERRORS
from .functions import (Accumulator, AggregateFunctionDef, CallContext, ScalarFunctionDef,
                        TableFunctionDef)
from .rex import Call
from .types import DataType, DataTypes, RowType, ValidationError
from .values import converter

__all__ = ["definition_of", "PythonScalar", "PythonAggregate", "PythonTable",
           "PythonTableAggregate", "UdfError", "is_python", "python_calls", "result_converter",
           "Bound", "bound_functions", "FunctionSettings", "fresh"]

_INT_BITS = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}


class UdfError(Exception):
    """A Python UDF failed: it raised (``__cause__`` is the user's exception, with the
    user's traceback) or returned a value that is not of its declared type. The step
    around it adds the step name and the row."""

    def __init__(self, function: str, message: str) -> None:
        super().__init__(message)
        self.function = function

    def __reduce__(self) -> Any:  # travels from a worker process
        return (type(self), (self.function, self.args[0]))


def _raised(name: str, exc: BaseException, phase: str = "") -> UdfError:
    where = f" in {phase}" if phase else ""
    return UdfError(name, f"the Python function {name} raised{where} "
                          f"{type(exc).__name__}: {exc}")


def result_converter(t: DataType, name: str, what: str = "result type") -> Callable[[Any], Any]:
    """``conv(value)``: a UDF's result as the runtime's value of ``t``, or a
    :class:`UdfError` naming the function, the declared type and the value."""
    base = converter(t)
    bits = _INT_BITS.get(t.root)

    def fail(v: Any) -> UdfError:
        return UdfError(name, f"the Python function {name} returned {v!r} "
                              f"({type(v).__name__}), which is not of its declared {what} "
                              f"{t.summary_string()}")

    if bits is not None:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

        def conv_int(v: Any) -> Any:
            try:
                out = base(v)
            except ValidationError:
                raise fail(v) from None
            if out is not None and not low <= out <= high:
                raise fail(v)
            return out
        return conv_int

    def conv(v: Any) -> Any:
        try:
            return base(v)
        except (ValidationError, TypeError, ValueError, AttributeError):
            raise fail(v) from None
    return conv


# -- the user's function objects of a step ------------------------------------------------------
def fresh(obj: Any) -> Any:
    """A copy of a user's function object (each use of a function, and each parallel
    instance of a step, gets its own, as Flink deserializes one per instance)."""
    try:
        return copy.deepcopy(obj)
    except Exception:  # an object that cannot be copied is shared, as the DataStream API does
        return obj


class Bound:
    """A user's function object as a step holds it: opened once (by the step with its
    FunctionContext, or on first use when nothing opens it), closed by the step.
    Deep-copied with the step for each parallel instance."""

    def __init__(self, name: str, inst: Any) -> None:
        self.name, self.inst, self.opened = name, inst, False

    def open(self, context: Any = None) -> None:
        self.opened = True
        opener = getattr(self.inst, "open", None)
        if opener is None:
            return
        if context is None:
            from .udf import FunctionContext, MetricGroup
            context = FunctionContext(MetricGroup({}), {})
        try:
            opener(context)
        except USER_ERRORS as exc:
            raise _raised(self.name, exc, "open()") from exc

    def close(self) -> None:
        closer = getattr(self.inst, "close", None)
        if closer is not None and self.opened:
            self.opened = False
            try:
                closer()
            except USER_ERRORS as exc:
                raise _raised(self.name, exc, "close()") from exc


class FunctionSettings:
    """What a step tells its functions' ``open``: metrics on or off, the job parameters."""

    def __init__(self, config: Optional[Dict[str, str]] = None) -> None:
        config = config or {}
        self.metrics = str(config.get("python.metric.enabled", "true")).lower() != "false"
        self.job_parameters = parse_job_parameters(config.get("pipeline.global-job-parameters"))

    def context(self, runtime_context: Any, registry: Dict[str, Any]) -> Any:
        from .udf import FunctionContext, MetricGroup
        params = dict(self.job_parameters)
        if runtime_context is not None:
            params.update({str(k): str(v) for k, v in runtime_context.job_parameters.items()})
        return FunctionContext(MetricGroup(registry) if self.metrics else None, params,
                               runtime_context)


def bound_functions(obj: Any) -> List[Bound]:
    """The :class:`Bound` function objects inside ``obj`` (a step's compiled code,
    accumulators, evaluators), each once."""
    out: List[Bound] = []
    seen: set = set()

    def visit(x: Any, depth: int = 0) -> None:
        if id(x) in seen or depth > 12:
            return
        seen.add(id(x))
        if isinstance(x, Bound):
            out.append(x)
            return
        if isinstance(x, dict):
            for v in x.values():
                visit(v, depth + 1)
        elif isinstance(x, (list, tuple)):
            for v in x:
                visit(v, depth + 1)
        elif hasattr(x, "__dict__") and type(x).__module__.startswith("nbstream."):
            visit(vars(x), depth + 1)
        elif hasattr(x, "__slots__") and type(x).__module__.startswith("nbstream."):
            for slot in x.__slots__:
                visit(getattr(x, slot, None), depth + 1)
    visit(obj)
    return out


def parse_job_parameters(text: Any) -> Dict[str, str]:
    """``'k1:v1,k2:v2'`` (Flink's ``pipeline.global-job-parameters``) as a dict."""
    if not text:
        return {}
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    out = {}
    for part in str(text).split(","):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip()] = v.strip()
    return out


# -- definitions ---------------------------------------------------------------------------------
def is_python(fn: Any) -> bool:
    return bool(getattr(fn, "python", False))


def python_calls(rex: Any) -> List[Call]:
    """The calls of Python scalar functions inside ``rex``."""
    from .rex import walk
    return [c for c in walk(rex) if isinstance(c, Call) and is_python(c.param("fn"))]


def _coerce(ctx: CallContext, input_types: Optional[List[DataType]], name: str) -> None:
    if input_types is None:
        return
    if len(input_types) != len(ctx.operands):
        raise ctx.fail(f"{name} takes {len(input_types)} argument(s) (its input_types), not "
                       f"{len(ctx.operands)}")
    for i, t in enumerate(input_types):
        ctx.cast(i, t)


class PythonScalar(ScalarFunctionDef):
    """A Python scalar function (general or pandas) for the planner."""

    python = True

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper
        self.name = wrapper._name
        self.deterministic = wrapper._deterministic
        self.pandas = wrapper._func_type == "pandas"
        self.result_type: DataType = wrapper._result_type
        self.input_types = wrapper._input_types

    def coerce(self, ctx: CallContext) -> None:
        _coerce(ctx, self.input_types, self.name)

    def infer(self, ctx: CallContext) -> DataType:
        return self.result_type

    def params(self, ctx: CallContext) -> tuple:
        return (("fn", self),)

    def bound(self) -> Bound:
        """A fresh copy of the user's function object, for one step."""
        return Bound(self.name, fresh(self.wrapper.eval_function()))

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        if self.pandas:
            raise ValidationError(f"the pandas UDF {self.name} can only be called in a "
                                  "projection or a filter (select/where), not here")
        return f"{gen.bind(Invoker(self, self.bound()), 'u')}({', '.join(args)})"


class Invoker:
    """The call generated row code makes: the user's ``eval``, its result checked against
    the declared type; a failure is a :class:`UdfError` naming the function."""

    __slots__ = ("name", "fn", "conv", "eval")

    def __init__(self, d: PythonScalar, fn: Bound) -> None:
        self.name, self.fn = d.name, fn
        self.conv = result_converter(d.result_type, d.name)
        self.eval = _direct(fn.inst)

    def __call__(self, *args: Any) -> Any:
        if not self.fn.opened:
            self.fn.open()
        try:
            v = self.eval(*args)
        except UdfError:
            raise
        except USER_ERRORS as exc:
            raise _raised(self.name, exc) from exc
        return self.conv(v)


def _direct(inst: Any) -> Callable[..., Any]:
    """What to call for ``inst.eval``: the callable itself for a wrapped plain function
    (one Python frame less per row)."""
    from .udf import _Delegating, _DelegatingTable
    if isinstance(inst, (_Delegating, _DelegatingTable)):
        return inst.func
    return inst.eval


class PythonAggregate(AggregateFunctionDef):
    """A Python aggregate function (general or pandas) for the planner."""

    python = True
    columnar = None

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper
        self.name = wrapper._name
        self.pandas = wrapper._func_type == "pandas"
        self.result_type: DataType = wrapper._result_type
        self.input_types = wrapper._input_types
        self.deterministic = wrapper._deterministic

    def coerce(self, ctx: CallContext) -> None:
        _coerce(ctx, self.input_types, self.name)

    def infer(self, ctx: CallContext) -> DataType:
        return self.result_type

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        fn = Bound(self.name, fresh(self.wrapper.aggregate_function()))
        if self.pandas:
            from .pandas_udf import PandasAccumulator
            return PandasAccumulator(self, fn, list(arg_types))
        return UdafAccumulator(self, fn)


class UdafAccumulator(Accumulator):
    """The runtime side of a general Python UDAF: the user's accumulator, mutated by
    ``accumulate``/``retract``/``merge``, read by ``get_value``."""

    def __init__(self, d: Any, fn: Bound) -> None:
        self.name, self.fn = d.name, fn
        self.conv = result_converter(d.result_type, d.name)

    def create(self) -> Any:
        if not self.fn.opened:
            self.fn.open()
        try:
            return self.fn.inst.create_accumulator()
        except USER_ERRORS as exc:
            raise _raised(self.name, exc, "create_accumulator()") from exc

    def add(self, acc: Any, *args: Any) -> Any:
        try:
            self.fn.inst.accumulate(acc, *args)
        except USER_ERRORS as exc:
            raise _raised(self.name, exc, "accumulate()") from exc
        return acc

    def retract(self, acc: Any, *args: Any) -> Any:
        try:
            self.fn.inst.retract(acc, *args)
        except USER_ERRORS as exc:
            raise _raised(self.name, exc, "retract()") from exc
        return acc

    def merge(self, acc: Any, other: Any) -> Any:
        try:
            self.fn.inst.merge(acc, [other])
        except USER_ERRORS as exc:
            raise _raised(self.name, exc, "merge()") from exc
        return acc

    def value(self, acc: Any) -> Any:
        try:
            v = self.fn.inst.get_value(acc)
        except USER_ERRORS as exc:
            raise _raised(self.name, exc, "get_value()") from exc
        return self.conv(v)


def udtf_row_type(wrapper: Any) -> RowType:
    """The columns a UDTF adds: its result row's names, else ``f0, f1, ...``."""
    row = getattr(wrapper, "_result_row", None)
    if row is not None:
        return row
    return DataTypes.ROW([DataTypes.FIELD(f"f{i}", t)  # type: ignore[return-value]
                          for i, t in enumerate(wrapper._result_types)])


class PythonTable(TableFunctionDef):
    """A Python table function: ``create()`` gives ``rows(*args)`` -> tuples of the
    result columns (checked against the declared types)."""

    python = True

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper
        self.name = wrapper._name
        self.row_type = udtf_row_type(wrapper)
        self.input_types = wrapper._input_types
        self.deterministic = wrapper._deterministic

    def coerce(self, ctx: CallContext) -> None:
        _coerce(ctx, self.input_types, self.name)

    def infer(self, ctx: CallContext) -> DataType:
        return self.row_type

    def create(self, arg_types: Sequence[DataType]) -> Callable[..., Any]:
        return TableRows(self, Bound(self.name, fresh(self.wrapper.eval_function())))


class TableRows:
    """``rows(*args)``: the result tuples of one call of a UDTF's ``eval``, which may
    yield or return rows (tuples, Rows) or single values, return one row, or None."""

    def __init__(self, d: PythonTable, fn: Bound) -> None:
        self.name, self.fn = d.name, fn
        self.eval = _direct(fn.inst)
        types = list(d.row_type.types)
        self.width = len(types)
        self.convs = [result_converter(t, d.name, f"result column {i} type")
                      for i, t in enumerate(types)]

    def __call__(self, *args: Any) -> List[tuple]:
        if not self.fn.opened:
            self.fn.open()
        try:
            result = self.eval(*args)
            if result is None:
                return []
            items = list(result) if isinstance(result, (list, range, GeneratorType)) \
                else [result]
        except UdfError:
            raise
        except USER_ERRORS as exc:
            raise _raised(self.name, exc) from exc
        return [self.row(item) for item in items]

    def row(self, item: Any) -> tuple:
        values = _fields(item)
        if len(values) != self.width:
            raise UdfError(self.name, f"the Python function {self.name} produced the row "
                                      f"{item!r} with {len(values)} field(s); its result "
                                      f"type declares {self.width}")
        return tuple(c(v) for c, v in zip(self.convs, values))


def _fields(item: Any) -> tuple:
    """One result row's fields, as PyFlink reads them: a tuple's items, a Row's values,
    else the value alone."""
    if isinstance(item, tuple):
        return item
    if hasattr(item, "_values") and type(item).__name__ == "Row":  # nbstream's or PyFlink's
        return tuple(item._values)
    return (item,)


class PythonTableAggregate(AggregateFunctionDef):
    """A Python table aggregate function (``flat_aggregate``) for the planner."""

    python = True
    columnar = None

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper
        self.name = wrapper._name
        rt = wrapper._result_type
        self.row_type: RowType = rt if isinstance(rt, RowType) else DataTypes.ROW(  # type: ignore
            [DataTypes.FIELD("f0", rt)])
        self.result_type = self.row_type
        self.input_types = wrapper._input_types

    def coerce(self, ctx: CallContext) -> None:
        _coerce(ctx, self.input_types, self.name)

    def infer(self, ctx: CallContext) -> DataType:
        return self.row_type

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return TableAggAccumulator(self, Bound(self.name,
                                               fresh(self.wrapper.aggregate_function())))


class TableAggAccumulator(UdafAccumulator):
    """A table aggregate's accumulator; ``value`` is the list of emitted rows."""

    def __init__(self, d: PythonTableAggregate, fn: Bound) -> None:
        self.name, self.fn = d.name, fn
        types = list(d.row_type.types)
        self.width = len(types)
        self.convs = [result_converter(t, d.name, f"result column {i} type")
                      for i, t in enumerate(types)]

    def value(self, acc: Any) -> Any:
        try:
            rows = list(self.fn.inst.emit_value(acc) or ())
        except USER_ERRORS as exc:
            raise _raised(self.name, exc, "emit_value()") from exc
        return [TableRows.row(self, item) for item in rows]  # type: ignore[arg-type]


def definition_of(wrapper: Any) -> Any:
    from .udf import (UserDefinedAggregateFunctionWrapper, UserDefinedScalarFunctionWrapper,
                      UserDefinedTableFunctionWrapper)
    if isinstance(wrapper, UserDefinedScalarFunctionWrapper):
        return PythonScalar(wrapper)
    if isinstance(wrapper, UserDefinedTableFunctionWrapper):
        return PythonTable(wrapper)
    if isinstance(wrapper, UserDefinedAggregateFunctionWrapper):
        if wrapper._is_table_aggregate:
            return PythonTableAggregate(wrapper)
        return PythonAggregate(wrapper)
    raise TypeError(f"not a Python UDF wrapper: {wrapper!r}")
