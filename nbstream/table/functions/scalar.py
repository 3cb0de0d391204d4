"""Operators and core scalar built-ins: arithmetic (Java's INT overflow, integer division,
Flink's DECIMAL scales), comparisons, three-valued logic, CASE/IF/COALESCE/NULLIF, IN,
LIKE, and the math functions."""

from __future__ import annotations

import decimal
import math
import random
import re
from typing import Any, Callable, List, Optional

from ..rex import Call, Literal
from ..types import (INTEGER_BITS, DataType, DataTypes, DecimalType, common_type,
                     divide_type, mod_type, plus_type, times_type)
from ..values import float32, quantize
from . import BUILTINS, CallContext, ScalarFunctionDef, Strict, family_of, signature

CTX = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP, traps=[
    decimal.DivisionByZero, decimal.InvalidOperation])


class Quantizer:
    """A DECIMAL result at its type's scale (NULL on overflow, as Flink)."""

    def __init__(self, t: DecimalType) -> None:
        self.t = t

    def __call__(self, v: decimal.Decimal) -> Optional[decimal.Decimal]:
        return quantize(v, self.t)

    def __reduce__(self) -> Any:
        return (Quantizer, (self.t,))


# -- arithmetic -----------------------------------------------------------------------------------
def _idiv(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _imod(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("/ by zero")
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def _fdiv(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _fmod(a: float, b: float) -> float:
    try:
        return math.fmod(a, b)
    except ValueError:
        return math.nan


_PYOP = {"plus": "+", "minus": "-", "times": "*"}
_DECIMAL_OP = {"plus": CTX.add, "minus": CTX.subtract, "times": CTX.multiply,
               "divide": CTX.divide, "mod": CTX.remainder}


def _wrap_template(t: DataType, code: str) -> str:
    bits = INTEGER_BITS[t.root]
    half, mask = 1 << (bits - 1), (1 << bits) - 1
    return f"((({code}) + {half}) & {mask}) - {half}"


class Arithmetic(ScalarFunctionDef):
    """``+ - * / %`` on numbers (and ``+ -`` of intervals on temporal values, through
    :mod:`.temporal`)."""

    RULES = {"plus": plus_type, "minus": plus_type, "times": times_type, "divide": divide_type,
             "mod": mod_type}
    SYMBOL = {"plus": "+", "minus": "-", "times": "*", "divide": "/", "mod": "%"}

    def __init__(self, name: str) -> None:
        self.name = name
        self.rule = self.RULES[name]

    def _numeric(self, ctx: CallContext) -> bool:
        return len(ctx.operands) == 2 and all(t.is_numeric or t.root == "NULL"
                                               for t in ctx.types)

    def coerce(self, ctx: CallContext) -> None:
        if not self._numeric(ctx):
            return
        for i, t in enumerate(ctx.types):
            if t.root == "NULL":
                other = ctx.types[1 - i]
                ctx.cast(i, other if other.root != "NULL" else DataTypes.INT())
        result = self.infer(ctx)
        if result.root in ("DOUBLE", "FLOAT"):
            for i, t in enumerate(ctx.types):
                if t.root == "DECIMAL":
                    ctx.cast(i, DataTypes.DOUBLE(t.nullable))

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.operands) == 2 and self.name in ("plus", "minus"):
            from .temporal import temporal_arithmetic_type
            t = temporal_arithmetic_type(self.name, ctx)
            if t is not None:
                return t
        if not self._numeric(ctx):
            s = self.SYMBOL[self.name]
            raise ctx.wrong_types([f"<NUMERIC> {s} <NUMERIC>"] + (
                [f"<DATETIME> {s} <DATETIME_INTERVAL>"] if self.name in ("plus", "minus") else []),
                symbol=s)
        return self.rule(*ctx.types)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        a, b = call.operands
        if a.type.is_temporal or b.type.is_temporal or (a.type.is_interval and b.type.is_interval):
            from .temporal import emit_temporal_arithmetic
            return emit_temporal_arithmetic(self.name, gen, args, call)
        t = call.type
        name = self.name
        if t.root == "DECIMAL":
            q = gen.bind(Quantizer(t), "q")  # type: ignore[arg-type]
            op = gen.bind(_DECIMAL_OP[name], "d")
            return gen.strict(call, args, lambda v: f"{q}({op}({v[0]}, {v[1]}))")
        if t.root in ("DOUBLE", "FLOAT"):
            if name == "divide":
                f = gen.bind(_fdiv, "f")
                body: Callable[[List[str]], str] = lambda v: f"{f}({v[0]}, {v[1]})"
            elif name == "mod":
                f = gen.bind(_fmod, "f")
                body = lambda v: f"{f}({v[0]}, {v[1]})"
            else:
                op = _PYOP[name]
                body = lambda v: f"{v[0]} {op} {v[1]}"
            if t.root == "FLOAT":
                f32 = gen.bind(float32, "f")
                inner = body
                body = lambda v: f"{f32}({inner(v)})"
            return gen.strict(call, args, body)
        # integers: Java's two's complement
        if name == "divide":
            f = gen.bind(_idiv, "f")
            return gen.strict(call, args, lambda v: _wrap_template(t, f"{f}({v[0]}, {v[1]})"))
        if name == "mod":
            f = gen.bind(_imod, "f")
            return gen.strict(call, args, lambda v: f"{f}({v[0]}, {v[1]})")
        op = _PYOP[name]
        return gen.strict(call, args, lambda v: _wrap_template(t, f"{v[0]} {op} {v[1]}"))


for _name in ("plus", "minus", "times", "divide", "mod"):
    BUILTINS.add(Arithmetic(_name), *{"plus": ["+"], "minus": ["-"], "times": ["*"],
                                      "divide": ["/"], "mod": ["%"]}[_name])


class Negate(ScalarFunctionDef):
    name = "negative"

    def infer(self, ctx: CallContext) -> DataType:
        t = ctx.types[0] if len(ctx.types) == 1 else None
        if t is None or not (t.is_numeric or t.is_interval):
            raise ctx.wrong_types(["-<NUMERIC>"])
        return t

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        t = call.type
        if t.is_integer:
            return gen.strict(call, args, lambda v: _wrap_template(t, f"-{v[0]}"))
        return gen.strict(call, args, lambda v: f"-{v[0]}")


BUILTINS.add(Negate(), "minus_prefix", "unary_minus")


class Identity(ScalarFunctionDef):
    name = "plus_prefix"

    def infer(self, ctx: CallContext) -> DataType:
        return ctx.types[0]

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return args[0]


BUILTINS.add(Identity())


# -- comparisons ----------------------------------------------------------------------------------
def comparable(ctx: CallContext) -> None:
    """Cast operands to a common type where Python could not compare them as they are."""
    types = ctx.types
    fams = {family_of(t) for t in types if t.root != "NULL"}
    if len(fams) <= 1 and not any(t.root == "NULL" for t in types):
        if fams == {"NUMERIC"} and {t.root for t in types} & {"DECIMAL"} and \
                {t.root for t in types} & {"DOUBLE", "FLOAT"}:
            return  # Decimal and float compare exactly in Python
        return
    common = common_type(types)
    if common is None:
        if fams <= {"NUMERIC", "STRING"}:
            common = next(t for t in types if t.is_numeric)
        elif fams <= {"TIMESTAMP", "DATE", "STRING"}:
            common = next(t for t in types if t.root in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE"))
        else:
            raise ctx.wrong_types()
    for i, t in enumerate(types):
        if t.root == "NULL" or family_of(t) != family_of(common) or (
                t.root == "DATE" and common.root != "DATE"):
            ctx.cast(i, common.copy(t.nullable))


class Comparison(ScalarFunctionDef):
    OPS = {"equals": "==", "not_equals": "!=", "less_than": "<", "less_than_or_equal": "<=",
           "greater_than": ">", "greater_than_or_equal": ">="}

    def __init__(self, name: str) -> None:
        self.name = name
        self.op = self.OPS[name]

    def coerce(self, ctx: CallContext) -> None:
        if len(ctx.operands) == 2:
            comparable(ctx)

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.operands) != 2:
            raise ctx.wrong_types()
        a, b = ctx.types
        if a.root != "NULL" and b.root != "NULL" and family_of(a) != family_of(b) and not (
                {a.root, b.root} <= {"TIMESTAMP", "DATE"}):
            symbol = {"==": "=", "!=": "<>"}.get(self.op, self.op)
            raise ctx.wrong_types([f"<COMPARABLE_TYPE> {symbol} <COMPARABLE_TYPE>"], symbol=symbol)
        if self.op not in ("==", "!=") and a.root in ("ARRAY", "MAP", "ROW", "MULTISET"):
            raise ctx.wrong_types()
        return DataTypes.BOOLEAN(ctx.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        op = self.op
        return gen.strict(call, args, lambda v: f"{v[0]} {op} {v[1]}")


for _name, _aliases in (("equals", ["=", "=="]), ("not_equals", ["<>", "!="]),
                        ("less_than", ["<"]), ("less_than_or_equal", ["<="]),
                        ("greater_than", [">"]), ("greater_than_or_equal", [">="])):
    BUILTINS.add(Comparison(_name), *_aliases)


def _distinct(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a is None) != (b is None)
    return a != b


class Distinct(ScalarFunctionDef):
    def __init__(self, name: str, negate: bool) -> None:
        self.name, self.negate = name, negate

    def coerce(self, ctx: CallContext) -> None:
        comparable(ctx)

    def infer(self, ctx: CallContext) -> DataType:
        return DataTypes.BOOLEAN(False)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        f = gen.bind(_distinct, "f")
        return f"({'not ' if self.negate else ''}{f}({args[0]}, {args[1]}))"


BUILTINS.add(Distinct("is_distinct_from", False))
BUILTINS.add(Distinct("is_not_distinct_from", True))


# -- logic (three-valued) ---------------------------------------------------------------------------
def _boolean_operands(ctx: CallContext) -> None:
    for i, t in enumerate(ctx.types):
        if t.root == "NULL":
            ctx.cast(i, DataTypes.BOOLEAN())
        elif t.root != "BOOLEAN":
            raise ctx.wrong_types(["<BOOLEAN> AND <BOOLEAN>" if ctx.name in ("and", "or")
                                   else "<BOOLEAN>"])


class _Connective(ScalarFunctionDef):
    """AND / OR with SQL's three-valued logic: the deciding value (False for AND, True for
    OR) wins over NULL, NULL wins over the other."""

    decides = False

    def coerce(self, ctx: CallContext) -> None:
        _boolean_operands(ctx)

    def infer(self, ctx: CallContext) -> DataType:
        return DataTypes.BOOLEAN(ctx.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        if not call.type.nullable:
            return "(" + f" {self.name} ".join(args) + ")"
        temps = [gen.temp() for _ in args]
        deciding = " or ".join(f"({t} := {a}) is {self.decides}" for t, a in zip(temps, args))
        nulls = " or ".join(f"{t} is None" for t in temps)
        return f"({self.decides} if {deciding} else (None if {nulls} else {not self.decides}))"


class And(_Connective):
    name = "and"
    decides = False


class Or(_Connective):
    name = "or"
    decides = True


class Not(ScalarFunctionDef):
    name = "not"

    def coerce(self, ctx: CallContext) -> None:
        _boolean_operands(ctx)

    def infer(self, ctx: CallContext) -> DataType:
        return DataTypes.BOOLEAN(ctx.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return gen.strict(call, args, lambda v: f"not {v[0]}")


BUILTINS.add(And())
BUILTINS.add(Or())
BUILTINS.add(Not())


class Test(ScalarFunctionDef):
    """IS [NOT] NULL / TRUE / FALSE: never NULL."""

    TESTS = {"is_null": "{0} is None", "is_not_null": "{0} is not None",
             "is_true": "{0} is True", "is_false": "{0} is False",
             "is_not_true": "{0} is not True", "is_not_false": "{0} is not False"}

    def __init__(self, name: str) -> None:
        self.name = name
        self.template = self.TESTS[name]

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.operands) != 1:
            raise ctx.wrong_types()
        if self.name not in ("is_null", "is_not_null") and ctx.types[0].root not in (
                "BOOLEAN", "NULL"):
            raise ctx.wrong_types(["<BOOLEAN> IS TRUE"])
        return DataTypes.BOOLEAN(False)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return "(" + self.template.format(args[0]) + ")"


for _name in Test.TESTS:
    BUILTINS.add(Test(_name))


# -- conditionals -----------------------------------------------------------------------------------
class Case(ScalarFunctionDef):
    """``CASE WHEN c1 THEN v1 ... ELSE e END`` as operands ``c1, v1, ..., e`` (also IF)."""

    name = "case"

    def coerce(self, ctx: CallContext) -> None:
        n = len(ctx.operands)
        if n < 3 or n % 2 == 0:
            raise ctx.fail("CASE needs WHEN ... THEN ... pairs and an ELSE")
        for i in range(0, n - 1, 2):
            if ctx.types[i].root not in ("BOOLEAN", "NULL"):
                raise ctx.fail(f"the condition of a CASE must be BOOLEAN, not {ctx.types[i]}")
        values = list(range(1, n - 1, 2)) + [n - 1]
        common = common_type([ctx.types[i] for i in values])
        if common is None:
            raise ctx.fail("the results of CASE have no common type: "
                           + ", ".join(str(ctx.types[i]) for i in values))
        for i in values:
            ctx.cast(i, common.copy(ctx.types[i].nullable))

    def infer(self, ctx: CallContext) -> DataType:
        n = len(ctx.operands)
        values = [ctx.types[i] for i in list(range(1, n - 1, 2)) + [n - 1]]
        common = common_type(values)
        assert common is not None
        return common.copy(any(t.nullable for t in values))

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        code = args[-1]
        for i in range(len(args) - 3, -1, -2):
            code = f"({args[i + 1]} if {args[i]} else {code})"
        return code


class If(Case):
    name = "if"

    def coerce(self, ctx: CallContext) -> None:
        if len(ctx.operands) != 3:
            raise ctx.fail("IF takes 3 arguments: IF(condition, then, else)")
        super().coerce(ctx)


BUILTINS.add(Case(), "if_then_else")
BUILTINS.add(If())


class Coalesce(ScalarFunctionDef):
    name = "coalesce"

    def coerce(self, ctx: CallContext) -> None:
        common = common_type(ctx.types)
        if common is None:
            raise ctx.wrong_types()
        for i, t in enumerate(ctx.types):
            ctx.cast(i, common.copy(t.nullable))

    def infer(self, ctx: CallContext) -> DataType:
        common = common_type(ctx.types)
        assert common is not None
        return common.copy(all(t.nullable for t in ctx.types))

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        code = args[-1]
        for a in reversed(args[:-1]):
            t = gen.temp()
            code = f"({t} if ({t} := {a}) is not None else {code})"
        return code


BUILTINS.add(Coalesce(), "ifnull")


def _nullif(a: Any, b: Any) -> Any:
    return None if a is not None and b is not None and a == b else a


class NullIf(ScalarFunctionDef):
    name = "nullif"

    def coerce(self, ctx: CallContext) -> None:
        comparable(ctx)

    def infer(self, ctx: CallContext) -> DataType:
        return ctx.types[0].nullable_()

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return f"{gen.bind(_nullif, 'f')}({args[0]}, {args[1]})"


BUILTINS.add(NullIf())


def _in(v: Any, items: frozenset, has_null: bool) -> Optional[bool]:
    if v is None:
        return None
    if v in items:
        return True
    return None if has_null else False


def _in_list(v: Any, items: tuple) -> Optional[bool]:
    if v is None:
        return None
    seen_null = False
    for x in items:
        if x is None:
            seen_null = True
        elif x == v:
            return True
    return None if seen_null else False


class In(ScalarFunctionDef):
    """``x IN (a, b, ...)`` as operands ``x, a, b, ...``."""

    name = "in"

    def coerce(self, ctx: CallContext) -> None:
        common = common_type(ctx.types)
        if common is None:
            raise ctx.wrong_types()
        for i, t in enumerate(ctx.types):
            if family_of(t) != family_of(common) or t.root == "NULL":
                ctx.cast(i, common.copy(t.nullable))

    def infer(self, ctx: CallContext) -> DataType:
        return DataTypes.BOOLEAN(ctx.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        items = call.operands[1:]
        if all(isinstance(o, Literal) for o in items):
            values = [o.value for o in items]  # type: ignore[attr-defined]
            try:
                bound = gen.bind(frozenset(v for v in values if v is not None), "set")
                has_null = any(v is None for v in values)
                return f"{gen.bind(_in, 'f')}({args[0]}, {bound}, {has_null})"
            except TypeError:
                pass
        return f"{gen.bind(_in_list, 'f')}({args[0]}, ({', '.join(args[1:])},))"


BUILTINS.add(In())


# -- LIKE / SIMILAR -------------------------------------------------------------------------------
_LIKE_CACHE: dict = {}


def like_regex(pattern: str, escape: Optional[str] = None) -> "re.Pattern[str]":
    key = (pattern, escape)
    compiled = _LIKE_CACHE.get(key)
    if compiled is None:
        out, i = [], 0
        while i < len(pattern):
            ch = pattern[i]
            if escape and ch == escape and i + 1 < len(pattern):
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
            i += 1
        compiled = _LIKE_CACHE[key] = re.compile("".join(out), re.DOTALL)
    return compiled


def _like(s: str, pattern: str, escape: Optional[str] = None) -> bool:
    return like_regex(pattern, escape).fullmatch(s) is not None


BUILTINS.add(Strict("like", lambda ts: DataTypes.BOOLEAN() if len(ts) in (2, 3) and all(
    t.is_string or t.root == "NULL" for t in ts) else None, _like,
    forms=["<STRING> LIKE <STRING>"]))


def _similar(s: str, pattern: str) -> bool:
    regex = pattern.replace("%", ".*").replace("_", ".")
    return re.fullmatch(regex, s, re.DOTALL) is not None


BUILTINS.add(Strict("similar", signature("STRING", "STRING", result=DataTypes.BOOLEAN()),
                    _similar))


# -- math -------------------------------------------------------------------------------------------
def _numeric_same(types: List[DataType]) -> Optional[DataType]:
    return types[0] if len(types) == 1 and types[0].is_numeric else None


def _abs_type(types: List[DataType]) -> Optional[DataType]:
    return _numeric_same(types)


BUILTINS.add(Strict("abs", _abs_type, abs, forms=["ABS(<NUMERIC>)"]))


def _double(*fams: str) -> Callable[[List[DataType]], Optional[DataType]]:
    return signature(*fams, result=DataTypes.DOUBLE())


def _safe(f: Callable[..., float]) -> Callable[..., Optional[float]]:
    def g(*args: Any) -> Optional[float]:
        try:
            return f(*(float(a) for a in args))
        except (ValueError, OverflowError):
            return math.nan
    g.__name__ = f.__name__
    return g


def _power(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except ValueError:
        return math.nan
    except OverflowError:
        return math.inf


def _log(a: float, b: Optional[float] = None) -> float:
    if b is None:
        return math.log(a) if a > 0 else (math.nan if a < 0 else -math.inf)
    return math.log(b) / math.log(a)


def _sqrt(a: float) -> float:
    return math.sqrt(a) if a >= 0 else math.nan


def _ln(a: float) -> float:
    return math.log(a) if a > 0 else (math.nan if a < 0 else -math.inf)


def _log10(a: float) -> float:
    return math.log10(a) if a > 0 else (math.nan if a < 0 else -math.inf)


def _log2(a: float) -> float:
    return math.log2(a) if a > 0 else (math.nan if a < 0 else -math.inf)


for _n, _f in (("sqrt", _sqrt), ("exp", math.exp), ("ln", _ln), ("log10", _log10),
               ("log2", _log2), ("sin", math.sin), ("cos", math.cos), ("tan", math.tan),
               ("asin", math.asin), ("acos", math.acos), ("atan", math.atan),
               ("sinh", math.sinh), ("cosh", math.cosh), ("tanh", math.tanh),
               ("degrees", math.degrees), ("radians", math.radians),
               ("cot", lambda x: 1 / math.tan(x))):
    BUILTINS.add(Strict(_n, _double("NUMERIC"), _safe(_f)))
BUILTINS.add(Strict("power", _double("NUMERIC", "NUMERIC"), _power), "pow")
BUILTINS.add(Strict("atan2", _double("NUMERIC", "NUMERIC"), _safe(math.atan2)))
BUILTINS.add(Strict("log", lambda ts: DataTypes.DOUBLE() if 1 <= len(ts) <= 2 and all(
    t.is_numeric for t in ts) else None, _safe(_log)))
BUILTINS.add(Strict("pi", lambda ts: DataTypes.DOUBLE(False) if not ts else None,
                    lambda: math.pi))
BUILTINS.add(Strict("e", lambda ts: DataTypes.DOUBLE(False) if not ts else None,
                    lambda: math.e))
BUILTINS.add(Strict("rand", lambda ts: DataTypes.DOUBLE(False) if len(ts) <= 1 else None,
                    lambda seed=None: random.random(), deterministic=False))
BUILTINS.add(Strict("rand_integer", lambda ts: DataTypes.INT(False) if 1 <= len(ts) <= 2 else None,
                    lambda *a: random.randrange(a[-1]), deterministic=False))


def _sign_value(v: Any) -> Any:
    """SIGN keeps the type: -1.0 for DOUBLE, the DECIMAL's scale for DECIMAL."""
    if isinstance(v, decimal.Decimal):
        s = decimal.Decimal((v > 0) - (v < 0))
        return s.quantize(decimal.Decimal(1).scaleb(v.as_tuple().exponent))  # type: ignore[arg-type]
    if isinstance(v, float):
        return math.copysign(1.0, v) if v else 0.0
    return (v > 0) - (v < 0)


BUILTINS.add(Strict("sign", _numeric_same, _sign_value))


class Rounding(ScalarFunctionDef):
    """ROUND(x[, d]) and TRUNCATE(x[, d]): HALF_UP (away from zero) / toward zero, keeping
    the type (DECIMAL with scale ``d``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mode = decimal.ROUND_HALF_UP if name == "round" else decimal.ROUND_DOWN

    def infer(self, ctx: CallContext) -> DataType:
        if not 1 <= len(ctx.types) <= 2 or not ctx.types[0].is_numeric or (
                len(ctx.types) == 2 and not ctx.types[1].is_integer):
            raise ctx.wrong_types([f"{self.name.upper()}(<NUMERIC>, <INTEGER>)"])
        t = ctx.types[0]
        if t.root == "DECIMAL":
            d = ctx.literal(1) if len(ctx.types) == 2 else 0
            scale = max(0, min(t.scale, d))  # type: ignore[attr-defined]
            digits = t.precision - t.scale  # type: ignore[attr-defined]
            return DecimalType(min(38, digits + scale + (1 if self.name == "round" else 0)),
                               scale, ctx.nullable)
        return t.copy(ctx.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        f = gen.bind(_round if self.name == "round" else _truncate, "f")
        if len(args) == 1:
            return gen.strict(call, args, lambda v: f"{f}({v[0]}, 0)")
        return gen.strict(call, args, lambda v: f"{f}({v[0]}, {v[1]})")


def _round_decimal(d: decimal.Decimal, digits: int, mode: str) -> decimal.Decimal:
    return d.quantize(decimal.Decimal(1).scaleb(-digits), rounding=mode, context=CTX) \
        if digits >= 0 else (d.scaleb(digits).quantize(1, rounding=mode)).scaleb(-digits)


def _round(v: Any, digits: int) -> Any:
    if isinstance(v, decimal.Decimal):
        return _round_decimal(v, digits, decimal.ROUND_HALF_UP)
    if isinstance(v, float):
        if v != v or math.isinf(v):
            return v
        return float(_round_decimal(decimal.Decimal(repr(v)), digits, decimal.ROUND_HALF_UP))
    if digits >= 0:
        return v
    return int(_round_decimal(decimal.Decimal(v), digits, decimal.ROUND_HALF_UP))


def _truncate(v: Any, digits: int) -> Any:
    if isinstance(v, decimal.Decimal):
        return _round_decimal(v, digits, decimal.ROUND_DOWN)
    if isinstance(v, float):
        if v != v or math.isinf(v):
            return v
        return float(_round_decimal(decimal.Decimal(repr(v)), digits, decimal.ROUND_DOWN))
    if digits >= 0:
        return v
    return int(_round_decimal(decimal.Decimal(v), digits, decimal.ROUND_DOWN))


BUILTINS.add(Rounding("round"))
BUILTINS.add(Rounding("truncate"))


def _floor_ceil_type(types: List[DataType]) -> Optional[DataType]:
    if len(types) != 1 or not types[0].is_numeric:
        return None
    t = types[0]
    if t.root == "DECIMAL":
        return DecimalType(max(1, t.precision - t.scale + (1 if t.scale else 0)), 0)  # type: ignore
    return t


def _floor(v: Any) -> Any:
    if isinstance(v, float):
        return float(math.floor(v)) if not (v != v or math.isinf(v)) else v
    if isinstance(v, decimal.Decimal):
        return v.to_integral_value(rounding=decimal.ROUND_FLOOR)
    return v


def _ceil(v: Any) -> Any:
    if isinstance(v, float):
        return float(math.ceil(v)) if not (v != v or math.isinf(v)) else v
    if isinstance(v, decimal.Decimal):
        return v.to_integral_value(rounding=decimal.ROUND_CEILING)
    return v


class FloorCeil(ScalarFunctionDef):
    """FLOOR/CEIL of a number, or of a temporal value TO a unit (``params: unit``)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) == 2:  # FLOOR(ts TO unit): the unit is the second operand
            t = ctx.types[0]
            if not t.is_temporal:
                raise ctx.wrong_types([f"{self.name.upper()}(<DATETIME> TO <TIME UNIT>)"])
            return t
        t = _floor_ceil_type(ctx.types)
        if t is None:
            raise ctx.wrong_types([f"{self.name.upper()}(<NUMERIC>)"])
        return t.copy(ctx.nullable)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        if len(call.operands) == 2:
            from .temporal import emit_floor_ceil
            return emit_floor_ceil(self.name, gen, args, call)
        f = gen.bind(_floor if self.name == "floor" else _ceil, "f")
        return gen.strict(call, args, lambda v: f"{f}({v[0]})")


BUILTINS.add(FloorCeil("floor"))
BUILTINS.add(FloorCeil("ceil"), "ceiling")


def _bin(v: int) -> str:
    return format(v & ((1 << 64) - 1), "b") if v < 0 else format(v, "b")


BUILTINS.add(Strict("bin", signature("INTEGER", result=DataTypes.STRING()), _bin))
BUILTINS.add(Strict("hex", lambda ts: DataTypes.STRING() if len(ts) == 1 and (
    ts[0].is_integer or ts[0].is_string) else None,
    lambda v: (format(v & ((1 << 64) - 1), "X") if isinstance(v, int)
               else v.encode().hex().upper())))


__all__ = ["Quantizer", "CTX", "like_regex", "comparable"]


# -- collections and rows ---------------------------------------------------------------------------
class ArrayValue(ScalarFunctionDef):
    """``ARRAY[a, b, ...]``: elements cast to their common type."""

    name = "array"

    def coerce(self, ctx: CallContext) -> None:
        common = common_type(ctx.types)
        if common is None:
            raise ctx.wrong_types()
        for i, t in enumerate(ctx.types):
            ctx.cast(i, common.copy(t.nullable))

    def infer(self, ctx: CallContext) -> DataType:
        if not ctx.types:
            raise ctx.fail("ARRAY needs at least one element")
        common = common_type(ctx.types)
        assert common is not None
        return DataTypes.ARRAY(common, nullable=False)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return "[" + ", ".join(args) + "]"


class MapValue(ScalarFunctionDef):
    """``MAP[k1, v1, k2, v2, ...]``."""

    name = "map"

    def coerce(self, ctx: CallContext) -> None:
        if len(ctx.types) % 2 or not ctx.types:
            raise ctx.fail("MAP needs key, value pairs")
        for start in (0, 1):
            common = common_type(ctx.types[start::2])
            if common is None:
                raise ctx.wrong_types()
            for i in range(start, len(ctx.types), 2):
                ctx.cast(i, common.copy(ctx.types[i].nullable))

    def infer(self, ctx: CallContext) -> DataType:
        k = common_type(ctx.types[0::2])
        v = common_type(ctx.types[1::2])
        assert k is not None and v is not None
        return DataTypes.MAP(k, v, nullable=False)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return "{" + ", ".join(f"{args[i]}: {args[i + 1]}" for i in range(0, len(args), 2)) + "}"


def _make_row(*values: Any) -> Any:
    from ...runtime.row import Row
    return Row(*values)


class RowValue(ScalarFunctionDef):
    """``ROW(a, b, ...)``: fields named ``EXPR$0, EXPR$1...``."""

    name = "row"

    def infer(self, ctx: CallContext) -> DataType:
        return DataTypes.ROW([DataTypes.FIELD(f"EXPR${i}", t) for i, t in enumerate(ctx.types)],
                             nullable=False)

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return f"{gen.bind(_make_row, 'f')}({', '.join(args)})"


def _item(container: Any, index: Any) -> Any:
    if isinstance(container, dict):
        return container.get(index)
    if isinstance(index, int) and 1 <= index <= len(container):
        return container[index - 1]
    return None


class Item(ScalarFunctionDef):
    """``a[i]`` (arrays 1-based, NULL out of range) and ``m[k]``."""

    name = "item"

    def coerce(self, ctx: CallContext) -> None:
        t = ctx.types[0]
        if t.root == "MAP" and ctx.types[1].root != t.key.root:  # type: ignore[attr-defined]
            ctx.cast(1, t.key)  # type: ignore[attr-defined]

    def infer(self, ctx: CallContext) -> DataType:
        t = ctx.types[0]
        if t.root in ("ARRAY", "MULTISET") and ctx.types[1].is_integer:
            return t.element.nullable_()  # type: ignore[attr-defined]
        if t.root == "MAP":
            return t.value.nullable_()  # type: ignore[attr-defined]
        if t.root == "ROW":
            return DataTypes.NULL()
        raise ctx.wrong_types(["<ARRAY>[<INTEGER>]", "<MAP>[<ANY>]"])

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        return gen.strict(call, args, lambda v: f"{gen.bind(_item, 'f')}({v[0]}, {v[1]})")


class GetField(ScalarFunctionDef):
    """A ROW's field by position (``params: index``)."""

    name = "get_field"

    def infer(self, ctx: CallContext) -> DataType:
        raise ctx.fail("get_field is built by the resolver")

    def emit(self, gen: Any, args: List[str], call: Call) -> str:
        i = call.param("index")
        return gen.strict(call, args, lambda v: f"{v[0]}[{i}]")


BUILTINS.add(ArrayValue())
BUILTINS.add(MapValue())
BUILTINS.add(RowValue())
BUILTINS.add(Item())
BUILTINS.add(GetField())
BUILTINS.add(Strict("cardinality", lambda ts: DataTypes.INT() if len(ts) == 1 and ts[0].root in (
    "ARRAY", "MAP", "MULTISET") else None, len))
BUILTINS.add(Strict("element", lambda ts: ts[0].element if len(ts) == 1 and ts[0].root == "ARRAY"
                    else None, lambda a: a[0] if len(a) == 1 else None if not a else
                    (_ for _ in ()).throw(ValueError("element() of an array with more than one "
                                                     "element"))))
