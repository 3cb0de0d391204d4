"""``Table``: a lazy relational query over a TableEnvironment's tables, built with the Table
API (``select``, ``where``, ``group_by``, ``window``, ``join``...) or SQL; ``execute()``
plans it onto the DataStream runtime and runs it.

>>> from nbstream.table import TableEnvironment, EnvironmentSettings, col
>>> t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode())
>>> t = t_env.from_elements([(1, "a"), (2, "b"), (3, "a")], ["n", "k"])
>>> t.group_by(col("k")).select(col("k"), col("n").sum.alias("total")).execute().print()
+--------------------------------+----------------------+
|                              k |                total |
+--------------------------------+----------------------+
|                              a |                    4 |
|                              b |                    2 |
+--------------------------------+----------------------+
2 rows in set
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

from . import builder as B
from .expressions import Expression, col, expressions_of
from .plan import (Calc, RelNode, Sort, Union, WindowSpec, explain)
from .result import TableResult, TableSchema
from .rex import InputRef, Literal
from .types import DataType, ValidationError
from .window import GroupWindow, OverWindow

if TYPE_CHECKING:  # pragma: no cover
    from .environment import TableEnvironment

__all__ = ["Table", "GroupedTable", "GroupWindowedTable", "WindowGroupedTable",
           "OverWindowedTable", "AggregatedTable", "FlatAggregateTable"]

_unnamed = itertools.count()


class Table:
    """A query over tables (see the module text). Operations return new Tables."""

    def __init__(self, tenv: "TableEnvironment", node: RelNode) -> None:
        self._tenv = tenv
        self._node = node
        self._registered: Optional[str] = None

    # -- helpers -------------------------------------------------------------------------------
    def _ctx(self) -> B.Context:
        return self._tenv._context()

    def _new(self, node: RelNode) -> "Table":
        return Table(self._tenv, node)

    def _refs(self) -> List[Expression]:
        return [col(n) for n in self._node.names]

    def __str__(self) -> str:
        """A generated name under which the table is registered (``"SELECT * FROM %s" % t``)."""
        if self._registered is None:
            name = f"UnnamedTable${next(_unnamed)}"
            self._tenv._register_node(name, self._node)
            self._registered = name
        return self._registered

    def __repr__(self) -> str:
        return f"<Table {self._node.names}>"

    def __getattr__(self, name: str) -> Expression:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._node.names:
            return col(name)
        raise AttributeError(f"The table has no column named '{name}'; columns: "
                             f"{', '.join(self._node.names)}")

    # -- relational operations ------------------------------------------------------------------
    def select(self, *fields: Any) -> "Table":
        """Project (an aggregate in ``fields`` makes it a global aggregation)."""
        items = _expand_columns(expressions_of(fields), self._node)
        ctx = self._ctx()
        if any(B._contains_agg(i, ctx.functions) for i in items):
            return self._new(B.aggregate(self._node, [], items, ctx))
        if any(i._op == "over" for i in items):
            raise ValidationError("an OVER aggregate needs over_window(...) first")
        return self._new(B.project(self._node, items, ctx))

    def where(self, predicate: Any) -> "Table":
        return self._new(B.filter_node(self._node, expressions_of([predicate])[0], self._ctx()))

    filter = where

    def alias(self, field: str, *fields: str) -> "Table":
        names = [field, *fields]
        if len(names) != len(self._node.names):
            raise ValidationError(f"Aliasing more fields than we actually have: {len(names)} "
                                  f"names for {len(self._node.names)} columns")
        return self._new(_rename(self._node, names))

    def add_columns(self, *fields: Any) -> "Table":
        items = self._refs() + list(expressions_of(fields))
        return self._new(B.project(self._node, items, self._ctx()))

    def add_or_replace_columns(self, *fields: Any) -> "Table":
        items = self._refs()
        for f in expressions_of(fields):
            name = f._args[1] if f._op == "alias" else None
            if name is not None and name in self._node.names:
                items[self._node.names.index(name)] = f
            else:
                items.append(f)
        return self._new(B.project(self._node, items, self._ctx()))

    def rename_columns(self, *fields: Any) -> "Table":
        names = list(self._node.names)
        for f in expressions_of(fields):
            if f._op != "alias" or f._args[0]._op != "col":
                raise ValidationError(f"rename_columns takes col('old').alias('new'), not {f}")
            old, new = f._args[0]._args[0], f._args[1]
            if old not in names:
                raise ValidationError(f"Column '{old}' not found; columns: {', '.join(names)}")
            names[names.index(old)] = new
        return self._new(_rename(self._node, names))

    def drop_columns(self, *fields: Any) -> "Table":
        drop = set()
        for f in expressions_of(fields):
            if f._op != "col":
                raise ValidationError(f"drop_columns takes columns, not {f}")
            if f._args[0] not in self._node.names:
                raise ValidationError(f"Column '{f._args[0]}' not found; columns: "
                                      f"{', '.join(self._node.names)}")
            drop.add(f._args[0])
        keep = [col(n) for n in self._node.names if n not in drop]
        return self._new(B.project(self._node, keep, self._ctx()))

    def group_by(self, *fields: Any) -> "GroupedTable":
        return GroupedTable(self, expressions_of(fields))

    def distinct(self) -> "Table":
        keys = self._refs()
        return self._new(B.aggregate(self._node, keys, keys, self._ctx()))

    def window(self, window: GroupWindow) -> "GroupWindowedTable":
        return GroupWindowedTable(self, window)

    def over_window(self, *over_windows: OverWindow) -> "OverWindowedTable":
        return OverWindowedTable(self, over_windows)

    # joins --------------------------------------------------------------------------------------
    def _join(self, right: "Table", kind: str, condition: Any) -> "Table":
        from .joins import join_tables
        cond = expressions_of([condition])[0] if condition is not None else None
        return self._new(join_tables(self._node, right._node, kind, cond, self._ctx()))

    def join(self, right: "Table", join_predicate: Any = None) -> "Table":
        return self._join(right, "INNER", join_predicate)

    def left_outer_join(self, right: "Table", join_predicate: Any = None) -> "Table":
        return self._join(right, "LEFT", join_predicate)

    def right_outer_join(self, right: "Table", join_predicate: Any) -> "Table":
        return self._join(right, "RIGHT", join_predicate)

    def full_outer_join(self, right: "Table", join_predicate: Any) -> "Table":
        return self._join(right, "FULL", join_predicate)

    # set operations -------------------------------------------------------------------------------
    def union_all(self, right: "Table") -> "Table":
        return self._new(union_nodes([self._node, right._node]))

    def union(self, right: "Table") -> "Table":
        return self.union_all(right).distinct()

    def _set_op(self, right: "Table", kind: str, all_: bool) -> "Table":
        from .joins import set_operation
        return self._new(set_operation(self._node, right._node, kind, all_, self._ctx()))

    def intersect(self, right: "Table") -> "Table":
        return self._set_op(right, "INTERSECT", False)

    def intersect_all(self, right: "Table") -> "Table":
        return self._set_op(right, "INTERSECT", True)

    def minus(self, right: "Table") -> "Table":
        return self._set_op(right, "EXCEPT", False)

    def minus_all(self, right: "Table") -> "Table":
        return self._set_op(right, "EXCEPT", True)

    # ordering ---------------------------------------------------------------------------------------
    def order_by(self, *fields: Any) -> "Table":
        order = sort_keys(self._node, expressions_of(fields), self._ctx())
        return self._new(Sort(self._node, order, 0, None, list(self._node.names),
                              list(self._node.types)))

    def offset(self, offset: int) -> "Table":
        node = self._node
        if isinstance(node, Sort):
            return self._new(replace_sort(node, offset=offset))
        return self._new(Sort(node, [], offset, None, list(node.names), list(node.types)))

    def fetch(self, fetch: int) -> "Table":
        node = self._node
        if isinstance(node, Sort):
            return self._new(replace_sort(node, fetch=fetch))
        return self._new(Sort(node, [], 0, fetch, list(node.names), list(node.types)))

    def limit(self, fetch: int, offset: int = 0) -> "Table":
        node = self._node
        if isinstance(node, Sort):
            return self._new(replace_sort(node, fetch=fetch, offset=offset))
        return self._new(Sort(node, [], offset, fetch, list(node.names), list(node.types)))

    # row-based operations (the UDF issue builds them) ---------------------------------------------
    def map(self, func: Any) -> "Table":
        from .udf_ops import map_table
        return self._new(map_table(self._node, func, self._ctx()))

    def flat_map(self, func: Any) -> "Table":
        from .udf_ops import flat_map_table
        return self._new(flat_map_table(self._node, func, self._ctx()))

    def join_lateral(self, table_function_call: Any, join_predicate: Any = None) -> "Table":
        from .udf_ops import lateral
        return self._new(lateral(self._node, table_function_call, False, join_predicate,
                                 self._ctx()))

    def left_outer_join_lateral(self, table_function_call: Any,
                                join_predicate: Any = None) -> "Table":
        from .udf_ops import lateral
        return self._new(lateral(self._node, table_function_call, True, join_predicate,
                                 self._ctx()))

    def aggregate(self, func: Any) -> "AggregatedTable":
        return AggregatedTable(self, (), func)

    def flat_aggregate(self, func: Any) -> "FlatAggregateTable":
        return FlatAggregateTable(self, (), func)

    # execution ------------------------------------------------------------------------------------------
    def execute(self) -> TableResult:
        """Run the query; the result's ``collect()`` / ``print()`` read its rows."""
        return self._tenv._execute_query(self._node)

    def execute_insert(self, table_path_or_descriptor: Any, overwrite: bool = False) -> TableResult:
        """Write the rows into a table (a sink); ``.wait()`` on the result waits for the job."""
        return self._tenv._execute_inserts([(table_path_or_descriptor, self._node)])

    def insert_into(self, table_path: str) -> Any:
        from .environment import TablePipeline
        return TablePipeline(self._tenv, table_path, self._node)

    def explain(self, *extra_details: Any) -> str:
        return self._tenv._explain(self._node)

    def to_pandas(self) -> Any:
        """Run the query and return its final rows as a pandas DataFrame (a changelog
        applied), with PyFlink's dtypes."""
        frame = self._tenv._columnar_frame(self._node)
        if frame is not None:  # computed on Arrow batches, no Python object per row
            return frame
        return self.execute().to_pandas()

    def get_schema(self) -> TableSchema:
        return TableSchema(self._node.names, self._node.types)

    def get_resolved_schema(self) -> TableSchema:
        return self.get_schema()

    def print_schema(self) -> None:
        print(schema_text(self._node.names, self._node.types))


def schema_text(names: Sequence[str], types: Sequence[DataType]) -> str:
    """Flink's ``printSchema``: ``(`` then `` `name` TYPE`` lines, then ``)``."""
    lines = [f"  `{n}` {t.summary_string()}" for n, t in zip(names, types)]
    return "(\n" + ",\n".join(lines) + "\n)"


def _rename(node: RelNode, names: List[str]) -> Calc:
    projects = [InputRef(i, t, n) for i, (n, t) in enumerate(zip(node.names, node.types))]
    return Calc(node, projects, None, names)


def _expand_columns(items: Sequence[Expression], node: RelNode) -> List[Expression]:
    """``with_columns`` / ``without_columns`` / ``range_`` as the columns they select."""
    out: List[Expression] = []
    names = list(node.names)

    def pick(spec: Any) -> List[str]:
        if isinstance(spec, Expression) and spec._op == "range":
            a, b = spec._args
            ia = a - 1 if isinstance(a, int) else names.index(a)
            ib = b - 1 if isinstance(b, int) else names.index(b)
            return names[ia:ib + 1]
        if isinstance(spec, Expression) and spec._op == "col":
            return [spec._args[0]]
        if isinstance(spec, Expression) and spec._op == "star":
            return names
        if isinstance(spec, int):
            return [names[spec - 1]]
        if isinstance(spec, str):
            return [spec]
        if isinstance(spec, Expression) and spec._op == "lit":
            return pick(spec._args[0])
        raise ValidationError(f"cannot select columns by {spec}")

    for item in items:
        if item._op == "with_columns":
            for spec in item._args:
                out.extend(col(n) for n in pick(spec))
        elif item._op == "without_columns":
            drop = {n for spec in item._args for n in pick(spec)}
            out.extend(col(n) for n in names if n not in drop)
        else:
            out.append(item)
    return out


def union_nodes(parts: Sequence[RelNode]) -> RelNode:
    from .functions.cast import implicit_cast
    from .types import common_type
    first = parts[0]
    for p in parts[1:]:
        if len(p.types) != len(first.types):
            raise ValidationError(f"Union requires the same number of columns: "
                                  f"{len(first.types)} and {len(p.types)}")
    types = []
    for i in range(len(first.types)):
        t = common_type([p.types[i] for p in parts])
        if t is None:
            raise ValidationError(f"Union: column {i + 1} has no common type: "
                                  + ", ".join(p.types[i].summary_string() for p in parts))
        types.append(t)
    cast_parts = []
    for p in parts:
        if [t.copy(True) for t in p.types] != [t.copy(True) for t in types] or any(
                getattr(t, "kind", "") for t in p.types):
            projects = [implicit_cast(InputRef(i, t, n), types[i].copy(t.nullable))
                        if t.copy(True) != types[i].copy(True) else InputRef(i, t, n)
                        for i, (n, t) in enumerate(zip(p.names, p.types))]
            p = Calc(p, projects, None, list(p.names))
        cast_parts.append(p)
    return Union(tuple(cast_parts), list(first.names), types)


def sort_keys(node: RelNode, items: Sequence[Expression], ctx: B.Context
              ) -> List[Tuple[int, bool, bool]]:
    """ORDER BY items as (column, ascending, nulls first) over ``node``'s columns (ASC puts
    NULLs last, DESC first, as Calcite)."""
    out = []
    scope = B.Scope.of(node)
    for item in items:
        asc, nulls_first = True, None
        e = item
        while e._op in ("asc", "desc", "nulls_first", "nulls_last"):
            if e._op == "desc":
                asc = False
            elif e._op == "nulls_first":
                nulls_first = True
            elif e._op == "nulls_last":
                nulls_first = False
            e = e._args[0]
        rex = B.Resolver(scope, ctx).resolve(e)
        if not isinstance(rex, InputRef):
            raise ValidationError(f"ORDER BY takes columns of the table, not '{e}'")
        out.append((rex.index, asc, (not asc) if nulls_first is None else nulls_first))
    return out


def replace_sort(node: Sort, **changes: Any) -> Sort:
    return Sort(node.input, changes.get("order", node.order), changes.get("offset", node.offset),
                changes.get("fetch", node.fetch), list(node.names), list(node.types))


class GroupedTable:
    """A table grouped by keys: ``select(...)`` with aggregates."""

    def __init__(self, table: Table, keys: Tuple[Expression, ...],
                 window: Optional[Tuple[str, Any]] = None) -> None:
        self._table, self._keys, self._window = table, keys, window

    def select(self, *fields: Any) -> Table:
        t = self._table
        items = _expand_columns(expressions_of(fields), t._node)
        return t._new(B.aggregate(t._node, list(self._keys), items, t._ctx(),
                                  window=self._window))

    def aggregate(self, func: Any) -> "AggregatedTable":
        return AggregatedTable(self._table, self._keys, func, self._window)

    def flat_aggregate(self, func: Any) -> "FlatAggregateTable":
        return FlatAggregateTable(self._table, self._keys, func)


class GroupWindowedTable:
    """A table with a group window: ``group_by(..., col('w'))`` next."""

    def __init__(self, table: Table, window: GroupWindow) -> None:
        self._table, self._window = table, window

    def group_by(self, *fields: Any) -> "WindowGroupedTable":
        keys = expressions_of(fields)
        alias = self._window.alias_name
        if alias is None:
            raise ValidationError("a group window needs an alias: .alias('w')")
        if not any(k._op == "col" and k._args[0] == alias for k in keys):
            raise ValidationError(f"group_by of a windowed table must name the window "
                                  f"'{alias}'")
        spec = window_spec(self._table._node, self._window, self._table._ctx())
        return WindowGroupedTable(self._table, keys, (alias, spec))


class WindowGroupedTable(GroupedTable):
    pass


def window_spec(node: RelNode, w: GroupWindow, ctx: B.Context) -> WindowSpec:
    """A Table API group window as a WindowSpec over ``node``'s columns."""
    if w.time_field is None:
        raise ValidationError("a group window needs .on(col('time attribute'))")
    rex = B.Resolver(B.Scope.of(node), ctx).resolve(w.time_field)
    if not isinstance(rex, InputRef):
        raise ValidationError(f"a window is on a column, not {w.time_field}")
    t = node.types[rex.index]
    if getattr(t, "kind", "") not in ("ROWTIME", "PROCTIME"):
        raise ValidationError(
            f"A group window expects a time attribute for grouping in a stream environment: "
            f"'{node.names[rex.index]}' is {t.summary_string()}; declare a watermark on it")

    def ms(e: Any, what: str) -> int:
        lit = B.Resolver(B.Scope.of(node), ctx).resolve(e)
        if not isinstance(lit, Literal) or not lit.type.is_interval:
            if e is not None and getattr(e, "_op", "") == "row_interval":
                raise ValidationError("row-count windows (row_interval) are not supported yet")
            raise ValidationError(f"the window {what} must be a time interval such as "
                                  f"lit(5).seconds, not {e}")
        return int(lit.value)

    proctime = getattr(t, "kind", "") == "PROCTIME"
    if w.kind == "TUMBLE":
        return WindowSpec("TUMBLE", rex.index, size=ms(w.size, "size"), proctime=proctime)
    if w.kind == "HOP":
        if w.slide is None:
            raise ValidationError("a sliding window needs .every(...)")
        return WindowSpec("HOP", rex.index, size=ms(w.size, "size"),
                          slide=ms(w.slide, "slide"), proctime=proctime)
    return WindowSpec("SESSION", rex.index, gap=ms(w.gap, "gap"), proctime=proctime)


class OverWindowedTable:
    """A table with over windows: ``select(col('v').sum.over(col('w')))``."""

    def __init__(self, table: Table, windows: Sequence[OverWindow]) -> None:
        self._table, self._windows = table, list(windows)

    def select(self, *fields: Any) -> Table:
        from .over import over_select
        t = self._table
        return t._new(over_select(t._node, self._windows, list(expressions_of(fields)),
                                  t._ctx()))


class AggregatedTable:
    def __init__(self, table: Table, keys: Tuple[Expression, ...], func: Any,
                 window: Optional[Tuple[str, Any]] = None) -> None:
        self._table, self._keys, self._func, self._window = table, keys, func, window

    def select(self, *fields: Any) -> Table:
        from .udf_ops import aggregate_select
        t = self._table
        return t._new(aggregate_select(t._node, list(self._keys), self._func,
                                       list(expressions_of(fields)), t._ctx(), self._window))


class FlatAggregateTable(AggregatedTable):
    def select(self, *fields: Any) -> Table:
        from .udf_ops import flat_aggregate_select
        t = self._table
        return t._new(flat_aggregate_select(t._node, list(self._keys), self._func,
                                            list(expressions_of(fields)), t._ctx()))


def plan_text(node: RelNode) -> str:
    return explain(node)


