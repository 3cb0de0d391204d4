"""Python user-defined functions of the Table API (``pyflink.table.udf``): scalar functions
(``@udf``, general or ``func_type="pandas"``), table functions (``@udtf``), aggregate
functions (``@udaf``, general or pandas) and table aggregate functions (``@udtaf``).

A wrapper made by these decorators is called like a function in Table API expressions
(``add_one(col("a"))``), registered by name for SQL and ``call("name", ...)``
(``t_env.create_temporary_function``), or handed to ``map`` / ``flat_map`` /
``join_lateral`` / ``aggregate`` / ``flat_aggregate``. Its :meth:`function_def` gives the
planner the same interface a built-in function has (:mod:`nbstream.table.functions`).

Where it runs is the job's ``python.execution-mode`` (``thread``: the task's thread in
this process; ``process``: the worker pool, the function shipped with cloudpickle so
functions defined in a notebook work; ``auto``: measured while the job runs);
``Table.explain()`` says which, per step.

>>> from nbstream.table import DataTypes, EnvironmentSettings, TableEnvironment, col
>>> t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
>>> @udf(result_type=DataTypes.BIGINT())
... def add_one(i):
...     return i + 1
>>> t = t_env.from_elements([(1,), (2,)], ["a"])
>>> [tuple(r) for r in t.select(add_one(col("a"))).execute().collect()]
[(2,), (3,)]
"""

from __future__ import annotations

import abc
import functools
import inspect
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Union

from .types import DataType, RowType, ValidationError, as_type

__all__ = ["udf", "udtf", "udaf", "udtaf", "FunctionContext", "UserDefinedFunction",
           "ScalarFunction", "TableFunction", "AggregateFunction", "TableAggregateFunction",
           "UserDefinedFunctionWrapper", "UserDefinedScalarFunctionWrapper",
           "UserDefinedTableFunctionWrapper", "UserDefinedAggregateFunctionWrapper",
           "ListView", "MapView", "DataView", "MetricGroup", "Counter", "Meter", "Distribution"]

TypeLike = Union[DataType, str]


# -- metrics ------------------------------------------------------------------------------------
class Counter:
    """A count (``inc``/``dec``), reported with the job's metrics."""

    def __init__(self) -> None:
        self._count = 0

    def inc(self, n: int = 1) -> None:
        self._count += n

    def dec(self, n: int = 1) -> None:
        self._count -= n

    def get_count(self) -> int:
        return self._count


class Meter:
    """Events marked (``mark_event``); its value is the count."""

    def __init__(self, time_span_in_seconds: int = 60) -> None:
        self.time_span = time_span_in_seconds
        self._count = 0

    def mark_event(self, value: int = 1) -> None:
        self._count += value

    def get_count(self) -> int:
        return self._count


class Distribution:
    """Values seen (``update``): reported as count, sum, min, max."""

    def __init__(self) -> None:
        self.count, self.sum = 0, 0
        self.min: Optional[float] = None
        self.max: Optional[float] = None

    def update(self, value: Any) -> None:
        self.count += 1
        self.sum += value
        self.min = value if self.min is None or value < self.min else self.min
        self.max = value if self.max is None or value > self.max else self.max


class MetricGroup:
    """PyFlink's metric group: ``add_group(name[, value])`` nests, ``counter`` /
    ``gauge`` / ``meter`` / ``distribution`` make metrics. Their values appear in
    ``job.metrics()`` under the step, named by the groups joined with dots."""

    def __init__(self, registry: Dict[str, Any], prefix: str = "") -> None:
        self._registry = registry
        self._prefix = prefix

    def add_group(self, name: str, extra: Optional[str] = None) -> "MetricGroup":
        part = name if extra is None else f"{name}.{extra}"
        return MetricGroup(self._registry, f"{self._prefix}{part}.")

    def _add(self, name: str, metric: Any) -> Any:
        return self._registry.setdefault(self._prefix + name, metric)

    def counter(self, name: str) -> Counter:
        return self._add(name, Counter())

    def gauge(self, name: str, obj: Callable[[], Any]) -> None:
        self._registry[self._prefix + name] = obj

    def meter(self, name: str, time_span_in_seconds: int = 60) -> Meter:
        return self._add(name, Meter(time_span_in_seconds))

    def distribution(self, name: str) -> Distribution:
        return self._add(name, Distribution())


def metric_values(registry: Dict[str, Any]) -> Dict[str, Any]:
    """The current values of a metric registry (what ``job.metrics()`` shows)."""
    out: Dict[str, Any] = {}
    for name, m in list(registry.items()):
        if isinstance(m, (Counter, Meter)):
            out[name] = m.get_count()
        elif isinstance(m, Distribution):
            out[name] = {"count": m.count, "sum": m.sum, "min": m.min, "max": m.max}
        elif callable(m):
            try:
                out[name] = m()
            except Exception as exc:  # a gauge must not fail the metrics report
                out[name] = f"<gauge failed: {exc!r}>"
    return out


class FunctionContext:
    """What ``open(function_context)`` receives: the metric group
    (``python.metric.enabled``, default true), the job parameters
    (``pipeline.global-job-parameters``) and the task's facts."""

    def __init__(self, metric_group: Optional[MetricGroup], job_parameters: Dict[str, str],
                 runtime_context: Any = None) -> None:
        self._metric_group = metric_group
        self._job_parameters = dict(job_parameters)
        self._runtime = runtime_context

    def get_metric_group(self) -> MetricGroup:
        if self._metric_group is None:
            raise RuntimeError("Metric has not been enabled. You can enable metric with the "
                               "'python.metric.enabled' configuration.")
        return self._metric_group

    def get_job_parameter(self, key: str, default_value: Optional[str] = None) -> Optional[str]:
        return self._job_parameters.get(key, default_value)

    def _task(self, attr: str, default: Any) -> Any:
        return getattr(self._runtime, attr)() if self._runtime is not None else default

    def get_task_name(self) -> str:
        return self._task("get_task_name", "")

    def get_task_name_with_subtasks(self) -> str:
        return self._task("get_task_name_with_subtasks", "")

    def get_number_of_parallel_subtasks(self) -> int:
        return self._task("get_number_of_parallel_subtasks", 1)

    def get_max_number_of_parallel_subtasks(self) -> int:
        return self._task("get_max_number_of_parallel_subtasks", 1)

    def get_index_of_this_subtask(self) -> int:
        return self._task("get_index_of_this_subtask", 0)

    def get_attempt_number(self) -> int:
        return self._task("get_attempt_number", 0)


# -- the user's function classes -----------------------------------------------------------------
class UserDefinedFunction(abc.ABC):  # noqa: B024 - a base with optional hooks
    """``open(function_context)`` once per parallel instance before the first call,
    ``close()`` after the last; ``is_deterministic()`` (default True)."""

    def open(self, function_context: FunctionContext) -> None:
        pass

    def close(self) -> None:
        pass

    def is_deterministic(self) -> bool:
        return True


class ScalarFunction(UserDefinedFunction):
    """A scalar function: ``eval(*args)`` returns one value per row."""

    @abc.abstractmethod
    def eval(self, *args: Any) -> Any:
        ...


class TableFunction(UserDefinedFunction):
    """A table function: ``eval(*args)`` yields (or returns an iterable of) rows per row:
    tuples, Rows or single values."""

    @abc.abstractmethod
    def eval(self, *args: Any) -> Any:
        ...


class ImperativeAggregateFunction(UserDefinedFunction):
    """Shared by :class:`AggregateFunction` and :class:`TableAggregateFunction`."""

    @abc.abstractmethod
    def create_accumulator(self) -> Any:
        ...

    @abc.abstractmethod
    def accumulate(self, accumulator: Any, *args: Any) -> None:
        ...

    def retract(self, accumulator: Any, *args: Any) -> None:
        raise ValidationError(f"{type(self).__name__} has no retract(): it cannot aggregate "
                              "an updating input (one with -U/-D rows)")

    def merge(self, accumulator: Any, accumulators: Any) -> None:
        raise ValidationError(f"{type(self).__name__} has no merge(): session and sliding "
                              "windows need it")

    def get_result_type(self) -> TypeLike:
        raise ValidationError(f"{type(self).__name__}: give result_type to udaf(...) or "
                              "define get_result_type()")

    def get_accumulator_type(self) -> TypeLike:
        raise ValidationError(f"{type(self).__name__}: give accumulator_type to udaf(...) or "
                              "define get_accumulator_type()")

    def function_def(self) -> Any:
        """Registered without ``udaf(...)`` (``create_temporary_function("f", MyAgg())``)."""
        wrap = udtaf if isinstance(self, TableAggregateFunction) else udaf
        return wrap(self).function_def()


class AggregateFunction(ImperativeAggregateFunction):
    """An aggregate: ``create_accumulator()``, ``accumulate(acc, *args)``,
    ``retract(acc, *args)`` (updating input), ``merge(acc, accs)`` (session and sliding
    windows), ``get_value(acc)``."""

    @abc.abstractmethod
    def get_value(self, accumulator: Any) -> Any:
        ...


class TableAggregateFunction(ImperativeAggregateFunction):
    """A table aggregate (``flat_aggregate``): ``emit_value(acc)`` yields the rows."""

    @abc.abstractmethod
    def emit_value(self, accumulator: Any) -> Iterable[Any]:
        ...


class _Delegating(ScalarFunction):
    """A plain callable as a ScalarFunction."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def eval(self, *args: Any) -> Any:
        return self.func(*args)


class _DelegatingTable(TableFunction):
    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def eval(self, *args: Any) -> Any:
        return self.func(*args)


class _PandasAggregate(AggregateFunction):
    """A pandas aggregate callable (Series in, a value out) as an AggregateFunction:
    the accumulator keeps the argument rows; ``get_value`` calls the callable on them
    as pandas Series (see :mod:`nbstream.table.pandas_udf`)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def create_accumulator(self) -> Any:
        return []

    def accumulate(self, accumulator: Any, *args: Any) -> None:
        accumulator.append(args)

    def retract(self, accumulator: Any, *args: Any) -> None:
        accumulator.remove(args)

    def merge(self, accumulator: Any, accumulators: Any) -> None:
        for other in accumulators:
            accumulator.extend(other)

    def get_value(self, accumulator: Any) -> Any:
        raise AssertionError("evaluated by the pandas aggregate accumulator")


# -- data views (accumulator fields) --------------------------------------------------------------
class DataView:
    """A collection field of an accumulator (``ListView`` / ``MapView``); nbstream keeps
    it in the accumulator, in keyed state with the rest."""

    def clear(self) -> None:
        raise NotImplementedError


class ListView(DataView):
    """A list in an accumulator: ``add``, ``add_all``, ``get``, iteration, ``clear``."""

    def __init__(self) -> None:
        self._list: List[Any] = []

    def get(self) -> Iterable[Any]:
        return self._list

    def add(self, value: Any) -> None:
        self._list.append(value)

    def add_all(self, values: Sequence[Any]) -> None:
        self._list.extend(values)

    def clear(self) -> None:
        self._list = []

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._list))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ListView) and other._list == self._list

    def __hash__(self) -> int:
        return hash(tuple(self._list))

    def __repr__(self) -> str:
        return f"ListView({self._list!r})"


class _KeyIterator:
    """Keys of a MapView; ``remove()`` drops the key last returned (PyFlink's removable
    iterator)."""

    def __init__(self, view: "MapView", items: List[Any]) -> None:
        self._view, self._items, self._last = view, iter(items), None

    def __iter__(self) -> "_KeyIterator":
        return self

    def __next__(self) -> Any:
        self._last = next(self._items)
        return self._last

    def remove(self) -> None:
        self._view._map.pop(self._last, None)


class MapView(DataView):
    """A dict in an accumulator: ``m[k]``, ``m[k] = v``, ``k in m``, ``get``, ``put``,
    ``put_all``, ``remove``, ``keys()``/``values()``/``items()``, ``is_empty``, ``clear``."""

    def __init__(self) -> None:
        self._map: Dict[Any, Any] = {}

    def get(self, key: Any) -> Any:
        return self._map.get(key)

    def put(self, key: Any, value: Any) -> None:
        self._map[key] = value

    def put_all(self, dict_value: Dict[Any, Any]) -> None:
        self._map.update(dict_value)

    def remove(self, key: Any) -> None:
        self._map.pop(key, None)

    def contains(self, key: Any) -> bool:
        return key in self._map

    def items(self) -> Iterable[Any]:
        return _Pairs(self, list(self._map.items()))

    def keys(self) -> Iterable[Any]:
        return _KeyIterator(self, list(self._map))

    def values(self) -> Iterable[Any]:
        return list(self._map.values())

    def is_empty(self) -> bool:
        return not self._map

    def clear(self) -> None:
        self._map = {}

    def __getitem__(self, key: Any) -> Any:
        return self._map[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._map[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._map[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._map

    def __iter__(self) -> Iterator[Any]:
        return _KeyIterator(self, list(self._map))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MapView) and other._map == self._map

    def __hash__(self) -> int:
        return hash(tuple(sorted(map(repr, self._map.items()))))

    def __repr__(self) -> str:
        return f"MapView({self._map!r})"


class _Pairs(_KeyIterator):
    def remove(self) -> None:
        self._view._map.pop(self._last[0], None)


# -- wrappers ---------------------------------------------------------------------------------------
def _types_list(types: Any, what: str) -> Optional[List[DataType]]:
    if types is None:
        return None
    if isinstance(types, RowType):
        return list(types.types)
    if isinstance(types, (DataType, str)):
        types = [types]
    out = []
    for t in types:
        if not isinstance(t, (DataType, str)):
            raise TypeError(f"Invalid {what}: {what} should be DataType or str but contains {t!r}")
        out.append(as_type(t))
    return out


def _checked_type(t: Any, what: str) -> DataType:
    if not isinstance(t, (DataType, str)):
        raise TypeError(f"Invalid {what}: {what} should be DataType or str but is {t!r}")
    return as_type(t)


class UserDefinedFunctionWrapper:
    """What ``udf``/``udtf``/``udaf``/``udtaf`` return: the user's function with its
    types, name and determinism. Call it in an expression (``f(col("a"))``) or hand it
    to ``create_temporary_function``."""

    kind = ""

    def __init__(self, func: Any, input_types: Any, func_type: str,
                 deterministic: Optional[bool], name: Optional[str]) -> None:
        if inspect.isclass(func) or (not isinstance(func, UserDefinedFunction)
                                     and not callable(func)):
            raise TypeError("Invalid function: not a function or callable (__call__ is not "
                            f"defined): {type(func)}")
        self._func = func
        self._input_types = _types_list(input_types, "input_type")
        self._name = name or getattr(func, "__name__", None) or type(func).__name__
        if deterministic is not None and isinstance(func, UserDefinedFunction) and \
                deterministic != func.is_deterministic():
            raise ValueError(f"Inconsistent deterministic: {deterministic} and "
                             f"{func.is_deterministic()}")
        self._deterministic = deterministic if deterministic is not None else (
            func.is_deterministic() if isinstance(func, UserDefinedFunction) else True)
        self._func_type = func_type
        self._alias_names: Sequence[str] = ()
        self._def: Any = None

    def __call__(self, *args: Any) -> Any:
        from .expressions import call
        return call(self, *args)

    def alias(self, *alias_names: str) -> "UserDefinedFunctionWrapper":
        self._alias_names = alias_names
        return self

    def __repr__(self) -> str:
        return f"<{self.kind} {self._name}>"

    def function_def(self) -> Any:
        """The planner's view of this function (made once)."""
        if self._def is None:
            from . import udf_defs
            self._def = udf_defs.definition_of(self)
        return self._def

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_def"] = None  # remade where it is needed
        return state


class UserDefinedScalarFunctionWrapper(UserDefinedFunctionWrapper):
    kind = "scalar function"

    def __init__(self, func: Any, input_types: Any, result_type: Any, func_type: str,
                 deterministic: Optional[bool], name: Optional[str]) -> None:
        if isinstance(func, (TableFunction, ImperativeAggregateFunction)):
            raise TypeError(f"udf() takes a ScalarFunction or a callable, not a "
                            f"{type(func).__name__} (use udtf/udaf/udtaf)")
        super().__init__(func, input_types, func_type, deterministic, name)
        if result_type is None:
            raise TypeError(f"udf {self._name}: result_type is required")
        self._result_type = _checked_type(result_type, "returnType")

    def eval_function(self) -> ScalarFunction:
        f = self._func
        return f if isinstance(f, ScalarFunction) else _Delegating(f)


class UserDefinedTableFunctionWrapper(UserDefinedFunctionWrapper):
    kind = "table function"

    def __init__(self, func: Any, input_types: Any, result_types: Any,
                 deterministic: Optional[bool] = None, name: Optional[str] = None) -> None:
        super().__init__(func, input_types, "general", deterministic, name)
        if result_types is None:
            raise TypeError(f"udtf {self._name}: result_types is required")
        if isinstance(result_types, str):
            result_types = as_type(result_types)
        if isinstance(result_types, RowType):
            self._result_row = result_types
            self._result_types = list(result_types.types)
        else:
            self._result_row = None
            self._result_types = _types_list(result_types, "result_type") or []

    def eval_function(self) -> TableFunction:
        f = self._func
        return f if isinstance(f, TableFunction) else _DelegatingTable(f)


class UserDefinedAggregateFunctionWrapper(UserDefinedFunctionWrapper):
    kind = "aggregate function"

    def __init__(self, func: Any, input_types: Any, result_type: Any, accumulator_type: Any,
                 func_type: str, deterministic: Optional[bool], name: Optional[str],
                 is_table_aggregate: bool = False) -> None:
        super().__init__(func, input_types, func_type, deterministic, name)
        general = func_type == "general"
        if general and not isinstance(func, ImperativeAggregateFunction):
            raise TypeError(f"udaf {self._name}: a general aggregate function is an "
                            f"AggregateFunction, not {type(func).__name__}")
        if is_table_aggregate and not isinstance(func, TableAggregateFunction):
            raise TypeError(f"udtaf {self._name}: needs a TableAggregateFunction, not "
                            f"{type(func).__name__}")
        if accumulator_type is None and general:
            accumulator_type = func.get_accumulator_type()
        if result_type is None:
            if not general:
                raise TypeError(f"udaf {self._name}: result_type is required")
            result_type = func.get_result_type()
        self._result_type = _checked_type(result_type, "returnType")
        if func_type == "pandas" and self._result_type.root == "MAP":
            raise TypeError(f"Invalid returnType: Pandas UDAF doesn't support DataType type "
                            f"{self._result_type} currently")
        self._accumulator_type = (_checked_type(accumulator_type, "accumulator_type")
                                  if accumulator_type is not None else None)
        self._is_table_aggregate = is_table_aggregate
        self.kind = "table aggregate function" if is_table_aggregate else self.kind

    def aggregate_function(self) -> ImperativeAggregateFunction:
        f = self._func
        return f if isinstance(f, ImperativeAggregateFunction) else _PandasAggregate(f)


# -- the decorators -----------------------------------------------------------------------------------
def _check_func_type(func_type: str) -> None:
    if func_type not in ("general", "pandas"):
        raise ValueError(f"The func_type must be one of 'general, pandas', got {func_type}.")


def udf(f: Any = None, input_types: Any = None, result_type: Any = None,
        deterministic: Optional[bool] = None, name: Optional[str] = None,
        func_type: str = "general") -> Any:
    """A scalar function from a callable or a :class:`ScalarFunction` (decorator or
    call). ``func_type="pandas"``: each argument is a pandas Series of a batch of rows
    and the function returns a Series of the same length.

    >>> from nbstream.table import DataTypes
    >>> add = udf(lambda i, j: i + j, result_type=DataTypes.BIGINT())
    >>> add._name, add._deterministic
    ('<lambda>', True)
    """
    _check_func_type(func_type)
    if f is None:
        return functools.partial(udf, input_types=input_types, result_type=result_type,
                                 deterministic=deterministic, name=name, func_type=func_type)
    if inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(getattr(f, "eval", None)):
        raise ValidationError("async scalar functions (AsyncScalarFunction, async def) are not "
                              "supported by nbstream yet")
    return UserDefinedScalarFunctionWrapper(f, input_types, result_type, func_type,
                                            deterministic, name)


def udtf(f: Any = None, input_types: Any = None, result_types: Any = None,
         deterministic: Optional[bool] = None, name: Optional[str] = None) -> Any:
    """A table function from a generator function, a callable returning an iterable,
    or a :class:`TableFunction`; its columns are ``f0, f1, ...`` unless renamed.

    >>> from nbstream.table import DataTypes
    >>> @udtf(result_types=[DataTypes.STRING()])
    ... def split(s):
    ...     yield from s.split(",")
    >>> [t.summary_string() for t in split._result_types]
    ['STRING']
    """
    if f is None:
        return functools.partial(udtf, input_types=input_types, result_types=result_types,
                                 deterministic=deterministic, name=name)
    return UserDefinedTableFunctionWrapper(f, input_types, result_types, deterministic, name)


def udaf(f: Any = None, input_types: Any = None, result_type: Any = None,
         accumulator_type: Any = None, deterministic: Optional[bool] = None,
         name: Optional[str] = None, func_type: str = "general") -> Any:
    """An aggregate function: an :class:`AggregateFunction` (``func_type="general"``)
    or, with ``func_type="pandas"``, a callable taking a pandas Series per argument
    (the rows of a group, window or OVER frame) and returning one value."""
    _check_func_type(func_type)
    if f is None:
        return functools.partial(udaf, input_types=input_types, result_type=result_type,
                                 accumulator_type=accumulator_type, deterministic=deterministic,
                                 name=name, func_type=func_type)
    return UserDefinedAggregateFunctionWrapper(f, input_types, result_type, accumulator_type,
                                               func_type, deterministic, name)


def udtaf(f: Any = None, input_types: Any = None, result_type: Any = None,
          accumulator_type: Any = None, deterministic: Optional[bool] = None,
          name: Optional[str] = None, func_type: str = "general") -> Any:
    """A table aggregate function (a :class:`TableAggregateFunction`) for
    ``group_by(...).flat_aggregate(f)``."""
    if func_type != "general":
        raise ValueError("The func_type must be 'general' for a table aggregate function, "
                         f"got {func_type}.")
    if f is None:
        return functools.partial(udtaf, input_types=input_types, result_type=result_type,
                                 accumulator_type=accumulator_type, deterministic=deterministic,
                                 name=name, func_type=func_type)
    return UserDefinedAggregateFunctionWrapper(f, input_types, result_type, accumulator_type,
                                               func_type, deterministic, name,
                                               is_table_aggregate=True)
