"""Built-in aggregate functions, with Flink's result types (COUNT BIGINT NOT NULL, SUM of
DECIMAL(p, s) DECIMAL(38, s), AVG of an integer the integer, truncated) and NULL rules
(COUNT(x), SUM, AVG, MIN, MAX skip NULLs; over no rows SUM is NULL, COUNT 0).

Each has an insert-only accumulator and, where the input may retract, one that can take
rows back (MIN/MAX keep a count per value, as Flink's MaxWithRetract)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from ..types import (INTEGER_BITS, DataType, DataTypes, DecimalType, adjust_decimal)
from ..values import float32, quantize
from . import BUILTINS, Accumulator, AggregateFunctionDef, CallContext

__all__ = ["Distinct", "avg_type"]


def _wrapper(t: DataType) -> Any:
    """The function that brings a sum into ``t``'s range (Java overflow, DECIMAL scale)."""
    if t.root in INTEGER_BITS:
        bits = INTEGER_BITS[t.root]
        half, mask = 1 << (bits - 1), (1 << bits) - 1
        return lambda v: ((v + half) & mask) - half
    if t.root == "DECIMAL":
        return lambda v: quantize(v, t)  # type: ignore[arg-type]
    if t.root == "FLOAT":
        return float32
    return None


# -- COUNT ----------------------------------------------------------------------------------------
class CountAcc(Accumulator):
    """COUNT(*) (no argument) or COUNT(x) (non-NULL x)."""

    def __init__(self, star: bool) -> None:
        self.star = star

    def create(self) -> int:
        return 0

    def add(self, acc: int, *args: Any) -> int:
        return acc + 1 if self.star or args[0] is not None else acc

    def retract(self, acc: int, *args: Any) -> int:
        return acc - 1 if self.star or args[0] is not None else acc

    def merge(self, acc: int, other: int) -> int:
        return acc + other

    def value(self, acc: int) -> int:
        return acc


class Count(AggregateFunctionDef):
    name = "count"
    columnar = "count"

    def infer(self, ctx: CallContext) -> DataType:
        return DataTypes.BIGINT(False)

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return CountAcc(not arg_types)


BUILTINS.add(Count())


# -- SUM / SUM0 / AVG -------------------------------------------------------------------------------
class SumAcc(Accumulator):
    """[sum, non-NULL count]; NULL over no values (``zero``: SUM0, 0 instead). A FLOAT sum
    is rounded to float32 at every step, as Java's float additions are."""

    def __init__(self, result: DataType, zero: Any = None) -> None:
        self.wrap = _wrapper(result)
        self.zero = zero
        self.single = result.root == "FLOAT"

    def create(self) -> List[Any]:
        return [0, 0]

    def add(self, acc: List[Any], v: Any) -> List[Any]:
        if v is not None:
            acc[0] = float32(acc[0] + v) if self.single else acc[0] + v
            acc[1] += 1
        return acc

    def retract(self, acc: List[Any], v: Any) -> List[Any]:
        if v is not None:
            acc[0] -= v
            acc[1] -= 1
        return acc

    def merge(self, acc: List[Any], other: List[Any]) -> List[Any]:
        acc[0] = float32(acc[0] + other[0]) if self.single else acc[0] + other[0]
        acc[1] += other[1]
        return acc

    def value(self, acc: List[Any]) -> Any:
        if acc[1] == 0:
            return self.zero
        return acc[0] if self.wrap is None else self.wrap(acc[0])


def sum_type(t: DataType) -> DataType:
    if isinstance(t, DecimalType):
        return DecimalType(38, t.scale)
    return t


class Sum(AggregateFunctionDef):
    name = "sum"
    columnar = "sum"

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 1 or not (ctx.types[0].is_numeric or ctx.types[0].root == "NULL"):
            raise ctx.wrong_types(["SUM(<NUMERIC>)"])
        return sum_type(ctx.types[0]).copy(True)

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return SumAcc(result_type)


class Sum0(Sum):
    name = "sum0"
    columnar = None

    def infer(self, ctx: CallContext) -> DataType:
        return super().infer(ctx).copy(False)

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        zero: Any = 0
        if result_type.root == "DECIMAL":
            import decimal
            zero = quantize(decimal.Decimal(0), result_type)  # type: ignore[arg-type]
        elif result_type.root in ("DOUBLE", "FLOAT"):
            zero = 0.0
        return SumAcc(result_type, zero)


BUILTINS.add(Sum())
BUILTINS.add(Sum0())


def avg_type(t: DataType) -> DataType:
    """Flink's ``findAvgAggType``: the argument's type, DECIMAL(38, max(6, s)) for DECIMAL."""
    if isinstance(t, DecimalType):
        scale = max(6, t.scale + 20 + 1)
        return adjust_decimal(38 - t.scale + scale, scale)
    return t


class AvgAcc(SumAcc):
    def __init__(self, result: DataType) -> None:
        super().__init__(result)
        self.root = result.root
        self.result = result

    def value(self, acc: List[Any]) -> Any:
        s, n = acc
        if n == 0:
            return None
        if self.root in INTEGER_BITS:
            q = abs(s) // n
            return q if s >= 0 else -q
        if self.root == "DECIMAL":
            from .scalar import CTX
            return quantize(CTX.divide(s, n), self.result)  # type: ignore[arg-type]
        if self.root == "FLOAT":
            return float32(s / n)
        return s / n


class Avg(AggregateFunctionDef):
    name = "avg"
    columnar = "mean"

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 1 or not ctx.types[0].is_numeric:
            raise ctx.wrong_types(["AVG(<NUMERIC>)"])
        return avg_type(ctx.types[0]).copy(True)

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return AvgAcc(result_type)


BUILTINS.add(Avg())


# -- MIN / MAX ---------------------------------------------------------------------------------------
class ExtremeAcc(Accumulator):
    """MIN/MAX of an insert-only input: the value so far."""

    def __init__(self, is_max: bool) -> None:
        self.is_max = is_max

    def create(self) -> Any:
        return None

    def add(self, acc: Any, v: Any) -> Any:
        if v is None:
            return acc
        if acc is None:
            return v
        return (v if v > acc else acc) if self.is_max else (v if v < acc else acc)

    def merge(self, acc: Any, other: Any) -> Any:
        return self.add(acc, other)

    def value(self, acc: Any) -> Any:
        return acc


class ExtremeRetractAcc(Accumulator):
    """MIN/MAX of an updating input: a count per value."""

    def __init__(self, is_max: bool) -> None:
        self.pick = max if is_max else min

    def create(self) -> Dict[Any, int]:
        return {}

    def add(self, acc: Dict[Any, int], v: Any) -> Dict[Any, int]:
        if v is not None:
            acc[v] = acc.get(v, 0) + 1
        return acc

    def retract(self, acc: Dict[Any, int], v: Any) -> Dict[Any, int]:
        if v is not None and v in acc:
            n = acc[v] - 1
            if n:
                acc[v] = n
            else:
                del acc[v]
        return acc

    def merge(self, acc: Dict[Any, int], other: Dict[Any, int]) -> Dict[Any, int]:
        for k, n in other.items():
            acc[k] = acc.get(k, 0) + n
        return acc

    def value(self, acc: Dict[Any, int]) -> Any:
        return self.pick(acc) if acc else None


class Extreme(AggregateFunctionDef):
    def __init__(self, name: str) -> None:
        self.name = name
        self.columnar = name

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 1:
            raise ctx.wrong_types([f"{self.name.upper()}(<COMPARABLE_TYPE>)"])
        return ctx.types[0].copy(True)

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        is_max = self.name == "max"
        return ExtremeRetractAcc(is_max) if retract else ExtremeAcc(is_max)


BUILTINS.add(Extreme("min"))
BUILTINS.add(Extreme("max"))


# -- FIRST_VALUE / LAST_VALUE / LISTAGG -------------------------------------------------------------
class ValuesAcc(Accumulator):
    """The non-NULL values in arrival order (FIRST_VALUE, LAST_VALUE, LISTAGG, ARRAY_AGG)."""

    def __init__(self, pick: str, sep: str = ",", keep_nulls: bool = False) -> None:
        self.pick, self.sep, self.keep_nulls = pick, sep, keep_nulls

    def create(self) -> List[Any]:
        return []

    def add(self, acc: List[Any], v: Any, *rest: Any) -> List[Any]:
        if v is not None or self.keep_nulls:
            acc.append(v if not rest or self.pick != "listagg" else (v, rest[0]))
        return acc

    def retract(self, acc: List[Any], v: Any, *rest: Any) -> List[Any]:
        item = v if not rest or self.pick != "listagg" else (v, rest[0])
        if item in acc:
            acc.remove(item)
        return acc

    def merge(self, acc: List[Any], other: List[Any]) -> List[Any]:
        acc.extend(other)
        return acc

    def value(self, acc: List[Any]) -> Any:
        if not acc:
            return None
        if self.pick == "first":
            return acc[0]
        if self.pick == "last":
            return acc[-1]
        if self.pick == "array":
            return list(acc)
        out, sep = [], self.sep
        for i, item in enumerate(acc):
            if isinstance(item, tuple):
                v, s = item
                out.append((s if i else "") + v)
            else:
                out.append((sep if i else "") + item)
        return "".join(out)


class FirstLast(AggregateFunctionDef):
    def __init__(self, name: str, pick: str) -> None:
        self.name, self.pick = name, pick

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 1:
            raise ctx.wrong_types([f"{self.name.upper()}(<ANY>)"])
        return ctx.types[0].copy(True)

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return ValuesAcc(self.pick)


BUILTINS.add(FirstLast("first_value", "first"))
BUILTINS.add(FirstLast("last_value", "last"))


class ListAgg(AggregateFunctionDef):
    name = "listagg"

    def infer(self, ctx: CallContext) -> DataType:
        if not 1 <= len(ctx.types) <= 2 or not ctx.types[0].is_string:
            raise ctx.wrong_types(["LISTAGG(<STRING>[, <STRING>])"])
        return DataTypes.STRING()

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return ValuesAcc("listagg")


BUILTINS.add(ListAgg(), "list_agg")


class ArrayAgg(AggregateFunctionDef):
    name = "array_agg"

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 1:
            raise ctx.wrong_types(["ARRAY_AGG(<ANY>)"])
        return DataTypes.ARRAY(ctx.types[0])

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return ValuesAcc("array", keep_nulls=True)


BUILTINS.add(ArrayAgg())


# -- variance -----------------------------------------------------------------------------------------
class MomentsAcc(Accumulator):
    """[n, mean, M2] (Welford's running variance, as Flink 2 computes it) for VAR_POP,
    VAR_SAMP, STDDEV_POP and STDDEV_SAMP; rows can be taken back and accumulators merged."""

    def __init__(self, kind: str, result: DataType) -> None:
        self.kind, self.result = kind, result

    def create(self) -> List[Any]:
        return [0, 0.0, 0.0]

    def add(self, acc: List[Any], v: Any) -> List[Any]:
        if v is not None:
            x = float(v)
            n = acc[0] + 1
            d = x - acc[1]
            mean = acc[1] + d / n
            acc[0], acc[1], acc[2] = n, mean, acc[2] + d * (x - mean)
        return acc

    def retract(self, acc: List[Any], v: Any) -> List[Any]:
        if v is not None:
            x = float(v)
            n = acc[0] - 1
            if n <= 0:
                acc[0], acc[1], acc[2] = 0, 0.0, 0.0
                return acc
            mean = (acc[1] * acc[0] - x) / n
            acc[2] -= (x - mean) * (x - acc[1])
            acc[0], acc[1] = n, mean
        return acc

    def merge(self, acc: List[Any], other: List[Any]) -> List[Any]:
        n1, m1, q1 = acc
        n2, m2, q2 = other
        n = n1 + n2
        if n == 0:
            return acc
        d = m2 - m1
        acc[0], acc[1], acc[2] = n, m1 + d * n2 / n, q1 + q2 + d * d * n1 * n2 / n
        return acc

    def value(self, acc: List[Any]) -> Any:
        n, _mean, m2 = acc
        sample = self.kind.endswith("samp")
        if n == 0 or (sample and n == 1):
            return None
        var = m2 / (n - 1 if sample else n)
        out = math.sqrt(var) if self.kind.startswith("stddev") else var
        t = self.result
        if t.root in INTEGER_BITS:
            return int(out)
        if t.root == "DECIMAL":
            import decimal
            return quantize(decimal.Decimal(repr(out)), t)  # type: ignore[arg-type]
        if t.root == "FLOAT":
            return float32(out)
        return out


class Moments(AggregateFunctionDef):
    def __init__(self, name: str) -> None:
        self.name = name

    def infer(self, ctx: CallContext) -> DataType:
        if len(ctx.types) != 1 or not ctx.types[0].is_numeric:
            raise ctx.wrong_types([f"{self.name.upper()}(<NUMERIC>)"])
        return avg_type(ctx.types[0]).copy(True)

    def create(self, arg_types: Sequence[DataType], result_type: DataType,
               retract: bool) -> Accumulator:
        return MomentsAcc(self.name, result_type)


for _n in ("stddev_pop", "stddev_samp", "var_pop", "var_samp"):
    BUILTINS.add(Moments(_n))
BUILTINS.add(Moments("stddev_samp"), "stddev")
BUILTINS.add(Moments("var_samp"), "variance")


# -- DISTINCT ----------------------------------------------------------------------------------------
class Distinct(Accumulator):
    """``agg(DISTINCT x)``: the inner accumulator sees a value when it first appears and
    loses it when its last copy is retracted. The accumulator is ``[inner, counts]``."""

    def __init__(self, inner: Accumulator) -> None:
        self.inner = inner

    def create(self) -> List[Any]:
        return [self.inner.create(), {}]

    def add(self, acc: List[Any], *args: Any) -> List[Any]:
        if any(a is None for a in args):
            return acc
        key = args if len(args) > 1 else args[0]
        counts = acc[1]
        n = counts.get(key, 0)
        counts[key] = n + 1
        if n == 0:
            acc[0] = self.inner.add(acc[0], *args)
        return acc

    def retract(self, acc: List[Any], *args: Any) -> List[Any]:
        if any(a is None for a in args):
            return acc
        key = args if len(args) > 1 else args[0]
        counts = acc[1]
        n = counts.get(key, 0)
        if n <= 1:
            counts.pop(key, None)
            if n == 1:
                acc[0] = self.inner.retract(acc[0], *args)
        else:
            counts[key] = n - 1
        return acc

    def merge(self, acc: List[Any], other: List[Any]) -> List[Any]:
        for key, n in other[1].items():
            args = key if isinstance(key, tuple) else (key,)
            if key not in acc[1]:
                acc[0] = self.inner.add(acc[0], *args)
            acc[1][key] = acc[1].get(key, 0) + n
        return acc

    def value(self, acc: List[Any]) -> Any:
        return self.inner.value(acc[0])


def make_accumulator(fn: AggregateFunctionDef, arg_types: Sequence[DataType],
                     result_type: DataType, retract: bool, distinct: bool) -> Accumulator:
    acc = fn.create(arg_types, result_type, retract or distinct)
    return Distinct(acc) if distinct else acc


def zero_row_value(fn: AggregateFunctionDef, acc: Accumulator) -> Optional[Any]:
    """What the aggregate gives over no rows (a batch global aggregate)."""
    return acc.value(acc.create())
