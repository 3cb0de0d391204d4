"""Expressions compiled to Python: one generated function per projection (and filter),
so a row costs one call and straight-line code, not a walk over an expression tree.

Every function of the registry emits the Python *expression* text of its call
(:meth:`~nbstream.table.functions.ScalarFunctionDef.emit`); operands are expression
texts too, so lazy forms (AND, OR, CASE, COALESCE) evaluate only what they need. Values
the code needs (constants, helper functions, a user's function) are bound by name in the
generated function's globals, and a compiled function pickles as its source and those
bindings (process mode sends it to the workers).

Rows inside the Table runtime are tuples ``(kind, c0, c1, ...)``: element 0 is the
:class:`~nbstream.RowKind` as an int (0 +I, 1 -U, 2 +U, 3 -D), the columns follow.

>>> from nbstream.table.rex import InputRef, Literal, Call
>>> from nbstream.table.types import DataTypes
>>> a = InputRef(0, DataTypes.INT(), "a")
>>> f = compile_calc([a, Call("plus", (a, Literal(1, DataTypes.INT().not_null())),
...                                DataTypes.INT())], None)
>>> f((0, 41)), f((0, None))
((0, 41, 42), (0, None, None))
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, List, Optional, Sequence

from .rex import Call, InputRef, Literal, Rex

__all__ = ["CodeGen", "Compiled", "compile_calc", "compile_expression", "compile_predicate",
           "KIND_INSERT", "KIND_UPDATE_BEFORE", "KIND_UPDATE_AFTER", "KIND_DELETE"]

KIND_INSERT, KIND_UPDATE_BEFORE, KIND_UPDATE_AFTER, KIND_DELETE = 0, 1, 2, 3


class Compiled:
    """A generated Python function that pickles as its source and bindings."""

    def __init__(self, source: str, bindings: Dict[str, Any], name: str) -> None:
        self.source, self.bindings, self.name = source, bindings, name
        namespace: Dict[str, Any] = dict(bindings)
        exec(compile(source, f"<nbstream.table {name}>", "exec"), namespace)
        self.fn: Callable[..., Any] = namespace[name]

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)

    def __reduce__(self) -> Any:
        return (Compiled, (self.source, self.bindings, self.name))

    def __repr__(self) -> str:
        return f"<compiled {self.name}>"


class CodeGen:
    """The state of one generated function: its bound names and its temporaries."""

    def __init__(self, functions: Any = None, zone: Any = None) -> None:
        from .functions import BUILTINS
        self.functions = functions if functions is not None else BUILTINS
        self.zone = zone  # the session time zone (TIMESTAMP_LTZ)
        self.bindings: Dict[str, Any] = {}
        self._by_id: Dict[int, str] = {}
        self._counter = itertools.count()
        self.row = "r"

    def bind(self, value: Any, hint: str = "c") -> str:
        """A global name for ``value`` in the generated code."""
        key = id(value)
        name = self._by_id.get(key)
        if name is None or self.bindings.get(name) is not value:
            name = f"_{hint}{next(self._counter)}"
            self.bindings[name] = value
            self._by_id[key] = name
        return name

    def temp(self) -> str:
        return f"_t{next(self._counter)}"

    def expr(self, rex: Rex) -> str:
        """The Python expression text computing ``rex`` from the row ``r``."""
        if isinstance(rex, InputRef):
            return f"{self.row}[{rex.index + 1}]"
        if isinstance(rex, Literal):
            v = rex.value
            if v is None or isinstance(v, (bool, int)) or (isinstance(v, str) and len(v) < 200):
                return repr(v)
            return self.bind(v, "k")
        if isinstance(rex, Call):
            fn = rex.param("fn") or self.functions.scalar(rex.name)
            return fn.emit(self, [self.expr(o) for o in rex.operands], rex)
        raise TypeError(f"cannot compile {rex!r}")

    def strict(self, call: Call, args: Sequence[str], body: Callable[[List[str]], str]) -> str:
        """``body`` over the operands' values, NULL when any nullable operand is NULL
        (each operand evaluated once)."""
        names: List[str] = []
        checks: List[str] = []
        for arg, operand in zip(args, call.operands):
            if _simple(arg):
                names.append(arg)
                if operand.type.nullable:
                    checks.append(f"{arg} is None")
            elif operand.type.nullable:
                t = self.temp()
                checks.append(f"({t} := {arg}) is None")
                names.append(t)
            else:
                names.append(f"({arg})")
        if not checks:
            return f"({body(names)})"
        return f"(None if {' or '.join(checks)} else {body(names)})"


def _simple(code: str) -> bool:
    """A text cheap to evaluate twice: a name, a constant or a column of the row."""
    return code.isidentifier() or code in ("None", "True", "False") or (
        code.startswith("r[") and code.endswith("]") and code[2:-1].isdigit()) or _number(code)


def _number(code: str) -> bool:
    try:
        float(code)
        return True
    except ValueError:
        return False


def compile_calc(projects: Sequence[Rex], condition: Optional[Rex], functions: Any = None,
                 zone: Any = None, name: str = "calc") -> Compiled:
    """``f(r)`` -> the projected row (kind kept), or None when ``condition`` is not TRUE."""
    gen = CodeGen(functions, zone)
    cols = [gen.expr(p) for p in projects]
    body = "(r[0], " + "".join(c + ", " for c in cols) + ")"
    lines = [f"def {name}(r):"]
    if condition is not None:
        lines.append(f"    if not {gen.expr(condition)}:")
        lines.append("        return None")
    lines.append(f"    return {body}")
    return Compiled("\n".join(lines) + "\n", gen.bindings, name)


def compile_batch_calc(projects: Sequence[Rex], condition: Optional[Rex], functions: Any = None,
                       zone: Any = None, name: str = "calc_batch") -> Compiled:
    """``f(rows)`` -> the list of projected rows kept by ``condition`` (one loop)."""
    gen = CodeGen(functions, zone)
    cols = [gen.expr(p) for p in projects]
    body = "(r[0], " + "".join(c + ", " for c in cols) + ")"
    lines = [f"def {name}(rows):", "    out = []", "    append = out.append",
             "    for r in rows:"]
    if condition is not None:
        lines.append(f"        if {gen.expr(condition)}:")
        lines.append(f"            append({body})")
    else:
        lines.append(f"        append({body})")
    lines.append("    return out")
    return Compiled("\n".join(lines) + "\n", gen.bindings, name)


def compile_expression(rex: Rex, functions: Any = None, zone: Any = None,
                       name: str = "expr") -> Compiled:
    """``f(r)`` -> the value of ``rex`` for row ``r``."""
    gen = CodeGen(functions, zone)
    code = gen.expr(rex)
    return Compiled(f"def {name}(r):\n    return {code}\n", gen.bindings, name)


def compile_predicate(rex: Rex, functions: Any = None, zone: Any = None,
                      name: str = "pred") -> Compiled:
    """``f(r)`` -> True when ``rex`` is TRUE (False for FALSE and NULL)."""
    gen = CodeGen(functions, zone)
    code = gen.expr(rex)
    return Compiled(f"def {name}(r):\n    return {code} is True\n", gen.bindings, name)


def compile_key(indices: Sequence[int], name: str = "key") -> Compiled:
    """``f(r)`` -> the key of a row: the column itself for one column, else a tuple."""
    if len(indices) == 1:
        code = f"r[{indices[0] + 1}]"
    else:
        code = "(" + "".join(f"r[{i + 1}], " for i in indices) + ")"
    return Compiled(f"def {name}(r):\n    return {code}\n", {}, name)


def compile_values(indices: Sequence[int], name: str = "cols") -> Compiled:
    """``f(r)`` -> the tuple of the given columns."""
    code = "(" + "".join(f"r[{i + 1}], " for i in indices) + ")"
    return Compiled(f"def {name}(r):\n    return {code}\n", {}, name)


# -- aggregation -------------------------------------------------------------------------------------
def compile_group_step(calls: Sequence[Any], accumulators: Sequence[Any], key_len: int,
                       ttl: bool, name: str = "group_step") -> Compiled:
    """``step(r, state)`` -> the changelog rows of GROUP BY for input row ``r`` (Flink's
    GroupAggFunction), with the state of the row's key in ``state`` (a ValueState holding
    ``[row count, accumulator slots..., last emitted values]``).

    Common aggregates (COUNT, SUM, AVG of DOUBLE, MIN/MAX of an insert-only input) are inlined;
    any other calls its :class:`~nbstream.table.functions.Accumulator`'s methods."""
    gen = CodeGen()
    init: List[str] = ["0"]
    add: List[str] = []
    retract: List[str] = []
    values: List[str] = []
    for call, acc in zip(calls, accumulators):
        slot = len(init)
        args = [f"r[{a + 1}]" for a in call.args]
        inline = _inline_aggregate(gen, call, acc, slot, args)
        if inline is None:
            a = gen.bind(acc, "acc")
            init.append(f"{a}.create()")
            argl = ", ".join(args)
            a_add = [f"st[{slot}] = {a}.add(st[{slot}]{', ' if argl else ''}{argl})"]
            a_ret = [f"st[{slot}] = {a}.retract(st[{slot}]{', ' if argl else ''}{argl})"]
            value = f"{a}.value(st[{slot}])"
        else:
            slots, a_add, a_ret, value = inline
            init.extend(slots)
        if call.filter is not None:
            cond = f"if r[{call.filter + 1}] is True:"
            a_add = [cond] + ["    " + x for x in a_add]
            a_ret = [cond] + ["    " + x for x in a_ret]
        add.extend(a_add)
        retract.extend(a_ret)
        values.append(value)
    prev = len(init)
    key = "(" + "".join(f"r[{i + 1}], " for i in range(key_len)) + ")"
    new = "(" + "".join(v + ", " for v in values) + ")"
    lines = [f"def {name}(r, state):",
             "    st = state.value()",
             "    if r[0] == 0 or r[0] == 2:",
             "        if st is None:",
             f"            st = [{', '.join(init)}, None]",
             "            first = True",
             "        else:",
             "            first = False",
             "        st[0] += 1"]
    lines += ["        " + x for x in add]
    lines += ["    else:",
              "        if st is None:",
              "            return ()",
              "        first = False",
              "        st[0] -= 1"]
    lines += ["        " + x for x in retract]
    lines += [f"    key = {key}",
              "    if st[0] > 0:",
              f"        new = {new}",
              f"        old = st[{prev}]",
              f"        st[{prev}] = new",
              "        state.update(st)",
              "        if first:",
              "            return ((0,) + key + new,)",
              *([] if ttl else ["        if new == old:", "            return ()"]),
              "        return ((1,) + key + old, (2,) + key + new)",
              "    state.clear()",
              "    if first:",
              "        return ()",
              f"    return ((3,) + key + st[{prev}],)"]
    return Compiled("\n".join(lines) + "\n", gen.bindings, name)


def _inline_aggregate(gen: CodeGen, call: Any, acc: Any, slot: int, args: List[str]) -> Any:
    """(initial slots, add lines, retract lines, value expression) of an aggregate the
    step can do inline, or None."""
    from .functions.aggregates import CountAcc, ExtremeAcc, SumAcc
    if call.distinct:
        return None
    t = call.type
    if type(acc) is CountAcc:
        if acc.star:
            return ["0"], [f"st[{slot}] += 1"], [f"st[{slot}] -= 1"], f"st[{slot}]"
        return (["0"], [f"if {args[0]} is not None: st[{slot}] += 1"],
                [f"if {args[0]} is not None: st[{slot}] -= 1"], f"st[{slot}]")
    if type(acc) is SumAcc and acc.zero is None and t.root in ("BIGINT", "DOUBLE", "INT",
                                                                "SMALLINT", "TINYINT"):
        v = gen.temp()
        s, n = slot, slot + 1
        if t.root == "DOUBLE":
            value = f"(None if st[{n}] == 0 else st[{s}])"
        else:
            from .functions.scalar import _wrap_template
            value = f"(None if st[{n}] == 0 else {_wrap_template(t, f'st[{s}]')})"
        return (["0", "0"],
                [f"{v} = {args[0]}", f"if {v} is not None:", f"    st[{s}] += {v}",
                 f"    st[{n}] += 1"],
                [f"{v} = {args[0]}", f"if {v} is not None:", f"    st[{s}] -= {v}",
                 f"    st[{n}] -= 1"],
                value)
    if type(acc) is ExtremeAcc:
        v = gen.temp()
        op = ">" if acc.is_max else "<"
        return (["None"],
                [f"{v} = {args[0]}",
                 f"if {v} is not None and (st[{slot}] is None or {v} {op} st[{slot}]):",
                 f"    st[{slot}] = {v}"],
                ["raise ValueError('MIN/MAX of an insert-only input cannot retract')"],
                f"st[{slot}]")
    return None
