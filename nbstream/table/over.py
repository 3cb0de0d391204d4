"""OVER windows in the relational plan: aggregates over a frame of each row's partition
(OverAggregate), and ROW_NUMBER, which becomes a Rank (Top-N, deduplication) once the
enclosing query bounds it (``WHERE rn <= N``), as Flink's planner does.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

from . import builder as B
from .expressions import Expression
from .functions import CallContext
from .plan import AggCall, Calc, OverAggregate, OverSpec, Rank, RelNode
from .rex import Call, InputRef, Literal, Rex
from .types import DataTypes, ValidationError

__all__ = ["over_select", "sql_over", "absorb_rank", "note_rank_use"]

_RANKING = ("row_number", "rank", "dense_rank")


class _Window:
    """An over window, unresolved: partition and order expressions and the frame."""

    def __init__(self, partition: List[Expression], order: List[Tuple[Expression, bool]],
                 rows: Optional[bool], preceding: Any) -> None:
        self.partition, self.order, self.rows, self.preceding = partition, order, rows, preceding


def _sql_window(conv: Any, w: Any, named: Dict[str, Any]) -> _Window:
    from .sql.convert import to_expression
    base = None
    alias = w.args.get("alias")
    if alias is not None and not w.args.get("partition_by") and not w.args.get("order"):
        name = alias.name if hasattr(alias, "name") else str(alias)
        if name not in named:
            raise ValidationError(f"Window '{name}' not found")
        base = named[name]
        w = base
    partition = [to_expression(p) for p in (w.args.get("partition_by") or [])]
    order = []
    if w.args.get("order") is not None:
        for o in w.args["order"].expressions:
            order.append((to_expression(o.this), not o.args.get("desc")))
    spec = w.args.get("spec")
    rows: Optional[bool] = None
    preceding: Any = "UNBOUNDED"
    if spec is not None:
        rows = spec.args.get("kind", "").upper() == "ROWS"
        start = spec.args.get("start")
        end = spec.args.get("end")
        end_text = end if isinstance(end, str) else (end.sql() if end is not None else "CURRENT ROW")
        if str(end_text).upper() != "CURRENT ROW":
            raise ValidationError("OVER windows must end at CURRENT ROW in a stream")
        start_text = start if isinstance(start, str) else start.sql()
        if str(start_text).upper() == "UNBOUNDED":
            preceding = "UNBOUNDED"
        elif str(start_text).upper() == "CURRENT ROW":
            preceding = 0
        else:
            preceding = to_expression(start) if not isinstance(start, str) else \
                Expression("lit", int(start), None)
    return _Window(partition, order, rows, preceding)


def _collect_over(e: Expression, out: List[Expression]) -> None:
    if e._op in ("sql_over", "over"):
        out.append(e)
        return
    for a in e._args:
        if isinstance(a, Expression):
            _collect_over(a, out)


def sql_over(conv: Any, node: RelNode, scope: B.Scope, items: List[Expression],
             named: Dict[str, Any], tree: Any) -> RelNode:
    from .sql.convert import to_expression
    calls: List[Expression] = []
    for i in items:
        _collect_over(i, calls)
    parsed = []
    for c in calls:
        w = c._args[0]
        fn = to_expression(w.this)
        parsed.append((c, fn, _sql_window(conv, w, named)))
    return _build(node, scope, items, parsed, conv.ctx, "sql", conv.text)


def over_select(node: RelNode, windows: List[Any], items: List[Expression],
                ctx: B.Context) -> RelNode:
    """Table API: ``over_window(Over...alias('w')).select(col('v').sum.over(col('w')))``."""
    by_alias = {w.alias_name: w for w in windows}
    calls: List[Expression] = []
    for i in items:
        _collect_over(i, calls)
    parsed = []
    for c in calls:
        fn, ref = c._args
        alias = ref._args[0] if isinstance(ref, Expression) and ref._op == "col" else str(ref)
        if alias not in by_alias:
            raise ValidationError(f"Over window '{alias}' is not defined; windows: "
                                  f"{', '.join(by_alias)}")
        w = by_alias[alias]
        order = [] if w.order is None else [(w.order, True)]
        rows, preceding = _table_frame(w.preceding_)
        parsed.append((c, fn, _Window(list(w.partition), order, rows, preceding)))
    return _build(node, B.Scope.of(node), items, parsed, ctx, "table", "")


def _table_frame(preceding: Any) -> Tuple[Optional[bool], Any]:
    if preceding is None:
        return None, "UNBOUNDED"
    op = getattr(preceding, "_op", None)
    if op == "unbounded_row":
        return True, "UNBOUNDED"
    if op == "unbounded_range":
        return False, "UNBOUNDED"
    if op == "current_row":
        return True, 0
    if op == "current_range":
        return False, 0
    if op == "row_interval":
        return True, Expression("lit", preceding._args[0], None)
    return False, preceding


def _build(node: RelNode, scope: B.Scope, items: List[Expression],
           parsed: List[Tuple[Expression, Expression, _Window]], ctx: B.Context, style: str,
           text: str) -> RelNode:
    resolver = B.Resolver(scope, ctx, text)
    ranking = [p for p in parsed if p[1]._op == "call" and p[1]._args[0] in _RANKING]
    if ranking:
        if len(parsed) != 1:
            raise ValidationError("ROW_NUMBER() cannot be combined with other OVER aggregates")
        return _rank(node, scope, items, parsed[0], resolver, ctx, style, text)
    first = parsed[0][2]
    spec = _over_spec(node, first, resolver)
    for _, _, w in parsed[1:]:
        if _over_spec(node, w, resolver) != spec:
            raise ValidationError("Over Agg: Unsupported use of OVER windows. All aggregates "
                                  "must be computed on the same window.")
    # pre-projection: the input's columns, then the aggregates' arguments
    n = len(node.types)
    pre: List[Rex] = [InputRef(i, t, name) for i, (name, t) in enumerate(zip(node.names,
                                                                             node.types))]
    aggs: List[AggCall] = []
    index: Dict[int, int] = {}
    for k, (call, fn_expr, _w) in enumerate(parsed):
        parts = B._agg_call_parts(fn_expr, ctx.functions)
        if parts is None:
            raise ValidationError(f"'{fn_expr}' is not an aggregate function (OVER needs one)")
        fn, arg_exprs, distinct, filt = parts
        args = [resolver.resolve(a) for a in arg_exprs]
        cc = CallContext(fn.name, args, str(fn_expr), ctx.functions)
        fn.coerce(cc)
        t = fn.infer(cc)
        slots = []
        for r in cc.operands:
            if r not in pre:
                pre.append(r)
            slots.append(pre.index(r))
        aggs.append(AggCall(fn, tuple(slots), t, f"w0$o{k}", distinct, None, str(fn_expr)))
        index[id(call)] = k
    pre_calc = Calc(node, pre, None, B.unique_names([B._pre_name(r, i) for i, r in enumerate(pre)]))
    over = OverAggregate(pre_calc, spec, aggs,
                         B.unique_names(pre_calc.names + [a.name for a in aggs]),
                         pre_calc.types + [a.type for a in aggs])
    width = len(pre)

    def hook(e: Expression) -> Optional[Rex]:
        if e._op in ("sql_over", "over"):
            k = index[id(e)]
            return InputRef(width + k, over.types[width + k], over.names[width + k])
        return None

    out_scope = B.Scope(over.names, over.types,
                        [c.qualifier for c in scope.columns] + [None] * (len(over.names) - n))
    r2 = B.Resolver(out_scope, ctx, text, hook=hook)
    projects, names = [], []
    counter = [0]
    for pos, item in enumerate(B.expand_select(items, scope)):
        projects.append(r2.resolve(item))
        names.append(B.name_of(item, pos, style, counter))
    return Calc(over, projects, None, B.unique_names(names))


def _over_spec(node: RelNode, w: _Window, resolver: B.Resolver) -> OverSpec:
    partition = []
    for p in w.partition:
        r = resolver.resolve(p)
        if not isinstance(r, InputRef):
            raise ValidationError(f"OVER PARTITION BY takes columns, not '{p}'")
        partition.append(r.index)
    if len(w.order) != 1:
        raise ValidationError("OVER windows' ordering in stream mode must be defined on a time "
                              "attribute (ORDER BY one rowtime or proctime column)")
    o, asc = w.order[0]
    r = resolver.resolve(o)
    t = r.type
    kind = getattr(t, "kind", "")
    if not isinstance(r, InputRef) or kind not in ("ROWTIME", "PROCTIME") or not asc:
        raise ValidationError("OVER windows' ordering in stream mode must be defined on a time "
                              f"attribute, ascending; '{o}' is {t.summary_string()}")
    rows = w.rows if w.rows is not None else False
    preceding: Optional[int]
    if isinstance(w.preceding, str):  # "UNBOUNDED"
        preceding = None
    elif isinstance(w.preceding, int):
        preceding = w.preceding
    else:
        lit_rex = resolver.resolve(w.preceding)
        if not isinstance(lit_rex, Literal):
            raise ValidationError("an OVER frame needs a constant bound")
        if rows and not isinstance(lit_rex.value, int):
            raise ValidationError("a ROWS frame takes a number of rows")
        if not rows and not lit_rex.type.is_interval:
            raise ValidationError("a RANGE frame on a time attribute takes an INTERVAL")
        preceding = int(lit_rex.value)
    return OverSpec(tuple(partition), r.index, rows, preceding, kind == "PROCTIME")


def _rank(node: RelNode, scope: B.Scope, items: List[Expression],
          parsed: Tuple[Expression, Expression, _Window], resolver: B.Resolver, ctx: B.Context,
          style: str, text: str) -> RelNode:
    call, fn_expr, w = parsed
    name = fn_expr._args[0]
    if name != "row_number":
        raise ValidationError(f"{name.upper()}() is not supported: use ROW_NUMBER()")
    partition = []
    for p in w.partition:
        r = resolver.resolve(p)
        if not isinstance(r, InputRef):
            raise ValidationError(f"PARTITION BY takes columns, not '{p}'")
        partition.append(r.index)
    order = []
    for o, asc in w.order:
        r = resolver.resolve(o)
        if not isinstance(r, InputRef):
            raise ValidationError(f"the ORDER BY of ROW_NUMBER takes columns, not '{o}'")
        order.append((r.index, asc, not asc))
    if not order:
        raise ValidationError("ROW_NUMBER() needs an ORDER BY")
    n = len(node.types)
    rank = Rank(node, partition, order, 0, True, B.unique_names(list(node.names) + ["w0$o0"]),
                list(node.types) + [DataTypes.BIGINT(False)])
    rank.limit = None  # type: ignore[assignment]  (bounded by the enclosing WHERE)

    def hook(e: Expression) -> Optional[Rex]:
        if e is call:
            return InputRef(n, rank.types[n], rank.names[n])
        return None

    out_scope = B.Scope(rank.names, rank.types, [c.qualifier for c in scope.columns] + [None])
    r2 = B.Resolver(out_scope, ctx, text, hook=hook)
    projects, names = [], []
    counter = [0]
    for pos, item in enumerate(B.expand_select(items, scope)):
        projects.append(r2.resolve(item))
        names.append(B.name_of(item, pos, style, counter))
    return Calc(rank, projects, None, B.unique_names(names))


# -- bounding a ROW_NUMBER: Top-N and deduplication ---------------------------------------------
def _chain_to_rank(node: RelNode) -> Optional[Tuple[List[Calc], Rank]]:
    chain: List[Calc] = []
    n = node
    while isinstance(n, Calc) and n.condition is None and all(isinstance(p, InputRef)
                                                              for p in n.projects):
        chain.append(n)
        n = n.input
    if isinstance(n, Rank) and n.limit is None:
        return chain, n
    return None


def _rank_column_of(chain: List[Calc], rank: Rank, index: int) -> bool:
    """Whether column ``index`` of the chain's top is the rank's ROW_NUMBER column."""
    i = index
    for calc in chain:
        i = calc.projects[i].index  # type: ignore[attr-defined]
    return i == len(rank.types) - 1


def _conjuncts(rex: Rex) -> List[Rex]:
    if isinstance(rex, Call) and rex.name == "and":
        return [c for o in rex.operands for c in _conjuncts(o)]
    return [rex]


def absorb_rank(node: RelNode) -> RelNode:
    """``WHERE rn <= N`` (``< N``, ``= 1``) over a ROW_NUMBER: the Rank keeps N rows."""
    if not isinstance(node, Calc) or node.condition is None:
        if _chain_to_rank(node) is not None:
            raise ValidationError("ROW_NUMBER() needs a filter on it (WHERE rn <= N) in a "
                                  "stream (a Top-N or a deduplication)")
        return node
    found = _chain_to_rank(node.input)
    if found is None:
        return node
    chain, rank = found
    limit: Optional[int] = None
    offset = 0
    rest: List[Rex] = []
    for c in _conjuncts(node.condition):
        bound = _rank_bound(c, chain, rank)
        if bound is None:
            rest.append(c)
            continue
        kind, value = bound
        if kind == "max":
            limit = value if limit is None else min(limit, value)
        else:
            offset = max(offset, value)
    if limit is None:
        raise ValidationError("a ROW_NUMBER needs an upper bound in WHERE (rn <= N)")
    new_rank = replace(rank, limit=limit, offset=offset)
    new_rank.id = rank.id
    props = window_properties(rank.input)
    ends = [p for p in rank.partition if props.get(p) == "window_end"]
    if ends and any(props.get(p) == "window_start" for p in rank.partition):
        new_rank.window = ends[0]  # a window Top-N: one result per window
    top: RelNode = new_rank
    for calc in reversed(chain):
        top = Calc(top, calc.projects, None, calc.names)
    cond = None
    for c in rest:
        cond = c if cond is None else Call("and", (cond, c), DataTypes.BOOLEAN(
            cond.type.nullable or c.type.nullable))
    return Calc(top, node.projects, cond, node.names)


def _rank_bound(c: Rex, chain: List[Calc], rank: Rank) -> Optional[Tuple[str, int]]:
    if not isinstance(c, Call) or len(c.operands) != 2:
        return None
    a, b = c.operands
    name = c.name
    flip = {"less_than": "greater_than", "less_than_or_equal": "greater_than_or_equal",
            "greater_than": "less_than", "greater_than_or_equal": "less_than_or_equal",
            "equals": "equals"}
    if isinstance(b, InputRef) and isinstance(a, Literal):
        a, b = b, a
        name = flip.get(name, name)
    if not (isinstance(a, InputRef) and isinstance(b, Literal) and isinstance(b.value, int)):
        return None
    if not _rank_column_of(chain, rank, a.index):
        return None
    v = b.value
    if name == "less_than_or_equal":
        return ("max", v)
    if name == "less_than":
        return ("max", v - 1)
    if name == "equals":
        if v != 1:
            raise ValidationError("a ROW_NUMBER filter rn = N is supported for N = 1 only")
        return ("max", 1)
    if name == "greater_than_or_equal":
        return ("min", v - 1)
    if name == "greater_than":
        return ("min", v)
    return None


def window_properties(node: RelNode) -> Dict[int, str]:
    """Columns of ``node`` that are window_start / window_end / window_time of a window
    aggregation under it (through projections)."""
    from .plan import WindowAggregate
    chain: List[Calc] = []
    n = node
    while isinstance(n, Calc):
        chain.append(n)
        n = n.input
    if not isinstance(n, WindowAggregate):
        return {}
    base = len(n.types) - len(n.props)
    cols = {base + i: p for i, p in enumerate(n.props)}
    for calc in reversed(chain):
        cols = {i: cols[p.index] for i, p in enumerate(calc.projects)
                if isinstance(p, InputRef) and p.index in cols}
    return cols


def note_rank_use(node: RelNode) -> None:
    """Whether the query reads the rank column: if not, the Rank emits only rows entering
    and leaving the top N (+I/-D), as Flink does (and a deduplication is one)."""
    n = node
    while isinstance(n, Calc):
        n = n.input
        if isinstance(n, Rank) and n.limit is not None:
            n.with_rank = (len(n.types) - 1) in _needed_columns(node, n)
            return


def _needed_columns(top: RelNode, rank: Rank) -> set:
    from .rex import input_refs
    needed = set(range(len(top.types)))
    n = top
    while n is not rank:
        assert isinstance(n, Calc)
        used = set()
        for i in needed:
            used |= input_refs(n.projects[i])
        if n.condition is not None:
            used |= input_refs(n.condition)
        needed = used
        n = n.input
    return needed
