"""The Table runtime's functions: what the planner hands to the DataStream API's keyed
process / window operators. Rows are ``(kind, c0, c1, ...)`` tuples (kind 0 +I, 1 -U,
2 +U, 3 -D); state lives in keyed state (so the state backends, checkpoints and
savepoints hold it as any DataStream job's).

* :class:`GroupAggregate`: non-windowed GROUP BY, a changelog (+I, -U/+U, -D) per input row;
* :class:`SqlWatermarks`: a SQL source's watermark (``rowtime - delay``, emitted as
  Flink's WatermarkAssignerOperator does);
* :class:`FirstRows`: a streaming LIMIT without ORDER BY (the first rows to arrive).
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, Sequence, Tuple

from ..api.functions import KeyedProcessFunction
from ..api.state import ValueStateDescriptor
from ..api.watermarks import WatermarkGenerator, WatermarkOutput
from .values import millis_of

__all__ = ["GroupAggregate", "SqlWatermarks", "RowtimeOf", "FirstRows", "Aggregates"]

INSERT, UPDATE_BEFORE, UPDATE_AFTER, DELETE = 0, 1, 2, 3
MIN_TS = -(2 ** 63)


class Aggregates:
    """The aggregate calls of one aggregation: their accumulators, argument columns and
    FILTER columns, applied to a row together."""

    def __init__(self, accumulators: Sequence[Any], args: Sequence[Tuple[int, ...]],
                 filters: Sequence[Optional[int]]) -> None:
        self.accs = list(accumulators)
        # positions in the row tuple (kind first)
        self.args = [tuple(a + 1 for a in arg) for arg in args]
        self.filters = [f + 1 if f is not None else None for f in filters]
        self.plan = list(zip(self.accs, self.args, self.filters))

    def create(self) -> List[Any]:
        return [a.create() for a in self.accs]

    def add(self, state: List[Any], r: tuple) -> None:
        for i, (acc, args, f) in enumerate(self.plan):
            if f is not None and r[f] is not True:
                continue
            state[i] = acc.add(state[i], *[r[j] for j in args])

    def retract(self, state: List[Any], r: tuple) -> None:
        for i, (acc, args, f) in enumerate(self.plan):
            if f is not None and r[f] is not True:
                continue
            state[i] = acc.retract(state[i], *[r[j] for j in args])

    def merge(self, state: List[Any], other: List[Any]) -> None:
        for i, acc in enumerate(self.accs):
            state[i] = acc.merge(state[i], other[i])

    def values(self, state: List[Any]) -> tuple:
        return tuple(acc.value(s) for acc, s in zip(self.accs, state))


class GroupAggregate(KeyedProcessFunction):
    """GROUP BY as Flink's GroupAggFunction: per input row, ``+I`` for a key's first
    result, ``-U`` old / ``+U`` new when the result changed, ``-D`` when the key's last
    row was retracted. The group key is the first ``key_len`` columns of the row.

    State per key: ``[row count, accumulators, last emitted values]``.
    """

    def __init__(self, aggregates: Aggregates, key_len: int, ttl_ms: int = 0,
                 batch: bool = False) -> None:
        self.aggregates = aggregates
        self.key_len = key_len
        self.ttl_ms = ttl_ms
        self.batch = batch

    def open(self, runtime_context: Any) -> None:
        descriptor = ValueStateDescriptor("group-agg")
        if self.ttl_ms > 0:
            from ..api.state import StateTtlConfig
            from ..runtime.durations import Time
            descriptor.enable_time_to_live(StateTtlConfig.new_builder(
                Time.milliseconds(self.ttl_ms)).build())
        self.state = runtime_context.get_state(descriptor)

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        state = self.state
        st = state.value()
        aggs = self.aggregates
        if r[0] < 0:  # batch global aggregate: its group exists even over no rows
            if st is None:
                state.update([0, aggs.create(), None])
                ctx.timer_service().register_event_time_timer(2 ** 63 - 1)
            return ()
        accumulate = r[0] <= UPDATE_AFTER and r[0] != UPDATE_BEFORE
        first = st is None
        if first:
            if not accumulate:
                return ()  # a retraction for a key with no state (Flink drops it)
            st = [0, aggs.create(), None]
        if accumulate:
            st[0] += 1
            aggs.add(st[1], r)
        else:
            st[0] -= 1
            aggs.retract(st[1], r)
        key = r[1:self.key_len + 1]
        if self.batch:
            if first:
                ctx.timer_service().register_event_time_timer(2 ** 63 - 1)
            state.update(st)
            return ()
        prev = st[2]
        if st[0] > 0:
            new = aggs.values(st[1])
            st[2] = new
            state.update(st)
            if first:
                return ((INSERT,) + key + new,)
            if new == prev and self.ttl_ms <= 0:
                return ()
            return ((UPDATE_BEFORE,) + key + prev, (UPDATE_AFTER,) + key + new)
        state.clear()
        if first:
            return ()
        return ((DELETE,) + key + prev,)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        """Batch mode: a group's one final row at the end of the input."""
        st = self.state.value()
        if st is None or (st[0] <= 0 and self.key_len > 0):
            return ()
        key = ctx.get_current_key()
        key = key if self.key_len != 1 else (key,)
        if self.key_len == 0:
            key = ()
        return ((INSERT,) + tuple(key) + self.aggregates.values(st[1]),)


class RowtimeOf:
    """The timestamp assigner of a SQL source: column ``index`` of the row as epoch ms."""

    def __init__(self, index: int) -> None:
        self.position = index + 1

    def __call__(self, r: tuple, record_ts: int) -> int:
        v = r[self.position]
        return MIN_TS if v is None else millis_of(v)


class SqlWatermarks(WatermarkGenerator):
    """A SQL source's watermark: after each row, ``max(previous, strategy(row))``, emitted
    at once when it advanced more than the auto-watermark interval since the last one
    emitted, and otherwise on the periodic timer (Flink's WatermarkAssignerOperator; it
    starts from 0)."""

    def __init__(self, strategy: Any, interval_ms: int = 200) -> None:
        self.strategy = strategy  # row -> epoch ms (the watermark expression)
        self.interval = interval_ms
        self.current = 0
        self.last = 0

    def on_event(self, event: Any, event_timestamp: int, output: WatermarkOutput) -> None:
        wm = self.strategy(event)
        if wm is not None and wm > self.current:
            self.current = wm
        if self.current - self.last > self.interval:
            self.last = self.current
            output.emit_watermark(self.current)

    def on_periodic_emit(self, output: WatermarkOutput) -> None:
        if self.current > self.last:
            self.last = self.current
            output.emit_watermark(self.current)


class WatermarkExpression:
    """The watermark expression of a source as epoch ms of each row."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled

    def __call__(self, r: tuple) -> Optional[int]:
        v = self.compiled(r)
        return None if v is None else millis_of(v)


class FirstRows(KeyedProcessFunction):
    """A streaming ``LIMIT n [OFFSET m]`` without ORDER BY: rows m..m+n-1 of those that
    arrive (all keyed on one key, so one instance counts)."""

    def __init__(self, offset: int, fetch: Optional[int]) -> None:
        self.offset, self.fetch = offset, fetch

    def open(self, runtime_context: Any) -> None:
        self.seen = runtime_context.get_state(ValueStateDescriptor("limit-seen"))

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        n = self.seen.value() or 0
        self.seen.update(n + 1)
        if n < self.offset or (self.fetch is not None and n >= self.offset + self.fetch):
            return ()
        return (r,)


def constant_key(r: tuple) -> int:
    return 0
