"""The relational plan: what the Table API and SQL both build, with every name and type
resolved. A handful of nodes (scan, values, calc, aggregate, window aggregate, over,
join, rank, union, sort/limit, correlate) that the planner (:mod:`.planner`) turns
into the runtime's operators.

Every node knows its output columns (``names``, ``types``) and whether it emits a
changelog with updates (``updating``: ``-U``/``+U``/``-D`` rows) or inserts only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

from .rex import Rex
from .types import DataType

__all__ = ["RelNode", "Scan", "Values", "Calc", "AggCall", "Aggregate", "WindowSpec",
           "WindowAggregate", "WindowTVF", "OverAggregate", "Join", "Rank", "Union", "Sort",
           "Correlate", "WatermarkAssigner", "explain"]

_ids = itertools.count(1)


class RelNode:
    """A node of the relational plan (see the module text)."""

    names: List[str]
    types: List[DataType]
    inputs: Tuple["RelNode", ...] = ()

    def __post_init__(self) -> None:
        self.id = next(_ids)

    @property
    def updating(self) -> bool:
        return any(i.updating for i in self.inputs)

    @property
    def bounded(self) -> bool:
        return all(i.bounded for i in self.inputs)

    @property
    def rowtime(self) -> Optional[int]:
        """The column that is the rowtime attribute, if any."""
        for i, t in enumerate(self.types):
            if getattr(t, "kind", "") == "ROWTIME":
                return i
        return None

    def kind(self) -> str:
        return type(self).__name__

    def terms(self) -> str:
        return ""

    def digest(self) -> str:
        """A stable description of the node and its inputs (for uids)."""
        inner = ", ".join(i.digest() for i in self.inputs)
        return f"{self.kind()}({self.terms()}{'; ' if inner else ''}{inner})"


@dataclass(eq=False)
class Scan(RelNode):
    """The rows of a table: a catalog table's connector, or a stream/DataFrame given to the
    environment. ``source`` is a :class:`~nbstream.table.connectors.TableSource`."""

    source: Any
    names: List[str]
    types: List[DataType]
    table_name: str = ""

    @property
    def updating(self) -> bool:
        return bool(getattr(self.source, "updating", False))

    @property
    def bounded(self) -> bool:
        return bool(getattr(self.source, "bounded", True))

    def terms(self) -> str:
        return f"table=[{self.table_name}], fields=[{', '.join(self.names)}]"


@dataclass(eq=False)
class Values(RelNode):
    rows: List[tuple]
    names: List[str]
    types: List[DataType]

    @property
    def updating(self) -> bool:
        return False

    @property
    def bounded(self) -> bool:
        return True

    def terms(self) -> str:
        return f"tuples=[{len(self.rows)} rows]"


@dataclass(eq=False)
class Calc(RelNode):
    """Projection and filter: ``projects`` computed from each input row kept by
    ``condition``."""

    input: RelNode
    projects: List[Rex]
    condition: Optional[Rex]
    names: List[str]
    types: List[DataType] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)
        if not self.types:
            self.types = [p.type for p in self.projects]

    def kind(self) -> str:
        return "PythonCalc" if calls_python(*self.projects, self.condition) else "Calc"

    def terms(self) -> str:
        select = ", ".join(f"{p.digest()} AS {n}" if p.digest() != n else n
                           for p, n in zip(self.projects, self.names))
        where = f", where=[{self.condition.digest()}]" if self.condition is not None else ""
        return f"select=[{select}]{where}"

    def is_identity(self) -> bool:
        from .rex import InputRef
        return self.condition is None and len(self.projects) == len(self.input.types) and all(
            isinstance(p, InputRef) and p.index == i for i, p in enumerate(self.projects))


@dataclass(frozen=True)
class AggCall:
    """One aggregate of an aggregation: ``fn`` over the input columns ``args``."""

    fn: Any  # AggregateFunctionDef
    args: Tuple[int, ...]
    type: DataType
    name: str
    distinct: bool = False
    filter: Optional[int] = None  # a BOOLEAN input column: only rows where it is TRUE
    text: str = ""

    def digest(self) -> str:
        d = "DISTINCT " if self.distinct else ""
        args = ", ".join(f"${a}" for a in self.args) or "*"
        f = f" FILTER ${self.filter}" if self.filter is not None else ""
        return f"{self.fn.name.upper()}({d}{args}){f}"


@dataclass(eq=False)
class Aggregate(RelNode):
    """GROUP BY ``group`` (input columns) computing ``aggs``: output = keys ++ aggregates."""

    input: RelNode
    group: List[int]
    aggs: List[AggCall]
    names: List[str]
    types: List[DataType]
    batch: bool = False  # batch mode: one final row per group

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    @property
    def updating(self) -> bool:
        return not self.batch

    def kind(self) -> str:
        python = any(getattr(a.fn, "python", False) for a in self.aggs)
        return "PythonGroupAggregate" if python else "Aggregate"

    def terms(self) -> str:
        return (f"groupBy=[{', '.join(self.input.names[g] for g in self.group)}], "
                f"select=[{', '.join(a.digest() for a in self.aggs)}]")


@dataclass(frozen=True)
class WindowSpec:
    """A window TVF: TUMBLE (size), HOP (size, slide), CUMULATE (size = max size, step),
    SESSION (gap, partition columns); ``time`` is the input's time column."""

    kind: str  # TUMBLE | HOP | CUMULATE | SESSION
    time: int
    size: int = 0  # ms
    slide: int = 0  # HOP slide / CUMULATE step (ms)
    gap: int = 0  # SESSION gap (ms)
    offset: int = 0
    partition: Tuple[int, ...] = ()
    proctime: bool = False

    def digest(self) -> str:
        if self.kind == "TUMBLE":
            return f"TUMBLE(time_col=[${self.time}], size=[{self.size} ms])"
        if self.kind == "HOP":
            return f"HOP(time_col=[${self.time}], size=[{self.size} ms], slide=[{self.slide} ms])"
        if self.kind == "CUMULATE":
            return (f"CUMULATE(time_col=[${self.time}], max_size=[{self.size} ms], "
                    f"step=[{self.slide} ms])")
        return f"SESSION(time_col=[${self.time}], gap=[{self.gap} ms])"


@dataclass(eq=False)
class WindowTVF(RelNode):
    """The window table function alone: each row (HOP: several copies) with
    ``window_start``, ``window_end`` and ``window_time`` appended."""

    input: RelNode
    window: WindowSpec
    names: List[str]
    types: List[DataType]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    def terms(self) -> str:
        return f"window=[{self.window.digest()}]"


@dataclass(eq=False)
class WindowAggregate(RelNode):
    """Aggregation per window (insert-only, emitted when the watermark passes the window
    end): output = keys ++ aggregates ++ window properties (``props``:
    ``window_start``/``window_end``/``window_time`` in that order, those asked for)."""

    input: RelNode
    window: WindowSpec
    group: List[int]
    aggs: List[AggCall]
    props: List[str]
    names: List[str]
    types: List[DataType]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    @property
    def updating(self) -> bool:
        return False

    def terms(self) -> str:
        return (f"groupBy=[{', '.join(self.input.names[g] for g in self.group)}], "
                f"window=[{self.window.digest()}], "
                f"select=[{', '.join(a.digest() for a in self.aggs)}]")


@dataclass(frozen=True)
class OverSpec:
    partition: Tuple[int, ...]
    order: int  # the time column
    rows: bool  # ROWS (True) or RANGE (False)
    preceding: Optional[int]  # rows or ms; None = UNBOUNDED
    proctime: bool = False


@dataclass(eq=False)
class OverAggregate(RelNode):
    """Aggregates OVER a window per row: output = input columns ++ aggregates."""

    input: RelNode
    over: OverSpec
    aggs: List[AggCall]
    names: List[str]
    types: List[DataType]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    @property
    def updating(self) -> bool:
        return False

    def terms(self) -> str:
        o = self.over
        return (f"partitionBy=[{', '.join(f'${p}' for p in o.partition)}], orderBy=[${o.order}], "
                f"{'ROWS' if o.rows else 'RANGE'} {o.preceding if o.preceding is not None else 'UNBOUNDED'}"
                f" PRECEDING, select=[{', '.join(a.digest() for a in self.aggs)}]")


@dataclass(eq=False)
class Join(RelNode):
    """A join; ``join_type`` INNER/LEFT/RIGHT/FULL/SEMI/ANTI. ``left_keys``/``right_keys``
    are the equi-join columns; ``condition`` (over left ++ right columns) the rest.
    ``flavor``: regular, interval (``bounds``), temporal, window."""

    left: RelNode
    right: RelNode
    join_type: str
    left_keys: List[int]
    right_keys: List[int]
    condition: Optional[Rex]
    names: List[str]
    types: List[DataType]
    flavor: str = "regular"
    bounds: Any = None  # interval join: (left time, right time, lower ms, upper ms)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.left, self.right)

    @property
    def updating(self) -> bool:
        if self.flavor in ("interval", "temporal", "window"):
            return False
        return super().updating or self.join_type in ("LEFT", "RIGHT", "FULL")

    def terms(self) -> str:
        keys = ", ".join(f"=(${a}, ${b + len(self.left.names)})"
                         for a, b in zip(self.left_keys, self.right_keys))
        cond = self.condition.digest() if self.condition is not None else ""
        return f"joinType=[{self.join_type}], flavor=[{self.flavor}], where=[{keys}{' ' if keys and cond else ''}{cond}]"


@dataclass(eq=False)
class Rank(RelNode):
    """ROW_NUMBER per ``partition`` ordered by ``order`` (column, ascending, nulls first),
    kept where it is at most ``limit`` (Top-N and deduplication); ``with_rank`` appends
    the rank column."""

    input: RelNode
    partition: List[int]
    order: List[Tuple[int, bool, bool]]
    limit: int
    with_rank: bool
    names: List[str]
    types: List[DataType]
    offset: int = 0
    window: Any = None  # a window Top-N: the (window_start, window_end) columns

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    @property
    def updating(self) -> bool:
        if self.window is not None:
            return False
        if self.is_keep_first():
            return super().updating
        return True

    def is_keep_first(self) -> bool:
        """ROW_NUMBER ordered by a time attribute ascending with N = 1, the rank not read:
        the first row of a key wins (insert-only)."""
        return (self.limit == 1 and self.offset == 0 and len(self.order) == 1
                and not self.with_rank and self.order[0][1]
                and getattr(self.input.types[self.order[0][0]], "kind", "")
                in ("ROWTIME", "PROCTIME"))

    def terms(self) -> str:
        order = ", ".join(f"${c} {'ASC' if asc else 'DESC'}" for c, asc, _ in self.order)
        return (f"partitionBy=[{', '.join(f'${p}' for p in self.partition)}], orderBy=[{order}], "
                f"rankRange=[rankStart={self.offset + 1}, rankEnd={self.limit}]")


@dataclass(eq=False)
class Union(RelNode):
    parts: Tuple[RelNode, ...]
    names: List[str]
    types: List[DataType]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = tuple(self.parts)


@dataclass(eq=False)
class Sort(RelNode):
    """ORDER BY / OFFSET / FETCH. Streaming: a limit without order keeps the first rows."""

    input: RelNode
    order: List[Tuple[int, bool, bool]]
    offset: int
    fetch: Optional[int]
    names: List[str]
    types: List[DataType]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    @property
    def updating(self) -> bool:
        if not self.order:
            return super().updating
        return True

    def terms(self) -> str:
        order = ", ".join(f"${c} {'ASC' if asc else 'DESC'}" for c, asc, _ in self.order)
        return f"orderBy=[{order}], offset=[{self.offset}], fetch=[{self.fetch}]"


@dataclass(eq=False)
class Correlate(RelNode):
    """A table function per row (LATERAL TABLE / join_lateral): input columns ++ the
    function's columns; ``left`` keeps rows with no output (NULL padded)."""

    input: RelNode
    function: Any
    args: List[Rex]
    left: bool
    names: List[str]
    types: List[DataType]
    condition: Optional[Rex] = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)

    def kind(self) -> str:
        return "PythonCorrelate" if getattr(self.function, "python", False) else "Correlate"

    def terms(self) -> str:
        args = ", ".join(a.digest() for a in self.args)
        cond = f", condition=[{self.condition.digest()}]" if self.condition is not None else ""
        return (f"invocation=[{self.function.name}({args})], "
                f"select=[{', '.join(self.names)}]{cond}, joinType=[{'LEFT' if self.left else 'INNER'}]")


def calls_python(*rexes: Optional[Rex]) -> bool:
    """Whether any of ``rexes`` calls a Python user-defined function."""
    from .rex import Call, walk
    return any(isinstance(c, Call) and getattr(c.param("fn"), "python", False)
               for r in rexes if r is not None for c in walk(r))


def explain(node: RelNode, indent: int = 0) -> str:
    """The plan as Flink prints it: one node per line, inputs indented below."""
    line = "   " * indent + ("+- " if indent else "") + f"{node.kind()}({node.terms()})"
    return "\n".join([line] + [explain(i, indent + 1) for i in node.inputs])


def names_types(node: RelNode) -> Tuple[List[str], List[DataType]]:
    return list(node.names), list(node.types)


def field_index(names: Sequence[str], name: str) -> Optional[int]:
    try:
        return list(names).index(name)
    except ValueError:
        return None


@dataclass(eq=False)
class WatermarkAssigner(RelNode):
    """Event time for its input: column ``rowtime`` is the timestamp of each row and
    ``strategy`` (a Rex over the row, ``ts - INTERVAL '5' SECOND``) its watermark."""

    input: RelNode
    rowtime_index: int
    strategy: Rex
    names: List[str]
    types: List[DataType] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.inputs = (self.input,)
        if not self.types:
            t = self.input.types[self.rowtime_index]
            self.types = list(self.input.types)
            self.types[self.rowtime_index] = t.with_kind("ROWTIME")  # type: ignore[attr-defined]

    def terms(self) -> str:
        return (f"rowtime=[{self.names[self.rowtime_index]}], "
                f"watermark=[{self.strategy.digest()}]")
