"""Vectorized evaluation of Python UDFs: a projection (and filter) computed on a batch of
rows at once, column by column.

A pandas UDF gets each argument as a pandas Series (a ROW argument as a DataFrame) made
from an Arrow array of the batch's column (``pyarrow.Array.to_pandas``: no Python step
per row), and returns a Series of the same length, turned back into an Arrow array of
its declared type. A general UDF in the same batch is called once per row through
``map`` over the argument columns; any other expression falls back to the generated row
code over the columns it needs.

:class:`BatchCalc` evaluates a Calc on a list of row tuples (``rows``, the row path: the
``bundle`` step of :mod:`nbstream.runtime.bundles`) or on an Arrow ``RecordBatch``
(``batch``, the columnar path: a DataFrame, Arrow or Parquet source, where batches stay
Arrow end to end and cross processes as Arrow IPC). :class:`PandasAccumulator` is a
pandas UDAF's accumulator (the rows of a group, window or OVER frame, given to the
function as Series).

>>> from nbstream.table.rex import Call, InputRef
>>> from nbstream.table.types import DataTypes
>>> from nbstream.table.udf import udf
>>> plus_one = udf(lambda s: s + 1, result_type=DataTypes.BIGINT(), func_type="pandas")
>>> d = plus_one.function_def()
>>> x = InputRef(0, DataTypes.BIGINT(), "x")
>>> calc = BatchCalc([x, Call(d.name, (x,), d.result_type, (("fn", d),))], None, ["x"],
...                  [DataTypes.BIGINT()])
>>> calc.open()
>>> calc.rows([(0, 1), (0, 2)])
([(0, 1, 2), (0, 2, 3)], None)
"""

from __future__ import annotations

from itertools import compress, repeat
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import USER_ERRORS
from .functions import Accumulator
from .rex import Call, InputRef, Literal, Rex
from .types import DataType, RowType, ValidationError
from .udf_defs import (Bound, UdfError, _direct, _raised, bound_functions, fresh, is_python,
                       result_converter)
from .values import _unique, arrow_type, converter

__all__ = ["BatchCalc", "PandasAccumulator", "to_arrow", "from_arrow", "to_pandas",
           "from_pandas"]


# -- values <-> Arrow <-> pandas ----------------------------------------------------------------
def _nested(t: DataType) -> bool:
    """Whether values of ``t`` need a conversion on their way into or out of Arrow."""
    return t.root in ("ROW", "MAP", "ARRAY", "MULTISET")


def _to_arrow_value(t: DataType) -> Callable[[Any], Any]:
    """A runtime value of ``t`` as pyarrow takes it (a Row as a tuple, recursively)."""
    root = t.root
    if root == "ROW":
        inner = [_to_arrow_value(ft) for ft in t.types]  # type: ignore[attr-defined]
        return lambda v: None if v is None else tuple(f(x) for f, x in zip(inner, v))
    if root in ("ARRAY", "MULTISET"):
        el = _to_arrow_value(t.element)  # type: ignore[attr-defined]
        return lambda v: None if v is None else [el(x) for x in v]
    if root == "MAP":
        kf, vf = _to_arrow_value(t.key), _to_arrow_value(t.value)  # type: ignore[attr-defined]
        return lambda v: None if v is None else [(kf(k), vf(x)) for k, x in v.items()]
    return lambda v: v


def to_arrow(values: Sequence[Any], t: DataType) -> Any:
    """Runtime values of ``t`` as an Arrow array of ``t``'s Arrow type."""
    import pyarrow as pa
    if _nested(t):
        f = _to_arrow_value(t)
        values = [f(v) for v in values]
    return pa.array(values, type=arrow_type(t))


def _from_arrow_value(t: DataType) -> Optional[Callable[[Any], Any]]:
    root = t.root
    if root == "ROW":
        from ..runtime.row import Row
        names = t.names  # type: ignore[attr-defined]
        inner = [_from_arrow_value(ft) or (lambda x: x) for ft in t.types]  # type: ignore

        def row(v: Any) -> Any:
            if v is None:
                return None
            r = Row(*[f(v[n]) for f, n in zip(inner, names)])
            r._fields = list(names)
            return r
        return row
    if root in ("ARRAY", "MULTISET"):
        el = _from_arrow_value(t.element)  # type: ignore[attr-defined]
        return None if el is None else (lambda v: None if v is None else [el(x) for x in v])
    if root == "MAP":
        kf = _from_arrow_value(t.key) or (lambda x: x)  # type: ignore[attr-defined]
        vf = _from_arrow_value(t.value) or (lambda x: x)  # type: ignore[attr-defined]
        return lambda v: None if v is None else {kf(k): vf(x) for k, x in v}
    return None


def from_arrow(array: Any, t: DataType) -> List[Any]:
    """An Arrow array of ``t`` as the runtime's values."""
    if array.null_count == 0 and t.root in ("TINYINT", "SMALLINT", "INT", "BIGINT", "DOUBLE"):
        return array.to_numpy(zero_copy_only=False).tolist()
    values = array.to_pylist()
    f = _from_arrow_value(t)
    return values if f is None else [f(v) for v in values]


def to_pandas(array: Any, t: DataType) -> Any:
    """What a pandas function receives for a column: a Series; for a ROW a DataFrame, its
    nested ROW fields flattened into columns (as PyFlink gives them)."""
    if isinstance(t, RowType):
        import pandas as pd
        return pd.DataFrame(dict(_row_columns(array, t)))
    return array.to_pandas()


def _row_columns(array: Any, t: RowType) -> List[Tuple[str, Any]]:
    out: List[Tuple[str, Any]] = []
    for i, (n, ft) in enumerate(zip(t.names, t.types)):
        child = array.field(i)
        if isinstance(ft, RowType):
            out.extend(_row_columns(child, ft))
        else:
            out.append((n, child.to_pandas()))
    return out


def from_pandas(result: Any, t: DataType) -> Any:
    """A pandas function's result (Series, DataFrame for a ROW, array-like) as an Arrow
    array of ``t``. Raises ValueError/TypeError when it does not fit."""
    import pyarrow as pa
    target = arrow_type(t)
    if isinstance(t, RowType) and hasattr(result, "columns"):
        fields = [from_pandas(result.iloc[:, i], ft) for i, ft in enumerate(t.types)]
        return pa.StructArray.from_arrays(fields, fields=list(target))
    if isinstance(result, pa.ChunkedArray):
        result = result.combine_chunks()
    arr = result if isinstance(result, pa.Array) else pa.Array.from_pandas(result)
    if arr.type != target:
        temporal = pa.types.is_timestamp(target) or pa.types.is_time(target)
        arr = arr.cast(target, safe=not temporal)
    return arr


def _fits(arr: Any, target: Any) -> bool:
    """Whether values Arrow inferred as ``arr.type`` convert to ``target`` without
    changing a value (ints to a wider or float type, floats to float32, nulls)."""
    import pyarrow as pa
    src = arr.type
    if src == target or pa.types.is_null(src):
        return True
    if pa.types.is_integer(src):
        return pa.types.is_integer(target) or pa.types.is_floating(target) or \
            pa.types.is_decimal(target)
    if pa.types.is_floating(src):
        return pa.types.is_floating(target)
    if pa.types.is_string(src) or pa.types.is_large_string(src):
        return pa.types.is_string(target)
    return False


# -- columns of a batch ---------------------------------------------------------------------------
class Column:
    """A column of a batch: its values as a list and/or an Arrow array, each made from
    the other when asked for. ``check`` (for a general UDF's results) converts and
    checks a list on its way out, naming the row of a bad value."""

    __slots__ = ("t", "n", "values", "array", "check")

    def __init__(self, t: DataType, n: int, values: Optional[Sequence[Any]] = None,
                 array: Any = None, check: Optional["_Check"] = None) -> None:
        self.t, self.n, self.values, self.array, self.check = t, n, values, array, check

    def pylist(self) -> Sequence[Any]:
        if self.values is None:
            self.values = from_arrow(self.array, self.t)
        elif self.check is not None:
            self.values, self.check = self.check.convert(self.values), None
        return self.values

    def arrow(self) -> Any:
        if self.array is None:
            if self.check is not None:
                self.array = self.check.to_arrow(self.values)  # type: ignore[arg-type]
                self.check = None
            else:
                self.array = to_arrow(self.values, self.t)  # type: ignore[arg-type]
        return self.array


class _Check:
    """A general UDF's results on their way out of a batch: the declared type enforced
    (Arrow's conversion when the values fit, the row converter otherwise)."""

    __slots__ = ("name", "t", "conv", "env")

    def __init__(self, name: str, t: DataType, env: "_Env") -> None:
        self.name, self.t, self.env = name, t, env
        self.conv = result_converter(t, name)

    def convert(self, values: Sequence[Any]) -> List[Any]:
        conv, out = self.conv, []
        append = out.append
        try:
            for v in values:
                append(conv(v))
        except UdfError as exc:
            raise self.env.failure(exc, len(out)) from None
        return out

    def to_arrow(self, values: Sequence[Any]) -> Any:
        import pyarrow as pa
        target = arrow_type(self.t)
        if not _nested(self.t) and self.t.root not in ("DECIMAL", "TIMESTAMP_LTZ"):
            try:
                arr = pa.array(values)
                if _fits(arr, target):
                    return arr.cast(target) if arr.type != target else arr
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                pass
        return to_arrow(self.convert(values), self.t)


class _Env:
    """One batch being evaluated: its input columns, its length, and how to show row i
    of it in an error."""

    def __init__(self, n: int, column: Callable[[int], Column], row: Callable[[int], Any]) -> None:
        self.n = n
        self._column, self.row = column, row
        self._cache: Dict[int, Column] = {}

    def column(self, i: int) -> Column:
        c = self._cache.get(i)
        if c is None:
            c = self._cache[i] = self._column(i)
        return c

    def failure(self, exc: BaseException, i: Optional[int]) -> "_RowFailure":
        return _RowFailure(exc, self.row(i) if i is not None and i < self.n else None)


class _RowFailure(Exception):
    """A failure in a batch, with the row it happened on (None: the whole batch)."""

    def __init__(self, cause: BaseException, row: Any) -> None:
        super().__init__(str(cause))
        self.cause, self.row = cause, row


# -- the evaluator's nodes -------------------------------------------------------------------------
class _Ref:
    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, env: _Env) -> Column:
        return env.column(self.index)


class _Const:
    def __init__(self, value: Any, t: DataType) -> None:
        self.value, self.t = value, t

    def __call__(self, env: _Env) -> Column:
        return Column(self.t, env.n, values=list(repeat(self.value, env.n)))


class _PandasCall:
    """A pandas UDF: Series in, a Series of the same length out."""

    def __init__(self, call: Call, operands: List[Any]) -> None:
        d = call.param("fn")
        self.name, self.t = d.name, call.type
        self.fn = Bound(d.name, fresh(d.wrapper.eval_function()))
        self.eval = _direct(self.fn.inst)
        self.operands = operands
        self.types = [o.type for o in call.operands]

    def __call__(self, env: _Env) -> Column:
        if not self.fn.opened:
            self.fn.open()
        args = [to_pandas(op(env).arrow(), t) for op, t in zip(self.operands, self.types)]
        try:
            result = self.eval(*args)
        except USER_ERRORS as exc:
            raise env.failure(_raised(self.name, exc), None) from exc
        try:
            length = len(result)
        except TypeError:
            length = None
        if length != env.n:
            got = f"{length} values" if length is not None else \
                f"a {type(result).__name__}, not a Series"
            raise env.failure(UdfError(self.name, (
                f"the pandas UDF {self.name} returned {got} for a batch of {env.n} rows: it must "
                f"return a pandas.Series of the same length as its arguments")), None)
        try:
            return Column(self.t, env.n, array=from_pandas(result, self.t))
        except USER_ERRORS:
            bad = _first_bad(result, self.t)
            kind = f"dtype {getattr(result, 'dtype', type(result).__name__)}"
            value = f": {bad[1]!r} ({type(bad[1]).__name__}) at row {bad[0]}" if bad else ""
            raise env.failure(UdfError(self.name, (
                f"the pandas UDF {self.name} returned values of {kind}, which are not of its "
                f"declared result type {self.t.summary_string()}{value}")),
                bad[0] if bad else None) from None


def _first_bad(result: Any, t: DataType) -> Optional[Tuple[int, Any]]:
    conv = converter(t)
    try:
        values = list(result)
    except TypeError:
        return None
    for i, v in enumerate(values):
        try:
            conv(v.item() if hasattr(v, "item") and not isinstance(v, str) else v)
        except (ValidationError, TypeError, ValueError):
            return i, v
    return None


class _GeneralCall:
    """A general UDF over the batch's columns: ``map`` of its ``eval`` over them (the
    loop in C); its results checked on their way out."""

    def __init__(self, call: Call, operands: List[Any]) -> None:
        d = call.param("fn")
        self.name, self.t = d.name, call.type
        self.fn = Bound(d.name, fresh(d.wrapper.eval_function()))
        self.eval = _direct(self.fn.inst)
        self.operands = operands

    def __call__(self, env: _Env) -> Column:
        if not self.fn.opened:
            self.fn.open()
        args = [op(env).pylist() for op in self.operands]
        out: List[Any] = []
        try:
            if args:
                out.extend(map(self.eval, *args))
            else:
                f = self.eval
                out.extend(f() for _ in range(env.n))
        except USER_ERRORS as exc:
            raise env.failure(_raised(self.name, exc), len(out)) from exc
        return Column(self.t, env.n, values=out, check=_Check(self.name, self.t, env))


class _RowCall:
    """Any other expression: its generated row code over the columns it needs."""

    def __init__(self, call: Call, operands: List[Any], functions: Any, zone: Any) -> None:
        from .codegen import compile_expression
        refs = tuple(InputRef(i, o.type) for i, o in enumerate(call.operands))
        self.f = compile_expression(Call(call.name, refs, call.type, call.params), functions, zone)
        self.t = call.type
        self.operands = operands

    def __call__(self, env: _Env) -> Column:
        args = [op(env).pylist() for op in self.operands]
        out: List[Any] = []
        try:
            out.extend(map(self.f, zip(repeat(None, env.n), *args)))
        except USER_ERRORS as exc:
            raise env.failure(exc, len(out)) from exc
        return Column(self.t, env.n, values=out)


def _node(rex: Rex, functions: Any, zone: Any) -> Any:
    if isinstance(rex, InputRef):
        return _Ref(rex.index)
    if isinstance(rex, Literal):
        return _Const(rex.value, rex.type)
    assert isinstance(rex, Call)
    operands = [_node(o, functions, zone) for o in rex.operands]
    d = rex.param("fn")
    if is_python(d) and d.pandas:
        return _PandasCall(rex, operands)
    if is_python(d):
        return _GeneralCall(rex, operands)
    return _RowCall(rex, operands, functions, zone)


class BatchCalc:
    """A Calc (projections, optional filter) evaluated on whole batches (see the module
    text). Built in the kernel when the job is planned; each parallel instance opens
    its own copy of the user's functions."""

    def __init__(self, projects: Sequence[Rex], condition: Optional[Rex], input_names: Sequence[str],
                 input_types: Sequence[DataType], names: Sequence[str] = (),
                 functions: Any = None, zone: Any = None, batch_size: int = 0) -> None:
        self.input_names, self.input_types = list(input_names), list(input_types)
        self.names = list(names) or [f"f{i}" for i in range(len(projects))]
        self.types = [p.type for p in projects]
        self.nodes = [_node(p, functions, zone) for p in projects]
        self.condition = _node(condition, functions, zone) if condition is not None else None
        self.batch_size = batch_size

    def functions(self) -> List[Bound]:
        return bound_functions([self.nodes, self.condition])

    def open(self, context: Any = None) -> None:
        for fn in self.functions():
            fn.open(context)

    def close(self) -> None:
        for fn in self.functions():
            fn.close()

    # -- the row path ------------------------------------------------------------------------------
    def rows(self, rows: List[tuple]) -> Tuple[List[tuple], Optional[List[int]]]:
        """The projected rows (kind kept) of ``rows``, and the positions kept by the
        filter (None: all)."""
        size = self.batch_size
        if size and len(rows) > size:
            out: List[tuple] = []
            kept: Optional[List[int]] = [] if self.condition is not None else None
            for start in range(0, len(rows), size):
                part, keep = self._rows(rows[start:start + size])
                out.extend(part)
                if kept is not None and keep is not None:
                    kept.extend(start + k for k in keep)
            return out, kept
        return self._rows(rows)

    def _rows(self, rows: List[tuple]) -> Tuple[List[tuple], Optional[List[int]]]:
        n = len(rows)
        columns: List[Any] = []
        types = self.input_types

        def column(i: int) -> Column:
            if not columns:
                columns.extend(zip(*rows))
            return Column(types[i], n, values=columns[i + 1])

        env = _Env(n, column, lambda i: self._shown(rows[i][1:], rows[i][0]))
        keep = self._mask(env)
        if keep is not None and not any(keep):
            return [], []
        outs = [node(env).pylist() for node in self.nodes]
        kinds = [r[0] for r in rows]
        result = list(zip(kinds, *outs))
        if keep is None:
            return result, None
        return list(compress(result, keep)), [i for i, k in enumerate(keep) if k]

    def _mask(self, env: _Env) -> Optional[List[bool]]:
        if self.condition is None:
            return None
        return [v is True for v in self.condition(env).pylist()]

    def _shown(self, values: Sequence[Any], kind: int = 0) -> Any:
        from ..runtime.row import Row, RowKind
        r = Row(*values)
        r._fields = list(self.input_names)
        r._row_kind = RowKind(kind)
        return r

    # -- the columnar path ---------------------------------------------------------------------------
    def batch(self, rb: Any) -> Any:
        """The projected (and filtered) Arrow batch of ``rb``."""
        import pyarrow as pa
        size = self.batch_size
        if size and rb.num_rows > size:
            parts = [self._batch(rb.slice(s, size)) for s in range(0, rb.num_rows, size)]
            return pa.Table.from_batches(parts).combine_chunks().to_batches()[0] \
                if parts else self._batch(rb)
        return self._batch(rb)

    def _batch(self, rb: Any) -> Any:
        import pyarrow as pa
        n = rb.num_rows
        types = self.input_types
        env = _Env(n, lambda i: Column(types[i], n, array=_as_type(rb.column(i), types[i])),
                   lambda i: self._shown(list(rb.slice(i, 1).to_pylist()[0].values())))
        keep = self._mask(env)
        if keep is not None:
            rb = rb.filter(pa.array(keep, type=pa.bool_()))
            n = rb.num_rows
            env = _Env(n, lambda i: Column(types[i], n, array=_as_type(rb.column(i), types[i])),
                       lambda i: self._shown(list(rb.slice(i, 1).to_pylist()[0].values())))
        arrays = [node(env).arrow() for node in self.nodes]
        return pa.RecordBatch.from_arrays(arrays, names=_unique(self.names))


def _as_type(array: Any, t: DataType) -> Any:
    """A source's Arrow column as the Arrow type of its SQL type (a DataFrame's int64
    column declared INT is an int32 Series for a pandas UDF, as PyFlink gives it)."""
    target = arrow_type(t)
    if array.type == target:
        return array
    try:
        return array.cast(target)
    except Exception:  # noqa: BLE001 - a column Arrow cannot cast stays as it came
        return array


# -- pandas aggregate functions ----------------------------------------------------------------------
class PandasAccumulator(Accumulator):
    """A pandas UDAF: the accumulator holds the argument rows of the group (window, OVER
    frame); ``value`` calls the function with one Series per argument."""

    def __init__(self, d: Any, fn: Bound, arg_types: List[DataType]) -> None:
        self.name, self.fn, self.arg_types = d.name, fn, arg_types
        self.t = d.result_type
        self.conv = result_converter(d.result_type, d.name)

    def create(self) -> Any:
        if not self.fn.opened:
            self.fn.open()
        return []

    def add(self, acc: Any, *args: Any) -> Any:
        acc.append(args)
        return acc

    def retract(self, acc: Any, *args: Any) -> Any:
        acc.remove(args)
        return acc

    def merge(self, acc: Any, other: Any) -> Any:
        acc.extend(other)
        return acc

    def value(self, acc: Any) -> Any:
        columns = list(zip(*acc)) if acc else [[] for _ in self.arg_types]
        series = [to_pandas(to_arrow(list(c), t), t) for c, t in zip(columns, self.arg_types)]
        f = self.fn.inst
        try:
            if hasattr(f, "func"):  # a callable: Series in, a value out
                v = f.func(*series)
            else:  # an AggregateFunction given pandas Series (PyFlink's pandas UDAF class)
                a = f.create_accumulator()
                f.accumulate(a, *series)
                v = f.get_value(a)
        except USER_ERRORS as exc:
            raise _raised(self.name, exc) from exc
        return self.conv(None if v is None else _plain(v))


def _plain(v: Any) -> Any:
    """A numpy/pandas scalar as a Python value."""
    if hasattr(v, "to_pydatetime"):
        return v.to_pydatetime()
    if hasattr(v, "item") and type(v).__module__ == "numpy":
        return v.item()
    return v
