"""Python user-defined scalar functions (``pyflink.table.udf``): the general (row at a
time) form, as the reference use of the function registry's one interface: ``udf(...)``
gives an object whose ``function_def()`` is a ScalarFunctionDef like a built-in's, so the
Table API, SQL (after ``create_temporary_function``) and the planner treat it as one.
Table, aggregate and pandas functions are the UDF work's, built on the same interface.

>>> from nbstream.table import DataTypes, TableEnvironment, col
>>> @udf(result_type=DataTypes.BIGINT())
... def length(s):
...     return len(s)
>>> t_env = TableEnvironment.create()
>>> t = t_env.from_elements([("abc",)], ["s"])
>>> [tuple(r) for r in t.select(length(col("s"))).execute().collect()]
[(3,)]
"""

from __future__ import annotations

import functools
from typing import Any, Callable, List, Optional, Sequence, Union

from .expressions import Expression, _expr
from .functions import CallContext, ScalarFunctionDef
from .rex import Call
from .types import DataType, ValidationError, as_type
from .values import converter

__all__ = ["udf", "ScalarFunction", "FunctionContext", "UserDefinedScalarFunctionWrapper",
           "udtf", "udaf", "udtaf", "TableFunction", "AggregateFunction",
           "TableAggregateFunction"]


class FunctionContext:
    """What ``open(function_context)`` of a user's function gets."""

    def __init__(self, job_parameters: Optional[dict] = None) -> None:
        self._params = dict(job_parameters or {})

    def get_job_parameter(self, key: str, default_value: Any = None) -> Any:
        return self._params.get(key, default_value)

    def get_metric_group(self) -> Any:
        raise ValidationError("metrics of Table UDFs are not supported yet")


class UserDefinedFunction:
    """Base of the user's function classes: ``open`` and ``close`` once per instance."""

    def open(self, function_context: FunctionContext) -> None:
        pass

    def close(self) -> None:
        pass

    def is_deterministic(self) -> bool:
        return True


class ScalarFunction(UserDefinedFunction):
    """A scalar function: ``eval(self, *args)`` returns one value per row."""

    def eval(self, *args: Any) -> Any:
        raise NotImplementedError


class _Unbuilt:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise ValidationError(f"{type(self).__name__}: Python table and aggregate functions "
                              "are not built yet (the UDF work builds them on nbstream.table)")


class TableFunction(_Unbuilt):
    pass


class AggregateFunction(_Unbuilt):
    pass


class TableAggregateFunction(_Unbuilt):
    pass


def _unbuilt(name: str) -> Callable[..., Any]:
    def f(*args: Any, **kwargs: Any) -> Any:
        raise ValidationError(f"{name}(): Python table and aggregate functions are not built "
                              "yet (the UDF work builds them on nbstream.table)")
    f.__name__ = name
    return f


udtf = _unbuilt("udtf")
udaf = _unbuilt("udaf")
udtaf = _unbuilt("udtaf")


class PythonScalarFunctionDef(ScalarFunctionDef):
    """A user's scalar function as the planner sees it: declared result type, the user's
    callable called with the arguments' Python values, its result converted to the type."""

    def __init__(self, name: str, call: Callable[..., Any], result_type: DataType,
                 input_types: Optional[Sequence[DataType]], deterministic: bool,
                 owner: Any) -> None:
        self.name, self.call, self.result_type = name, call, result_type
        self.input_types = list(input_types) if input_types else None
        self.deterministic = deterministic
        self.owner = owner  # the ScalarFunction object (open/close), or None

    def coerce(self, ctx: CallContext) -> None:
        if self.input_types is not None:
            if len(self.input_types) != len(ctx.operands):
                raise ctx.fail(f"{self.name} takes {len(self.input_types)} arguments, not "
                               f"{len(ctx.operands)}")
            for i, t in enumerate(self.input_types):
                if ctx.types[i].copy(True) != t.copy(True):
                    ctx.cast(i, t)

    def infer(self, ctx: CallContext) -> DataType:
        return self.result_type.nullable_()

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        f = gen.bind(_Invoke(self.call, self.result_type), "udf")
        return f"{f}({', '.join(args)})"


class _Invoke:
    """The user's function with its result brought into the declared type."""

    def __init__(self, call: Callable[..., Any], result_type: DataType) -> None:
        self.call = call
        self.result_type = result_type
        self.convert = converter(result_type)

    def __call__(self, *args: Any) -> Any:
        out = self.call(*args)
        return None if out is None else self.convert(out)

    def __reduce__(self) -> Any:
        return (_Invoke, (self.call, self.result_type))


class UserDefinedScalarFunctionWrapper:
    """What ``udf(...)`` returns: call it with expressions to use it in the Table API."""

    def __init__(self, func: Any, input_types: Any, result_type: Any, deterministic: Any,
                 name: Optional[str]) -> None:
        if result_type is None:
            raise TypeError("Invalid returnType: returnType should be DataType or str but is None")
        self._func = func
        self._result_type = as_type(result_type)
        self._input_types = None if input_types is None else [
            as_type(t) for t in (input_types if isinstance(input_types, (list, tuple))
                                 else [input_types])]
        self._deterministic = True if deterministic is None else deterministic
        owner = func if isinstance(func, UserDefinedFunction) else None
        self._name = name or (type(func).__name__ if owner is not None
                              else getattr(func, "__name__", type(func).__name__))
        self._owner = owner

    def __call__(self, *args: Any) -> Expression:
        return Expression("udf_call", self, *(_expr(a) for a in args))

    def function_def(self) -> PythonScalarFunctionDef:
        call = self._func.eval if self._owner is not None else self._func
        return PythonScalarFunctionDef(self._name, call, self._result_type, self._input_types,
                                       self._deterministic, self._owner)

    def alias(self, *names: str) -> "UserDefinedScalarFunctionWrapper":
        return self

    def __repr__(self) -> str:
        return f"<udf {self._name} -> {self._result_type.summary_string()}>"


def udf(f: Union[Callable[..., Any], ScalarFunction, None] = None, input_types: Any = None,
        result_type: Any = None, deterministic: Optional[bool] = None, name: Optional[str] = None,
        func_type: str = "general", udf_type: Optional[str] = None) -> Any:
    """A Python scalar function for the Table API and SQL (PyFlink's ``udf``): as a
    decorator (``@udf(result_type=...)``) or a call. ``func_type='pandas'`` is not built
    yet."""
    if (udf_type or func_type) != "general":
        raise ValidationError("pandas UDFs (func_type='pandas') are not built yet")
    if f is None:
        return functools.partial(udf, input_types=input_types, result_type=result_type,
                                 deterministic=deterministic, name=name)
    return UserDefinedScalarFunctionWrapper(f, input_types, result_type, deterministic, name)
