"""CAST, TRY_CAST and the implicit casts the planner inserts, with Flink's rules:
truncation toward zero to integers, HALF_UP to a smaller DECIMAL scale, Java's text for
DOUBLE, ``TRUE``/``FALSE`` for BOOLEAN, a failing job for a string that is not a number
(NULL with TRY_CAST)."""

from __future__ import annotations

import datetime as _dt
import decimal
from typing import Any, Callable, List

from ..rex import Call, Literal, Rex
from ..types import DataType, DecimalType, ValidationError, INTEGER_BITS
from ..values import (EPOCH, float32, java_double, java_float, quantize, sql_string)
from . import BUILTINS, CallContext, ScalarFunctionDef

__all__ = ["Caster", "implicit_cast", "can_cast", "CastError"]


class CastError(ValueError):
    """A value that does not convert (the job fails, as Flink's; TRY_CAST gives NULL)."""


def _wrap(bits: int) -> Callable[[int], int]:
    half = 1 << (bits - 1)
    mask = (1 << bits) - 1
    return lambda v: ((v + half) & mask) - half


def can_cast(src: DataType, dst: DataType) -> bool:
    """Whether CAST(src AS dst) is allowed at all."""
    s, d = src.root, dst.root
    if s == "NULL" or s == d:
        return True
    if d in ("CHAR", "VARCHAR"):
        return True
    if s in ("CHAR", "VARCHAR"):
        return d not in ("ARRAY", "MAP", "ROW", "MULTISET")
    if src.is_numeric and (dst.is_numeric or d == "BOOLEAN"):
        return True
    if s == "BOOLEAN" and dst.is_numeric:
        return True
    if src.is_temporal and dst.is_temporal:
        return not ({s, d} == {"DATE", "TIME"})
    if src.is_integer and dst.is_timestamp or src.is_timestamp and dst.is_integer:
        return True
    if s in ("BINARY", "VARBINARY") and d in ("BINARY", "VARBINARY"):
        return True
    if s in ("ARRAY", "MULTISET") and d in ("ARRAY", "MULTISET"):
        return can_cast(src.element, dst.element)  # type: ignore[attr-defined]
    if s == "ROW" and d == "ROW":
        return len(src.types) == len(dst.types)  # type: ignore[attr-defined]
    return False


class Caster:
    """``Caster(src, dst)(value)``: a non-NULL value of ``src`` as ``dst``."""

    def __init__(self, src: DataType, dst: DataType, zone: Any = None) -> None:
        self.src, self.dst, self.zone = src, dst, zone
        self.fn = self._choose()

    def __call__(self, v: Any) -> Any:
        return self.fn(v)

    def __reduce__(self) -> Any:
        return (Caster, (self.src, self.dst, self.zone))

    def _fail(self, v: Any, why: str = "") -> CastError:
        return CastError(f"Cannot cast {v!r} of type {self.src} to {self.dst}"
                         + (f": {why}" if why else ""))

    def _choose(self) -> Callable[[Any], Any]:  # noqa: C901  (one branch per pair of families)
        src, dst = self.src, self.dst
        s, d = src.root, dst.root
        if s == "NULL":
            return lambda v: None
        if d in ("CHAR", "VARCHAR"):
            if s in ("CHAR", "VARCHAR"):
                return _same
            zone = self.zone
            if s == "DOUBLE":
                return java_double
            if s == "FLOAT":
                return java_float
            return lambda v: sql_string(v, src, zone)
        if s == d and s not in ("DECIMAL", "TIMESTAMP", "TIMESTAMP_LTZ", "TIME", "ARRAY", "MAP",
                                "ROW", "MULTISET"):
            return _same
        if d in INTEGER_BITS:
            wrap = _wrap(INTEGER_BITS[d])
            if src.is_integer:
                if INTEGER_BITS[s] <= INTEGER_BITS[d]:
                    return _same
                return wrap
            if s in ("DOUBLE", "FLOAT"):
                return lambda v: wrap(_float_to_int(v))
            if s == "DECIMAL":
                return lambda v: wrap(int(v))
            if s == "BOOLEAN":
                return lambda v: 1 if v else 0
            if s in ("CHAR", "VARCHAR"):
                return lambda v: wrap(self._parse_int(v))
            if src.is_timestamp:
                return lambda v: wrap(_epoch_seconds(v))
        if d in ("DOUBLE", "FLOAT"):
            single = d == "FLOAT"
            if src.is_numeric:
                return (lambda v: float32(float(v))) if single else float
            if s == "BOOLEAN":
                return lambda v: 1.0 if v else 0.0
            if s in ("CHAR", "VARCHAR"):
                return lambda v: float32(self._parse_float(v)) if single else self._parse_float(v)
        if d == "DECIMAL":
            assert isinstance(dst, DecimalType)
            if s in ("DOUBLE", "FLOAT"):
                return lambda v: None if v != v else quantize(decimal.Decimal(repr(v)), dst)
            if src.is_numeric:
                if s == "DECIMAL" and src.scale <= dst.scale and \
                        src.precision - src.scale <= dst.precision - dst.scale:  # type: ignore
                    return lambda v: v.quantize(_EXP[dst.scale])
                return lambda v: quantize(decimal.Decimal(v), dst)
            if s == "BOOLEAN":
                return lambda v: quantize(decimal.Decimal(1 if v else 0), dst)
            if s in ("CHAR", "VARCHAR"):
                return lambda v: quantize(self._parse_decimal(v), dst)
        if d == "BOOLEAN":
            if src.is_numeric:
                return lambda v: v != 0
            if s in ("CHAR", "VARCHAR"):
                return self._parse_bool
        if d == "TIMESTAMP":
            p = dst.precision  # type: ignore[attr-defined]
            if s == "TIMESTAMP":
                return lambda v: _truncate(v, p)
            if s == "TIMESTAMP_LTZ":
                zone = self.zone or _dt.timezone.utc
                return lambda v: _truncate(v.astimezone(zone).replace(tzinfo=None), p)
            if s == "DATE":
                return lambda v: _dt.datetime(v.year, v.month, v.day)
            if s in ("CHAR", "VARCHAR"):
                from .temporal import parse_timestamp
                return lambda v: _truncate(self._parse(parse_timestamp, v), p)
            if src.is_integer:
                return lambda v: EPOCH + _dt.timedelta(seconds=v)
        if d == "TIMESTAMP_LTZ":
            p = dst.precision  # type: ignore[attr-defined]
            zone = self.zone or _dt.timezone.utc
            if s == "TIMESTAMP_LTZ":
                return lambda v: _truncate(v, p)
            if s == "TIMESTAMP":
                return lambda v: _truncate(v.replace(tzinfo=zone).astimezone(_dt.timezone.utc), p)
            if s == "DATE":
                return lambda v: _dt.datetime(v.year, v.month, v.day, tzinfo=zone).astimezone(
                    _dt.timezone.utc)
            if s in ("CHAR", "VARCHAR"):
                from .temporal import parse_timestamp
                return lambda v: _truncate(self._parse(parse_timestamp, v).replace(
                    tzinfo=zone).astimezone(_dt.timezone.utc), p)
            if src.is_integer:
                return lambda v: _dt.datetime.fromtimestamp(v, _dt.timezone.utc)
        if d == "DATE":
            if s == "TIMESTAMP":
                return lambda v: v.date()
            if s == "TIMESTAMP_LTZ":
                zone = self.zone or _dt.timezone.utc
                return lambda v: v.astimezone(zone).date()
            if s in ("CHAR", "VARCHAR"):
                return lambda v: self._parse(lambda t: _dt.date.fromisoformat(t.strip()), v)
        if d == "TIME":
            p = dst.precision  # type: ignore[attr-defined]
            if s == "TIME":
                return lambda v: v.replace(microsecond=_cut(v.microsecond, p))
            if s == "TIMESTAMP":
                return lambda v: v.time().replace(microsecond=_cut(v.microsecond, p))
            if s in ("CHAR", "VARCHAR"):
                return lambda v: self._parse(lambda t: _dt.time.fromisoformat(t.strip()), v)
        if d in ("BINARY", "VARBINARY") and s in ("BINARY", "VARBINARY", "CHAR", "VARCHAR"):
            return lambda v: v.encode() if isinstance(v, str) else v
        if d in ("ARRAY", "MULTISET") and s in ("ARRAY", "MULTISET"):
            inner = Caster(src.element, dst.element, self.zone)  # type: ignore[attr-defined]
            return lambda v: [None if x is None else inner(x) for x in v]
        if d == "MAP" and s == "MAP":
            kc = Caster(src.key, dst.key, self.zone)  # type: ignore[attr-defined]
            vc = Caster(src.value, dst.value, self.zone)  # type: ignore[attr-defined]
            return lambda v: {kc(k): None if x is None else vc(x) for k, x in v.items()}
        if d == "ROW" and s == "ROW":
            from ...runtime.row import Row
            casters = [Caster(a, b, self.zone) for a, b in zip(src.types, dst.types)]  # type: ignore
            names = dst.names  # type: ignore[attr-defined]

            def row(v: Any) -> Any:
                out = Row(*[None if x is None else c(x) for c, x in zip(casters, v)])
                out._fields = list(names)
                return out
            return row
        raise ValidationError(f"Cast function cannot convert value of type {src} to type {dst}")

    # -- parsing strings ------------------------------------------------------------------------
    def _parse(self, f: Callable[[str], Any], v: str) -> Any:
        try:
            return f(v)
        except (ValueError, TypeError) as exc:
            raise self._fail(v, str(exc)) from None

    def _parse_int(self, v: str) -> int:
        try:
            return int(v.strip())
        except ValueError:
            raise self._fail(v, f'NumberFormatException: For input string: "{v}"') from None

    def _parse_float(self, v: str) -> float:
        try:
            return float(v.strip())
        except ValueError:
            raise self._fail(v, f'NumberFormatException: For input string: "{v}"') from None

    def _parse_decimal(self, v: str) -> decimal.Decimal:
        try:
            return decimal.Decimal(v.strip())
        except decimal.InvalidOperation:
            raise self._fail(v) from None

    def _parse_bool(self, v: str) -> bool:
        t = v.strip().lower()
        if t in ("true", "t", "yes", "y", "1"):
            return True
        if t in ("false", "f", "no", "n", "0"):
            return False
        raise self._fail(v)


_EXP = [decimal.Decimal(1).scaleb(-s) for s in range(39)]


def _same(v: Any) -> Any:
    return v


def _float_to_int(v: float) -> int:
    if v != v:
        return 0
    if v in (float("inf"), float("-inf")):
        return (1 << 63) - 1 if v > 0 else -(1 << 63)
    return int(v)  # toward zero


def _epoch_seconds(v: _dt.datetime) -> int:
    if v.tzinfo is None:
        return int((v - EPOCH).total_seconds() // 1)
    return int(v.timestamp() // 1)


def _cut(micro: int, precision: int) -> int:
    if precision >= 6:
        return micro
    unit = 10 ** (6 - precision)
    return micro - micro % unit


def _truncate(v: _dt.datetime, precision: int) -> _dt.datetime:
    if precision >= 6 or not v.microsecond:
        return v
    return v.replace(microsecond=_cut(v.microsecond, precision))


class CastFunction(ScalarFunctionDef):
    """``CAST(x AS t)`` (``try_``: TRY_CAST, NULL instead of a failure)."""

    def __init__(self, name: str, try_: bool) -> None:
        self.name, self.try_ = name, try_

    def infer(self, ctx: CallContext) -> DataType:  # the target type is set by the resolver
        raise ctx.fail("CAST needs a target type")

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        src = call.operands[0].type
        dst = call.type
        if src.root == dst.root and src == dst.copy(src.nullable) and dst.root not in (
                "TIMESTAMP", "TIMESTAMP_LTZ"):
            return args[0]
        caster = gen.bind(Caster(src, dst, gen.zone), "cast")
        if self.try_:
            safe = gen.bind(_try, "try")
            return gen.strict(call, args, lambda vs: f"{safe}({caster}, {vs[0]})")
        return gen.strict(call, args, lambda vs: f"{caster}({vs[0]})")


def _try(caster: Callable[[Any], Any], v: Any) -> Any:
    try:
        return caster(v)
    except (CastError, ValueError, TypeError, ArithmeticError):
        return None


BUILTINS.add(CastFunction("cast", False))
BUILTINS.add(CastFunction("try_cast", True))


def make_cast(rex: Rex, to: DataType, try_: bool = False, text: str = "") -> Rex:
    """``CAST(rex AS to)``, checked; a literal is cast at once."""
    if not can_cast(rex.type, to):
        where = f" in '{text}'" if text else ""
        raise ValidationError(f"Cast function cannot convert value of type {rex.type} to type "
                              f"{to}{where}")
    target = to.copy(rex.type.nullable or try_)
    if isinstance(rex, Literal):
        if rex.value is None:
            return Literal(None, target.nullable_())
        try:
            return Literal(Caster(rex.type, target)(rex.value), target)
        except (CastError, ValueError, ArithmeticError, TypeError):
            if try_:
                return Literal(None, target)
            # keep the cast: the job fails when it runs, as Flink's
    return Call("try_cast" if try_ else "cast", (rex,), target)


def implicit_cast(rex: Rex, to: DataType) -> Rex:
    """``rex`` as type ``to`` (keeping its nullability) for an operator's operand."""
    if rex.type.copy(True) == to.copy(True):
        return rex
    if rex.type.root == "NULL":
        return Literal(None, to.nullable_()) if isinstance(rex, Literal) else rex
    return make_cast(rex, to.copy(rex.type.nullable))


def cast_values(values: List[Any], src: DataType, dst: DataType) -> List[Any]:
    c = Caster(src, dst)
    return [None if v is None else c(v) for v in values]


def decimal_literal(text: str) -> Literal:
    """The literal of a decimal number as SQL writes it: ``1.50`` is DECIMAL(3, 2) NOT NULL."""
    d = decimal.Decimal(text)
    sign, digits, exp = d.as_tuple()
    scale = max(0, -exp)  # type: ignore[operator]
    precision = max(len(digits), scale, 1)
    return Literal(d, DecimalType(precision, scale, nullable=False))
