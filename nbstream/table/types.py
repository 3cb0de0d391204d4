"""Flink's SQL data types: names, printing, nullability, inference and the rules that
derive result types (common types, DECIMAL precision and scale).

A type is an immutable value; ``t.summary_string()`` is Flink's summary string
(``STRING``, ``DECIMAL(10, 2)``, ``TIMESTAMP(3) *ROWTIME*``, ``ROW<`a` INT, `b` STRING>``,
``INT NOT NULL``). :class:`DataTypes` builds them under PyFlink's names.

>>> DataTypes.DECIMAL(10, 2).summary_string(), DataTypes.STRING().not_null().summary_string()
('DECIMAL(10, 2)', 'STRING NOT NULL')
>>> plus_type(DataTypes.DECIMAL(2, 1), DataTypes.INT()).summary_string()
'DECIMAL(12, 1)'
>>> divide_type(DataTypes.DECIMAL(2, 1), DataTypes.INT()).summary_string()
'DECIMAL(13, 12)'
>>> [infer_type(v).summary_string() for v in (7, 1.5, "a")]
['BIGINT', 'DOUBLE', 'STRING']

As in PyFlink, ``str()`` of a type is its short Python name and ``repr()`` its
constructor: ``str(DataTypes.STRING())`` is ``'VARCHAR'``,
``repr(DataTypes.INT())`` is ``'IntType(true)'``.

Python values of each type (inside the runtime and at the API): BOOLEAN ``bool``;
TINYINT..BIGINT ``int``; FLOAT/DOUBLE ``float`` (FLOAT rounded to float32);
DECIMAL ``decimal.Decimal`` at the type's scale; CHAR/VARCHAR ``str``; BINARY/VARBINARY
``bytes``; DATE ``datetime.date``; TIME ``datetime.time``; TIMESTAMP a naive
``datetime.datetime``; TIMESTAMP_LTZ an aware one in UTC; ARRAY ``list``; MAP ``dict``;
ROW :class:`~nbstream.Row`; day-time INTERVAL ``int`` milliseconds; year-month INTERVAL
``int`` months; NULL ``None``.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from ..errors import NbstreamError

__all__ = ["DataType", "DataTypes", "RowField", "ValidationError", "AtomicType", "DecimalType",
           "CharType", "VarCharType", "BinaryType", "VarBinaryType", "TimeType", "TimestampType",
           "LocalZonedTimestampType", "IntervalType", "ArrayType", "MapType", "MultisetType",
           "RowType", "NullType", "infer_type", "common_type", "plus_type", "times_type",
           "divide_type", "mod_type", "parse_type", "MAX_LENGTH"]

MAX_LENGTH = 2147483647
MAX_PRECISION = 38


class ValidationError(NbstreamError, ValueError):
    """A query or Table API call that does not type check or names what is not there
    (Flink's ``ValidationException``)."""


class DataType:
    """A SQL type. ``root`` is the logical type (``INT``, ``VARCHAR``...)."""

    root: str = ""
    nullable: bool = True

    def __init__(self, nullable: bool = True) -> None:
        self.nullable = nullable

    # -- identity --------------------------------------------------------------------------
    def _params(self) -> Tuple[Any, ...]:
        return ()

    def _key(self) -> Tuple[Any, ...]:
        return (type(self), self.nullable, self._params())

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DataType) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def copy(self, nullable: Optional[bool] = None) -> "DataType":
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        if nullable is not None:
            clone.nullable = nullable
        return clone

    def not_null(self) -> "DataType":
        return self.copy(nullable=False)

    def nullable_(self) -> "DataType":
        return self.copy(nullable=True)

    # -- printing --------------------------------------------------------------------------
    def summary(self) -> str:
        """Flink's summary string without the nullability."""
        return self.root

    def summary_string(self) -> str:
        """Flink's summary string: ``DECIMAL(10, 2) NOT NULL``, ``TIMESTAMP(3) *ROWTIME*``."""
        return self.summary() + ("" if self.nullable else " NOT NULL")

    def type_name(self) -> str:
        """PyFlink's Python name of the type (``str(DataTypes.STRING())`` is ``VARCHAR``)."""
        return _TYPE_NAMES.get(self.root, self.root)

    def __str__(self) -> str:
        return self.type_name()

    def __repr__(self) -> str:
        params = "".join(f"{p!r}, " if isinstance(p, DataType) else f"{p}, "
                         for p in self._repr_params())
        return f"{type(self).__name__}({params}{str(self.nullable).lower()})"

    def _repr_params(self) -> Tuple[Any, ...]:
        return self._params()

    # -- families --------------------------------------------------------------------------
    @property
    def is_numeric(self) -> bool:
        return self.root in _NUMERIC

    @property
    def is_integer(self) -> bool:
        return self.root in _INTEGERS

    @property
    def is_string(self) -> bool:
        return self.root in ("CHAR", "VARCHAR")

    @property
    def is_temporal(self) -> bool:
        return self.root in ("DATE", "TIME", "TIMESTAMP", "TIMESTAMP_LTZ")

    @property
    def is_timestamp(self) -> bool:
        return self.root in ("TIMESTAMP", "TIMESTAMP_LTZ")

    @property
    def is_interval(self) -> bool:
        return self.root.startswith("INTERVAL")


class AtomicType(DataType):
    """A type without parameters: BOOLEAN, the integers, FLOAT, DOUBLE, DATE."""

    def __init__(self, root: str, nullable: bool = True) -> None:
        super().__init__(nullable)
        self.root = root

    def _params(self) -> Tuple[Any, ...]:
        return (self.root,)

    def _repr_params(self) -> Tuple[Any, ...]:
        return ()

    def __repr__(self) -> str:
        name = {"TINYINT": "TinyInt", "SMALLINT": "SmallInt", "INT": "Int", "BIGINT": "BigInt",
                "FLOAT": "Float", "DOUBLE": "Double", "BOOLEAN": "Boolean",
                "DATE": "Date"}.get(self.root, self.root.title())
        return f"{name}Type({str(self.nullable).lower()})"


class NullType(DataType):
    root = "NULL"


class DecimalType(DataType):
    root = "DECIMAL"

    def __init__(self, precision: int = 10, scale: int = 0, nullable: bool = True) -> None:
        super().__init__(nullable)
        if not 1 <= precision <= MAX_PRECISION or not 0 <= scale <= precision:
            raise ValidationError(f"DECIMAL({precision}, {scale}): precision must be 1..38 and "
                                  "scale 0..precision")
        self.precision, self.scale = precision, scale

    def _params(self) -> Tuple[Any, ...]:
        return (self.precision, self.scale)

    def summary(self) -> str:
        return f"DECIMAL({self.precision}, {self.scale})"


class _Sized(DataType):
    def __init__(self, length: int = 1, nullable: bool = True) -> None:
        super().__init__(nullable)
        self.length = length

    def _params(self) -> Tuple[Any, ...]:
        return (self.length,)

    def summary(self) -> str:
        return f"{self.root}({self.length})"


class CharType(_Sized):
    root = "CHAR"


class VarCharType(_Sized):
    root = "VARCHAR"

    def __init__(self, length: int = MAX_LENGTH, nullable: bool = True) -> None:
        super().__init__(length, nullable)

    def summary(self) -> str:
        return "STRING" if self.length == MAX_LENGTH else f"VARCHAR({self.length})"


class BinaryType(_Sized):
    root = "BINARY"


class VarBinaryType(_Sized):
    root = "VARBINARY"

    def __init__(self, length: int = MAX_LENGTH, nullable: bool = True) -> None:
        super().__init__(length, nullable)

    def summary(self) -> str:
        return "BYTES" if self.length == MAX_LENGTH else f"VARBINARY({self.length})"


class _Precise(DataType):
    default_precision = 6

    def __init__(self, precision: Optional[int] = None, nullable: bool = True,
                 kind: str = "") -> None:
        super().__init__(nullable)
        self.precision = self.default_precision if precision is None else precision
        if not 0 <= self.precision <= 9:
            raise ValidationError(f"{self.root}({self.precision}): precision must be 0..9")
        self.kind = kind  # "" | "ROWTIME" | "PROCTIME": a time attribute

    def _params(self) -> Tuple[Any, ...]:
        return (self.precision,)  # a time attribute is the same type

    def summary(self) -> str:
        mark = f" *{self.kind}*" if self.kind else ""
        return f"{self.root}({self.precision}){mark}"

    def plain(self) -> "DataType":
        """The type without its time attribute mark."""
        if not self.kind:
            return self
        clone = self.copy()
        clone.kind = ""  # type: ignore[attr-defined]
        return clone

    def with_kind(self, kind: str) -> "DataType":
        clone = self.copy()
        clone.kind = kind  # type: ignore[attr-defined]
        return clone


class TimeType(_Precise):
    root = "TIME"
    default_precision = 0


class TimestampType(_Precise):
    root = "TIMESTAMP"


class LocalZonedTimestampType(_Precise):
    root = "TIMESTAMP_LTZ"


#: interval resolutions: day-time ones hold milliseconds, year-month ones months
_DAY_TIME = ("DAY", "HOUR", "MINUTE", "SECOND")
_YEAR_MONTH = ("YEAR", "MONTH")


class IntervalType(DataType):
    """``INTERVAL SECOND(3)``, ``INTERVAL DAY(2) TO SECOND(3)``, ``INTERVAL MONTH``..."""

    def __init__(self, upper: str = "SECOND", lower: Optional[str] = None,
                 nullable: bool = True) -> None:
        super().__init__(nullable)
        self.upper, self.lower = upper.upper(), (lower.upper() if lower else None)
        self.root = "INTERVAL_YEAR_MONTH" if self.upper in _YEAR_MONTH else "INTERVAL_DAY_TIME"

    def _params(self) -> Tuple[Any, ...]:
        return (self.root,)

    def summary(self) -> str:
        def res(unit: str) -> str:
            return {"SECOND": "SECOND(3)", "DAY": "DAY(2)", "YEAR": "YEAR(2)"}.get(unit, unit)
        if self.lower and self.lower != self.upper:
            return f"INTERVAL {res(self.upper)} TO {res(self.lower)}"
        return f"INTERVAL {res(self.upper)}"


class ArrayType(DataType):
    root = "ARRAY"

    def __init__(self, element: DataType, nullable: bool = True) -> None:
        super().__init__(nullable)
        self.element = element

    def _params(self) -> Tuple[Any, ...]:
        return (self.element,)

    def summary(self) -> str:
        return f"ARRAY<{self.element.summary_string()}>"


class MultisetType(ArrayType):
    root = "MULTISET"

    def summary(self) -> str:
        return f"MULTISET<{self.element.summary_string()}>"


class MapType(DataType):
    root = "MAP"

    def __init__(self, key: DataType, value: DataType, nullable: bool = True) -> None:
        super().__init__(nullable)
        self.key, self.value = key, value

    def _params(self) -> Tuple[Any, ...]:
        return (self.key, self.value)

    def summary(self) -> str:
        return f"MAP<{self.key.summary_string()}, {self.value.summary_string()}>"


class RowField:
    """A named field of a ROW type."""

    def __init__(self, name: str, data_type: DataType, description: Optional[str] = None) -> None:
        self.name, self.data_type, self.description = name, as_type(data_type), description

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, RowField) and (self.name, self.data_type) == (
            other.name, other.data_type)

    def __hash__(self) -> int:
        return hash((self.name, self.data_type))

    def __repr__(self) -> str:
        return f"RowField({self.name}, {self.data_type!r}, {self.description})"

    def __str__(self) -> str:
        return f"RowField({self.name}, {self.data_type})"


class RowType(DataType):
    root = "ROW"

    def __init__(self, fields: Sequence[RowField] = (), nullable: bool = True) -> None:
        super().__init__(nullable)
        self.fields: List[RowField] = list(fields)

    def _params(self) -> Tuple[Any, ...]:
        return tuple(self.fields)

    @property
    def names(self) -> List[str]:
        return [f.name for f in self.fields]

    @property
    def types(self) -> List[DataType]:
        return [f.data_type for f in self.fields]

    def field_names(self) -> List[str]:
        return self.names

    def field_types(self) -> List[DataType]:
        return self.types

    def summary(self) -> str:
        return "ROW<" + ", ".join(f"`{f.name}` {f.data_type.summary_string()}"
                                  for f in self.fields) + ">"


# -- the DataTypes factory (PyFlink's names) -------------------------------------------------
class _Resolution:
    def __init__(self, unit: str) -> None:
        self.unit = unit


class DataTypes:
    """PyFlink's type factory: ``DataTypes.INT()``, ``DataTypes.DECIMAL(10, 2)``,
    ``DataTypes.ROW([DataTypes.FIELD("a", DataTypes.INT())])``."""

    @staticmethod
    def NULL() -> DataType:
        return NullType()

    @staticmethod
    def BOOLEAN(nullable: bool = True) -> DataType:
        return AtomicType("BOOLEAN", nullable)

    @staticmethod
    def TINYINT(nullable: bool = True) -> DataType:
        return AtomicType("TINYINT", nullable)

    @staticmethod
    def SMALLINT(nullable: bool = True) -> DataType:
        return AtomicType("SMALLINT", nullable)

    @staticmethod
    def INT(nullable: bool = True) -> DataType:
        return AtomicType("INT", nullable)

    @staticmethod
    def BIGINT(nullable: bool = True) -> DataType:
        return AtomicType("BIGINT", nullable)

    @staticmethod
    def FLOAT(nullable: bool = True) -> DataType:
        return AtomicType("FLOAT", nullable)

    @staticmethod
    def DOUBLE(nullable: bool = True) -> DataType:
        return AtomicType("DOUBLE", nullable)

    @staticmethod
    def DECIMAL(precision: int = 10, scale: int = 0, nullable: bool = True) -> DataType:
        return DecimalType(precision, scale, nullable)

    @staticmethod
    def CHAR(length: int = 1, nullable: bool = True) -> DataType:
        return CharType(length, nullable)

    @staticmethod
    def VARCHAR(length: int = MAX_LENGTH, nullable: bool = True) -> DataType:
        return VarCharType(length, nullable)

    @staticmethod
    def STRING(nullable: bool = True) -> DataType:
        return VarCharType(MAX_LENGTH, nullable)

    @staticmethod
    def BINARY(length: int = 1, nullable: bool = True) -> DataType:
        return BinaryType(length, nullable)

    @staticmethod
    def VARBINARY(length: int = MAX_LENGTH, nullable: bool = True) -> DataType:
        return VarBinaryType(length, nullable)

    @staticmethod
    def BYTES(nullable: bool = True) -> DataType:
        return VarBinaryType(MAX_LENGTH, nullable)

    @staticmethod
    def DATE(nullable: bool = True) -> DataType:
        return AtomicType("DATE", nullable)

    @staticmethod
    def TIME(precision: int = 0, nullable: bool = True) -> DataType:
        return TimeType(precision, nullable)

    @staticmethod
    def TIMESTAMP(precision: int = 6, nullable: bool = True) -> DataType:
        return TimestampType(precision, nullable)

    @staticmethod
    def TIMESTAMP_LTZ(precision: int = 6, nullable: bool = True) -> DataType:
        return LocalZonedTimestampType(precision, nullable)

    TIMESTAMP_WITH_LOCAL_TIME_ZONE = TIMESTAMP_LTZ

    @staticmethod
    def ARRAY(element_type: DataType, nullable: bool = True) -> DataType:
        return ArrayType(as_type(element_type), nullable)

    @staticmethod
    def MULTISET(element_type: DataType, nullable: bool = True) -> DataType:
        return MultisetType(as_type(element_type), nullable)

    @staticmethod
    def MAP(key_type: DataType, value_type: DataType, nullable: bool = True) -> DataType:
        return MapType(as_type(key_type), as_type(value_type), nullable)

    @staticmethod
    def ROW(row_fields: Sequence[RowField] = (), nullable: bool = True) -> DataType:
        return RowType(row_fields, nullable)

    @staticmethod
    def FIELD(name: str, data_type: DataType, description: Optional[str] = None) -> RowField:
        return RowField(name, data_type, description)

    @staticmethod
    def LIST_VIEW(element_type: DataType) -> DataType:
        return ArrayType(as_type(element_type))

    @staticmethod
    def MAP_VIEW(key_type: DataType, value_type: DataType) -> DataType:
        return MapType(as_type(key_type), as_type(value_type))

    @staticmethod
    def SECOND(precision: int = 6) -> _Resolution:
        return _Resolution("SECOND")

    @staticmethod
    def MINUTE() -> _Resolution:
        return _Resolution("MINUTE")

    @staticmethod
    def HOUR() -> _Resolution:
        return _Resolution("HOUR")

    @staticmethod
    def DAY(precision: int = 2) -> _Resolution:
        return _Resolution("DAY")

    @staticmethod
    def MONTH() -> _Resolution:
        return _Resolution("MONTH")

    @staticmethod
    def YEAR(precision: int = 2) -> _Resolution:
        return _Resolution("YEAR")

    @staticmethod
    def INTERVAL(upper_resolution: _Resolution,
                 lower_resolution: Optional[_Resolution] = None) -> DataType:
        return IntervalType(upper_resolution.unit,
                            lower_resolution.unit if lower_resolution else None)


_TYPE_NAMES = {"TIMESTAMP_LTZ": "LOCALZONEDTIMESTAMP", "INTERVAL_DAY_TIME": "DAYTIMEINTERVAL",
               "INTERVAL_YEAR_MONTH": "YEARMONTHINTERVAL"}


# -- families and widening ----------------------------------------------------------------------
_INTEGERS = ("TINYINT", "SMALLINT", "INT", "BIGINT")
_NUMERIC = _INTEGERS + ("DECIMAL", "FLOAT", "DOUBLE")
#: digits of each integer type (its DECIMAL precision)
INTEGER_DIGITS = {"TINYINT": 3, "SMALLINT": 5, "INT": 10, "BIGINT": 19}
#: the range of each integer type (Java's two's complement)
INTEGER_BITS = {"TINYINT": 8, "SMALLINT": 16, "INT": 32, "BIGINT": 64}


def as_type(t: Any) -> DataType:
    """A DataType from a DataType or a type string (``'bigint'``)."""
    if isinstance(t, DataType):
        return t
    if isinstance(t, str):
        return parse_type(t)
    raise TypeError(f"expected a DataType, not {type(t).__name__} {t!r}")


def decimal_of(t: DataType) -> DecimalType:
    """The DECIMAL an exact numeric type widens to."""
    if isinstance(t, DecimalType):
        return t
    return DecimalType(INTEGER_DIGITS[t.root], 0, t.nullable)


def adjust_decimal(precision: int, scale: int, nullable: bool = True) -> DecimalType:
    """Flink's ``adjustPrecisionScale``: keep 38 digits, giving up scale (down to 6)."""
    if precision <= MAX_PRECISION:
        return DecimalType(precision, scale, nullable)
    int_digits = precision - scale
    min_scale = min(scale, 6)
    scale = max(MAX_PRECISION - int_digits, min_scale)
    return DecimalType(MAX_PRECISION, scale, nullable)


def _numeric_result(a: DataType, b: DataType) -> Optional[DataType]:
    """For non-DECIMAL arithmetic: the wider of two numeric types (None if a DECIMAL
    rule applies)."""
    nullable = a.nullable or b.nullable
    if a.root in ("DOUBLE", "FLOAT") or b.root in ("DOUBLE", "FLOAT"):
        root = "DOUBLE" if "DOUBLE" in (a.root, b.root) else "FLOAT"
        return AtomicType(root, nullable)
    if a.root == "DECIMAL" or b.root == "DECIMAL":
        return None
    wide = max(a.root, b.root, key=_INTEGERS.index)
    return AtomicType(wide, nullable)


def plus_type(a: DataType, b: DataType) -> DataType:
    """The type of ``a + b`` (and ``a - b``) for numeric operands."""
    simple = _numeric_result(a, b)
    if simple is not None:
        return simple
    da, db = decimal_of(a), decimal_of(b)
    scale = max(da.scale, db.scale)
    precision = max(da.precision - da.scale, db.precision - db.scale) + scale + 1
    return adjust_decimal(precision, scale, a.nullable or b.nullable)


def times_type(a: DataType, b: DataType) -> DataType:
    simple = _numeric_result(a, b)
    if simple is not None:
        return simple
    da, db = decimal_of(a), decimal_of(b)
    return adjust_decimal(da.precision + db.precision + 1, da.scale + db.scale,
                          a.nullable or b.nullable)


def divide_type(a: DataType, b: DataType) -> DataType:
    """``a / b``: integer division between integers, Flink's derived DECIMAL scale."""
    simple = _numeric_result(a, b)
    if simple is not None:
        return simple
    da, db = decimal_of(a), decimal_of(b)
    scale = max(6, da.scale + db.precision + 1)
    precision = da.precision - da.scale + db.scale + scale
    return adjust_decimal(precision, scale, a.nullable or b.nullable)


def mod_type(a: DataType, b: DataType) -> DataType:
    """``MOD(a, b)`` / ``a % b``: the divisor's type (Calcite's rule), DECIMAL derived."""
    exact = a.root in _INTEGERS + ("DECIMAL",) and b.root in _INTEGERS + ("DECIMAL",)
    if not (exact and "DECIMAL" in (a.root, b.root)):
        return b.copy(a.nullable or b.nullable)
    da, db = decimal_of(a), decimal_of(b)
    scale = max(da.scale, db.scale)
    precision = min(da.precision - da.scale, db.precision - db.scale) + scale
    return adjust_decimal(precision, scale, a.nullable or b.nullable)


def common_type(types: Sequence[DataType]) -> Optional[DataType]:
    """The least type every one of ``types`` converts to (UNION, CASE, VALUES, IN,
    comparisons); None if there is none."""
    known = [t for t in types if t.root != "NULL"]
    nullable = any(t.nullable for t in types)
    if not known:
        return NullType()
    first = known[0]
    if all(t.root == first.root and t._params() == first._params() for t in known):
        return first.copy(nullable)
    roots = {t.root for t in known}
    if roots <= set(_NUMERIC):
        if roots & {"DOUBLE", "FLOAT"}:
            return AtomicType("DOUBLE" if "DOUBLE" in roots else "FLOAT", nullable)
        if "DECIMAL" in roots:
            decs = [decimal_of(t) for t in known]
            scale = max(d.scale for d in decs)
            digits = max(d.precision - d.scale for d in decs)
            return adjust_decimal(digits + scale, scale, nullable)
        return AtomicType(max(roots, key=_INTEGERS.index), nullable)
    if roots <= {"CHAR", "VARCHAR"}:
        lengths = [t.length for t in known]  # type: ignore[attr-defined]
        if roots == {"CHAR"} and len(set(lengths)) == 1:
            return CharType(lengths[0], nullable)
        if roots == {"CHAR"}:  # Calcite pads CHARs of several lengths to the longest
            return CharType(max(lengths), nullable)
        return VarCharType(min(MAX_LENGTH, max(lengths)), nullable)
    if roots <= {"BINARY", "VARBINARY"}:
        return VarBinaryType(MAX_LENGTH, nullable)
    if roots <= {"TIMESTAMP", "DATE"} and "TIMESTAMP" in roots:
        return TimestampType(max(getattr(t, "precision", 0) for t in known), nullable)
    if len(roots) == 1:
        root = first.root
        if root in ("TIMESTAMP", "TIMESTAMP_LTZ", "TIME"):
            return type(first)(max(t.precision for t in known), nullable)  # type: ignore
        if root in ("INTERVAL_DAY_TIME", "INTERVAL_YEAR_MONTH"):
            return first.copy(nullable)
        if root in ("ARRAY", "MULTISET"):
            inner = common_type([t.element for t in known])  # type: ignore[attr-defined]
            return None if inner is None else type(first)(inner, nullable)  # type: ignore
        if root == "MAP":
            k = common_type([t.key for t in known])  # type: ignore[attr-defined]
            v = common_type([t.value for t in known])  # type: ignore[attr-defined]
            return None if k is None or v is None else MapType(k, v, nullable)
        if root == "ROW" and len({len(t.fields) for t in known}) == 1:  # type: ignore
            fields = []
            for i, f in enumerate(first.fields):  # type: ignore[attr-defined]
                inner = common_type([t.fields[i].data_type for t in known])  # type: ignore
                if inner is None:
                    return None
                fields.append(RowField(f.name, inner))
            return RowType(fields, nullable)
    return None


# -- inference from Python values -------------------------------------------------------------
def infer_type(value: Any) -> DataType:
    """The type PyFlink infers for a Python value (``int`` -> BIGINT, ``float`` ->
    DOUBLE, ``str`` -> STRING, ``Decimal`` -> DECIMAL(38, 18), ...)."""
    from ..runtime.row import Row

    if value is None:
        return NullType()
    if isinstance(value, bool):
        return DataTypes.BOOLEAN()
    if isinstance(value, int):
        return DataTypes.BIGINT()
    if isinstance(value, float):
        return DataTypes.DOUBLE()
    if isinstance(value, str):
        return DataTypes.STRING()
    if isinstance(value, (bytes, bytearray)):
        return DataTypes.BYTES()
    if isinstance(value, decimal.Decimal):
        return DataTypes.DECIMAL(38, 18)
    if isinstance(value, _dt.datetime):
        return DataTypes.TIMESTAMP_LTZ(6) if value.tzinfo is not None else DataTypes.TIMESTAMP(6)
    if isinstance(value, _dt.date):
        return DataTypes.DATE()
    if isinstance(value, _dt.time):
        return DataTypes.TIME(0)
    if isinstance(value, Row):
        names = value._fields or [f"_{i + 1}" for i in range(len(value))]
        return RowType([RowField(n, infer_type(v)) for n, v in zip(names, value)])
    if isinstance(value, (list, tuple)):
        inner = common_type([infer_type(v) for v in value]) if value else NullType()
        return ArrayType(inner or DataTypes.STRING())
    if isinstance(value, dict):
        keys = common_type([infer_type(k) for k in value]) if value else NullType()
        vals = common_type([infer_type(v) for v in value.values()]) if value else NullType()
        return MapType(keys or DataTypes.STRING(), vals or DataTypes.STRING())
    if hasattr(value, "item") and hasattr(value, "dtype"):  # a numpy scalar
        return infer_type(value.item())
    raise ValidationError(f"cannot infer a SQL type for {type(value).__name__} {value!r}: "
                          "give the schema as DataTypes.ROW([...])")


# -- parsing type strings -----------------------------------------------------------------------
_SIMPLE = {"BOOLEAN": DataTypes.BOOLEAN, "BOOL": DataTypes.BOOLEAN, "TINYINT": DataTypes.TINYINT,
           "SMALLINT": DataTypes.SMALLINT, "INT": DataTypes.INT, "INTEGER": DataTypes.INT,
           "BIGINT": DataTypes.BIGINT, "FLOAT": DataTypes.FLOAT, "REAL": DataTypes.FLOAT,
           "DOUBLE": DataTypes.DOUBLE, "STRING": DataTypes.STRING, "BYTES": DataTypes.BYTES,
           "DATE": DataTypes.DATE, "NULL": DataTypes.NULL}


def parse_type(text: str) -> DataType:
    """A type from Flink's SQL spelling: ``'BIGINT'``, ``'DECIMAL(10, 2)'``,
    ``'VARCHAR(5) NOT NULL'``, ``'TIMESTAMP(3)'``, ``'ARRAY<INT>'``, ``'ROW<a INT, b STRING>'``.

    >>> parse_type("row<a int, `b c` decimal(5,2) not null>").summary_string()
    'ROW<`a` INT, `b c` DECIMAL(5, 2) NOT NULL>'
    """
    parser = _TypeParser(text)
    t = parser.type()
    parser.expect_end()
    return t


class _TypeParser:
    def __init__(self, text: str) -> None:
        import re
        self.text = text
        self.tokens = re.findall(r"`(?:[^`]|``)*`|\w+|[(),<>]|\S", text)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos].upper() if self.pos < len(self.tokens) else ""

    def take(self) -> str:
        tok = self.tokens[self.pos] if self.pos < len(self.tokens) else ""
        self.pos += 1
        return tok

    def fail(self, what: str) -> ValidationError:
        return ValidationError(f"cannot parse the type {self.text!r}: {what}")

    def expect(self, tok: str) -> None:
        if self.take().upper() != tok:
            raise self.fail(f"expected {tok!r}")

    def expect_end(self) -> None:
        if self.pos < len(self.tokens):
            raise self.fail(f"unexpected {self.tokens[self.pos]!r}")

    def ints(self) -> List[int]:
        out: List[int] = []
        if self.peek() == "(":
            self.take()
            while True:
                tok = self.take()
                if not tok.isdigit():
                    raise self.fail(f"expected a number, not {tok!r}")
                out.append(int(tok))
                if self.peek() == ",":
                    self.take()
                    continue
                self.expect(")")
                break
        return out

    def type(self) -> DataType:
        name = self.take().upper()
        if not name:
            raise self.fail("it is empty")
        t: DataType
        if name in ("CHAR", "VARCHAR", "BINARY", "VARBINARY"):
            args = self.ints()
            default = 1 if name in ("CHAR", "BINARY") else MAX_LENGTH
            t = {"CHAR": CharType, "VARCHAR": VarCharType, "BINARY": BinaryType,
                 "VARBINARY": VarBinaryType}[name](args[0] if args else default)
        elif name in ("DECIMAL", "DEC", "NUMERIC"):
            args = self.ints()
            t = DecimalType(args[0] if args else 10, args[1] if len(args) > 1 else 0)
        elif name == "DOUBLE" and self.peek() == "PRECISION":
            self.take()
            t = DataTypes.DOUBLE()
        elif name == "TIME":
            args = self.ints()
            t = TimeType(args[0] if args else 0)
            self._without_time_zone()
        elif name == "TIMESTAMP":
            args = self.ints()
            p = args[0] if args else 6
            if self.peek() == "WITH":
                for word in ("WITH", "LOCAL", "TIME", "ZONE"):
                    self.expect(word)
                t = LocalZonedTimestampType(p)
            else:
                self._without_time_zone()
                t = TimestampType(p)
        elif name == "TIMESTAMP_LTZ":
            args = self.ints()
            t = LocalZonedTimestampType(args[0] if args else 6)
        elif name in ("ARRAY", "MULTISET"):
            self.expect("<")
            inner = self.type()
            self.expect(">")
            t = ArrayType(inner) if name == "ARRAY" else MultisetType(inner)
        elif name == "MAP":
            self.expect("<")
            k = self.type()
            self.expect(",")
            v = self.type()
            self.expect(">")
            t = MapType(k, v)
        elif name == "ROW":
            close = ">" if self.peek() == "<" else ")"
            self.take()
            fields = []
            while self.peek() != close.upper():
                fname = self.take()
                if fname.startswith("`"):
                    fname = fname[1:-1].replace("``", "`")
                fields.append(RowField(fname, self.type()))
                if self.peek() == ",":
                    self.take()
            self.expect(close)
            t = RowType(fields)
        elif name == "INTERVAL":
            upper = self.take().upper()
            self.ints()
            lower = None
            if self.peek() == "TO":
                self.take()
                lower = self.take().upper()
                self.ints()
            t = IntervalType(upper, lower)
        elif name in _SIMPLE:
            t = _SIMPLE[name]()
        else:
            raise self.fail(f"unknown type {name}")
        if self.peek() == "NOT":
            self.take()
            self.expect("NULL")
            t = t.not_null()
        elif self.peek() == "NULL":
            self.take()
        return t

    def _without_time_zone(self) -> None:
        if self.peek() == "WITHOUT":
            for word in ("WITHOUT", "TIME", "ZONE"):
                self.expect(word)


def row_type(names: Iterable[str], types: Iterable[DataType]) -> RowType:
    return RowType([RowField(n, t) for n, t in zip(names, types)])
