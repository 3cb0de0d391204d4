"""SQL queries (sqlglot trees in nbstream's Flink dialect) onto the relational plan, through
the same builder as the Table API: FROM (tables, views, DataFrames in scope, subqueries,
VALUES, window TVFs, joins), WHERE, GROUP BY / HAVING with aggregates (DISTINCT, FILTER),
OVER windows, ROW_NUMBER Top-N and deduplication, DISTINCT, UNION, ORDER BY / LIMIT, CTEs.
"""

from __future__ import annotations

import decimal
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from .. import builder as B
from ..expressions import Expression, col, lit
from ..over import absorb_rank, note_rank_use
from ..plan import Calc, RelNode, Sort, Values, WindowSpec
from ..rex import InputRef
from ..types import (DataType, DataTypes, IntervalType, ValidationError, common_type,
                     parse_type)
from .dialect import _sqlglot, dialect

if TYPE_CHECKING:  # pragma: no cover
    from ..environment import TableEnvironment

__all__ = ["Converter", "to_expression", "sql_type"]

_UNIT_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000,
            "DAY": 86_400_000, "WEEK": 7 * 86_400_000}
_UNIT_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}

_BINARY = {"Add": "plus", "Sub": "minus", "Mul": "times", "Div": "divide", "Mod": "mod",
           "EQ": "equals", "NEQ": "not_equals", "LT": "less_than", "LTE": "less_than_or_equal",
           "GT": "greater_than", "GTE": "greater_than_or_equal", "And": "and", "Or": "or",
           "DPipe": "concat", "NullSafeEQ": "is_not_distinct_from",
           "NullSafeNEQ": "is_distinct_from", "IntDiv": "divide"}
_RANKING = ("row_number", "rank", "dense_rank")


# -- types -----------------------------------------------------------------------------------------
def sql_type(dt: Any) -> DataType:
    """Our DataType of a sqlglot DataType node."""
    exp = _sqlglot()[0]
    T = exp.DataType.Type
    kind = dt.this
    params = [p for p in dt.expressions]

    def ints() -> List[int]:
        out = []
        for p in params:
            v = p.this if hasattr(p, "this") else p
            v = getattr(v, "this", v)
            try:
                out.append(int(str(v)))
            except ValueError:
                pass
        return out

    simple = {T.BOOLEAN: DataTypes.BOOLEAN, T.TINYINT: DataTypes.TINYINT,
              T.SMALLINT: DataTypes.SMALLINT, T.INT: DataTypes.INT, T.BIGINT: DataTypes.BIGINT,
              T.FLOAT: DataTypes.FLOAT, T.DOUBLE: DataTypes.DOUBLE, T.DATE: DataTypes.DATE,
              T.TEXT: DataTypes.STRING, T.NULL: DataTypes.NULL}
    if kind in simple:
        return simple[kind]()
    if kind == T.VARCHAR:
        n = ints()
        return DataTypes.VARCHAR(n[0]) if n else DataTypes.STRING()
    if kind == T.CHAR:
        n = ints()
        return DataTypes.CHAR(n[0] if n else 1)
    if kind in (T.BINARY, T.VARBINARY):
        n = ints()
        if kind == T.BINARY:
            return DataTypes.BINARY(n[0] if n else 1)
        return DataTypes.VARBINARY(n[0]) if n else DataTypes.BYTES()
    if kind in (T.DECIMAL, T.BIGDECIMAL):
        n = ints()
        return DataTypes.DECIMAL(n[0] if n else 10, n[1] if len(n) > 1 else 0)
    if kind in (T.TIMESTAMP, T.DATETIME, T.TIMESTAMPNTZ):
        n = ints()
        return DataTypes.TIMESTAMP(n[0] if n else 6)
    if kind in (T.TIMESTAMPLTZ, T.TIMESTAMPTZ):
        n = ints()
        return DataTypes.TIMESTAMP_LTZ(n[0] if n else 6)
    if kind == T.TIME:
        n = ints()
        return DataTypes.TIME(n[0] if n else 0)
    if kind == T.ARRAY:
        return DataTypes.ARRAY(sql_type(params[0]))
    if kind == T.MAP:
        return DataTypes.MAP(sql_type(params[0]), sql_type(params[1]))
    if kind == T.STRUCT:
        fields = []
        for p in params:
            fields.append(DataTypes.FIELD(p.this.name if hasattr(p.this, "name") else str(p.this),
                                          sql_type(p.args["kind"])))
        return DataTypes.ROW(fields)
    text = dt.sql()
    return parse_type(text)


# -- expressions ---------------------------------------------------------------------------------
def _name(node: Any) -> str:
    return node.name if hasattr(node, "name") else str(node)


def _interval(node: Any) -> Expression:
    exp = _sqlglot()[0]
    value = node.this
    text = value.this if isinstance(value, exp.Literal) else value.sql()
    unit_node = node.args.get("unit")
    unit = unit_node.sql().upper() if unit_node is not None else ""
    if isinstance(unit_node, exp.IntervalSpan):
        upper = unit_node.this.sql().upper()
        lower = unit_node.expression.sql().upper()
        return _interval_span(str(text), upper, lower)
    parts = unit.replace("(", " ").split()
    unit = parts[0] if parts else "SECOND"
    if unit.endswith("S") and unit[:-1] in _UNIT_MS or unit[:-1] in _UNIT_MONTHS:
        unit = unit[:-1]
    text = str(text).strip()
    if unit in _UNIT_MONTHS:
        months = int(decimal.Decimal(text)) * _UNIT_MONTHS[unit]
        return Expression("typed_interval", months, IntervalType("MONTH" if unit != "YEAR"
                                                                  else "YEAR", nullable=False))
    if unit not in _UNIT_MS:
        raise ValidationError(f"unknown interval unit {unit} in {node.sql()}")
    ms = int(decimal.Decimal(text) * _UNIT_MS[unit])
    return Expression("typed_interval", ms, IntervalType("DAY" if unit == "WEEK" else unit,
                                                         nullable=False))


def _interval_span(text: str, upper: str, lower: str) -> Expression:
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-")
    if upper == "YEAR":
        y, _, m = text.partition("-")
        return Expression("typed_interval", sign * (int(y) * 12 + int(m or 0)),
                          IntervalType("YEAR", "MONTH", nullable=False))
    units = ["DAY", "HOUR", "MINUTE", "SECOND"]
    used = units[units.index(upper):units.index(lower) + 1]
    day_part, _, rest = text.partition(" ") if upper == "DAY" else ("", "", text)
    fields = ([day_part] if upper == "DAY" else []) + (rest.split(":") if rest else [])
    ms = 0
    for u, f in zip(used, fields):
        ms += int(decimal.Decimal(f) * _UNIT_MS[u])
    return Expression("typed_interval", sign * ms, IntervalType(upper, lower, nullable=False))


def to_expression(node: Any) -> Expression:
    """An unresolved Expression of a sqlglot expression."""
    e = _convert(node)
    if e._text is None:
        try:
            e._text = node.sql(dialect=dialect())
        except Exception:
            e._text = None
    return e


def _call(name: str, *args: Expression) -> Expression:
    return Expression("call", name, *args)


def _convert(node: Any) -> Expression:  # noqa: C901  (one branch per kind of node)
    exp = _sqlglot()[0]
    d = dialect()
    kind = type(node).__name__
    if kind in _BINARY:
        return _call(_BINARY[kind], to_expression(node.this), to_expression(node.expression))
    if isinstance(node, exp.Column):
        if isinstance(node.this, exp.Star):
            return Expression("star", node.table) if node.table else Expression("star")
        if node.table:
            return Expression("col", node.name, node.table)
        return Expression("col", node.name)
    if isinstance(node, exp.Star):
        return Expression("star")
    if isinstance(node, exp.Literal):
        if node.is_string:
            return Expression("lit", node.this, None)
        text = node.this
        if "e" in text.lower():
            return lit(float(text))
        if "." in text:
            return Expression("decimal", text)
        return lit(int(text))
    if isinstance(node, exp.Boolean):
        return lit(bool(node.this))
    if isinstance(node, exp.Null):
        return lit(None)
    if isinstance(node, exp.Alias):
        return Expression("alias", to_expression(node.this), node.alias)
    if isinstance(node, exp.Paren):
        return to_expression(node.this)
    if isinstance(node, exp.Neg):
        return _call("negative", to_expression(node.this))
    if isinstance(node, exp.Not):
        inner = node.this
        if isinstance(inner, exp.Is):
            return _is(inner, negate=True)
        return _call("not", to_expression(inner))
    if isinstance(node, exp.Is):
        return _is(node, negate=False)
    if isinstance(node, exp.Between):
        x = to_expression(node.this)
        return _call("and", _call("greater_than_or_equal", x, to_expression(node.args["low"])),
                     _call("less_than_or_equal", x, to_expression(node.args["high"])))
    if isinstance(node, exp.In):
        if node.args.get("query") is not None:
            return Expression("in_query", to_expression(node.this), node.args["query"])
        return _call("in", to_expression(node.this), *[to_expression(v) for v in node.expressions])
    if isinstance(node, exp.Like):
        args = [to_expression(node.this), to_expression(node.expression)]
        escape = node.args.get("escape")
        if escape is not None:
            args.append(to_expression(escape))
        like = _call("like", *args)
        return _call("not", like) if node.args.get("negate") else like
    if isinstance(node, exp.Escape):
        like = to_expression(node.this)
        like._args = like._args + (to_expression(node.expression),)
        return like
    if isinstance(node, exp.Case):
        parts: List[Expression] = []
        subject = node.this
        for branch in node.args.get("ifs") or []:
            cond = to_expression(branch.this)
            if subject is not None:
                cond = _call("equals", to_expression(subject), cond)
            parts += [cond, to_expression(branch.args["true"])]
        default = node.args.get("default")
        parts.append(to_expression(default) if default is not None else lit(None))
        return _call("case", *parts)
    if isinstance(node, exp.If):
        false = node.args.get("false")
        return _call("case", to_expression(node.this), to_expression(node.args["true"]),
                     to_expression(false) if false is not None else lit(None))
    if isinstance(node, (exp.Cast, exp.TryCast)):
        target = sql_type(node.args["to"])
        inner = node.this
        try_ = isinstance(node, exp.TryCast)
        if isinstance(inner, exp.Literal) and inner.is_string and not node.args["to"].expressions \
                and target.root in ("TIMESTAMP", "TIME") and not try_:
            # TIMESTAMP '2024-01-01 10:00:00': the literal's precision is its digits
            frac = inner.this.rpartition(".")[2] if "." in inner.this else ""
            precision = len(frac) if frac.isdigit() else 0
            target = DataTypes.TIMESTAMP(precision) if target.root == "TIMESTAMP" else \
                DataTypes.TIME(precision)
        return Expression("cast", to_expression(inner), target, try_)
    if isinstance(node, exp.Interval):
        return _interval(node)
    if isinstance(node, exp.Filter):
        return Expression("agg_filter", to_expression(node.this), to_expression(node.expression.this))
    if isinstance(node, exp.Distinct):
        args = [to_expression(a) for a in node.expressions]
        return Expression("distinct_args", *args)
    if isinstance(node, exp.Window):
        return Expression("sql_over", node)
    if isinstance(node, exp.Extract):
        return _call("extract", lit(node.this.name.upper()), to_expression(node.expression))
    if isinstance(node, (exp.Floor, exp.Ceil)):
        name = "floor" if isinstance(node, exp.Floor) else "ceil"
        to = node.args.get("to")
        if to is not None:
            return _call(name, to_expression(node.this), lit(to.name.upper()))
        return _call(name, to_expression(node.this))
    if isinstance(node, exp.Trim):
        position = (node.args.get("position") or "BOTH").upper()
        name = {"BOTH": "trim", "LEADING": "ltrim", "TRAILING": "rtrim"}[position]
        chars = node.args.get("expression")
        args = [to_expression(node.this)] + ([to_expression(chars)] if chars is not None else [])
        return _call(name, *args)
    if isinstance(node, exp.Substring):
        args = [to_expression(node.this), to_expression(node.args["start"])]
        if node.args.get("length") is not None:
            args.append(to_expression(node.args["length"]))
        return _call("substring", *args)
    if isinstance(node, exp.StrPosition):
        args = [to_expression(node.args["substr"]), to_expression(node.this)]
        if node.args.get("position") is not None:
            args.append(to_expression(node.args["position"]))
        return _call("position", *args)
    if isinstance(node, d.JsonValue):
        returning = node.args.get("returning")
        return Expression("json_value", to_expression(node.this), node.args["path"].this,
                          sql_type(returning) if returning is not None else None)
    if isinstance(node, exp.Bracket) and isinstance(node.this, exp.Column) and \
            node.this.name.upper() == "MAP" and not node.this.table:
        return _call("map", *[to_expression(v) for v in node.expressions])
    if isinstance(node, exp.Bracket):
        base = to_expression(node.this)
        out = base
        for index in node.expressions:
            out = _call("item", out, to_expression(index))
        return out
    if isinstance(node, exp.Array):
        return _call("array", *[to_expression(v) for v in node.expressions])
    if isinstance(node, exp.Dot):
        return Expression("get", to_expression(node.this), node.expression.name)
    if isinstance(node, exp.CurrentTimestamp):
        return _call("current_timestamp")
    if isinstance(node, exp.CurrentDate):
        return _call("current_date")
    if isinstance(node, exp.CurrentTime):
        return _call("current_time")
    if isinstance(node, exp.Anonymous):
        return _function(node.name, node.expressions)
    if isinstance(node, exp.Subquery) or isinstance(node, exp.Exists):
        raise ValidationError(f"subqueries in expressions are not supported yet: {node.sql()}")
    if isinstance(node, exp.Func):  # a function sqlglot knows by another name
        name = node.sql_name() if hasattr(node, "sql_name") else kind
        args = [v for k, v in node.args.items() if v is not None and not isinstance(v, bool)]
        flat: List[Any] = []
        for a in args:
            flat.extend(a if isinstance(a, list) else [a])
        return _function(str(name), flat)
    if isinstance(node, exp.Var):
        return Expression("lit", node.name, None)
    raise ValidationError(f"the SQL expression {node.sql()} ({kind}) is not supported")


def _is(node: Any, negate: bool) -> Expression:
    exp = _sqlglot()[0]
    target = node.expression
    x = to_expression(node.this)
    if isinstance(target, exp.Null):
        return _call("is_not_null" if negate else "is_null", x)
    if isinstance(target, exp.Boolean):
        if target.this:
            return _call("is_not_true" if negate else "is_true", x)
        return _call("is_not_false" if negate else "is_false", x)
    raise ValidationError(f"IS {target.sql()} is not supported")


_UNIT_ARG = ("timestampdiff", "timestampadd")


def _function(name: str, args: List[Any]) -> Expression:
    exp = _sqlglot()[0]
    lname = name.lower()
    converted: List[Expression] = []
    distinct = False
    for i, a in enumerate(args):
        if isinstance(a, exp.Distinct):
            distinct = True
            converted.extend(to_expression(x) for x in a.expressions)
        elif i == 0 and lname in _UNIT_ARG and isinstance(a, (exp.Column, exp.Var)):
            converted.append(lit(a.name.upper()))
        else:
            converted.append(to_expression(a))
    if lname == "count" and converted and converted[0]._op == "star":
        converted = []
    call = _call(lname, *converted)
    return Expression("distinct", call) if distinct else call


# -- queries ---------------------------------------------------------------------------------------
class Converter:
    """Converts one statement's query trees into plan nodes."""

    def __init__(self, tenv: "TableEnvironment", text: str = "") -> None:
        self.tenv = tenv
        self.ctx = tenv._context()
        self.text = text
        self.ctes: Dict[str, RelNode] = {}

    # entry ---------------------------------------------------------------------------------------
    def query(self, tree: Any) -> RelNode:
        exp = _sqlglot()[0]
        with_ = tree.args.get("with_") or tree.args.get("with")
        saved = dict(self.ctes)
        try:
            if with_ is not None:
                for cte in with_.expressions:
                    node = self.query(cte.this)
                    cols = [c.name for c in (cte.args.get("alias").columns or [])] \
                        if cte.args.get("alias") is not None else []
                    if cols:
                        node = _rename(node, cols)
                    self.ctes[cte.alias] = node
            if isinstance(tree, exp.Select):
                return self.select(tree)
            if isinstance(tree, (exp.Union, exp.Intersect, exp.Except)):
                return self.set_operation(tree)
            if isinstance(tree, exp.Values):
                return self.values(tree, None)
            if isinstance(tree, exp.Subquery):
                return self.query(tree.this)
            raise ValidationError(f"not a query: {tree.sql()[:80]}")
        finally:
            self.ctes = saved

    def set_operation(self, tree: Any) -> RelNode:
        exp = _sqlglot()[0]
        left = self.query(tree.this)
        right = self.query(tree.expression)
        distinct = tree.args.get("distinct", True)
        if isinstance(tree, exp.Union):
            from ..table import union_nodes
            node = union_nodes([left, right])
            if distinct:
                keys = [col(n) for n in node.names]
                node = B.aggregate(node, keys, keys, self.ctx, style="sql")
        else:
            from ..joins import set_operation
            kind = "INTERSECT" if isinstance(tree, exp.Intersect) else "EXCEPT"
            node = set_operation(left, right, kind, not distinct, self.ctx)
        return self._order_limit(node, tree, B.Scope.of(node))

    # SELECT --------------------------------------------------------------------------------------
    def select(self, tree: Any) -> RelNode:
        from_ = tree.args.get("from_") or tree.args.get("from")
        if from_ is None:
            node: RelNode = Values([()], [], [])
            scope = B.Scope([], [])
        else:
            node, scope = self.from_item(from_.this)
        joins = list(tree.args.get("joins") or [])
        where = tree.args.get("where")
        if len(joins) == 1 and where is not None and _is_comma_join(joins[0]):
            # FROM a, b WHERE ...: the WHERE is the join's condition (Flink's planner pushes it)
            joins[0] = joins[0].copy()
            joins[0].set("on", where.this)
            where = None
        for join in joins:
            node, scope = self.join(node, scope, join)
        if where is not None:
            node = absorb_rank(B.filter_node(node, to_expression(where.this), self.ctx, scope))
        items = [to_expression(e) for e in tree.expressions]
        named_windows = {w.alias: w for w in (tree.args.get("windows") or [])}
        group = tree.args.get("group")
        having = tree.args.get("having")
        having_expr = to_expression(having.this) if having is not None else None
        if any(_has_over(i) for i in items):
            return self._order_limit(self.over(node, scope, items, named_windows, tree), tree,
                                     None)
        if group is not None or having_expr is not None or any(
                B._contains_agg(i, self.ctx.functions) for i in items):
            keys = [to_expression(g) for g in (group.expressions if group is not None else [])]
            keys = [self._group_key(k, items) for k in keys]
            node = B.aggregate(node, keys, items, self.ctx, style="sql", having=having_expr,
                               scope=scope, text=self.text)
        else:
            node = B.project(node, items, self.ctx, style="sql", scope=scope, text=self.text)
        if tree.args.get("distinct") is not None:
            keys = [col(n) for n in node.names]
            node = B.aggregate(node, keys, keys, self.ctx, style="sql")
        note_rank_use(node)
        return self._order_limit(node, tree, None)

    def _group_key(self, key: Expression, items: List[Expression]) -> Expression:
        """GROUP BY 1 (a position) or a select alias as the select item it names."""
        if key._op == "lit" and isinstance(key._args[0], int):
            i = key._args[0] - 1
            if not 0 <= i < len(items):
                raise ValidationError(f"Ordinal out of range: GROUP BY {i + 1}")
            item = items[i]
            return item._args[0] if item._op == "alias" else item
        return key

    def _order_limit(self, node: RelNode, tree: Any, scope: Optional[B.Scope]) -> RelNode:
        order = tree.args.get("order")
        limit = tree.args.get("limit")
        offset = tree.args.get("offset")
        if order is None and limit is None and offset is None:
            return node
        keys = []
        if order is not None:
            from ..table import sort_keys
            exprs = []
            for o in order.expressions:
                e = to_expression(o.this)
                if e._op == "lit" and isinstance(e._args[0], int):
                    e = col(node.names[e._args[0] - 1])
                if o.args.get("desc"):
                    e = Expression("desc", e)
                nf = o.args.get("nulls_first")
                if nf is not None and (nf != bool(o.args.get("desc"))):
                    e = Expression("nulls_first" if nf else "nulls_last", e)
                exprs.append(e)
            keys = sort_keys(node, exprs, self.ctx)
        fetch = _int_of(limit.expression) if limit is not None else None
        skip = _int_of(offset.expression) if offset is not None else 0
        return Sort(node, keys, skip, fetch, list(node.names), list(node.types))

    # FROM ------------------------------------------------------------------------------------------
    def from_item(self, item: Any) -> Tuple[RelNode, B.Scope]:
        exp = _sqlglot()[0]
        d = dialect()
        alias_node = item.args.get("alias")
        alias = alias_node.name if alias_node is not None and alias_node.name else None
        columns = [c.name for c in alias_node.columns] if alias_node is not None and \
            alias_node.args.get("columns") else []
        if isinstance(item, exp.Table):
            if item.args.get("version") is not None:
                raise ValidationError("FOR SYSTEM_TIME AS OF is only allowed on the right side "
                                      "of a join (a temporal join)")
            name = item.name
            path = ".".join(p.name for p in item.parts) if len(item.parts) > 1 else name
            node = self.ctes.get(name) if len(item.parts) == 1 else None
            if node is None:
                node = self.tenv._scan(path)
            qualifier = alias or name
        elif isinstance(item, exp.Subquery):
            node = self.query(item.this)
            qualifier = alias
        elif isinstance(item, exp.Values):
            node = self.values(item, columns)
            columns = []
            qualifier = alias
        elif isinstance(item, d.TableFunction):
            node = self.table_function(item)
            qualifier = alias
        elif isinstance(item, exp.Lateral):
            raise ValidationError("LATERAL TABLE(...) joins a table: FROM t, LATERAL TABLE(f(x))")
        else:
            raise ValidationError(f"unsupported FROM item: {item.sql()[:80]}")
        if columns:
            node = _rename(node, columns)
        return node, B.Scope.of(node, qualifier)

    def values(self, tree: Any, columns: Optional[List[str]]) -> RelNode:
        rows = []
        for t in tree.expressions:
            cells = t.expressions if hasattr(t, "expressions") and t.expressions else [t]
            rows.append([to_expression(c) for c in cells])
        width = len(rows[0])
        if any(len(r) != width for r in rows):
            raise ValidationError("Values must have the same number of columns in every row")
        resolver = B.Resolver(B.Scope([], []), self.ctx)
        rexes = [[resolver.resolve(c) for c in r] for r in rows]
        from ..rex import Literal
        names = columns or [f"EXPR${i}" for i in range(width)]
        if len(names) != width:
            raise ValidationError(f"the alias names {len(names)} columns, VALUES has {width}")
        types = []
        for i in range(width):
            t = common_type([r[i].type for r in rexes])
            if t is None:
                raise ValidationError(f"VALUES column {i + 1} has no common type")
            types.append(t.copy(any(r[i].type.nullable for r in rexes)))
        from ..functions.cast import implicit_cast
        data = []
        for r in rexes:
            cells = [implicit_cast(x, types[i]) for i, x in enumerate(r)]
            if not all(isinstance(c, Literal) for c in cells):
                raise ValidationError("VALUES with non-constant expressions is not supported "
                                      "yet")
            data.append(tuple(c.value for c in cells))  # type: ignore[attr-defined]
        return Values(data, names, types)

    def table_function(self, item: Any) -> RelNode:
        """A window TVF: TUMBLE / HOP / CUMULATE / SESSION over ``TABLE t``."""
        exp = _sqlglot()[0]
        d = dialect()
        name = item.this.name.upper()
        if name not in ("TUMBLE", "HOP", "CUMULATE", "SESSION"):
            raise ValidationError(f"the table function {name} is not supported (window TVFs: "
                                  "TUMBLE, HOP, CUMULATE, SESSION)")
        positional: List[Any] = []
        named: Dict[str, Any] = {}
        for a in item.expressions:
            if isinstance(a, exp.Kwarg):
                named[a.this.name.upper()] = a.expression
            else:
                positional.append(a)
        order = {"TUMBLE": ["DATA", "TIMECOL", "SIZE", "OFFSET"],
                 "HOP": ["DATA", "TIMECOL", "SLIDE", "SIZE", "OFFSET"],
                 "CUMULATE": ["DATA", "TIMECOL", "STEP", "SIZE", "OFFSET"],
                 "SESSION": ["DATA", "TIMECOL", "GAP"]}[name]
        args = dict(zip(order, positional))
        args.update(named)
        data = args.get("DATA")
        if not isinstance(data, d.TableArg):
            raise ValidationError(f"{name} needs TABLE t as its first argument")
        source = data.this
        if isinstance(source, exp.Table):
            node, scope = self.from_item(source)
        else:
            node, scope = self.from_item(source)
        desc = args.get("TIMECOL")
        if not (isinstance(desc, exp.Anonymous) and desc.name.upper() == "DESCRIPTOR"):
            raise ValidationError(f"{name} needs DESCRIPTOR(time column) as its second argument")
        time_name = desc.expressions[0].name
        time_index = scope.lookup(time_name)
        resolver = B.Resolver(scope, self.ctx)

        def ms(key: str) -> int:
            node_ = args.get(key)
            if node_ is None:
                raise ValidationError(f"{name} needs its {key.lower()} argument")
            r = resolver.resolve(to_expression(node_))
            if not r.type.is_interval:
                raise ValidationError(f"the {key.lower()} of {name} must be an INTERVAL")
            return int(r.value)  # type: ignore[attr-defined]

        offset = ms("OFFSET") if "OFFSET" in args else 0
        partition: Tuple[int, ...] = ()
        if data.args.get("partition_by"):
            partition = tuple(scope.lookup(p.name) for p in data.args["partition_by"])
        if name == "TUMBLE":
            spec = WindowSpec("TUMBLE", time_index, size=ms("SIZE"), offset=offset)
        elif name == "HOP":
            spec = WindowSpec("HOP", time_index, size=ms("SIZE"), slide=ms("SLIDE"), offset=offset)
        elif name == "CUMULATE":
            spec = WindowSpec("CUMULATE", time_index, size=ms("SIZE"), slide=ms("STEP"),
                              offset=offset)
        else:
            spec = WindowSpec("SESSION", time_index, gap=ms("GAP"), partition=partition)
        return B.window_tvf(node, spec)

    # joins -------------------------------------------------------------------------------------------
    def join(self, left: RelNode, left_scope: B.Scope, join: Any) -> Tuple[RelNode, B.Scope]:
        from ..joins import join_sql
        if type(join.this).__name__ == "Lateral":  # [LEFT] JOIN LATERAL TABLE(f(...)): a UDTF
            from ..udf_ops import lateral_sql
            return lateral_sql(self, left, left_scope, join)
        return join_sql(self, left, left_scope, join)

    # OVER -------------------------------------------------------------------------------------------
    def over(self, node: RelNode, scope: B.Scope, items: List[Expression],
             named_windows: Dict[str, Any], tree: Any) -> RelNode:
        from ..over import sql_over
        return sql_over(self, node, scope, items, named_windows, tree)


def _is_comma_join(join: Any) -> bool:
    return not join.args.get("on") and not join.args.get("using") and not join.args.get("side") \
        and not join.args.get("kind")


def _has_over(e: Expression) -> bool:
    if e._op == "sql_over":
        return True
    return any(isinstance(a, Expression) and _has_over(a) for a in e._args)


def _int_of(node: Any) -> int:
    try:
        return int(node.this)
    except (AttributeError, ValueError, TypeError):
        raise ValidationError(f"LIMIT/OFFSET need a number, not {node.sql()}") from None


def _rename(node: RelNode, names: List[str]) -> RelNode:
    if len(names) != len(node.names):
        raise ValidationError(f"List of column aliases must have same degree as table; table "
                              f"has {len(node.names)} columns {node.names}, whereas alias list "
                              f"has {len(names)} columns")
    projects = [InputRef(i, t, n) for i, (n, t) in enumerate(zip(node.names, node.types))]
    return Calc(node, projects, None, list(names))
