"""Values of SQL types: conversion of user values in, and the three ways Flink renders a
value out.

* :func:`to_internal`: a Python value given by the user (``from_elements``, a DataFrame)
  as the runtime holds it for the type (FLOAT rounded to float32, DECIMAL at its scale,
  TIMESTAMP a ``datetime``...).
* :func:`sql_string`: SQL's CAST to STRING, as ``TableResult.print()`` shows values
  (``TRUE``, ``2020-04-15 08:05:00.000``, ``11.00``, ``1.0E20``, ``x'0a'``, ``(1, a)``).
* :func:`java_string`: Java's ``toString`` of the external object, as the ``print``
  connector writes it (``true``, ``2018-03-11T03:00``, ``null``, ``+I[5, 2]``).

>>> from nbstream.table.types import DataTypes
>>> sql_string(1e20, DataTypes.DOUBLE()), sql_string(None, DataTypes.INT())
('1.0E20', '<NULL>')
>>> import datetime
>>> java_string(datetime.datetime(2018, 3, 11, 3, 0), DataTypes.TIMESTAMP(3))
'2018-03-11T03:00'
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import struct
from typing import Any, Callable, Dict, List, Optional, Sequence

from .types import DataType, DecimalType, RowType, ValidationError

__all__ = ["to_internal", "sql_string", "java_string", "java_double", "java_float",
           "float32", "quantize", "EPOCH", "EPOCH_UTC", "millis_of", "timestamp_of",
           "converter", "NULL_TEXT"]

NULL_TEXT = "<NULL>"
EPOCH = _dt.datetime(1970, 1, 1)
EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MS = _dt.timedelta(milliseconds=1)
_DECIMAL_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP)


# -- numbers -------------------------------------------------------------------------------------
def float32(x: float) -> float:
    """``x`` rounded to the nearest float32 (Flink's FLOAT)."""
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def quantize(value: decimal.Decimal, t: DecimalType) -> Optional[decimal.Decimal]:
    """``value`` at ``t``'s scale (HALF_UP), or None when it has more integer digits than
    ``t`` holds (Flink's overflow to NULL)."""
    q = value.quantize(decimal.Decimal(1).scaleb(-t.scale), context=_DECIMAL_CONTEXT)
    if q.adjusted() >= t.precision - t.scale and q != 0:
        return None
    return q


def _java_digits(digits: str, exponent: int, negative: bool) -> str:
    """Java's Double/Float.toString from shortest digits ``d.ddd`` x 10^exponent."""
    sign = "-" if negative else ""
    if -3 <= exponent < 7:
        if exponent >= 0:
            whole = digits[:exponent + 1].ljust(exponent + 1, "0")
            frac = digits[exponent + 1:] or "0"
        else:
            whole = "0"
            frac = "0" * (-exponent - 1) + digits
        return f"{sign}{whole}.{frac}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"


def _shortest(text: str) -> tuple:
    """(digits, exponent) of a number's shortest repr ``text`` (``'1e+20'``, ``'0.001'``)."""
    d = decimal.Decimal(text)
    sign, digs, exp = d.as_tuple()
    digits = "".join(map(str, digs)).rstrip("0") or "0"
    exponent = len(digs) + exp - 1  # type: ignore[operator]
    return digits, exponent


def java_double(x: float) -> str:
    """Java's ``Double.toString``: ``1.0``, ``0.30000000000000004``, ``1.0E20``, ``1.0E-4``."""
    if x != x:
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    digits, exponent = _shortest(repr(abs(x)))
    return _java_digits(digits, exponent, x < 0)


def java_float(x: float) -> str:
    """Java's ``Float.toString`` of a float32 value (``28.800001``, ``86.4``)."""
    if x != x or math.isinf(x) or x == 0:
        return java_double(x)
    import numpy as np

    text = np.format_float_scientific(np.float32(abs(x)), unique=True, trim="-")
    digits, exponent = _shortest(text)
    return _java_digits(digits, exponent, x < 0)


# -- time -----------------------------------------------------------------------------------------
def millis_of(ts: Any) -> int:
    """Epoch milliseconds of a TIMESTAMP (naive, read as UTC) or TIMESTAMP_LTZ value."""
    if ts.tzinfo is None:
        return (ts - EPOCH) // _MS
    return (ts - EPOCH_UTC) // _MS


def timestamp_of(ms: int) -> _dt.datetime:
    """The TIMESTAMP(3) value of epoch milliseconds ``ms``."""
    return EPOCH + _dt.timedelta(milliseconds=ms)


def _fraction(micro: int, precision: int) -> str:
    if precision == 0:
        return ""
    return "." + f"{micro:06d}000"[:precision]


def _sql_timestamp(v: _dt.datetime, precision: int) -> str:
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:"
            f"{v.second:02d}{_fraction(v.microsecond, precision)}")


def _java_time_of_day(v: Any) -> str:
    """Java's LocalTime.toString: ``03:00``, ``03:00:05``, ``03:00:05.120``."""
    text = f"{v.hour:02d}:{v.minute:02d}"
    if v.second or v.microsecond:
        text += f":{v.second:02d}"
        if v.microsecond:
            text += "." + (f"{v.microsecond // 1000:03d}" if v.microsecond % 1000 == 0
                           else f"{v.microsecond:06d}")
    return text


def local_zone(zone: Optional[str] = None) -> _dt.tzinfo:
    """The session time zone (``table.local-time-zone``; default the process's, as the JVM)."""
    if zone and zone.upper() not in ("DEFAULT",):
        if zone.upper() == "UTC":
            return _dt.timezone.utc
        from zoneinfo import ZoneInfo
        return ZoneInfo(zone)
    import os
    tz = os.environ.get("TZ")
    if tz:
        try:
            from zoneinfo import ZoneInfo
            return ZoneInfo(tz)
        except Exception:
            pass
    return _dt.datetime.now().astimezone().tzinfo or _dt.timezone.utc


# -- rendering ------------------------------------------------------------------------------------
def sql_string(v: Any, t: DataType, zone: Optional[_dt.tzinfo] = None, top: bool = True) -> str:
    """The value as SQL's CAST(v AS STRING) shows it (the tableau of ``print()``)."""
    if v is None:
        return NULL_TEXT if top else "NULL"
    root = t.root
    if root == "BOOLEAN":
        return "TRUE" if v else "FALSE"
    if root in ("CHAR", "VARCHAR"):
        return v
    if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
        return str(v)
    if root == "DOUBLE":
        return java_double(v)
    if root == "FLOAT":
        return java_float(v)
    if root == "DECIMAL":
        return format(v, "f")
    if root == "TIMESTAMP":
        return _sql_timestamp(v, t.precision)  # type: ignore[attr-defined]
    if root == "TIMESTAMP_LTZ":
        return _sql_timestamp(v.astimezone(zone or local_zone()), t.precision)  # type: ignore
    if root == "DATE":
        return v.isoformat()
    if root == "TIME":
        return v.strftime("%H:%M:%S") + _fraction(v.microsecond, t.precision)  # type: ignore
    if root in ("BINARY", "VARBINARY"):
        return "x'" + bytes(v).hex() + "'"
    if root in ("ARRAY", "MULTISET"):
        inner = t.element  # type: ignore[attr-defined]
        return "[" + ", ".join(sql_string(x, inner, zone, False) for x in v) + "]"
    if root == "MAP":
        kt, vt = t.key, t.value  # type: ignore[attr-defined]
        return "{" + ", ".join(f"{sql_string(k, kt, zone, False)}={sql_string(x, vt, zone, False)}"
                               for k, x in v.items()) + "}"
    if root == "ROW":
        types = t.types  # type: ignore[attr-defined]
        return "(" + ", ".join(sql_string(x, ft, zone, False) for x, ft in zip(v, types)) + ")"
    if root.startswith("INTERVAL"):
        return _interval_string(v, t)
    return str(v)


def _interval_string(v: int, t: DataType) -> str:
    if t.root == "INTERVAL_YEAR_MONTH":
        sign = "-" if v < 0 else "+"
        years, months = divmod(abs(v), 12)
        return f"{sign}{years}-{months:02d}"
    sign = "-" if v < 0 else "+"
    ms = abs(v)
    days, ms = divmod(ms, 86_400_000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    seconds, ms = divmod(ms, 1000)
    return f"{sign}{days} {hours:02d}:{minutes:02d}:{seconds:02d}.{ms:03d}"


def java_string(v: Any, t: DataType, zone: Optional[_dt.tzinfo] = None) -> str:
    """The value as Java's ``toString`` of its external object (the ``print`` connector)."""
    if v is None:
        return "null"
    root = t.root
    if root == "BOOLEAN":
        return "true" if v else "false"
    if root == "DOUBLE":
        return java_double(v)
    if root == "FLOAT":
        return java_float(v)
    if root == "DECIMAL":
        return format(v, "f")
    if root == "TIMESTAMP":
        return v.date().isoformat() + "T" + _java_time_of_day(v)
    if root == "TIMESTAMP_LTZ":  # Java's Instant.toString: seconds always, fraction by 3s
        u = v.astimezone(_dt.timezone.utc)
        text = f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        if u.microsecond:
            text += "." + (f"{u.microsecond // 1000:03d}" if u.microsecond % 1000 == 0
                           else f"{u.microsecond:06d}")
        return u.date().isoformat() + "T" + text + "Z"
    if root == "TIME":
        return _java_time_of_day(v)
    if root == "DATE":
        return v.isoformat()
    if root in ("ARRAY", "MULTISET"):
        inner = t.element  # type: ignore[attr-defined]
        return "[" + ", ".join(java_string(x, inner, zone) for x in v) + "]"
    if root == "MAP":
        kt, vt = t.key, t.value  # type: ignore[attr-defined]
        return "{" + ", ".join(f"{java_string(k, kt, zone)}={java_string(x, vt, zone)}"
                               for k, x in v.items()) + "}"
    if root == "ROW":
        kind = getattr(v, "_row_kind", None)
        prefix = kind.short_string() if kind is not None else "+I"
        return prefix + "[" + ", ".join(java_string(x, ft, zone)
                                        for x, ft in zip(v, t.types)) + "]"  # type: ignore
    if root in ("BINARY", "VARBINARY"):
        return "[" + ", ".join(str(b - 256 if b > 127 else b) for b in bytes(v)) + "]"
    if root.startswith("INTERVAL"):
        return _interval_string(v, t)
    return str(v)


# -- values in ------------------------------------------------------------------------------------
def converter(t: DataType) -> Callable[[Any], Any]:
    """A function taking a user's Python value (or a pandas/numpy one) to the runtime's
    value of type ``t``; it raises :class:`ValidationError` naming the value when the
    value does not fit."""
    root = t.root

    def fail(v: Any) -> ValidationError:
        return ValidationError(f"the value {v!r} ({type(v).__name__}) is not a {t}")

    if root == "NULL":
        return lambda v: None
    if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
        def to_int(v: Any) -> Any:
            if v is None or _is_nan(v):
                return None
            if isinstance(v, bool) or not isinstance(v, int):
                if hasattr(v, "item") and not isinstance(v, float):
                    v = v.item()
                if isinstance(v, float) and v.is_integer():
                    return int(v)
                if not isinstance(v, int) or isinstance(v, bool):
                    raise fail(v)
            return v
        return to_int
    if root in ("FLOAT", "DOUBLE"):
        single = root == "FLOAT"

        def to_float(v: Any) -> Any:
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, (int, float, decimal.Decimal)) \
                    and not hasattr(v, "item"):
                raise fail(v)
            f = float(v)
            if f != f and not isinstance(v, float):
                return None
            if f != f:
                return None  # pandas' missing value
            return float32(f) if single else f
        return to_float
    if root == "DECIMAL":
        def to_decimal(v: Any) -> Any:
            if v is None or _is_nan(v):
                return None
            if isinstance(v, float):
                v = decimal.Decimal(repr(v))
            elif not isinstance(v, decimal.Decimal):
                try:
                    v = decimal.Decimal(v)
                except Exception:
                    raise fail(v) from None
            return quantize(v, t)  # type: ignore[arg-type]
        return to_decimal
    if root == "BOOLEAN":
        def to_bool(v: Any) -> Any:
            if v is None or _is_nan(v):
                return None
            if hasattr(v, "item") and not isinstance(v, bool):
                v = v.item()
            if not isinstance(v, bool):
                raise fail(v)
            return v
        return to_bool
    if root in ("CHAR", "VARCHAR"):
        def to_str(v: Any) -> Any:
            if v is None or _is_nan(v):
                return None
            if not isinstance(v, str):
                raise fail(v)
            return v
        return to_str
    if root in ("BINARY", "VARBINARY"):
        return lambda v: None if v is None else bytes(v)
    if root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        ltz = root == "TIMESTAMP_LTZ"

        def to_ts(v: Any) -> Any:
            if v is None or _is_nat(v):
                return None
            if hasattr(v, "to_pydatetime"):
                v = v.to_pydatetime()
            elif isinstance(v, int) and not isinstance(v, bool):
                v = EPOCH + _dt.timedelta(milliseconds=v)
            elif hasattr(v, "to_epoch_milli"):  # pyflink.common.Instant
                v = EPOCH + _dt.timedelta(milliseconds=v.to_epoch_milli())
            elif not isinstance(v, _dt.datetime):
                if isinstance(v, _dt.date):
                    v = _dt.datetime(v.year, v.month, v.day)
                elif isinstance(v, str):
                    from .functions.temporal import parse_timestamp
                    v = parse_timestamp(v)
                else:
                    raise fail(v)
            if ltz:
                return v.replace(tzinfo=_dt.timezone.utc) if v.tzinfo is None \
                    else v.astimezone(_dt.timezone.utc)
            return v.replace(tzinfo=None) if v.tzinfo is None else \
                v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return to_ts
    if root == "DATE":
        def to_date(v: Any) -> Any:
            if v is None or _is_nat(v):
                return None
            if isinstance(v, _dt.datetime):
                return v.date()
            if hasattr(v, "to_pydatetime"):
                return v.to_pydatetime().date()
            if not isinstance(v, _dt.date):
                raise fail(v)
            return v
        return to_date
    if root == "TIME":
        return lambda v: v
    if root in ("ARRAY", "MULTISET"):
        inner = converter(t.element)  # type: ignore[attr-defined]
        return lambda v: None if v is None else [inner(x) for x in v]
    if root == "MAP":
        kc, vc = converter(t.key), converter(t.value)  # type: ignore[attr-defined]
        return lambda v: None if v is None else {kc(k): vc(x) for k, x in v.items()}
    if root == "ROW":
        from ..runtime.row import Row
        convs = [converter(ft) for ft in t.types]  # type: ignore[attr-defined]
        names = t.names  # type: ignore[attr-defined]

        def to_row(v: Any) -> Any:
            if v is None:
                return None
            if isinstance(v, dict):
                v = [v.get(n) for n in names]
            r = Row(*[c(x) for c, x in zip(convs, v)])
            r._fields = list(names)
            return r
        return to_row
    return lambda v: v


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and v != v or type(v).__name__ in ("NAType", "NaTType")


def _is_nat(v: Any) -> bool:
    return type(v).__name__ in ("NaTType", "NAType") or (isinstance(v, float) and v != v)


#: Python types already the runtime's value of a SQL type (no conversion needed)
_NATIVE = {"BIGINT": int, "INT": int, "SMALLINT": int, "TINYINT": int, "DOUBLE": float,
           "VARCHAR": str, "CHAR": str, "BOOLEAN": bool}


def to_internal(rows: Sequence[Sequence[Any]], types: Sequence[DataType]) -> List[tuple]:
    """Rows of user values as tuples of runtime values of ``types`` (one converter per
    column, made once; a column whose values are already of the native Python type is
    taken as it is)."""
    width = len(types)
    for r in rows:
        if len(r) != width:
            raise ValidationError(f"the row {tuple(r)!r} has {len(r)} fields, the schema {width}")
    convert = []
    for i, t in enumerate(types):
        native = _NATIVE.get(t.root)
        if native is not None and all(type(r[i]) is native or r[i] is None for r in rows) and (
                native is not int or t.root == "BIGINT" or _fits(rows, i, t)):
            continue
        convert.append((i, converter(t)))
    if not convert:
        return [tuple(r) for r in rows]
    out = []
    for r in rows:
        values = list(r)
        for i, c in convert:
            values[i] = c(values[i])
        out.append(tuple(values))
    return out


def _fits(rows: Sequence[Sequence[Any]], i: int, t: DataType) -> bool:
    from .types import INTEGER_BITS
    half = 1 << (INTEGER_BITS[t.root] - 1)
    return all(r[i] is None or -half <= r[i] < half for r in rows)


# -- arrow / pandas ---------------------------------------------------------------------------------
def arrow_type(t: DataType) -> Any:
    """The Arrow type a column of ``t`` becomes in ``to_pandas()`` / Arrow output."""
    import pyarrow as pa

    root = t.root
    simple: Dict[str, Any] = {"BOOLEAN": pa.bool_(), "TINYINT": pa.int8(), "SMALLINT": pa.int16(),
                              "INT": pa.int32(), "BIGINT": pa.int64(), "FLOAT": pa.float32(),
                              "DOUBLE": pa.float64(), "CHAR": pa.string(),
                              "VARCHAR": pa.string(), "BINARY": pa.binary(),
                              "VARBINARY": pa.binary(), "DATE": pa.date32(), "NULL": pa.null(),
                              "INTERVAL_DAY_TIME": pa.int64(), "INTERVAL_YEAR_MONTH": pa.int32()}
    if root in simple:
        return simple[root]
    if root == "DECIMAL":
        return pa.decimal128(t.precision, t.scale)  # type: ignore[attr-defined]
    if root in ("TIMESTAMP", "TIMESTAMP_LTZ"):
        p = t.precision  # type: ignore[attr-defined]
        unit = "s" if p == 0 else "ms" if p <= 3 else "us"
        return pa.timestamp(unit, tz="UTC" if root == "TIMESTAMP_LTZ" else None)
    if root == "TIME":
        return pa.time64("us")
    if root in ("ARRAY", "MULTISET"):
        return pa.list_(arrow_type(t.element))  # type: ignore[attr-defined]
    if root == "MAP":
        return pa.map_(arrow_type(t.key), arrow_type(t.value))  # type: ignore[attr-defined]
    if isinstance(t, RowType):
        return pa.struct([pa.field(f.name, arrow_type(f.data_type)) for f in t.fields])
    return pa.string()


def to_dataframe(names: Sequence[str], types: Sequence[DataType], rows: Sequence[Sequence[Any]]) -> Any:
    """A pandas DataFrame of rows, with the dtypes PyFlink's ``to_pandas`` gives
    (INT int32, BIGINT int64, TIMESTAMP(3) datetime64[ms], DECIMAL object...)."""
    import pyarrow as pa

    columns = []
    for i, t in enumerate(types):
        values = [r[i] for r in rows]
        if t.root == "ROW":
            values = [None if v is None else dict(zip(t.names, v)) for v in values]  # type: ignore
        elif t.root == "TIMESTAMP_LTZ":
            values = [None if v is None else v.astimezone(_dt.timezone.utc) for v in values]
        columns.append(pa.array(values, type=arrow_type(t)))
    table = pa.Table.from_arrays(columns, names=_unique(names)) if columns else pa.table({})
    frame = table.to_pandas()
    frame.columns = list(names)
    return frame


def _unique(names: Sequence[str]) -> List[str]:
    seen: Dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}_{k}")
    return out
