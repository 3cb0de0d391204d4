"""Pipelines of Apache Flink's own Python UDF table tests (flink-python's test_udf,
test_udtf, test_udaf, test_pandas_udf, test_pandas_udaf and test_row_based_operation),
re-expressed so their results print: the same data, functions and queries, each result
collected with its row kinds (``+I[...]``) instead of written to Flink's test sink.

The module imports ``pyflink``: ``generate.py`` runs it on real PyFlink 2.3 to freeze
``expected.txt``; ``tests/test_table_udf_corpus.py`` runs it on nbstream through the
compatibility layer (``pyflink`` -> nbstream)::

    TZ=UTC PYTHONUNBUFFERED=1 python tests/udf_corpus/generate.py > tests/udf_corpus/expected.txt

A case is ``fn(t_env)`` returning a Table or a TableResult; ``ordered`` cases compare line
by line (parallelism 1: Flink's order is fixed), the others as the same multiset of rows.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import os
from typing import Any, Callable, Dict, List, NamedTuple

from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.data_view import ListView, MapView
from pyflink.table.expressions import call, col, lit
from pyflink.table.udf import (AggregateFunction, ScalarFunction, TableAggregateFunction,
                               TableFunction, udaf, udf, udtaf, udtf)

HERE = os.path.dirname(os.path.abspath(__file__))


class Case(NamedTuple):
    name: str
    fn: Callable[[Any], Any]
    batch: bool
    ordered: bool
    config: Dict[str, str]


CASES: List[Case] = []


def case(batch: bool = False, ordered: bool = True,
         config: Dict[str, str] = None) -> Callable[..., Any]:
    def deco(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        CASES.append(Case(fn.__name__, fn, batch, ordered, dict(config or {})))
        return fn
    return deco


BUNDLE_2 = {"python.fn-execution.bundle.size": "2"}


# -- how a result prints (the same on both sides) ----------------------------------------------
def show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return repr(bytes(v))
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{show(k)}={show(x)}" for k, x in
                               sorted(v.items(), key=lambda kv: str(kv[0]))) + "}"
    if isinstance(v, tuple) or type(v).__name__ == "Row":
        return "(" + ", ".join(show(x) for x in v) + ")"
    return str(v)


def render(result: Any) -> List[str]:
    """The rows of a Table or TableResult, one line each: ``+I[1, a]``."""
    if hasattr(result, "execute") and not hasattr(result, "collect"):
        result = result.execute()
    out = []
    with result.collect() as rows:
        for row in rows:
            out.append(f"{row.get_row_kind()}[{', '.join(show(v) for v in row)}]")
    return out


# -- functions (the tests' own, re-expressed) ------------------------------------------------------
class SubtractOne(ScalarFunction):
    def eval(self, i):
        return i - 1


class CallablePlus:
    def __call__(self, col):
        return col + 1


def partial_func(value, param):
    return value + param


@udf(result_type=DataTypes.BIGINT())
def add(i, j):
    return i + j


class Subtract(ScalarFunction):
    """Reads a job parameter and counts its calls in a metric (test_open)."""

    def open(self, function_context):
        self.subtracted_value = int(function_context.get_job_parameter("subtracted_value", "1"))
        self.counter = function_context.get_metric_group().add_group("key", "value") \
            .counter("my_counter")
        self.counter_sum = 0

    def eval(self, i):
        self.counter.inc(i)
        self.counter_sum += i
        return i - self.subtracted_value


class MultiEmit(TableFunction):
    def open(self, function_context):
        self.counter_sum = 0

    def eval(self, x, y):
        self.counter_sum += y
        for i in range(y):
            yield x, i


class MultiNum(ScalarFunction):
    def eval(self, x):
        return x * 2


@udtf(result_types=["bigint"])
def identity(x):
    if x is not None:
        return Row(x)


@udtf(input_types=[DataTypes.BIGINT(), DataTypes.BIGINT()], result_types=DataTypes.BIGINT())
def condition_multi_emit(x, y):
    if x == 3:
        return range(y, x)


class CountAggregateFunction(AggregateFunction):
    def get_value(self, accumulator):
        return accumulator[0]

    def create_accumulator(self):
        return [0]

    def accumulate(self, accumulator, *args):
        accumulator[0] = accumulator[0] + 1

    def retract(self, accumulator, *args):
        accumulator[0] = accumulator[0] - 1

    def merge(self, accumulator, accumulators):
        for other in accumulators:
            accumulator[0] = accumulator[0] + other[0]

    def get_accumulator_type(self):
        return DataTypes.ARRAY(DataTypes.BIGINT())

    def get_result_type(self):
        return DataTypes.BIGINT()


class SumAggregateFunction(CountAggregateFunction):
    def accumulate(self, accumulator, *args):
        accumulator[0] = accumulator[0] + args[0]

    def retract(self, accumulator, *args):
        accumulator[0] = accumulator[0] - args[0]


class ListViewConcatAggregateFunction(AggregateFunction):
    def get_value(self, accumulator):
        return accumulator[1].join(accumulator[0])

    def create_accumulator(self):
        return Row(ListView(), "")

    def accumulate(self, accumulator, *args):
        accumulator[1] = args[1]
        accumulator[0].add(args[0])

    def retract(self, accumulator, *args):
        raise NotImplementedError

    def get_accumulator_type(self):
        return DataTypes.ROW([DataTypes.FIELD("f0", DataTypes.LIST_VIEW(DataTypes.STRING())),
                              DataTypes.FIELD("f1", DataTypes.BIGINT())])

    def get_result_type(self):
        return DataTypes.STRING()


class CountDistinctAggregateFunction(AggregateFunction):
    def get_value(self, accumulator):
        return accumulator[1]

    def create_accumulator(self):
        return Row(MapView(), 0)

    def accumulate(self, accumulator, *args):
        key = args[0]
        if accumulator[0].is_empty() or key not in accumulator[0] \
                or accumulator[0][key] is None:
            accumulator[0][key] = 1
            accumulator[1] += 1
        else:
            accumulator[0][key] += 1
        if key == "clear":
            accumulator[0].clear()
            accumulator[1] = 0

    def retract(self, accumulator, *args):
        key = args[0]
        if accumulator[0].is_empty() or key not in accumulator[0]:
            return
        accumulator[0][key] = accumulator[0][key] - 1
        if accumulator[0][key] <= 0:
            accumulator[1] -= 1
            accumulator[0][key] = None

    def get_accumulator_type(self):
        return DataTypes.ROW([DataTypes.FIELD("f0", DataTypes.MAP(DataTypes.STRING(),
                                                                  DataTypes.STRING())),
                              DataTypes.FIELD("f1", DataTypes.BIGINT())])

    def get_result_type(self):
        return DataTypes.BIGINT()


class CountAndSumAggregateFunction(AggregateFunction):
    def get_value(self, accumulator):
        return Row(accumulator[0], accumulator[1])

    def create_accumulator(self):
        return Row(0, 0)

    def accumulate(self, accumulator, *args):
        accumulator[0] += 1
        accumulator[1] += args[0][1]

    def retract(self, accumulator, *args):
        accumulator[0] -= 1
        accumulator[1] -= args[0][1]

    def merge(self, accumulator, accumulators):
        for other in accumulators:
            accumulator[0] += other[0]
            accumulator[1] += other[1]

    def get_accumulator_type(self):
        return DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()),
                              DataTypes.FIELD("b", DataTypes.BIGINT())])

    def get_result_type(self):
        return DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()),
                              DataTypes.FIELD("b", DataTypes.BIGINT())])


class Top2(TableAggregateFunction):
    def emit_value(self, accumulator):
        yield Row(accumulator[0])
        yield Row(accumulator[1])

    def create_accumulator(self):
        return [None, None]

    def accumulate(self, accumulator, *args):
        if args[0][0] is not None:
            if accumulator[0] is None or args[0][0] > accumulator[0]:
                accumulator[1] = accumulator[0]
                accumulator[0] = args[0][0]
            elif accumulator[1] is None or args[0][0] > accumulator[1]:
                accumulator[1] = args[0][0]

    def retract(self, accumulator, *args):
        accumulator[0] = accumulator[0] - 1

    def merge(self, accumulator, accumulators):
        for other in accumulators:
            self.accumulate(accumulator, other[0])
            self.accumulate(accumulator, other[1])

    def get_accumulator_type(self):
        return DataTypes.ARRAY(DataTypes.BIGINT())

    def get_result_type(self):
        return DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT())])


class ListViewConcatTableAggregateFunction(TableAggregateFunction):
    def emit_value(self, accumulator):
        result = accumulator[1].join(accumulator[0])
        yield Row(result)
        yield Row(result)

    def create_accumulator(self):
        return Row(ListView(), "")

    def accumulate(self, accumulator, *args):
        accumulator[1] = args[1]
        accumulator[0].add(args[0])

    def retract(self, accumulator, *args):
        raise NotImplementedError

    def get_accumulator_type(self):
        return DataTypes.ROW([DataTypes.FIELD("f0", DataTypes.LIST_VIEW(DataTypes.STRING())),
                              DataTypes.FIELD("f1", DataTypes.BIGINT())])

    def get_result_type(self):
        return DataTypes.ROW([DataTypes.FIELD("a", DataTypes.STRING())])


class MaxAdd(AggregateFunction):
    """A pandas aggregate as a class (test_pandas_udaf): max of each argument, summed."""

    def open(self, function_context):
        mg = function_context.get_metric_group()
        self.counter = mg.add_group("key", "value").counter("my_counter")
        self.counter_sum = 0

    def get_value(self, accumulator):
        return accumulator[0]

    def create_accumulator(self):
        return []

    def accumulate(self, accumulator, *args):
        result = 0
        for arg in args:
            result += arg.max()
        accumulator.append(result)


def _abc_table(t_env: Any) -> Any:
    return t_env.from_elements([(1, 2, 3), (2, 5, 6), (3, 1, 9)], ["a", "b", "c"])


def _typed_abc(t_env: Any, rows: List[tuple], a: Any = None) -> Any:
    return t_env.from_elements(rows, DataTypes.ROW(
        [DataTypes.FIELD("a", a or DataTypes.TINYINT()),
         DataTypes.FIELD("b", DataTypes.SMALLINT()),
         DataTypes.FIELD("c", DataTypes.INT())]))


# -- test_udf -------------------------------------------------------------------------------------------
@case()
def udf_kinds_of_functions(t_env):
    add_one = udf(lambda i: i + 1, result_type=DataTypes.BIGINT())
    subtract_one = udf(SubtractOne(), result_type=DataTypes.BIGINT())
    add_one_callable = udf(CallablePlus(), result_type=DataTypes.BIGINT())
    add_one_partial = udf(functools.partial(partial_func, param=1), result_type=DataTypes.BIGINT())
    t = _abc_table(t_env)
    return t.where(add_one(t.b) <= 3).select(add_one(t.a), subtract_one(t.b), add(t.a, t.c),
                                             add_one_callable(t.a), add_one_partial(t.a), t.a)


@case()
def udf_chaining(t_env):
    add_one = udf(lambda i: i + 1, result_type=DataTypes.BIGINT())
    subtract_one = udf(SubtractOne(), result_type=DataTypes.BIGINT())
    t = t_env.from_elements([(1, 2, 1), (2, 5, 2), (3, 1, 3)], ["a", "b", "c"])
    return t.select(add(add_one(t.a), subtract_one(t.b)), t.c, lit(1))


@case()
def udf_overwrite_builtin_name(t_env):
    t_env.create_temporary_system_function(
        "plus", udf(lambda i, j: i + j - 1, result_type=DataTypes.BIGINT()))
    t = _abc_table(t_env)
    return t.select(call("plus", t.a, t.b))


@case(config={"pipeline.global-job-parameters": "subtracted_value:2",
              "python.metric.enabled": "true"})
def udf_open_job_parameter_and_metric(t_env):
    subtract = udf(Subtract(), result_type=DataTypes.BIGINT())
    t = t_env.from_elements([(1, 2), (2, 5), (3, 4)], ["a", "b"])
    return t.select(t.a, subtract(t.b))


@case()
def udf_without_arguments(t_env):
    one = udf(lambda: 1, result_type=DataTypes.BIGINT(), deterministic=True)
    two = udf(lambda: 2, result_type=DataTypes.BIGINT(), deterministic=False)
    t = t_env.from_elements([(1, 2), (2, 5), (3, 1)], ["a", "b"])
    return t.select(one(), two())


def _checked(name: str, expected: Any, result_type: Any, pick: Callable[[Any], Any] = None):
    """A UDF that fails unless its argument is ``expected`` (exactly, with its type)."""
    def check(value):
        assert value == expected and type(value) is type(expected), \
            f"{name}: got {value!r} ({type(value).__name__})"
        return pick(value) if pick is not None else value
    return udf(check, result_type=result_type, name=name)


@case()
def udf_all_data_types(t_env):
    t = t_env.from_elements(
        [(1, None, 1, True, 32767, -2147483648, 1.23, 1.98932, bytearray(b"flink"), "pyflink",
          datetime.date(2014, 9, 13), datetime.time(hour=12, minute=0, second=0, microsecond=123000),
          datetime.datetime(2018, 3, 11, 3, 0, 0, 123000), [[1, 2, 3]], {1: "flink", 2: "pyflink"},
          decimal.Decimal("1000000000000000000.05"),
          decimal.Decimal("1000000000000000000.05999999999999999899999999999"))],
        DataTypes.ROW([DataTypes.FIELD("a", DataTypes.BIGINT()),
                       DataTypes.FIELD("b", DataTypes.BIGINT()),
                       DataTypes.FIELD("c", DataTypes.TINYINT()),
                       DataTypes.FIELD("d", DataTypes.BOOLEAN()),
                       DataTypes.FIELD("e", DataTypes.SMALLINT()),
                       DataTypes.FIELD("f", DataTypes.INT()),
                       DataTypes.FIELD("g", DataTypes.FLOAT()),
                       DataTypes.FIELD("h", DataTypes.DOUBLE()),
                       DataTypes.FIELD("i", DataTypes.BYTES()),
                       DataTypes.FIELD("j", DataTypes.STRING()),
                       DataTypes.FIELD("k", DataTypes.DATE()),
                       DataTypes.FIELD("l", DataTypes.TIME()),
                       DataTypes.FIELD("m", DataTypes.TIMESTAMP(3)),
                       DataTypes.FIELD("n", DataTypes.ARRAY(DataTypes.ARRAY(DataTypes.BIGINT()))),
                       DataTypes.FIELD("o", DataTypes.MAP(DataTypes.BIGINT(), DataTypes.STRING())),
                       DataTypes.FIELD("p", DataTypes.DECIMAL(38, 18)),
                       DataTypes.FIELD("q", DataTypes.DECIMAL(38, 18))]))
    none = udf(lambda v: v, result_type=DataTypes.BIGINT())
    return t.select(
        _checked("bigint_func", 1, DataTypes.BIGINT())(t.a),
        none(t.b),
        _checked("tinyint_func", 1, DataTypes.TINYINT())(t.c),
        _checked("boolean_func", True, DataTypes.BOOLEAN())(t.d),
        _checked("smallint_func", 32767, DataTypes.SMALLINT())(t.e),
        _checked("int_func", -2147483648, DataTypes.INT())(t.f),
        udf(lambda v: v, result_type=DataTypes.FLOAT())(t.g),
        _checked("double_func", 1.98932, DataTypes.DOUBLE())(t.h),
        udf(lambda v: v, result_type=DataTypes.BYTES())(t.i),
        _checked("str_func", "pyflink", DataTypes.STRING())(t.j),
        _checked("date_func", datetime.date(2014, 9, 13), DataTypes.DATE())(t.k),
        udf(lambda v: v, result_type=DataTypes.TIME())(t.l),
        _checked("timestamp_func", datetime.datetime(2018, 3, 11, 3, 0, 0, 123000),
                 DataTypes.TIMESTAMP(3))(t.m),
        _checked("array_func", [[1, 2, 3]], DataTypes.ARRAY(DataTypes.BIGINT()),
                 lambda v: v[0])(t.n),
        _checked("map_func", {1: "flink", 2: "pyflink"},
                 DataTypes.MAP(DataTypes.BIGINT(), DataTypes.STRING()))(t.o),
        _checked("decimal_func", decimal.Decimal("1000000000000000000.050000000000000000"),
                 DataTypes.DECIMAL(38, 18))(t.p),
        _checked("decimal_cut_func", decimal.Decimal("1000000000000000000.059999999999999999"),
                 DataTypes.DECIMAL(38, 18))(t.q))


# -- test_udtf ------------------------------------------------------------------------------------------
@case()
def udtf_join_lateral_chain(t_env):
    multi_emit = udtf(MultiEmit(), result_types=[DataTypes.BIGINT(), DataTypes.BIGINT()])
    multi_num = udf(MultiNum(), result_type=DataTypes.BIGINT())
    t = t_env.from_elements([(1, 1, 3), (2, 1, 6), (3, 2, 9)], ["a", "b", "c"])
    t = t.join_lateral(multi_emit((t.a + t.a) / 2, multi_num(t.b)).alias("x", "y"))
    t = t.left_outer_join_lateral(condition_multi_emit(t.x, t.y).alias("m")) \
        .select(t.x, t.y, col("m"))
    return t.left_outer_join_lateral(identity(t.m).alias("n")).select(t.x, t.y, col("n"))


@case()
def udtf_sql_left_join_lateral(t_env):
    t_env.create_temporary_system_function(
        "multi_emit", udtf(MultiEmit(), result_types=[DataTypes.BIGINT(), DataTypes.BIGINT()]))
    t_env.create_temporary_view(
        "MyTable", t_env.from_elements([(1, 1, 3), (2, 1, 6), (3, 2, 9)], ["a", "b", "c"]))
    return t_env.sql_query("SELECT a, x, y FROM MyTable LEFT JOIN LATERAL "
                           "TABLE(multi_emit(a, b)) as T(x, y) ON TRUE")


@case()
def udtf_create_function_language_python(t_env):
    t_env.add_python_file(os.path.join(HERE, "corpus_functions.py"))
    t_env.execute_sql("CREATE TEMPORARY FUNCTION pyfunc AS 'corpus_functions.identity' "
                      "LANGUAGE PYTHON")
    return t_env.execute_sql("SELECT * FROM (VALUES (1)) AS T(id), LATERAL TABLE(pyfunc(id))")


# -- test_udaf ------------------------------------------------------------------------------------------
@case(config=BUNDLE_2)
def udaf_double_aggregate(t_env):
    t_env.create_temporary_function("my_count", CountAggregateFunction())
    t_env.create_temporary_function("my_sum", SumAggregateFunction())
    t = t_env.from_elements([(1, "Hi", "Hello"), (3, "Hi", "hi"), (3, "Hi2", "hi"),
                             (3, "Hi", "hi2"), (2, "Hi", "Hello")], ["a", "b", "c"])
    return t.group_by(t.c) \
        .select(call("my_count", t.a).alias("a"), call("my_sum", t.a).alias("b"), t.c) \
        .select(call("my_count", col("a")).alias("a"), call("my_sum", col("b")).alias("b"))


@case(config=BUNDLE_2)
def udaf_list_view(t_env):
    my_concat = udaf(ListViewConcatAggregateFunction())
    t = t_env.from_elements([(1, "Hi", "Hello"), (3, "Hi", "hi"), (3, "Hi2", "hi"),
                             (3, "Hi", "hi"), (2, "Hi", "Hello"), (1, "Hi2", "Hello"),
                             (3, "Hi3", "hi"), (3, "Hi2", "Hello"), (3, "Hi3", "hi"),
                             (2, "Hi3", "Hello")], ["a", "b", "c"])
    return t.group_by(t.c).select(my_concat(t.b, ",").alias("a"), t.c)


@case(config=BUNDLE_2)
def udaf_map_view_clear(t_env):
    my_count = udaf(CountDistinctAggregateFunction())
    t = t_env.from_elements([(2, "hello", "hello"), (4, "clear", "hello"),
                             (6, "hello2", "hello"), (8, "hello", "hello")], ["a", "b", "c"])
    return t.group_by(t.c).select(my_count(t.b).alias("a"), t.c)


@case()
def udaf_one_bundle_final_rows(t_env):
    t_env.create_temporary_function("my_count", CountAggregateFunction())
    t = t_env.from_elements([(1, "Hi", "Hello"), (3, "Hi", "hi"), (3, "Hi2", "hi"),
                             (3, "Hi", "hi2"), (2, "Hi", "Hello")], ["a", "b", "c"])
    return t.group_by(t.c).select(t.c, call("my_count", t.a))


@case(config={"python.fn-execution.bundle.size": "1"})
def udaf_bundle_of_one_row(t_env):
    return udaf_one_bundle_final_rows(t_env)


# -- test_pandas_udf ------------------------------------------------------------------------------------
@case()
def pandas_udf_mixed_with_general(t_env):
    add_one = udf(lambda i: i + 1, result_type=DataTypes.BIGINT(), func_type="pandas")
    pandas_add = udf(lambda i, j: i + j, result_type=DataTypes.BIGINT(), func_type="pandas")
    subtract_one = udf(SubtractOne(), result_type=DataTypes.BIGINT())
    t = _abc_table(t_env)
    return t.where(add_one(t.b) <= 3).select(
        t.a, t.b + 1, pandas_add(t.a + 1, subtract_one(t.c)) + 2, pandas_add(add_one(t.a), 1))


def _series_of(name: str, dtype: str, result_type: Any, value: Any = None) -> Any:
    """A pandas UDF that fails unless it gets a Series whose first element has ``dtype``."""
    def check(series):
        import pandas as pd
        assert isinstance(series, pd.Series), f"{name}: got {type(series).__name__}"
        first = series[0]
        assert type(first).__name__ == dtype, f"{name}: element of type {type(first).__name__}"
        assert value is None or first == value, f"{name}: got {first!r}"
        return series
    return udf(check, result_type=result_type, func_type="pandas", name=name)


@case()
def pandas_udf_all_data_types(t_env):
    ts = datetime.datetime(1970, 1, 1, 0, 0, 0, 123000)
    t = t_env.from_elements(
        [(1, 32767, -2147483648, 1, True, False, 1.0, 1.0, "hello", "中文", bytearray(b"flink"),
          decimal.Decimal("1000000000000000000.05"),
          decimal.Decimal("1000000000000000000.05999999999999999899999999999"),
          datetime.date(2014, 9, 13), datetime.time(hour=1, minute=0, second=1), ts)],
        DataTypes.ROW([DataTypes.FIELD("a", DataTypes.TINYINT()),
                       DataTypes.FIELD("b", DataTypes.SMALLINT()),
                       DataTypes.FIELD("c", DataTypes.INT()),
                       DataTypes.FIELD("d", DataTypes.BIGINT()),
                       DataTypes.FIELD("e", DataTypes.BOOLEAN()),
                       DataTypes.FIELD("f", DataTypes.BOOLEAN()),
                       DataTypes.FIELD("g", DataTypes.FLOAT()),
                       DataTypes.FIELD("h", DataTypes.DOUBLE()),
                       DataTypes.FIELD("i", DataTypes.STRING()),
                       DataTypes.FIELD("j", DataTypes.STRING()),
                       DataTypes.FIELD("k", DataTypes.BYTES()),
                       DataTypes.FIELD("l", DataTypes.DECIMAL(38, 18)),
                       DataTypes.FIELD("m", DataTypes.DECIMAL(38, 18)),
                       DataTypes.FIELD("n", DataTypes.DATE()),
                       DataTypes.FIELD("o", DataTypes.TIME()),
                       DataTypes.FIELD("p", DataTypes.TIMESTAMP(3))]))
    return t.select(
        _series_of("tinyint_func", "int8", DataTypes.TINYINT())(t.a),
        _series_of("smallint_func", "int16", DataTypes.SMALLINT(), 32767)(t.b),
        _series_of("int_func", "int32", DataTypes.INT(), -2147483648)(t.c),
        _series_of("bigint_func", "int64", DataTypes.BIGINT())(t.d),
        _series_of("boolean_func", "bool", DataTypes.BOOLEAN())(t.e),
        _series_of("boolean_func", "bool", DataTypes.BOOLEAN())(t.f),
        _series_of("float_func", "float32", DataTypes.FLOAT())(t.g),
        _series_of("double_func", "float64", DataTypes.DOUBLE())(t.h),
        _series_of("varchar_func", "str", DataTypes.STRING())(t.i),
        _series_of("varchar_func", "str", DataTypes.STRING())(t.j),
        _series_of("varbinary_func", "bytes", DataTypes.BYTES())(t.k),
        _series_of("decimal_func", "Decimal", DataTypes.DECIMAL(38, 18))(t.l),
        _series_of("decimal_func", "Decimal", DataTypes.DECIMAL(38, 18))(t.m),
        _series_of("date_func", "date", DataTypes.DATE())(t.n),
        _series_of("time_func", "time", DataTypes.TIME())(t.o),
        _series_of("timestamp_func", "Timestamp", DataTypes.TIMESTAMP(3), ts)(t.p))


# -- test_row_based_operation ---------------------------------------------------------------------------
@case()
def map_row_results_chained(t_env):
    t = _typed_abc(t_env, [(1, 2, 3), (2, 1, 3), (1, 5, 4), (1, 8, 6), (2, 3, 4)])
    func = udf(lambda x: Row(x + 1, x * x), result_type=DataTypes.ROW(
        [DataTypes.FIELD("a", DataTypes.BIGINT()), DataTypes.FIELD("b", DataTypes.BIGINT())]))
    return t.map(func(t.b)).alias("a", "b").map(func(t.a)).alias("a", "b")


@case()
def map_pandas_udf_whole_row(t_env):
    t = t_env.from_elements(
        [(1, Row(2, 3)), (2, Row(1, 3)), (1, Row(5, 4)), (1, Row(8, 6)), (2, Row(3, 4))],
        DataTypes.ROW([DataTypes.FIELD("a", DataTypes.TINYINT()),
                       DataTypes.FIELD("b", DataTypes.ROW([DataTypes.FIELD("c", DataTypes.INT()),
                                                           DataTypes.FIELD("d", DataTypes.INT())]))]))

    def func(x):
        import pandas as pd
        return pd.concat([x.a, x.c + x.d], axis=1)

    row_type = DataTypes.ROW([DataTypes.FIELD("c", DataTypes.BIGINT()),
                              DataTypes.FIELD("d", DataTypes.BIGINT())])
    pandas_udf = udf(func, result_type=row_type, func_type="pandas")
    pandas_udf_2 = udf(lambda x: x * 2, result_type=row_type, func_type="pandas")
    return t.map(pandas_udf).map(pandas_udf_2)


@case()
def flat_map_and_lateral_joins_of_a_whole_row(t_env):
    t = t_env.from_elements([(1, "2,3"), (2, "1"), (1, "5,6,7")], DataTypes.ROW(
        [DataTypes.FIELD("a", DataTypes.TINYINT()), DataTypes.FIELD("b", DataTypes.STRING())]))

    @udtf(result_types=[DataTypes.INT(), DataTypes.STRING()])
    def split(x):
        for s in x[1].split(","):
            yield x[0], s

    return t.flat_map(split).flat_map(split).join_lateral(split.alias("a", "b")) \
        .left_outer_join_lateral(split.alias("c", "d"))


@case()
def aggregate_whole_row_with_row_result(t_env):
    t = t_env.from_elements([(1, 2, 3), (2, 1, 3), (1, 5, 4), (1, 8, 6), (2, 3, 4)], DataTypes.ROW(
        [DataTypes.FIELD("a", DataTypes.BIGINT()), DataTypes.FIELD("b", DataTypes.SMALLINT()),
         DataTypes.FIELD("c", DataTypes.INT())]))
    function = CountAndSumAggregateFunction()
    agg = udaf(function, result_type=function.get_result_type(),
               accumulator_type=function.get_accumulator_type(), name="CountAndSum")
    return t.group_by(t.a).aggregate(agg.alias("c", "d")).select(col("a"), col("c"), col("d"))


@case()
def flat_aggregate_top2_twice(t_env):
    mytop = udtaf(Top2())
    t = t_env.from_elements([(1, "Hi", "Hello"), (3, "Hi", "hi"), (5, "Hi2", "hi"),
                             (7, "Hi", "Hello"), (2, "Hi", "Hello")], ["a", "b", "c"])
    return t.select(t.a, t.c).group_by(t.c).flat_aggregate(mytop).select(t.a) \
        .flat_aggregate(mytop.alias("b")).select(col("b"))


@case(config=BUNDLE_2)
def flat_aggregate_list_view(t_env):
    my_concat = udtaf(ListViewConcatTableAggregateFunction())
    t = t_env.from_elements([(1, "Hi", "Hello"), (3, "Hi", "hi"), (3, "Hi2", "hi"),
                             (3, "Hi", "hi"), (2, "Hi", "Hello"), (1, "Hi2", "Hello"),
                             (3, "Hi3", "hi"), (3, "Hi2", "Hello"), (3, "Hi3", "hi"),
                             (2, "Hi3", "Hello")], ["a", "b", "c"])
    return t.group_by(t.c).flat_aggregate(my_concat(t.b, ",").alias("b")).select(t.b, t.c)


# -- test_pandas_udaf / row-based operations in batch mode ----------------------------------------------
mean_udaf = udaf(lambda v: v.mean(), result_type=DataTypes.FLOAT(), func_type="pandas")


@case(batch=True, ordered=False)
def pandas_udaf_group_by_batch(t_env):
    t = _typed_abc(t_env, [(1, 2, 3), (3, 2, 3), (2, 1, 3), (1, 5, 4), (1, 8, 6), (2, 3, 4)])
    add_one = udf(lambda a: a + 1, result_type=DataTypes.INT())
    subtract = udf(lambda a: a - 1, result_type=DataTypes.INT(), func_type="pandas")
    max_udaf = udaf(lambda a: (a.max(), a.min()), result_type=DataTypes.ROW(
        [DataTypes.FIELD("a", DataTypes.INT()), DataTypes.FIELD("b", DataTypes.INT())]),
        func_type="pandas")
    return t.group_by(t.a).select(t.a, mean_udaf(add_one(t.b)), max_udaf(subtract(t.c)))


@case(batch=True)
def pandas_udaf_without_keys_batch(t_env):
    t = _typed_abc(t_env, [(1, 2, 3), (3, 2, 3), (2, 1, 3), (1, 5, 4), (1, 8, 6), (2, 3, 4)])
    min_add = udaf(lambda a, b, c: a.min() + b.min() + c.min(), result_type=DataTypes.INT(),
                   func_type="pandas")
    return t.select(min_add(t.a, t.b, t.c))


@case(batch=True, ordered=False)
def pandas_udaf_auxiliary_group_batch(t_env):
    t = _typed_abc(t_env, [(1, 2, 3), (3, 2, 3), (2, 1, 3), (1, 5, 4), (1, 8, 6), (2, 3, 4)])
    t_env.create_temporary_function("max_add", udaf(MaxAdd(), result_type=DataTypes.INT(),
                                                    func_type="pandas"))
    t_env.create_temporary_system_function("mean_udaf", mean_udaf)
    return t.group_by(t.a).select(t.a, (t.a + 1).alias("b"), (t.a + 2).alias("c")) \
        .group_by(t.a, t.b).select(t.a, t.b, mean_udaf(t.b), call("max_add", t.b, t.c, 1))


@case(batch=True, ordered=False)
def aggregate_pandas_udaf_whole_row_batch(t_env):
    t = _typed_abc(t_env, [(1, 2, 3), (2, 1, 3), (1, 5, 4), (1, 8, 6), (2, 3, 4)])
    pandas_udaf = udaf(lambda pd: (pd.b.mean(), pd.a.max()), result_type=DataTypes.ROW(
        [DataTypes.FIELD("a", DataTypes.FLOAT()), DataTypes.FIELD("b", DataTypes.INT())]),
        func_type="pandas")
    return t.select(t.a, t.b).group_by(t.a).aggregate(pandas_udaf).select(col("*"))


@case(batch=True)
def aggregate_pandas_udaf_without_keys_batch(t_env):
    t = _typed_abc(t_env, [(1, 2, 3), (2, 1, 3), (1, 5, 4), (1, 8, 6), (2, 3, 4)])
    pandas_udaf = udaf(lambda pd: Row(pd.b.mean(), pd.b.max()), result_type=DataTypes.ROW(
        [DataTypes.FIELD("a", DataTypes.FLOAT()), DataTypes.FIELD("b", DataTypes.INT())]),
        func_type="pandas")
    return t.select(t.b).aggregate(pandas_udaf.alias("a", "b")).select(col("a"), col("b"))


# -- UDFs in joins, and aggregates over windows -----------------------------------------------------
@case()
def udf_in_join_condition(t_env):
    t1 = t_env.from_elements([(1, "Hi"), (2, "Hi")], ["a", "b"])
    t2 = t_env.from_elements([(2, "Flink")], ["c", "d"])
    f = udf(lambda i: i, result_type=DataTypes.BIGINT())
    return t1.join(t2).where(f(t1.a) == f(t2.c))


WINDOW_ROWS = ["1,1,2,2018-03-11 03:10:00", "3,3,2,2018-03-11 03:10:00",
               "2,2,1,2018-03-11 03:10:00", "2,2,1,2018-03-11 03:30:00",
               "1,1,3,2018-03-11 03:40:00", "1,1,8,2018-03-11 04:20:00"]


def _csv_source(t_env, name: str, rows: List[str], c_type: str = "INT") -> Any:
    import tempfile
    folder = tempfile.mkdtemp(prefix="udf-corpus-")
    with open(os.path.join(folder, "data.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")
    t_env.execute_sql(f"""
        CREATE TABLE {name} (a TINYINT, b SMALLINT, c {c_type}, rowtime TIMESTAMP(3),
            WATERMARK FOR rowtime AS rowtime - INTERVAL '60' MINUTE)
        WITH ('connector' = 'filesystem', 'path' = '{folder}', 'format' = 'csv')""")
    return t_env.from_path(name)


@case(ordered=False)
def udaf_tumbling_window(t_env):
    from pyflink.table.window import Tumble
    t_env.create_temporary_system_function("my_count", CountDistinctAggregateFunction())
    t = _csv_source(t_env, "source_table", WINDOW_ROWS)
    return t.window(Tumble.over(lit(1).hours).on(t.rowtime).alias("w")) \
        .group_by(t.a, col("w")) \
        .select(t.a, col("w").start, col("w").end, t.c.count.alias("c"),
                call("my_count", t.c).alias("d"))


@case(ordered=False)
def udaf_sliding_window(t_env):
    from pyflink.table.window import Slide
    t_env.create_temporary_system_function("my_sum", SumAggregateFunction())
    t = _csv_source(t_env, "source_table", WINDOW_ROWS)
    return t.window(Slide.over(lit(1).hours).every(lit(30).minutes).on(t.rowtime).alias("w")) \
        .group_by(t.a, col("w")) \
        .select(t.a, col("w").start, col("w").end, call("my_sum", t.c).alias("c"))


@case(ordered=False)
def udaf_session_window(t_env):
    from pyflink.table.window import Session
    t_env.create_temporary_function("my_count", CountAggregateFunction())
    t = _csv_source(t_env, "source_table",
                    ["1,1,2,2018-03-11 03:10:00", "3,3,2,2018-03-11 03:10:00",
                     "2,2,1,2018-03-11 03:10:00", "1,1,3,2018-03-11 03:40:00",
                     "1,1,8,2018-03-11 04:20:00", "2,2,3,2018-03-11 03:30:00"], "SMALLINT")
    return t.window(Session.with_gap(lit(30).minutes).on(t.rowtime).alias("w")) \
        .group_by(t.a, t.b, col("w")) \
        .select(t.a, col("w").start, col("w").end, call("my_count", t.c).alias("c"))


@case(ordered=False)
def pandas_udaf_sliding_window(t_env):
    from pyflink.table.window import Slide
    t_env.create_temporary_system_function("mean_udaf", mean_udaf)
    t = _csv_source(t_env, "source_table",
                    ["1,1,2,2018-03-11 03:10:00", "3,3,2,2018-03-11 03:10:00",
                     "2,2,1,2018-03-11 03:10:00", "1,1,3,2018-03-11 03:40:00",
                     "1,1,8,2018-03-11 04:20:00", "2,2,3,2018-03-11 03:30:00"], "SMALLINT")
    return t.window(Slide.over(lit(1).hours).every(lit(30).minutes).on(col("rowtime")).alias("w")) \
        .group_by(t.a, t.b, col("w")) \
        .select(t.a, col("w").start, col("w").end, mean_udaf(t.c).alias("b"))


@case(ordered=False)
def pandas_udaf_tumbling_window_aggregate(t_env):
    from pyflink.table.window import Tumble
    t = _csv_source(t_env, "source_table", WINDOW_ROWS)
    pandas_udaf = udaf(lambda pd: (pd.b.mean(), pd.b.max()), result_type=DataTypes.ROW(
        [DataTypes.FIELD("a", DataTypes.FLOAT()), DataTypes.FIELD("b", DataTypes.INT())]),
        func_type="pandas")
    return t.select(t.b, t.rowtime).window(Tumble.over(lit(1).hours).on(col("rowtime")).alias("w")) \
        .group_by(col("w")).aggregate(pandas_udaf.alias("d", "e")) \
        .select(col("w").rowtime, col("d"), col("e"))


def _over_source(t_env):
    t_env.create_temporary_system_function("mean_udaf", mean_udaf)
    t_env.create_temporary_function("max_add", udaf(MaxAdd(), result_type=DataTypes.INT(),
                                                    func_type="pandas"))
    _csv_source(t_env, "T", ["1,2,3,2018-03-11 03:10:00", "3,2,1,2018-03-11 03:10:00",
                             "2,1,2,2018-03-11 03:10:00", "1,3,1,2018-03-11 03:10:00",
                             "1,8,5,2018-03-11 04:20:00", "2,3,6,2018-03-11 03:30:00"])


@case(ordered=False)
def pandas_udaf_over_rows(t_env):
    _over_source(t_env)
    return t_env.sql_query("""
        SELECT a,
          mean_udaf(b) OVER (PARTITION BY a ORDER BY rowtime
                             ROWS BETWEEN 1 PRECEDING AND CURRENT ROW),
          max_add(b, c) OVER (PARTITION BY a ORDER BY rowtime
                              ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)
        FROM T""")


@case(ordered=False)
def pandas_udaf_over_range(t_env):
    _over_source(t_env)
    return t_env.sql_query("""
        SELECT a, mean_udaf(c) OVER (PARTITION BY a ORDER BY rowtime
                                     RANGE BETWEEN INTERVAL '20' MINUTE PRECEDING AND CURRENT ROW)
        FROM T""")
