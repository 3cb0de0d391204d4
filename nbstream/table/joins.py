"""Joins in the relational plan (SQL and Table API): the ON condition split into equi-join
keys and a remaining condition, and the kind of join chosen as Flink's planner does:

* **interval**: both sides insert-only with rowtime attributes bounded against each other
  (``b.ts BETWEEN a.ts - INTERVAL ... AND a.ts + ...``): insert-only, state cleaned by time;
* **temporal**: ``JOIN r FOR SYSTEM_TIME AS OF l.ts``: each left row meets the version of
  ``r`` valid at its time;
* **window**: both sides window aggregations joined on window_start and window_end;
* **regular**: anything else, keeping every row in state, a changelog when a side is
  updating or outer.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from . import builder as B
from .expressions import Expression
from .plan import Join, RelNode
from .rex import Call, InputRef, Literal, Rex, walk
from .types import DataTypes, ValidationError

__all__ = ["join_tables", "join_sql", "set_operation", "make_join"]


def _conjuncts(rex: Rex) -> List[Rex]:
    if isinstance(rex, Call) and rex.name == "and":
        return [c for o in rex.operands for c in _conjuncts(o)]
    return [rex]


def _and(parts: List[Rex]) -> Optional[Rex]:
    out: Optional[Rex] = None
    for p in parts:
        out = p if out is None else Call("and", (out, p), DataTypes.BOOLEAN(
            out.type.nullable or p.type.nullable))
    return out


def _side(rex: Rex, n_left: int) -> Optional[str]:
    refs = {r.index for r in walk(rex) if isinstance(r, InputRef)}
    if not refs:
        return "none"
    if all(i < n_left for i in refs):
        return "left"
    if all(i >= n_left for i in refs):
        return "right"
    return None


def make_join(left: RelNode, right: RelNode, join_type: str, condition: Optional[Rex],
              temporal: Optional[int] = None) -> RelNode:
    """A Join node: equi-keys pulled out of ``condition`` (over left ++ right columns),
    the flavor chosen (see the module text). ``temporal``: the left time column of
    ``FOR SYSTEM_TIME AS OF``."""
    n = len(left.types)
    left_keys: List[int] = []
    right_keys: List[int] = []
    rest: List[Rex] = []
    for c in _conjuncts(condition) if condition is not None else []:
        if isinstance(c, Call) and c.name == "equals" and all(isinstance(o, InputRef)
                                                              for o in c.operands):
            a, b = c.operands
            if a.index < n <= b.index:  # type: ignore[attr-defined]
                left_keys.append(a.index)  # type: ignore[attr-defined]
                right_keys.append(b.index - n)  # type: ignore[attr-defined]
                continue
            if b.index < n <= a.index:  # type: ignore[attr-defined]
                left_keys.append(b.index)  # type: ignore[attr-defined]
                right_keys.append(a.index - n)  # type: ignore[attr-defined]
                continue
        rest.append(c)
    names = B.unique_names(list(left.names) + list(right.names))
    outer_left = join_type in ("LEFT", "FULL")
    outer_right = join_type in ("RIGHT", "FULL")
    types = [t.nullable_() if outer_right else t for t in left.types] + \
            [t.nullable_() if outer_left else t for t in right.types]
    if temporal is not None:
        return _temporal(left, right, join_type, left_keys, right_keys, rest, names, types,
                         temporal)
    window = _window_keys(left, right, left_keys, right_keys)
    if window is not None:
        return Join(left, right, join_type, left_keys, right_keys, _and(rest), names,
                    _plain(types), flavor="window", bounds=window)
    interval = _interval_bounds(left, right, rest)
    if interval is not None and join_type in ("INNER", "LEFT", "RIGHT", "FULL") and not (
            left.updating or right.updating):
        bounds, remaining = interval
        return Join(left, right, join_type, left_keys, right_keys, _and(remaining), names,
                    types, flavor="interval", bounds=bounds)
    return Join(left, right, join_type, left_keys, right_keys, _and(rest), names, _plain(types),
                flavor="regular")


def _plain(types: List[Any]) -> List[Any]:
    """Time attributes do not survive a regular join: they become plain timestamps."""
    return [t.plain() if hasattr(t, "plain") else t for t in types]


def _time_column(node: RelNode, index: int) -> bool:
    return getattr(node.types[index], "kind", "") == "ROWTIME"


def _interval_bounds(left: RelNode, right: RelNode, rest: List[Rex]
                     ) -> Optional[Tuple[Tuple[int, int, int, int], List[Rex]]]:
    """(left time, right time, lower ms, upper ms) when ``rest`` bounds the right rowtime
    by the left one (``r.ts >= l.ts + a AND r.ts <= l.ts + b``), and the conditions left."""
    n = len(left.types)
    lower: Optional[int] = None
    upper: Optional[int] = None
    pair: Optional[Tuple[int, int]] = None
    remaining: List[Rex] = []
    for c in rest:
        bound = _time_bound(c, n, left, right)
        if bound is None:
            remaining.append(c)
            continue
        (lt, rt), kind, ms = bound
        if pair is not None and pair != (lt, rt):
            remaining.append(c)
            continue
        pair = (lt, rt)
        if kind == "lower":
            lower = ms if lower is None else max(lower, ms)
        else:
            upper = ms if upper is None else min(upper, ms)
    if pair is None or lower is None or upper is None:
        return None
    return (pair[0], pair[1], lower, upper), remaining


def _time_offset(rex: Rex) -> Optional[Tuple[InputRef, int]]:
    """``ts``, ``ts + INTERVAL``, ``ts - INTERVAL`` as (ts, offset ms)."""
    if isinstance(rex, InputRef):
        return rex, 0
    if isinstance(rex, Call) and rex.name in ("plus", "minus") and len(rex.operands) == 2:
        a, b = rex.operands
        if isinstance(a, InputRef) and isinstance(b, Literal) and b.type.root == "INTERVAL_DAY_TIME":
            return a, b.value if rex.name == "plus" else -b.value
        if rex.name == "plus" and isinstance(b, InputRef) and isinstance(a, Literal) and \
                a.type.root == "INTERVAL_DAY_TIME":
            return b, a.value
    return None


def _time_bound(c: Rex, n: int, left: RelNode, right: RelNode
                ) -> Optional[Tuple[Tuple[int, int], str, int]]:
    if not isinstance(c, Call) or c.name not in ("less_than", "less_than_or_equal", "greater_than",
                                                   "greater_than_or_equal"):
        return None
    a, b = (_time_offset(o) for o in c.operands)
    if a is None or b is None:
        return None
    (ra, oa), (rb, ob) = a, b
    if ra.index < n <= rb.index:
        lt, rt, lo, ro, op = ra.index, rb.index - n, oa, ob, c.name
        # l.ts + lo OP r.ts + ro  =>  r.ts  (OP flipped)  l.ts + lo - ro
        flip = {"less_than": "greater_than", "less_than_or_equal": "greater_than_or_equal",
                "greater_than": "less_than", "greater_than_or_equal": "less_than_or_equal"}
        op = flip[op]
        shift = lo - ro
    elif rb.index < n <= ra.index:
        lt, rt, shift, op = rb.index, ra.index - n, ob - oa, c.name
    else:
        return None
    if not (_time_column(left, lt) and _time_column(right, rt)):
        return None
    # r.ts OP l.ts + shift
    if op == "greater_than_or_equal":
        return (lt, rt), "lower", shift
    if op == "greater_than":
        return (lt, rt), "lower", shift + 1
    if op == "less_than_or_equal":
        return (lt, rt), "upper", shift
    return (lt, rt), "upper", shift - 1


def _window_keys(left: RelNode, right: RelNode, lk: List[int], rk: List[int]
                 ) -> Optional[Tuple[int, int, int, int]]:
    """(left window_start, left window_end, right ..., ...) when both sides are window
    aggregations joined on their window_start and window_end."""
    from .over import window_properties
    lp, rp = window_properties(left), window_properties(right)
    if not lp or not rp:
        return None
    found = {}
    for a, b in zip(lk, rk):
        pa, pb = lp.get(a), rp.get(b)
        if pa is not None and pa == pb and pa in ("window_start", "window_end"):
            found[pa] = (a, b)
    if set(found) != {"window_start", "window_end"}:
        return None
    return (found["window_start"][0], found["window_end"][0], found["window_start"][1],
            found["window_end"][1])


def _temporal(left: RelNode, right: RelNode, join_type: str, lk: List[int], rk: List[int],
              rest: List[Rex], names: List[str], types: List[Any], left_time: int) -> RelNode:
    if join_type not in ("INNER", "LEFT"):
        raise ValidationError("Temporal table join only supports INNER JOIN and LEFT OUTER JOIN")
    if not lk:
        raise ValidationError("Temporal table join requires an equality condition on fields of "
                              "table")
    rt = right.rowtime
    if rt is None or not _time_column(left, left_time):
        raise ValidationError("Event-Time Temporal Table Join requires both primary key and row "
                              "time attribute in versioned table, and the left time "
                              "FOR SYSTEM_TIME AS OF to be a rowtime attribute")
    return Join(left, right, join_type, lk, rk, _and(rest), names, types, flavor="temporal",
                bounds=(left_time, rt))


# -- SQL and Table API front ends -----------------------------------------------------------------
def join_sql(conv: Any, left: RelNode, left_scope: B.Scope, join: Any) -> Tuple[RelNode, B.Scope]:
    from .sql.convert import to_expression
    from .sql.dialect import _sqlglot
    exp = _sqlglot()[0]
    item = join.this
    temporal_expr = None
    if isinstance(item, exp.Table) and item.args.get("version") is not None:
        version = item.args["version"]
        temporal_expr = version.args.get("expression")
        item = item.copy()
        item.set("version", None)
    right, right_scope = conv.from_item(item)
    side = (join.args.get("side") or "").upper()
    kind = (join.args.get("kind") or "").upper()
    join_type = {"LEFT": "LEFT", "RIGHT": "RIGHT", "FULL": "FULL"}.get(side, "INNER")
    if kind in ("SEMI", "ANTI"):
        raise ValidationError(f"{kind} JOIN is not supported yet")
    scope = left_scope + right_scope
    condition = None
    on = join.args.get("on")
    using = join.args.get("using")
    resolver = B.Resolver(scope, conv.ctx, conv.text)
    if on is not None:
        condition = resolver.resolve(to_expression(on))
        B.check_boolean(condition, on.sql())
    elif using:
        parts = []
        for u in using:
            name = u.name
            a = left_scope.lookup(name)
            b = right_scope.lookup(name)
            parts.append(Expression("call", "equals",
                                    Expression("col", name, left_scope.columns[a].qualifier),
                                    Expression("col", name, right_scope.columns[b].qualifier)))
        e = parts[0]
        for p in parts[1:]:
            e = Expression("call", "and", e, p)
        condition = resolver.resolve(e)
    elif join_type != "INNER":
        raise ValidationError(f"{join_type} JOIN needs an ON condition")
    temporal = None
    if temporal_expr is not None:
        t = resolver.resolve(to_expression(temporal_expr))
        if not isinstance(t, InputRef) or t.index >= len(left.types):
            raise ValidationError("FOR SYSTEM_TIME AS OF needs a time column of the left table")
        temporal = t.index
    node = make_join(left, right, join_type, condition, temporal)
    node_scope = B.Scope(node.names, node.types, [c.qualifier for c in scope.columns])
    for c, name in zip(node_scope.columns, [c.name for c in scope.columns]):
        c.name = name  # names resolve as written; the output names are unique
    node_scope.output_names = node.names  # type: ignore[attr-defined]
    return node, node_scope


def join_tables(left: RelNode, right: RelNode, kind: str, condition: Optional[Expression],
                ctx: B.Context) -> RelNode:
    """Table API joins: column names must not clash (rename first), as in PyFlink."""
    clash = set(left.names) & set(right.names)
    if clash:
        raise ValidationError(f"join: both tables have the columns {sorted(clash)}; rename them "
                              "first (rename_columns / alias)")
    scope = B.Scope.of(left) + B.Scope.of(right)
    cond = None
    if condition is not None:
        cond = B.Resolver(scope, ctx).resolve(condition)
        B.check_boolean(cond, condition)
    elif kind != "INNER":
        raise ValidationError(f"{kind.lower()} outer join needs a join predicate")
    return make_join(left, right, kind, cond)


def set_operation(left: RelNode, right: RelNode, kind: str, all_: bool, ctx: B.Context) -> RelNode:
    raise ValidationError(f"{kind}{' ALL' if all_ else ''} is not supported yet")


