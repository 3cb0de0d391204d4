"""The planner: a relational plan onto nbstream's DataStream API, so a Table job runs on
the same tasks, channels, watermarks, state backends and checkpoints as any other.

Scan -> the connector's source; Values -> a collection source; Calc -> one generated
function (map, or flat_map when it filters); WatermarkAssigner -> timestamps and SQL
watermarks; Aggregate -> ``key_by(keys).process(GroupAggregate)``; window aggregation
-> the runtime's windows; joins -> keyed two-input process functions; Rank ->
keyed process; Union -> union.

Every stateful step gets a uid derived from the query (its kind, its own terms and those
of the stateful steps feeding it), so a savepoint of a SQL job restores after an edit
that keeps the stateful parts.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, List

from ..api.watermarks import WatermarkStrategy
from .codegen import compile_calc, compile_key
from .functions.aggregates import make_accumulator
from .operators import (Aggregates, FirstRows, GroupAggregate, RowtimeOf, SqlWatermarks,
                        WatermarkExpression, constant_key)
from .plan import (Aggregate, Calc, RelNode, Scan, Sort, Union, Values, WatermarkAssigner)
from .types import ValidationError

__all__ = ["Planner"]


class Planner:
    """Translates plan nodes into DataStreams of one environment (memoized: a node used
    twice is one step)."""

    def __init__(self, env: Any, config: Dict[str, str], functions: Any, zone: Any = None,
                 streaming: bool = True) -> None:
        self.env = env
        self.config = config
        self.functions = functions
        self.zone = zone
        self.streaming = streaming
        self._done: Dict[int, Any] = {}
        self._uids: Dict[str, int] = {}

    # -- helpers ----------------------------------------------------------------------------
    def setting(self, key: str, default: str) -> str:
        return str(self.config.get(key, default))

    def ttl_ms(self) -> int:
        from .config import parse_duration
        return parse_duration(self.setting("table.exec.state.ttl", "0"))

    def uid(self, node: RelNode) -> str:
        """A uid from the stateful parts of the query up to ``node``."""
        digest = hashlib.sha1(stateful_digest(node).encode()).hexdigest()[:16]
        n = self._uids.get(digest, 0)
        self._uids[digest] = n + 1
        return f"table-{node.kind().lower()}-{digest}" + (f"-{n}" if n else "")

    # -- translation -------------------------------------------------------------------------
    def translate(self, node: RelNode) -> Any:
        ds = self._done.get(node.id)
        if ds is None:
            method = getattr(self, "_" + type(node).__name__.lower(), None)
            if method is None:
                raise ValidationError(f"{node.kind()} is not supported by the planner yet")
            ds = self._done[node.id] = method(node)
        return ds

    def _scan(self, node: Scan) -> Any:
        ds = node.source.stream(self.env)
        return ds.name(f"Source: {node.table_name or node.source.description}")

    def _values(self, node: Values) -> Any:
        return self.env.from_collection([(0,) + tuple(r) for r in node.rows]).name(
            f"Values({node.terms()})")

    def _calc(self, node: Calc) -> Any:
        ds = self.translate(node.input)
        if node.is_identity():
            return ds
        f = compile_calc(node.projects, node.condition, self.functions, self.zone)
        name = f"Calc({node.terms()})"
        if node.condition is None:
            return ds.map(f).name(name)
        return ds.flat_map(_Filtered(f)).name(name)

    def _watermarkassigner(self, node: WatermarkAssigner) -> Any:
        from .codegen import compile_expression
        ds = self.translate(node.input)
        interval = int(self.setting("pipeline.auto-watermark-interval", "200").rstrip("ms ") or 200)
        strategy_fn = WatermarkExpression(compile_expression(node.strategy, self.functions,
                                                             self.zone))
        strategy = WatermarkStrategy.for_generator(
            lambda ctx: SqlWatermarks(strategy_fn, interval)).with_timestamp_assigner(
            RowtimeOf(node.rowtime_index))
        return ds.assign_timestamps_and_watermarks(strategy).name(
            f"WatermarkAssigner({node.terms()})")

    def _aggregate(self, node: Aggregate) -> Any:
        ds = self.translate(node.input)
        retract = node.input.updating
        accs = [make_accumulator(c.fn, [node.input.types[a] for a in c.args], c.type, retract,
                                 c.distinct) for c in node.aggs]
        aggs = Aggregates(accs, [c.args for c in node.aggs], [c.filter for c in node.aggs])
        k = len(node.group)
        if node.group != list(range(k)):
            raise AssertionError("the aggregate's keys come first in its input")
        if k == 0 and node.batch:
            ds = ds.union(self.env.from_collection([_EMPTY_GROUP]))
        key = compile_key(node.group) if k else constant_key
        keyed = ds.key_by(key)
        fn = GroupAggregate(aggs, k, self.ttl_ms(), batch=node.batch)
        out = keyed.process(fn).name(f"GroupAggregate({node.terms()})").uid(self.uid(node))
        if k == 0:
            out.set_parallelism(1)
        return out

    def _union(self, node: Union) -> Any:
        streams = [self.translate(p) for p in node.parts]
        return streams[0].union(*streams[1:])

    def _sort(self, node: Sort) -> Any:
        ds = self.translate(node.input)
        if node.order:
            raise ValidationError("ORDER BY on a non-time attribute is not supported in "
                                  "streaming mode yet (it needs a Top-N)")
        out = ds.key_by(constant_key).process(FirstRows(node.offset, node.fetch))
        return out.name(f"Limit(offset={node.offset}, fetch={node.fetch})").uid(
            self.uid(node)).set_parallelism(1)


#: the row a batch global aggregate adds so that an empty input still has its group
_EMPTY_GROUP = (-1,)


class _Filtered:
    """A Calc with a condition as a flat_map: no row or the projected one."""

    def __init__(self, f: Any) -> None:
        self.f = f

    def __call__(self, r: tuple) -> Any:
        out = self.f(r)
        return () if out is None else (out,)


def stateful_digest(node: RelNode) -> str:
    """The description of ``node`` and the stateful nodes feeding it (stateless ones
    between them are skipped, so editing a projection keeps the uids)."""
    parts: List[str] = [f"{node.kind()}({node.terms()})"]
    stack = list(node.inputs)
    while stack:
        n = stack.pop()
        if isinstance(n, (Calc, WatermarkAssigner)):
            stack.extend(n.inputs)
            continue
        parts.append(stateful_digest(n) if not isinstance(n, (Scan, Values)) else n.kind())
    return "|".join(parts)
