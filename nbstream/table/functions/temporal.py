"""Temporal built-ins: interval arithmetic, FLOOR/CEIL to a unit, EXTRACT, DATE_FORMAT and
TO_TIMESTAMP with Java's patterns, TIMESTAMPDIFF/TIMESTAMPADD (months clamped), the
current time functions (the session time zone for TIMESTAMP_LTZ)."""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..rex import Call
from ..types import DataType, DataTypes, IntervalType
from ..values import EPOCH
from . import BUILTINS, CallContext, ScalarFunctionDef, Strict, signature

__all__ = ["parse_timestamp", "java_format", "java_parse", "add_months", "UNIT_MS"]

UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000,
           "DAY": 86_400_000, "WEEK": 7 * 86_400_000}
UNIT_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def parse_timestamp(text: str) -> _dt.datetime:
    """A TIMESTAMP from SQL's text forms: ``2024-02-29 13:45:01.5``, ``2024-02-29``,
    ``2024-02-29T13:45:01``."""
    t = text.strip()
    if len(t) == 10:
        d = _dt.date.fromisoformat(t)
        return _dt.datetime(d.year, d.month, d.day)
    if "." in t:
        head, frac = t.rsplit(".", 1)
        if frac.isdigit():
            t = head + "." + (frac + "000000")[:6]
    return _dt.datetime.fromisoformat(t.replace(" ", "T", 1) if "T" not in t else t)


# -- Java date patterns ---------------------------------------------------------------------------
_PATTERN = re.compile(r"'[^']*'|([A-Za-z])\1*|.", re.DOTALL)
_MONTHS = list(calendar.month_name)
_DAYS = list(calendar.day_name)


def _tokens(pattern: str) -> List[str]:
    return [m.group(0) for m in _PATTERN.finditer(pattern)]


def java_format(v: Any, pattern: str) -> str:
    """``v`` (a datetime or date) formatted with a Java ``SimpleDateFormat`` pattern."""
    out = []
    for tok in _tokens(pattern):
        c, n = tok[0], len(tok)
        if c == "'":
            out.append(tok[1:-1] or "'")
        elif c == "y":
            out.append(f"{v.year % 100:02d}" if n == 2 else f"{v.year:0{n}d}")
        elif c == "M":
            out.append(_MONTHS[v.month] if n >= 4 else _MONTHS[v.month][:3] if n == 3
                       else f"{v.month:0{n}d}")
        elif c == "d":
            out.append(f"{v.day:0{n}d}")
        elif c == "H":
            out.append(f"{getattr(v, 'hour', 0):0{n}d}")
        elif c == "h":
            out.append(f"{(getattr(v, 'hour', 0) % 12) or 12:0{n}d}")
        elif c == "m":
            out.append(f"{getattr(v, 'minute', 0):0{n}d}")
        elif c == "s":
            out.append(f"{getattr(v, 'second', 0):0{n}d}")
        elif c == "S":
            out.append(f"{getattr(v, 'microsecond', 0):06d}000"[:n] if n <= 9 else "")
        elif c == "a":
            out.append("AM" if getattr(v, "hour", 0) < 12 else "PM")
        elif c == "E":
            out.append(_DAYS[v.weekday()] if n >= 4 else _DAYS[v.weekday()][:3])
        elif c == "D":
            out.append(f"{v.timetuple().tm_yday:0{n}d}")
        elif c.isalpha():
            out.append(tok)
        else:
            out.append(tok)
    return "".join(out)


_PARSE_CACHE: Dict[str, Tuple["re.Pattern[str]", List[str]]] = {}


def java_parse(text: str, pattern: str) -> _dt.datetime:
    """A datetime parsed with a Java pattern (``yyyy-MM-dd HH:mm:ss``)."""
    entry = _PARSE_CACHE.get(pattern)
    if entry is None:
        regex, fields = [], []
        for tok in _tokens(pattern):
            c, n = tok[0], len(tok)
            if c == "'":
                regex.append(re.escape(tok[1:-1] or "'"))
            elif c == "y":
                regex.append(r"(\d{2})" if n == 2 else r"(\d{4})")
                fields.append(c)
            elif c == "S":
                regex.append(r"(\d{1,9})")
                fields.append(c)
            elif c in "MdHhms":
                regex.append(r"(\d{1,2})" if n <= 2 else r"(\d{%d})" % n)
                fields.append(c)
            elif c == "a":
                regex.append(r"(AM|PM|am|pm)")
                fields.append("a")
            else:
                regex.append(re.escape(tok))
        entry = _PARSE_CACHE[pattern] = (re.compile("".join(regex)), fields)
    compiled, fields = entry
    m = compiled.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"Text '{text}' could not be parsed with pattern '{pattern}'")
    parts = dict(year=1970, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    pm = None
    for f, g in zip(fields, m.groups()):
        if f == "y":
            parts["year"] = int(g) + (2000 if len(g) == 2 else 0)
        elif f == "M":
            parts["month"] = int(g)
        elif f == "d":
            parts["day"] = int(g)
        elif f in "Hh":
            parts["hour"] = int(g)
        elif f == "m":
            parts["minute"] = int(g)
        elif f == "s":
            parts["second"] = int(g)
        elif f == "S":
            parts["microsecond"] = int((g + "000000")[:6])
        elif f == "a":
            pm = g.upper() == "PM"
    if pm is not None:
        parts["hour"] = parts["hour"] % 12 + (12 if pm else 0)
    return _dt.datetime(**parts)


# -- interval arithmetic ----------------------------------------------------------------------------
def add_months(v: Any, months: int) -> Any:
    """``v`` plus ``months`` months, the day clamped to the month's end (Java's plusMonths)."""
    total = v.year * 12 + (v.month - 1) + months
    year, month = divmod(total, 12)
    day = min(v.day, calendar.monthrange(year, month + 1)[1])
    return v.replace(year=year, month=month + 1, day=day)


def temporal_arithmetic_type(name: str, ctx: CallContext) -> Optional[DataType]:
    a, b = ctx.types
    if a.is_temporal and b.is_interval:
        if a.root == "DATE" and b.root == "INTERVAL_DAY_TIME" and _sub_day(ctx, 1):
            return DataTypes.TIMESTAMP(0, ctx.nullable)
        return a.copy(ctx.nullable)
    if name == "plus" and a.is_interval and b.is_temporal:
        return b.copy(ctx.nullable)
    if a.is_interval and b.is_interval and a.root == b.root:
        return a.copy(ctx.nullable)
    return None


def _sub_day(ctx: CallContext, i: int) -> bool:
    t = ctx.types[i]
    return isinstance(t, IntervalType) and t.upper in ("HOUR", "MINUTE", "SECOND")


def _plus_interval(v: Any, interval: int, year_month: bool) -> Any:
    if year_month:
        return add_months(v, interval)
    if isinstance(v, _dt.datetime):
        return v + _dt.timedelta(milliseconds=interval)
    if isinstance(v, _dt.date):
        return v + _dt.timedelta(days=interval // 86_400_000)
    if isinstance(v, _dt.time):
        full = _dt.datetime.combine(_dt.date(2000, 1, 1), v) + _dt.timedelta(milliseconds=interval)
        return full.time()
    raise TypeError(f"cannot add an interval to {v!r}")


def emit_temporal_arithmetic(name: str, gen: Any, args: List[str], call: Call) -> str:
    a, b = call.operands
    if a.type.is_interval and b.type.is_interval:
        op = "+" if name == "plus" else "-"
        return gen.strict(call, args, lambda v: f"{v[0]} {op} {v[1]}")
    if a.type.is_interval:  # interval + temporal
        args = [args[1], args[0]]
        a, b = b, a
    f = gen.bind(_plus_interval, "f")
    ym = b.type.root == "INTERVAL_YEAR_MONTH"
    sign = "" if name == "plus" else "-"
    to_ts = call.type.root == "TIMESTAMP" and a.type.root == "DATE"
    conv = gen.bind(lambda d: _dt.datetime(d.year, d.month, d.day), "f") if to_ts else ""
    return gen.strict(call, args, lambda v: f"{f}({conv}({v[0]}), {sign}{v[1]}, {ym})"
                      if to_ts else f"{f}({v[0]}, {sign}{v[1]}, {ym})")


# -- FLOOR/CEIL to a unit ------------------------------------------------------------------------
def floor_to(v: Any, unit: str) -> Any:
    is_dt = isinstance(v, _dt.datetime)
    if unit in ("YEAR", "QUARTER", "MONTH"):
        month = 1 if unit == "YEAR" else ((v.month - 1) // 3 * 3 + 1 if unit == "QUARTER"
                                          else v.month)
        d = v.replace(month=month, day=1)
        return d.replace(hour=0, minute=0, second=0, microsecond=0) if is_dt else d
    if unit == "WEEK":  # weeks start on Sunday, as Calcite's
        d = v - _dt.timedelta(days=(v.weekday() + 1) % 7)
        return d.replace(hour=0, minute=0, second=0, microsecond=0) if is_dt else d
    if not is_dt:
        if isinstance(v, _dt.date):
            return v
        return _time_floor(v, unit)
    ms = UNIT_MS[unit]
    base = EPOCH if v.tzinfo is None else EPOCH.replace(tzinfo=_dt.timezone.utc)
    total = (v - base) // _dt.timedelta(milliseconds=1)
    return base + _dt.timedelta(milliseconds=total - total % ms)


def _time_floor(v: _dt.time, unit: str) -> _dt.time:
    full = _dt.datetime.combine(_dt.date(1970, 1, 1), v)
    return floor_to(full, unit).time()


def ceil_to(v: Any, unit: str) -> Any:
    f = floor_to(v, unit)
    if f == v:
        return f
    if unit in ("YEAR", "QUARTER", "MONTH"):
        return add_months(f, UNIT_MONTHS[unit])
    if isinstance(v, _dt.datetime):
        return f + _dt.timedelta(milliseconds=UNIT_MS[unit])
    if isinstance(v, _dt.date):
        return f + _dt.timedelta(days=UNIT_MS[unit] // 86_400_000 or 1)
    return f


def emit_floor_ceil(name: str, gen: Any, args: List[str], call: Call) -> str:
    unit = call.param("unit") or call.operands[1].value  # type: ignore[attr-defined]
    f = gen.bind(floor_to if name == "floor" else ceil_to, "f")
    return gen.strict(call, args[:1], lambda v: f"{f}({v[0]}, {unit!r})")


# -- EXTRACT and friends ---------------------------------------------------------------------------
def extract(unit: str, v: Any) -> int:
    if isinstance(v, _dt.timedelta):
        v = EPOCH + v
    if unit == "YEAR":
        return v.year
    if unit == "MONTH":
        return v.month
    if unit == "DAY":
        return v.day
    if unit == "QUARTER":
        return (v.month - 1) // 3 + 1
    if unit == "DOW":
        return (v.weekday() + 1) % 7 + 1  # Sunday = 1
    if unit == "ISODOW":
        return v.isoweekday()
    if unit == "DOY":
        return v.timetuple().tm_yday
    if unit == "WEEK":
        return v.isocalendar()[1]
    if unit == "HOUR":
        return v.hour
    if unit == "MINUTE":
        return v.minute
    if unit == "SECOND":
        return v.second
    if unit == "MILLISECOND":
        return v.second * 1000 + v.microsecond // 1000
    if unit == "MICROSECOND":
        return v.second * 1_000_000 + v.microsecond
    if unit == "EPOCH":
        return int((v - EPOCH).total_seconds()) if isinstance(v, _dt.datetime) else 0
    if unit == "DECADE":
        return v.year // 10
    if unit == "CENTURY":
        return (v.year + 99) // 100
    if unit == "MILLENNIUM":
        return (v.year + 999) // 1000
    raise ValueError(f"EXTRACT of {unit} is not supported")


class Extract(ScalarFunctionDef):
    """EXTRACT(unit FROM x) with the unit as the first operand (a string literal)."""

    name = "extract"

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 2 or not (ctx.types[1].is_temporal or ctx.types[1].is_interval):
            raise ctx.wrong_types(["EXTRACT(<TIME UNIT> FROM <DATETIME>)"])
        ctx.literal(0)
        return DataTypes.BIGINT(ctx.types[1].nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        unit = call.operands[0].value  # type: ignore[attr-defined]
        f = gen.bind(extract, "f")
        rest = Call(call.name, call.operands[1:], call.type)
        return gen.strict(rest, args[1:], lambda v: f"{f}({unit!r}, {v[0]})")


BUILTINS.add(Extract())


def _unit_function(unit: str) -> Strict:
    return Strict(unit.lower(), signature("DATETIME", result=DataTypes.BIGINT()),
                  lambda v, u=unit: extract(u, v))


for _u in ("YEAR", "QUARTER", "MONTH", "WEEK", "HOUR", "MINUTE", "SECOND"):
    BUILTINS.add(_unit_function(_u))
BUILTINS.add(Strict("dayofmonth", signature("DATETIME", result=DataTypes.BIGINT()),
                    lambda v: v.day))
BUILTINS.add(Strict("dayofweek", signature("DATETIME", result=DataTypes.BIGINT()),
                    lambda v: extract("DOW", v)))
BUILTINS.add(Strict("dayofyear", signature("DATETIME", result=DataTypes.BIGINT()),
                    lambda v: extract("DOY", v)))


# -- formatting and parsing --------------------------------------------------------------------------
def _date_format(v: Any, pattern: str) -> str:
    if isinstance(v, str):
        v = parse_timestamp(v)
    return java_format(v, pattern)


BUILTINS.add(Strict("date_format", lambda ts: DataTypes.STRING() if len(ts) == 2 and (
    ts[0].is_temporal or ts[0].is_string) and ts[1].is_string else None, _date_format))


def _to_timestamp(text: str, pattern: Optional[str] = None) -> Optional[_dt.datetime]:
    try:
        return java_parse(text, pattern) if pattern else parse_timestamp(text)
    except ValueError:
        return None


BUILTINS.add(Strict("to_timestamp", lambda ts: DataTypes.TIMESTAMP(3) if 1 <= len(ts) <= 2 and all(
    t.is_string for t in ts) else None, _to_timestamp))


def _to_date(text: str, pattern: Optional[str] = None) -> Optional[_dt.date]:
    d = _to_timestamp(text, pattern or "yyyy-MM-dd")
    return None if d is None else d.date()


BUILTINS.add(Strict("to_date", lambda ts: DataTypes.DATE() if 1 <= len(ts) <= 2 else None,
                    _to_date))


def _to_timestamp_ltz(v: Any, precision: int = 3) -> _dt.datetime:
    seconds = v / (1000 if precision == 3 else 1)
    return _dt.datetime.fromtimestamp(0, _dt.timezone.utc) + _dt.timedelta(seconds=seconds)


BUILTINS.add(Strict("to_timestamp_ltz", lambda ts: DataTypes.TIMESTAMP_LTZ(3) if 1 <= len(ts) <= 2
                    and ts[0].is_numeric else None, _to_timestamp_ltz))


class _ZoneFunction(ScalarFunctionDef):
    """A function that reads the session time zone at run time."""

    def __init__(self, name: str, check: Callable[[List[DataType]], Optional[DataType]],
                 fn: Callable[..., Any], deterministic: bool = True) -> None:
        self.name, self.check, self.fn, self.deterministic = name, check, fn, deterministic

    def infer(self, ctx: CallContext) -> DataType:
        t = self.check(ctx.types)
        if t is None:
            raise ctx.wrong_types()
        return t.copy(ctx.nullable or t.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        f = gen.bind(self.fn, "f")
        z = gen.bind(gen.zone or _dt.timezone.utc, "zone")
        return gen.strict(call, args, lambda v: f"{f}({z}, {', '.join(v)})")


def _unix_timestamp(zone: Any, text: Optional[str] = None, pattern: Optional[str] = None) -> int:
    if text is None:
        return int(time.time())
    try:
        d = java_parse(text, pattern or "yyyy-MM-dd HH:mm:ss")
    except ValueError:
        return -(2 ** 63)
    return int(d.replace(tzinfo=zone).timestamp())


def _from_unixtime(zone: Any, seconds: int, pattern: str = "yyyy-MM-dd HH:mm:ss") -> str:
    d = _dt.datetime.fromtimestamp(seconds, zone)
    return java_format(d, pattern)


def _now_ltz(zone: Any) -> _dt.datetime:
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _local_now(zone: Any) -> _dt.datetime:
    now = _dt.datetime.now(zone).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


BUILTINS.add(_ZoneFunction("unix_timestamp", lambda ts: DataTypes.BIGINT() if len(ts) <= 2
                           else None, _unix_timestamp, deterministic=False))
BUILTINS.add(_ZoneFunction("from_unixtime", lambda ts: DataTypes.STRING() if 1 <= len(ts) <= 2
                           and ts[0].is_numeric else None, _from_unixtime))
BUILTINS.add(_ZoneFunction("current_timestamp", lambda ts: DataTypes.TIMESTAMP_LTZ(3, False)
                           if not ts else None, _now_ltz, deterministic=False), "now")
BUILTINS.add(_ZoneFunction("proctime", lambda ts: DataTypes.TIMESTAMP_LTZ(3, False).with_kind(
    "PROCTIME") if not ts else None, _now_ltz, deterministic=False))
BUILTINS.add(_ZoneFunction("localtimestamp", lambda ts: DataTypes.TIMESTAMP(3, False)
                           if not ts else None, _local_now, deterministic=False), "local_timestamp")
BUILTINS.add(_ZoneFunction("current_date", lambda ts: DataTypes.DATE(False) if not ts else None,
                           lambda z: _dt.datetime.now(z).date(), deterministic=False))
BUILTINS.add(_ZoneFunction("current_time", lambda ts: DataTypes.TIME(0, False) if not ts else None,
                           lambda z: _dt.datetime.now(z).time().replace(microsecond=0),
                           deterministic=False), "localtime", "local_time")


# -- TIMESTAMPDIFF / TIMESTAMPADD -----------------------------------------------------------------
def timestamp_diff(unit: str, a: Any, b: Any) -> int:
    if not isinstance(a, _dt.datetime):
        a = _dt.datetime(a.year, a.month, a.day)
    if not isinstance(b, _dt.datetime):
        b = _dt.datetime(b.year, b.month, b.day)
    if unit in UNIT_MONTHS:
        months = (b.year - a.year) * 12 + (b.month - a.month)
        if months > 0 and add_months(a, months) > b:
            months -= 1
        elif months < 0 and add_months(a, months) < b:
            months += 1
        return int(months / UNIT_MONTHS[unit]) if unit != "MONTH" else months
    ms = (b - a) // _dt.timedelta(milliseconds=1)
    q = abs(ms) // UNIT_MS[unit]
    return q if ms >= 0 else -q


def timestamp_add(unit: str, n: int, v: Any) -> Any:
    if unit in UNIT_MONTHS:
        return add_months(v, n * UNIT_MONTHS[unit])
    delta = _dt.timedelta(milliseconds=n * UNIT_MS[unit])
    if isinstance(v, _dt.datetime):
        return v + delta
    if unit in ("DAY", "WEEK"):
        return v + delta
    return _dt.datetime(v.year, v.month, v.day) + delta


class UnitFunction(ScalarFunctionDef):
    """TIMESTAMPDIFF(unit, a, b) / TIMESTAMPADD(unit, n, v): the unit is operand 0 (a
    string literal)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 3:
            raise ctx.wrong_types()
        unit = str(ctx.literal(0)).upper()
        if unit not in UNIT_MS and unit not in UNIT_MONTHS:
            raise ctx.fail(f"unknown time unit {unit}")
        if self.name == "timestampdiff":
            return DataTypes.INT(ctx.types[1].nullable or ctx.types[2].nullable)
        return ctx.types[2].copy(ctx.types[1].nullable or ctx.types[2].nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        unit = str(call.operands[0].value).upper()  # type: ignore[attr-defined]
        f = gen.bind(timestamp_diff if self.name == "timestampdiff" else timestamp_add, "f")
        rest = Call(call.name, call.operands[1:], call.type)
        return gen.strict(rest, args[1:], lambda v: f"{f}({unit!r}, {v[0]}, {v[1]})")


BUILTINS.add(UnitFunction("timestampdiff"))
BUILTINS.add(UnitFunction("timestampadd"))
