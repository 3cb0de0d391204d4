"""The Table API's expressions (``pyflink.table.expressions``): ``col``, ``lit``, ``call``,
``call_sql``, operators, ``.alias``, ``.cast``, aggregates as properties (``col('x').sum``),
time units (``lit(5).seconds``), window properties (``col('w').start``).

An :class:`Expression` is unresolved: a tree of ``(op, args)`` naming columns and
functions. SQL text is parsed into the same trees (:mod:`nbstream.table.sql`), and
:mod:`nbstream.table.builder` resolves both against a table's columns.

>>> e = (col("a") + 1).alias("b")
>>> str(e)
'as(plus(a, 1), b)'
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

from .types import DataType, as_type

__all__ = ["Expression", "col", "lit", "call", "call_sql", "if_then_else", "concat", "concat_ws",
           "coalesce", "row", "array", "map_", "null_of", "row_interval", "range_", "and_",
           "or_", "not_", "with_columns", "without_columns", "UNBOUNDED_ROW", "UNBOUNDED_RANGE",
           "CURRENT_ROW", "CURRENT_RANGE", "current_date", "current_time", "current_timestamp",
           "current_watermark", "local_time", "local_timestamp", "to_date", "to_timestamp",
           "to_timestamp_ltz", "date_format", "timestamp_diff", "from_unixtime", "unix_timestamp",
           "pi", "e", "rand", "rand_integer", "atan2", "negative", "uuid", "log", "json",
           "json_string", "json_object", "json_array", "source_watermark", "descriptor",
           "convert_tz", "temporal_overlaps", "TimeIntervalUnit", "TimePointUnit", "JsonOnNull",
           "lag", "lead", "with_all_columns", "current_database", "map_from_arrays", "object_of",
           "json_object_agg", "json_array_agg"]


class Expression:
    """An unresolved expression of the Table API (see the module text)."""

    __slots__ = ("_op", "_args", "_text")

    def __init__(self, op: str, *args: Any) -> None:
        self._op = op
        self._args = args
        self._text: Optional[str] = None  # the SQL text it was parsed from

    # -- structure --------------------------------------------------------------------------
    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        op, args = self._op, self._args
        if self._text is not None:
            return self._text
        if op == "col":
            return args[0]
        if op == "lit":
            v = args[0]
            return repr(v) if isinstance(v, str) else "null" if v is None else \
                str(v).lower() if isinstance(v, bool) else str(v)
        if op == "alias":
            return f"as({args[0]}, {', '.join(args[1:])})"
        if op == "cast":
            return f"cast({args[0]}, {args[1]})"
        if op == "call":
            return f"{args[0]}({', '.join(map(str, args[1:]))})"
        if op == "sql":
            return args[0]
        if op == "star":
            return "*"
        return f"{op}({', '.join(map(str, args))})"

    def __hash__(self) -> int:  # expressions overload == ; keep them usable as dict keys
        return id(self)

    def __bool__(self) -> bool:
        raise TypeError("an Expression has no truth value: combine predicates with & | ~ "
                        "(not and/or/not), e.g. (col('a') > 1) & (col('b') < 2)")

    # -- operators ----------------------------------------------------------------------------
    def _bin(self, name: str, other: Any, reverse: bool = False) -> "Expression":
        o = _expr(other)
        return Expression("call", name, o, self) if reverse else Expression("call", name, self, o)

    def __add__(self, o: Any) -> "Expression":
        return self._bin("plus", o)

    def __radd__(self, o: Any) -> "Expression":
        return self._bin("plus", o, True)

    def __sub__(self, o: Any) -> "Expression":
        return self._bin("minus", o)

    def __rsub__(self, o: Any) -> "Expression":
        return self._bin("minus", o, True)

    def __mul__(self, o: Any) -> "Expression":
        return self._bin("times", o)

    def __rmul__(self, o: Any) -> "Expression":
        return self._bin("times", o, True)

    def __truediv__(self, o: Any) -> "Expression":
        return self._bin("divide", o)

    def __rtruediv__(self, o: Any) -> "Expression":
        return self._bin("divide", o, True)

    def __mod__(self, o: Any) -> "Expression":
        return self._bin("mod", o)

    def __rmod__(self, o: Any) -> "Expression":
        return self._bin("mod", o, True)

    def __pow__(self, o: Any) -> "Expression":
        return self._bin("power", o)

    def __rpow__(self, o: Any) -> "Expression":
        return self._bin("power", o, True)

    def __neg__(self) -> "Expression":
        return Expression("call", "negative", self)

    def __abs__(self) -> "Expression":
        return Expression("call", "abs", self)

    def __eq__(self, o: Any) -> "Expression":  # type: ignore[override]
        return self._bin("equals", o)

    def __ne__(self, o: Any) -> "Expression":  # type: ignore[override]
        return self._bin("not_equals", o)

    def __lt__(self, o: Any) -> "Expression":
        return self._bin("less_than", o)

    def __le__(self, o: Any) -> "Expression":
        return self._bin("less_than_or_equal", o)

    def __gt__(self, o: Any) -> "Expression":
        return self._bin("greater_than", o)

    def __ge__(self, o: Any) -> "Expression":
        return self._bin("greater_than_or_equal", o)

    def __and__(self, o: Any) -> "Expression":
        return self._bin("and", o)

    def __rand__(self, o: Any) -> "Expression":
        return self._bin("and", o, True)

    def __or__(self, o: Any) -> "Expression":
        return self._bin("or", o)

    def __ror__(self, o: Any) -> "Expression":
        return self._bin("or", o, True)

    def __invert__(self) -> "Expression":
        return Expression("call", "not", self)

    def __getitem__(self, index: Any) -> "Expression":
        return self.at(index)

    def __getattr__(self, name: str) -> "Expression":
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

    # -- naming and types ---------------------------------------------------------------------
    def alias(self, name: str, *extra_names: str) -> "Expression":
        return Expression("alias", self, name, *extra_names)

    def cast(self, data_type: Union[DataType, str]) -> "Expression":
        return Expression("cast", self, as_type(data_type), False)

    def try_cast(self, data_type: Union[DataType, str]) -> "Expression":
        return Expression("cast", self, as_type(data_type), True)

    # -- ordering ------------------------------------------------------------------------------
    @property
    def asc(self) -> "Expression":
        return Expression("asc", self)

    @property
    def desc(self) -> "Expression":
        return Expression("desc", self)

    def nulls_first(self) -> "Expression":
        return Expression("nulls_first", self)

    def nulls_last(self) -> "Expression":
        return Expression("nulls_last", self)

    # -- aggregates -----------------------------------------------------------------------------
    def _agg(self, name: str) -> "Expression":
        return Expression("call", name, self)

    @property
    def sum(self) -> "Expression":
        return self._agg("sum")

    @property
    def sum0(self) -> "Expression":
        return self._agg("sum0")

    @property
    def min(self) -> "Expression":
        return self._agg("min")

    @property
    def max(self) -> "Expression":
        return self._agg("max")

    @property
    def count(self) -> "Expression":
        return self._agg("count")

    @property
    def avg(self) -> "Expression":
        return self._agg("avg")

    @property
    def first_value(self) -> "Expression":
        return self._agg("first_value")

    @property
    def last_value(self) -> "Expression":
        return self._agg("last_value")

    def list_agg(self, separator: Optional[str] = None) -> "Expression":
        return Expression("call", "listagg", self, *( [lit(separator)] if separator else []))

    @property
    def stddev_pop(self) -> "Expression":
        return self._agg("stddev_pop")

    @property
    def stddev_samp(self) -> "Expression":
        return self._agg("stddev_samp")

    @property
    def var_pop(self) -> "Expression":
        return self._agg("var_pop")

    @property
    def var_samp(self) -> "Expression":
        return self._agg("var_samp")

    @property
    def collect(self) -> "Expression":
        return self._agg("collect")

    @property
    def array_agg(self) -> "Expression":
        return self._agg("array_agg")

    @property
    def distinct(self) -> "Expression":
        return Expression("distinct", self)

    def over(self, alias: Any) -> "Expression":
        return Expression("over", self, alias)

    # -- predicates ----------------------------------------------------------------------------
    @property
    def is_null(self) -> "Expression":
        return Expression("call", "is_null", self)

    @property
    def is_not_null(self) -> "Expression":
        return Expression("call", "is_not_null", self)

    @property
    def is_true(self) -> "Expression":
        return Expression("call", "is_true", self)

    @property
    def is_false(self) -> "Expression":
        return Expression("call", "is_false", self)

    @property
    def is_not_true(self) -> "Expression":
        return Expression("call", "is_not_true", self)

    @property
    def is_not_false(self) -> "Expression":
        return Expression("call", "is_not_false", self)

    def between(self, lower: Any, upper: Any) -> "Expression":
        return (self >= lower) & (self <= upper)

    def not_between(self, lower: Any, upper: Any) -> "Expression":
        return (self < lower) | (self > upper)

    def in_(self, first: Any, *rest: Any) -> "Expression":
        from .table import Table
        if isinstance(first, Table):
            return Expression("in_table", self, first)
        return Expression("call", "in", self, *(_expr(v) for v in (first, *rest)))

    def like(self, pattern: Any) -> "Expression":
        return Expression("call", "like", self, _expr(pattern))

    def similar(self, pattern: Any) -> "Expression":
        return Expression("call", "similar", self, _expr(pattern))

    def then(self, if_true: Any, if_false: Any) -> "Expression":
        return if_then_else(self, if_true, if_false)

    def if_null(self, null_replacement: Any) -> "Expression":
        return coalesce(self, null_replacement)

    # -- strings --------------------------------------------------------------------------------
    def _fn(self, name: str, *args: Any) -> "Expression":
        return Expression("call", name, self, *(_expr(a) for a in args))

    @property
    def char_length(self) -> "Expression":
        return self._fn("char_length")

    @property
    def upper_case(self) -> "Expression":
        return self._fn("upper")

    @property
    def lower_case(self) -> "Expression":
        return self._fn("lower")

    @property
    def init_cap(self) -> "Expression":
        return self._fn("initcap")

    @property
    def reverse(self) -> "Expression":
        return self._fn("reverse")

    @property
    def to_base64(self) -> "Expression":
        return self._fn("to_base64")

    @property
    def from_base64(self) -> "Expression":
        return self._fn("from_base64")

    @property
    def ascii(self) -> "Expression":
        return self._fn("ascii")

    @property
    def chr(self) -> "Expression":
        return self._fn("chr")

    @property
    def md5(self) -> "Expression":
        return self._fn("md5")

    @property
    def sha1(self) -> "Expression":
        return self._fn("sha1")

    @property
    def sha256(self) -> "Expression":
        return self._fn("sha256")

    @property
    def bin(self) -> "Expression":
        return self._fn("bin")

    @property
    def hex(self) -> "Expression":
        return self._fn("hex")

    def substring(self, begin_index: Any, length: Any = None) -> "Expression":
        return self._fn("substring", begin_index, *([] if length is None else [length]))

    def substr(self, begin_index: Any, length: Any = None) -> "Expression":
        return self.substring(begin_index, length)

    def trim(self, character: Any = None) -> "Expression":
        return self._fn("trim", *([] if character is None else [character]))

    def trim_leading(self, character: Any = None) -> "Expression":
        return self._fn("ltrim", *([] if character is None else [character]))

    def trim_trailing(self, character: Any = None) -> "Expression":
        return self._fn("rtrim", *([] if character is None else [character]))

    def ltrim(self) -> "Expression":
        return self._fn("ltrim")

    def rtrim(self) -> "Expression":
        return self._fn("rtrim")

    def replace(self, search: Any, replacement: Any) -> "Expression":
        return self._fn("replace", search, replacement)

    def position(self, haystack: Any) -> "Expression":
        return self._fn("position", haystack)

    def lpad(self, length: Any, pad: Any) -> "Expression":
        return self._fn("lpad", length, pad)

    def rpad(self, length: Any, pad: Any) -> "Expression":
        return self._fn("rpad", length, pad)

    def regexp(self, regex: Any) -> "Expression":
        return self._fn("regexp", regex)

    def regexp_replace(self, regex: Any, replacement: Any) -> "Expression":
        return self._fn("regexp_replace", regex, replacement)

    def regexp_extract(self, regex: Any, extract_index: Any = None) -> "Expression":
        return self._fn("regexp_extract", regex, *([] if extract_index is None else [extract_index]))

    def repeat(self, n: Any) -> "Expression":
        return self._fn("repeat", n)

    def split_index(self, separator: Any, index: Any) -> "Expression":
        return self._fn("split_index", separator, index)

    def left(self, length: Any) -> "Expression":
        return self._fn("left", length)

    def right(self, length: Any) -> "Expression":
        return self._fn("right", length)

    def instr(self, s: Any) -> "Expression":
        return self._fn("instr", s)

    def locate(self, s: Any, pos: Any = None) -> "Expression":
        return Expression("call", "position", _expr(s), self, *([] if pos is None else [_expr(pos)]))

    def starts_with(self, start_expr: Any) -> "Expression":
        return self.like(Expression("call", "concat", _expr(start_expr), lit("%")))

    def ends_with(self, end_expr: Any) -> "Expression":
        return self.like(Expression("call", "concat", lit("%"), _expr(end_expr)))

    def concat(self, *others: Any) -> "Expression":
        return self._fn("concat", *others)

    # -- math --------------------------------------------------------------------------------------
    def round(self, places: Any = 0) -> "Expression":
        return self._fn("round", places)

    def truncate(self, n: Any = 0) -> "Expression":
        return self._fn("truncate", n)

    def power(self, other: Any) -> "Expression":
        return self._fn("power", other)

    def log(self, base: Any = None) -> "Expression":
        return self._fn("ln") if base is None else Expression("call", "log", _expr(base), self)

    for _name in ("exp", "log10", "log2", "ln", "sqrt", "abs", "sign", "sin", "cos", "tan",
                  "cot", "asin", "acos", "atan", "sinh", "cosh", "tanh", "degrees", "radians"):
        locals()[_name] = property(lambda self, n=_name: self._fn(n))
    del _name

    def floor(self, time_interval_unit: Any = None) -> "Expression":
        if time_interval_unit is None:
            return self._fn("floor")
        return Expression("call", "floor", self, lit(_unit(time_interval_unit)))

    def ceil(self, time_interval_unit: Any = None) -> "Expression":
        if time_interval_unit is None:
            return self._fn("ceil")
        return Expression("call", "ceil", self, lit(_unit(time_interval_unit)))

    # -- temporal ----------------------------------------------------------------------------------
    def _interval(self, unit: str) -> "Expression":
        return Expression("interval", self, unit)

    for _unit_name in ("year", "quarter", "month", "week", "day", "hour", "minute", "second",
                       "milli"):
        locals()[_unit_name] = property(lambda self, u=_unit_name: self._interval(u))
        locals()[_unit_name + "s"] = property(lambda self, u=_unit_name: self._interval(u))
    del _unit_name

    @property
    def to_date(self) -> "Expression":
        return self.cast("DATE")

    @property
    def to_time(self) -> "Expression":
        return self.cast("TIME(0)")

    @property
    def to_timestamp(self) -> "Expression":
        return self.cast("TIMESTAMP(3)")

    def extract(self, time_interval_unit: Any) -> "Expression":
        return Expression("call", "extract", lit(_unit(time_interval_unit)), self)

    @property
    def start(self) -> "Expression":
        return Expression("window_property", self, "start")

    @property
    def end(self) -> "Expression":
        return Expression("window_property", self, "end")

    @property
    def rowtime(self) -> "Expression":
        return Expression("window_property", self, "rowtime")

    @property
    def proctime(self) -> "Expression":
        return Expression("window_property", self, "proctime")

    # -- collections, rows, JSON --------------------------------------------------------------------
    def get(self, name_or_index: Any) -> "Expression":
        return Expression("get", self, name_or_index)

    def at(self, index: Any) -> "Expression":
        return Expression("call", "item", self, _expr(index))

    @property
    def cardinality(self) -> "Expression":
        return self._fn("cardinality")

    @property
    def element(self) -> "Expression":
        return self._fn("element")

    @property
    def flatten(self) -> "Expression":
        return Expression("flatten", self)

    def json_value(self, path: str, returning_type: Any = None, on_empty: Any = None,
                   default_on_empty: Any = None, on_error: Any = None,
                   default_on_error: Any = None) -> "Expression":
        return Expression("json_value", self, path,
                          as_type(returning_type) if returning_type is not None else None)

    def json_exists(self, path: str, on_error: Any = None) -> "Expression":
        return self._fn("json_exists", path)

    @property
    def is_json(self) -> "Expression":
        return self._fn("is_json")


# -- helpers -----------------------------------------------------------------------------------------
def _expr(v: Any) -> Expression:
    if isinstance(v, Expression):
        return v
    return lit(v)


def _unit(u: Any) -> str:
    return getattr(u, "name", str(u)).upper()


def col(name: str) -> Expression:
    """A column of the table by name."""
    if not isinstance(name, str):
        raise TypeError(f"col() takes a column name, not {type(name).__name__}")
    if name == "*":
        return Expression("star")
    return Expression("col", name)


def lit(v: Any, data_type: Optional[DataType] = None) -> Expression:
    """A literal value (typed as ``data_type`` when given)."""
    if isinstance(v, Expression):
        return v
    return Expression("lit", v, as_type(data_type) if data_type is not None else None)


def call(f: Any, *args: Any) -> Expression:
    """A call of a function by name (built-in or registered) or of a UDF object."""
    if isinstance(f, str):
        return Expression("call", f, *(_expr(a) for a in args))
    return Expression("udf_call", f, *(_expr(a) for a in args))


def call_sql(sql_expression: str) -> Expression:
    """A SQL expression (``call_sql("UPPER(name) || '!'")``), parsed when it is resolved."""
    return Expression("sql", sql_expression)


def if_then_else(condition: Any, if_true: Any, if_false: Any) -> Expression:
    return Expression("call", "case", _expr(condition), _expr(if_true), _expr(if_false))


def concat(first: Any, *others: Any) -> Expression:
    return Expression("call", "concat", _expr(first), *(_expr(o) for o in others))


def concat_ws(separator: Any, first: Any, *others: Any) -> Expression:
    return Expression("call", "concat_ws", _expr(separator), _expr(first),
                      *(_expr(o) for o in others))


def coalesce(*args: Any) -> Expression:
    return Expression("call", "coalesce", *(_expr(a) for a in args))


def row(head: Any, *tail: Any) -> Expression:
    return Expression("call", "row", _expr(head), *(_expr(t) for t in tail))


def array(head: Any, *tail: Any) -> Expression:
    return Expression("call", "array", _expr(head), *(_expr(t) for t in tail))


def map_(key: Any, value: Any, *tail: Any) -> Expression:
    return Expression("call", "map", _expr(key), _expr(value), *(_expr(t) for t in tail))


def map_from_arrays(key: Any, value: Any) -> Expression:
    return Expression("call", "map_from_arrays", _expr(key), _expr(value))


def null_of(data_type: DataType) -> Expression:
    return Expression("lit", None, as_type(data_type))


def row_interval(rows: int) -> Expression:
    return Expression("row_interval", rows)


def range_(start: Union[str, int], end: Union[str, int]) -> Expression:
    return Expression("range", start, end)


def with_columns(head: Any, *tails: Any) -> Expression:
    return Expression("with_columns", head, *tails)


def without_columns(head: Any, *tails: Any) -> Expression:
    return Expression("without_columns", head, *tails)


def with_all_columns() -> Expression:
    return Expression("star")


def and_(predicate0: Any, predicate1: Any, *predicates: Any) -> Expression:
    return Expression("call", "and", _expr(predicate0), _expr(predicate1),
                      *(_expr(p) for p in predicates))


def or_(predicate0: Any, predicate1: Any, *predicates: Any) -> Expression:
    return Expression("call", "or", _expr(predicate0), _expr(predicate1),
                      *(_expr(p) for p in predicates))


def not_(expression: Any) -> Expression:
    return Expression("call", "not", _expr(expression))


UNBOUNDED_ROW = Expression("unbounded_row")
UNBOUNDED_RANGE = Expression("unbounded_range")
CURRENT_ROW = Expression("current_row")
CURRENT_RANGE = Expression("current_range")


def _nullary(name: str) -> Expression:
    return Expression("call", name)


def current_database() -> Expression:
    return Expression("lit", "default_database", None)


def current_date() -> Expression:
    return _nullary("current_date")


def current_time() -> Expression:
    return _nullary("current_time")


def current_timestamp() -> Expression:
    return _nullary("current_timestamp")


def local_time() -> Expression:
    return _nullary("localtime")


def local_timestamp() -> Expression:
    return _nullary("localtimestamp")


def current_watermark(rowtime_attribute: Any) -> Expression:
    return Expression("call", "current_watermark", _expr(rowtime_attribute))


def to_date(date_str: Any, format: Any = None) -> Expression:
    return Expression("call", "to_date", _expr(date_str), *([] if format is None else [_expr(format)]))


def to_timestamp(timestamp_str: Any, format: Any = None) -> Expression:
    return Expression("call", "to_timestamp", _expr(timestamp_str),
                      *([] if format is None else [_expr(format)]))


def to_timestamp_ltz(*args: Any) -> Expression:
    return Expression("call", "to_timestamp_ltz", *(_expr(a) for a in args))


def date_format(timestamp: Any, format: Any) -> Expression:
    return Expression("call", "date_format", _expr(timestamp), _expr(format))


def timestamp_diff(time_point_unit: Any, time_point1: Any, time_point2: Any) -> Expression:
    return Expression("call", "timestampdiff", lit(_unit(time_point_unit)), _expr(time_point1),
                      _expr(time_point2))


def convert_tz(date_str: Any, tz_from: Any, tz_to: Any) -> Expression:
    return Expression("call", "convert_tz", _expr(date_str), _expr(tz_from), _expr(tz_to))


def from_unixtime(unixtime: Any, format: Any = None) -> Expression:
    return Expression("call", "from_unixtime", _expr(unixtime),
                      *([] if format is None else [_expr(format)]))


def unix_timestamp(date_str: Any = None, format: Any = None) -> Expression:
    args = [a for a in (date_str, format) if a is not None]
    return Expression("call", "unix_timestamp", *(_expr(a) for a in args))


def temporal_overlaps(left_time_point: Any, left_temporal: Any, right_time_point: Any,
                      right_temporal: Any) -> Expression:
    return Expression("call", "temporal_overlaps", *(_expr(a) for a in (
        left_time_point, left_temporal, right_time_point, right_temporal)))


def pi() -> Expression:
    return _nullary("pi")


def e() -> Expression:
    return _nullary("e")


def rand(seed: Any = None) -> Expression:
    return Expression("call", "rand", *([] if seed is None else [_expr(seed)]))


def rand_integer(bound: Any, seed: Any = None) -> Expression:
    return Expression("call", "rand_integer", *([] if seed is None else [_expr(seed)]),
                      _expr(bound))


def atan2(y: Any, x: Any) -> Expression:
    return Expression("call", "atan2", _expr(y), _expr(x))


def negative(v: Any) -> Expression:
    return Expression("call", "negative", _expr(v))


def uuid() -> Expression:
    return _nullary("uuid")


def log(v: Any, base: Any = None) -> Expression:
    return Expression("call", "ln", _expr(v)) if base is None else \
        Expression("call", "log", _expr(base), _expr(v))


def source_watermark() -> Expression:
    return Expression("source_watermark")


def descriptor(*column_names: str) -> Expression:
    return Expression("descriptor", *column_names)


def json(value: Any) -> Expression:
    return Expression("call", "json", _expr(value))


def json_string(value: Any) -> Expression:
    return Expression("call", "json_string", _expr(value))


class JsonOnNull:
    NULL = "NULL"
    ABSENT = "ABSENT"


def json_object(on_null: Any = JsonOnNull.NULL, *args: Any) -> Expression:
    return Expression("call", "json_object", lit(str(on_null)), *(_expr(a) for a in args))


def json_object_agg(on_null: Any, key_expr: Any, value_expr: Any) -> Expression:
    return Expression("call", "json_object_agg", _expr(key_expr), _expr(value_expr))


def json_array(on_null: Any = JsonOnNull.ABSENT, *args: Any) -> Expression:
    return Expression("call", "json_array", lit(str(on_null)), *(_expr(a) for a in args))


def json_array_agg(on_null: Any, item_expr: Any) -> Expression:
    return Expression("call", "json_array_agg", _expr(item_expr))


def lag(expr: Any, offset: int = 1, default: Any = None) -> Expression:
    return Expression("call", "lag", _expr(expr), lit(offset), _expr(default))


def lead(expr: Any, offset: int = 1, default: Any = None) -> Expression:
    return Expression("call", "lead", _expr(expr), lit(offset), _expr(default))


def object_of(class_name: str, *args: Any) -> Expression:
    raise NotImplementedError("object_of() creates a Java object: not available in nbstream")


class _Units:
    """An enum-like set of unit names (``TimeIntervalUnit.HOUR``)."""

    def __init__(self, *names: str) -> None:
        for n in names:
            setattr(self, n, _Unit(n))


class _Unit:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


JsonType = _Units("VALUE", "SCALAR", "ARRAY", "OBJECT")
JsonExistsOnError = _Units("TRUE", "FALSE", "UNKNOWN", "ERROR")
JsonValueOnEmptyOrError = _Units("NULL", "ERROR", "DEFAULT")
JsonQueryWrapper = _Units("WITHOUT_ARRAY", "CONDITIONAL_ARRAY", "UNCONDITIONAL_ARRAY")
JsonQueryOnEmptyOrError = _Units("NULL", "EMPTY_ARRAY", "EMPTY_OBJECT", "ERROR")
TimeIntervalUnit = _Units("YEAR", "YEAR_TO_MONTH", "QUARTER", "MONTH", "WEEK", "DAY",
                          "DAY_TO_HOUR", "DAY_TO_MINUTE", "DAY_TO_SECOND", "HOUR",
                          "HOUR_TO_MINUTE", "HOUR_TO_SECOND", "MINUTE", "MINUTE_TO_SECOND",
                          "SECOND")
TimePointUnit = _Units("YEAR", "QUARTER", "MONTH", "WEEK", "DAY", "HOUR", "MINUTE", "SECOND",
                       "MILLISECOND", "MICROSECOND")


def expressions_of(values: Sequence[Any]) -> Tuple[Expression, ...]:
    """Table API arguments as expressions (strings are refused: PyFlink 2.x takes
    expressions only)."""
    out = []
    for v in values:
        if isinstance(v, str):
            raise TypeError(f"a string expression {v!r} is not accepted (PyFlink 2.x takes "
                            f"Expression objects): write col({v!r})")
        out.append(_expr(v))
    return tuple(out)
