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
import math
from typing import Any, Dict, List, Optional

from ..api.functions import FlatMapFunction
from ..api.watermarks import WatermarkStrategy
from .codegen import compile_calc, compile_group_step, compile_key
from .functions.aggregates import make_accumulator
from .operators import (Aggregates, BatchJoin, ColumnarWindowRow, CumulativeWindows, Deduplicate, FirstRows,
                        GroupAggregate, GroupStep, IntervalPair, OverRows, RegularJoin, TagSide,
                        TemporalJoin, WindowJoin, RowtimeOf, SortAll, SqlWatermarks, TopN, WatermarkExpression,
                        WindowAccumulate, WindowColumns, WindowEmit, WindowTopN, constant_key)
from .plan import (Aggregate, Calc, Correlate, Join, OverAggregate, Rank, RelNode, Scan, Sort, Union, Values,
                   WatermarkAssigner, WindowAggregate, WindowTVF)
from .rex import Call, InputRef, Literal
from .types import ValidationError
from .udf_ops import (has_python, plan_calc, plan_correlate, plan_python_aggregate,
                      python_aggregate)

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
            if method is None and hasattr(node, "plan"):  # a node that plans itself (udf_ops)
                ds = self._done[node.id] = node.plan(self)
                return ds
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
        if has_python(node):
            return plan_calc(self, node)
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
        delay = _constant_delay(node)
        if self.env.get_execution_mode() == "flink":
            # Flink runs no Python watermark generator: its own bounded out-of-orderness
            # (max - delay - 1; the same windows fire, a row exactly at a window's end later)
            if delay is None:
                raise ValidationError("in flink mode a watermark must be the time column minus "
                                      "a constant interval (ts - INTERVAL '5' SECOND)")
            strategy = WatermarkStrategy.for_bounded_out_of_orderness(delay) \
                .with_timestamp_assigner(RowtimeOf(node.rowtime_index))
        else:
            strategy_fn = WatermarkExpression(compile_expression(node.strategy, self.functions,
                                                                 self.zone))
            strategy = WatermarkStrategy.for_generator(
                lambda ctx: SqlWatermarks(strategy_fn, interval)).with_timestamp_assigner(
                RowtimeOf(node.rowtime_index))
        return ds.assign_timestamps_and_watermarks(strategy).name(
            f"WatermarkAssigner({node.terms()})")

    def _aggregate(self, node: Aggregate) -> Any:
        if python_aggregate(node) and not node.batch:
            return plan_python_aggregate(self, node)
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
        name = f"GroupAggregate({node.terms()})"
        if node.batch:
            out = keyed.process(GroupAggregate(aggs, k, self.ttl_ms(), batch=True))
        else:
            ttl = self.ttl_ms()
            step = compile_group_step(node.aggs, accs, k, ttl > 0)
            out = keyed.flat_map(GroupStep(step, ttl))
        out = out.name(name).uid(self.uid(node))
        if k == 0:
            out.set_parallelism(1)
        return out

    def _windowaggregate(self, node: WindowAggregate) -> Any:
        fast = self._columnar_window(node)
        if fast is not None:
            return fast
        from ..runtime.windows import (EventTimeSessionWindows, ProcessingTimeSessionWindows,
                                       SlidingEventTimeWindows, SlidingProcessingTimeWindows,
                                       TumblingEventTimeWindows, TumblingProcessingTimeWindows)
        ds = self.translate(node.input)
        if node.input.updating:
            raise ValidationError("a window aggregation needs an insert-only input; this one "
                                  f"is updating ({node.input.kind()})")
        w = node.window
        accs = [make_accumulator(c.fn, [node.input.types[a] for a in c.args], c.type, False,
                                 c.distinct) for c in node.aggs]
        aggs = Aggregates(accs, [c.args for c in node.aggs], [c.filter for c in node.aggs])
        k = len(node.group)
        if w.kind == "TUMBLE":
            assigner = (TumblingProcessingTimeWindows if w.proctime else
                        TumblingEventTimeWindows).of(w.size, w.offset)
        elif w.kind == "HOP":
            assigner = (SlidingProcessingTimeWindows if w.proctime else
                        SlidingEventTimeWindows).of(w.size, w.slide, w.offset)
        elif w.kind == "CUMULATE":
            assigner = CumulativeWindows(w.size, w.slide, w.offset, not w.proctime)
        else:
            assigner = (ProcessingTimeSessionWindows if w.proctime else
                        EventTimeSessionWindows).with_gap(w.gap)
        keys = list(node.group)
        for p in w.partition:
            if p not in keys:
                raise ValidationError("a SESSION window's PARTITION BY columns must be keys of "
                                      "its GROUP BY")
        key = compile_key(keys) if k else constant_key
        ltz = node.types[-1].root == "TIMESTAMP_LTZ"
        slice_ms = math.gcd(w.size, w.slide) if w.kind in ("HOP", "CUMULATE") else 0
        out = ds.key_by(key).window(assigner).aggregate(
            WindowAccumulate(aggs, slice_ms, w.time), WindowEmit(aggs, k, ltz))
        out = out.name(f"WindowAggregate({node.terms()})").uid(self.uid(node))
        if k == 0:
            out.set_parallelism(1)
        return out

    def _columnar_window(self, node: WindowAggregate) -> Any:
        """A window aggregation of built-in aggregates over a columnar source (a DataFrame,
        Parquet) on the columnar path: Arrow batches, vectorized aggregates (see
        :mod:`nbstream.api.columnar`); None when the plan does not fit it."""
        found = self._columnar_result(node)
        if found is None:
            return None
        result, keys, specs, ltz = found
        rows = result.to_rows(rows="tuple", reason="the rows of a SQL window aggregation")
        return rows.map(ColumnarWindowRow(len(keys), len(specs), ltz)).name(
            f"WindowAggregate[columnar]({node.terms()})")

    def columnar_frame(self, top: RelNode) -> Any:
        """The result of ``top`` as a pandas DataFrame computed entirely on the columnar
        path, when ``top`` is a projection of a columnar window aggregation (``to_pandas()``
        then never makes a Python object per row); else None."""
        if has_python(top):  # Python UDFs over a DataFrame's Arrow batches
            from .udf_ops import columnar_frame
            return columnar_frame(self, top)
        node = top
        projects = None
        while isinstance(node, Calc):  # projections (of columns) over the window aggregation
            if node.condition is not None or not all(isinstance(p, InputRef) for p in node.projects):
                return None
            step = [p.index for p in node.projects]  # type: ignore[attr-defined]
            projects = step if projects is None else [step[i] for i in projects]
            node = node.input
        if not isinstance(node, WindowAggregate):
            return None
        found = self._columnar_result(node)
        if found is None:
            return None
        result, keys, specs, ltz = found
        table = result.to_arrow("collect-columnar")
        import pyarrow as pa
        import pyarrow.compute as pc

        from .values import arrow_type
        k, n = len(keys), len(specs)
        cols = list(table.columns)
        start, end = cols[k], cols[k + 1]
        time_ms = lambda c: pc.cast(c, pa.int64()).cast(pa.timestamp("ms"))  # noqa: E731
        wtime = pc.subtract(pc.cast(end, pa.int64()), 1).cast(pa.timestamp("ms"))
        if ltz:
            wtime = wtime.cast(pa.timestamp("ms", tz="UTC"))
        ordered = cols[:k] + cols[k + 2:k + 2 + n] + [time_ms(start), time_ms(end), wtime]
        picks = projects if projects is not None else list(range(len(ordered)))
        out = []
        for i in picks:
            column = ordered[i]
            want = arrow_type(node.types[i])
            if column.type != want:
                try:
                    column = column.cast(want)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    return None
            out.append(column)
        frame = pa.Table.from_arrays(out, names=[f"c{i}" for i in range(len(out))]).to_pandas()
        frame.columns = list(top.names)
        return frame

    def _columnar_result(self, node: WindowAggregate) -> Any:
        """(the columnar window's result stream, key columns, aggregate specs, whether the
        time is TIMESTAMP_LTZ) for a window aggregation that fits the columnar path."""
        from ..runtime.windows import (EventTimeSessionWindows, SlidingEventTimeWindows,
                                       TumblingEventTimeWindows)
        if self.setting("nbstream.table.columnar", "true").lower() != "true":
            return None
        found = _columnar_source(node)
        if found is None:
            return None
        scan, columns, delay = found  # columns: the source column of each input column
        w = node.window
        if w.proctime or not node.group:
            return None
        specs = []
        for c in node.aggs:
            spec = _columnar_spec(c, node.input.types, columns)
            if spec is None:
                return None
            specs.append(spec)
        keys = [columns[g] for g in node.group]
        if len(set(keys)) != len(keys) or any(k is None for k in keys):
            return None
        time_col = columns[w.time]
        cs = scan.source.columnar(self.env, time_col)
        if cs is None:
            return None
        if w.kind == "TUMBLE":
            assigner = TumblingEventTimeWindows.of(w.size, w.offset)
        elif w.kind == "HOP":
            assigner = SlidingEventTimeWindows.of(w.size, w.slide, w.offset)
        elif w.kind == "SESSION":
            assigner = EventTimeSessionWindows.with_gap(w.gap)
        else:
            return None
        bound = max(delay - 1, 0)
        result = (cs.assign_timestamps_and_watermarks(
            WatermarkStrategy.for_bounded_out_of_orderness(bound))
            .key_by(keys if len(keys) > 1 else keys[0]).window(assigner)
            .agg(**{f"a{i}": spec for i, spec in enumerate(specs)}))
        return result, keys, specs, node.types[-1].root == "TIMESTAMP_LTZ"

    def _windowtvf(self, node: WindowTVF) -> Any:
        ds = self.translate(node.input)
        w = node.window
        if w.kind == "SESSION":
            raise ValidationError("a SESSION window TVF must be aggregated (GROUP BY "
                                  "window_start, window_end)")
        ltz = node.types[-1].root == "TIMESTAMP_LTZ"
        return ds.flat_map(WindowColumns(w.kind, w.time, w.size, w.slide, w.offset, ltz)).name(
            f"WindowTableFunction({node.terms()})")

    def _rank(self, node: Rank) -> Any:
        ds = self.translate(node.input)
        if node.limit is None:
            raise ValidationError("ROW_NUMBER() needs a filter on it (WHERE rn <= N) in a "
                                  "stream (a Top-N or a deduplication)")
        key = compile_key(node.partition) if node.partition else constant_key
        order = node.order
        if node.window is not None:
            fn: Any = WindowTopN(order, node.limit, node.offset, node.with_rank, node.window)
            name = "WindowRank"
        elif node.is_keep_first() or (
                node.limit == 1 and node.offset == 0 and not node.with_rank and len(order) == 1
                and getattr(node.input.types[order[0][0]], "kind", "") in ("ROWTIME", "PROCTIME")
                and not node.input.updating):
            fn = Deduplicate(order[0][0], keep_last=not order[0][1])
            name = "Deduplicate"
        else:
            fn = TopN(order, node.limit, node.offset, node.with_rank, node.input.updating)
            name = "Rank"
        out = ds.key_by(key).process(fn).name(f"{name}({node.terms()})").uid(self.uid(node))
        if not node.partition:
            out.set_parallelism(1)
        return out

    def _overaggregate(self, node: OverAggregate) -> Any:
        ds = self.translate(node.input)
        o = node.over
        bounded = o.preceding is not None
        accs = [make_accumulator(c.fn, [node.input.types[a] for a in c.args], c.type, bounded,
                                 c.distinct) for c in node.aggs]
        aggs = Aggregates(accs, [c.args for c in node.aggs], [c.filter for c in node.aggs])
        key = compile_key(list(o.partition)) if o.partition else constant_key
        fn = OverRows(aggs, o.order, o.rows, o.preceding, o.proctime)
        out = ds.key_by(key).process(fn).name(f"OverAggregate({node.terms()})").uid(
            self.uid(node))
        if not o.partition:
            out.set_parallelism(1)
        return out

    def _join(self, node: Join) -> Any:
        from .codegen import compile_predicate
        left, right = self.translate(node.left), self.translate(node.right)
        nl, nr = len(node.left.types), len(node.right.types)
        cond = (compile_predicate(node.condition, self.functions, self.zone)
                if node.condition is not None else None)
        lk = compile_key(node.left_keys) if node.left_keys else constant_key
        rk = compile_key(node.right_keys) if node.right_keys else constant_key
        name = f"Join({node.terms()})"
        flavor = node.flavor
        if flavor == "interval" and node.join_type == "INNER":
            lt, rt, lower, upper = node.bounds
            out = (left.key_by(lk).interval_join(right.key_by(rk)).between(lower, upper)
                   .process(IntervalPair(cond)))
            return out.name(f"IntervalJoin({node.terms()})").uid(self.uid(node))
        if flavor == "interval":
            flavor = "regular"  # an outer interval join: a regular join, same final rows
        if not self.streaming and flavor in ("regular", "interval"):
            tagged = left.map(TagSide(0)).union(right.map(TagSide(1)))
            out = tagged.key_by(_TaggedKey(lk, rk)).process(
                BatchJoin(nl, nr, node.join_type, cond, (node.left_keys, node.right_keys)))
        elif flavor == "temporal":
            lt, rt = node.bounds
            out = left.connect(right).key_by(lk, rk).process(
                TemporalJoin(lt, rt, nr, node.join_type == "LEFT", cond))
            name = f"TemporalJoin({node.terms()})"
        elif flavor == "window":
            _ls, le, _rs, re_ = node.bounds
            out = left.connect(right).key_by(lk, rk).process(
                WindowJoin(nl, nr, node.join_type, le, re_, cond))
            name = f"WindowJoin({node.terms()})"
        else:
            out = left.connect(right).key_by(lk, rk).process(
                RegularJoin(nl, nr, node.join_type, cond, (node.left_keys, node.right_keys)))
        out = out.name(name).uid(self.uid(node))
        if not node.left_keys:
            out.set_parallelism(1)
        return out

    def _correlate(self, node: Correlate) -> Any:
        return plan_correlate(self, node)

    def _union(self, node: Union) -> Any:
        streams = [self.translate(p) for p in node.parts]
        return streams[0].union(*streams[1:])

    def _sort(self, node: Sort) -> Any:
        ds = self.translate(node.input)
        if not node.order:
            fn: Any = FirstRows(node.offset, node.fetch)
            name = f"Limit(offset={node.offset}, fetch={node.fetch})"
        elif not self.streaming:
            fn = SortAll(node.order, node.offset, node.fetch)
            name = f"Sort({node.terms()})"
        elif node.fetch is not None:
            fn = TopN(node.order, node.offset + node.fetch, node.offset, False,
                      node.input.updating)
            name = f"SortLimit({node.terms()})"
        else:
            raise ValidationError("Sort on a non-time-attribute field is not supported: in a "
                                  "stream, ORDER BY needs a LIMIT (a Top-N)")
        out = ds.key_by(constant_key).process(fn).name(name).uid(self.uid(node))
        out.set_parallelism(1)
        if node.order and self.streaming:  # TopN emits a rank column; a sort has none
            out = out.map(_drop_last).set_parallelism(1)
        return out


def _columnar_source(node: WindowAggregate) -> Any:
    """(scan, source column of each input column, watermark delay ms) when the window
    aggregation reads columns of a columnar source through projections and a constant
    watermark delay; else None."""
    n = node.input
    mapping: Optional[List[Optional[int]]] = None
    delay = None
    while True:
        if isinstance(n, Calc):
            if n.condition is not None or not all(isinstance(p, InputRef) for p in n.projects):
                return None
            step = [p.index for p in n.projects]  # type: ignore[attr-defined]
            mapping = step if mapping is None else [step[i] if i is not None else None
                                                     for i in mapping]
            n = n.input
        elif isinstance(n, WatermarkAssigner):
            if delay is not None:
                return None
            delay = _constant_delay(n)
            if delay is None:
                return None
            n = n.input
        elif isinstance(n, Scan):
            if delay is None or not hasattr(n.source, "columnar"):
                return None
            width = len(node.input.types)
            mapping = mapping if mapping is not None else list(range(width))
            return n, [n.names[i] if i is not None else None for i in mapping], delay
        else:
            return None


def _constant_delay(node: WatermarkAssigner) -> Optional[int]:
    s = node.strategy
    if isinstance(s, InputRef) and s.index == node.rowtime_index:
        return 0
    if isinstance(s, Call) and s.name == "minus" and isinstance(s.operands[0], InputRef) and \
            s.operands[0].index == node.rowtime_index and isinstance(s.operands[1], Literal) \
            and s.operands[1].type.root == "INTERVAL_DAY_TIME":
        return int(s.operands[1].value)
    return None


def _columnar_spec(call: Any, types: List[Any], columns: List[Optional[str]]) -> Any:
    """The columnar window's aggregate spec of an aggregate call, or None when its SQL
    result type would differ (AVG of integers truncates, SUM of INT wraps...)."""
    fn = getattr(call.fn, "columnar", None)
    if fn is None or call.distinct or call.filter is not None:
        return None
    if fn == "count":
        return "count" if not call.args else None
    if len(call.args) != 1 or columns[call.args[0]] is None:
        return None
    t = types[call.args[0]]
    if fn in ("sum", "mean") and t.root not in ("BIGINT", "DOUBLE"):
        return None
    if fn in ("min", "max") and t.root not in ("BIGINT", "DOUBLE", "INT", "VARCHAR", "FLOAT"):
        return None
    return (columns[call.args[0]], fn)


class _TaggedKey:
    """The join key of a row tagged with its side (batch joins)."""

    def __init__(self, left: Any, right: Any) -> None:
        self.keys = (left, right)

    def __call__(self, tagged: tuple) -> Any:
        return self.keys[tagged[0]](tagged[1])


def _drop_last(r: tuple) -> tuple:
    return r[:-1]


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
