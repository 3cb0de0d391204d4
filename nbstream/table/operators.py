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

from ..api.functions import FlatMapFunction, KeyedCoProcessFunction, KeyedProcessFunction
from ..api.state import ValueStateDescriptor
from ..api.watermarks import WatermarkGenerator, WatermarkOutput
from ..runtime.windows import WindowAssigner
from .values import millis_of

__all__ = ["GroupStep", "GroupAggregate", "SqlWatermarks", "RowtimeOf", "FirstRows", "Aggregates"]

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


class GroupStep(FlatMapFunction):
    """Streaming GROUP BY as Flink's GroupAggFunction, per input row: ``+I`` for a key's
    first result, ``-U`` old / ``+U`` new when the result changed (always, with a state
    TTL), ``-D`` when the key's last row was retracted; a retraction for a key without
    state is dropped. The work per row is one generated function
    (:func:`~nbstream.table.codegen.compile_group_step`); it runs as a flat_map on the keyed
    stream, with the key's state in keyed state."""

    def __init__(self, step: Any, ttl_ms: int = 0, step_in_place: Any = None) -> None:
        self.step = step
        self.ttl_ms = ttl_ms
        self.step_in_place = step_in_place  # the step for a state that holds its objects

    def open(self, runtime_context: Any) -> None:
        descriptor = ValueStateDescriptor("group-agg")
        if self.ttl_ms > 0:
            from ..api.state import StateTtlConfig
            from ..runtime.durations import Time
            descriptor.enable_time_to_live(StateTtlConfig.new_builder(
                Time.milliseconds(self.ttl_ms)).build())
        self.state = runtime_context.get_state(descriptor)
        step = self.step
        if self.step_in_place is not None and getattr(self.state, "holds_objects", False):
            step = self.step_in_place  # writes the state only for a new key
        self.run = step.fn  # the generated function itself (no wrapper call per row)

    def flat_map(self, r: tuple) -> Iterable[tuple]:
        return self.run(r, self.state)


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


# -- window aggregation ---------------------------------------------------------------------------
class WindowAccumulate:
    """The AggregateFunction of a window aggregation: the accumulators of all its calls.

    HOP and CUMULATE windows are computed as Flink's slicing operators do: rows accumulate
    per slice of ``slice_ms`` (by their time column), and a window's result merges its
    slices in time order (so float sums round as Flink's do)."""

    def __init__(self, aggregates: Aggregates, slice_ms: int = 0, time_index: int = 0,
                 shift: Optional[ZoneShift] = None) -> None:
        self.aggregates = aggregates
        self.slice_ms = slice_ms
        self.time_position = time_index + 1
        self.shift = shift  # LTZ time: slices of the zone's wall clock

    def create_accumulator(self) -> Any:
        return {} if self.slice_ms else self.aggregates.create()

    def add(self, value: tuple, acc: Any) -> Any:
        if self.slice_ms:
            t = millis_of(value[self.time_position])
            if self.shift is not None:
                t = self.shift.local(t)
            piece = acc.get(t - t % self.slice_ms)
            if piece is None:
                piece = acc[t - t % self.slice_ms] = self.aggregates.create()
            self.aggregates.add(piece, value)
            return acc
        self.aggregates.add(acc, value)
        return acc

    def get_result(self, acc: Any) -> List[Any]:
        if not self.slice_ms:
            return acc
        merged = self.aggregates.create()
        for start in sorted(acc):
            self.aggregates.merge(merged, acc[start])
        return merged

    def merge(self, a: Any, b: Any) -> Any:
        if self.slice_ms:
            for start, piece in b.items():
                if start in a:
                    self.aggregates.merge(a[start], piece)
                else:
                    a[start] = piece
            return a
        self.aggregates.merge(a, b)
        return a


class WindowEmit:
    """The window function of a window aggregation: ``+I[keys, aggregates, window_start,
    window_end, window_time]`` once per window."""

    def __init__(self, aggregates: Aggregates, key_len: int, ltz: bool,
                 shift: Optional[ZoneShift] = None) -> None:
        self.aggregates = aggregates
        self.key_len = key_len
        self.ltz = ltz
        self.shift = shift  # LTZ time: window_start/end are the wall clock of this zone

    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[tuple]:
        from .values import EPOCH_UTC, timestamp_of
        if self.key_len == 0:
            key = ()
        elif self.key_len == 1:
            key = (key,)
        start, end = window.start, window.end
        if self.shift is not None:
            start, end = self.shift.local(start), self.shift.local(end)
        out = []
        for acc in inputs:
            end_time = timestamp_of(window.end - 1)
            if self.ltz:
                import datetime as _dt
                end_time = EPOCH_UTC + _dt.timedelta(milliseconds=window.end - 1)
            out.append((INSERT,) + tuple(key) + self.aggregates.values(acc)
                       + (timestamp_of(start), timestamp_of(end), end_time))
        return out


class CountWindows(KeyedProcessFunction):
    """Count windows of the Table API (``row_interval``): per key, the rows numbered
    0, 1, ...; window k holds rows ``k * slide`` to ``k * slide + size - 1`` and is out
    (``+I[keys, aggregates, NULL, NULL, NULL]``: no start or end) when its last row
    arrives; a window never filled is never out."""

    def __init__(self, aggregates: Aggregates, key_len: int, size: int, slide: int) -> None:
        self.aggregates, self.key_len = aggregates, key_len
        self.size, self.slide = size, slide

    def open(self, runtime_context: Any) -> None:
        self.state = runtime_context.get_state(ValueStateDescriptor("count-windows"))

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        st = self.state.value() or [0, {}]
        i, windows = st[0], st[1]
        size, slide = self.size, self.slide
        out = []
        for k in range(max(0, -(-(i - size + 1) // slide)), i // slide + 1):
            acc = windows.pop(k, None) or self.aggregates.create()
            self.aggregates.add(acc, r)
            if i == k * slide + size - 1:
                key = ctx.get_current_key()
                key = () if self.key_len == 0 else (key,) if self.key_len == 1 else tuple(key)
                out.append((INSERT,) + key + self.aggregates.values(acc) + (None,) * 3)
            else:
                windows[k] = acc
        st[0] = i + 1
        self.state.update(st)
        return out


class ZoneShift:
    """Epoch milliseconds and the session time zone's wall clock (both as ms): windows on
    a TIMESTAMP_LTZ time attribute are aligned to the wall clock, as Flink aligns them
    (a day window starts at local midnight), and their start and end are wall-clock
    TIMESTAMPs."""

    def __init__(self, zone: Any) -> None:
        import datetime as _dt
        self.zone = zone
        probes = [_dt.datetime(y, m, 1, tzinfo=_dt.timezone.utc) for y in (1970, 2000, 2024)
                  for m in (1, 4, 7, 10)]
        offsets = {zone.utcoffset(p.astimezone(zone).replace(tzinfo=None)) for p in probes} \
            if zone is not None else {_dt.timedelta(0)}
        self.fixed = (int(offsets.pop().total_seconds() * 1000) if len(offsets) == 1
                      else None)

    def local(self, t: int) -> int:
        """The wall clock (as ms) at epoch ms ``t``."""
        if self.fixed is not None:
            return t + self.fixed
        import datetime as _dt
        instant = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc) + _dt.timedelta(
            milliseconds=t)
        return t + int(instant.astimezone(self.zone).utcoffset().total_seconds() * 1000)

    def epoch(self, wall: int) -> int:
        """The epoch ms of wall-clock ms ``wall`` (the earlier one in a DST overlap)."""
        if self.fixed is not None:
            return wall - self.fixed
        import datetime as _dt
        naive = _dt.datetime(1970, 1, 1) + _dt.timedelta(milliseconds=wall)
        return wall - int(naive.replace(tzinfo=self.zone).utcoffset().total_seconds() * 1000)

    @property
    def utc(self) -> bool:
        return self.fixed == 0


def window_spans(kind: str, t: int, size: int, slide: int, offset: int) -> List[Tuple[int, int]]:
    """The [start, end) of the TUMBLE/HOP/CUMULATE windows holding time ``t``."""
    if kind == "TUMBLE":
        start = t - (t - offset + size) % size
        return [(start, start + size)]
    if kind == "HOP":
        last = t - (t - offset + slide) % slide
        return [(s, s + size) for s in range(last, t - size, -slide)]
    start = t - (t - offset + size) % size
    first_end = t - (t - offset + slide) % slide + slide
    return [(start, e) for e in range(first_end, start + size + 1, slide)]


class LocalTimeWindows(WindowAssigner):
    """TUMBLE/HOP/CUMULATE event-time windows on a TIMESTAMP_LTZ time attribute, aligned
    to the session time zone's wall clock; the windows themselves are in epoch ms (so
    they fire when the watermark passes their end)."""

    def __init__(self, kind: str, size: int, slide: int, offset: int, shift: ZoneShift) -> None:
        self.kind, self.size, self.slide, self.offset = kind, size, slide, offset
        self.shift = shift

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[Any]:
        from ..runtime.windows.window import TimeWindow
        wall = self.shift.local(timestamp)
        epoch = self.shift.epoch
        return [TimeWindow(epoch(s), epoch(e))
                for s, e in window_spans(self.kind, wall, self.size, self.slide, self.offset)]

    def get_default_trigger(self, env: Any = None) -> Any:
        from ..runtime.windows.triggers import EventTimeTrigger
        return EventTimeTrigger.create()

    def is_event_time(self) -> bool:
        return True

    def get_window_serializer(self) -> Any:
        return None

    def __repr__(self) -> str:
        return f"LocalTimeWindows({self.kind}, {self.size}, {self.slide})"


class CumulativeWindows(WindowAssigner):
    """CUMULATE windows: every ``step`` a window from the start of the ``size``-long period
    to the step's end; an element belongs to every one that contains it."""

    def __init__(self, size: int, step: int, offset: int = 0, event_time: bool = True) -> None:
        if size % step:
            raise ValueError("CUMULATE: the max size must be a multiple of the step")
        self.size, self.step, self.offset = size, step, offset
        self.event_time = event_time

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> List[Any]:
        from ..runtime.windows.window import TimeWindow
        t = timestamp if self.event_time else context.get_current_processing_time()
        start = t - (t - self.offset + self.size) % self.size
        first_end = t - (t - self.offset + self.step) % self.step + self.step
        return [TimeWindow(start, end) for end in range(first_end, start + self.size + 1,
                                                        self.step)]

    def get_default_trigger(self, env: Any = None) -> Any:
        from ..runtime.windows.triggers import EventTimeTrigger, ProcessingTimeTrigger
        return EventTimeTrigger.create() if self.event_time else ProcessingTimeTrigger.create()

    def is_event_time(self) -> bool:
        return self.event_time

    def get_window_serializer(self) -> Any:
        return None

    def __repr__(self) -> str:
        return f"CumulativeWindows({self.size}, {self.step})"


class WindowColumns:
    """The window TVF alone: each row with window_start, window_end, window_time appended
    (a HOP or CUMULATE row once per window)."""

    def __init__(self, kind: str, time_index: int, size: int, slide: int, offset: int,
                 ltz: bool, shift: Optional[ZoneShift] = None) -> None:
        self.kind, self.position = kind, time_index + 1
        self.size, self.slide, self.offset, self.ltz = size, slide, offset, ltz
        self.shift = shift  # LTZ time: windows of the zone's wall clock

    def __call__(self, r: tuple) -> List[tuple]:
        from .values import EPOCH_UTC, timestamp_of
        import datetime as _dt
        v = r[self.position]
        if v is None:
            return []
        t = millis_of(v)
        shift = self.shift
        if shift is not None:
            t = shift.local(t)
        out = []
        for s, e in window_spans(self.kind, t, self.size, self.slide, self.offset):
            last = (shift.epoch(e) if shift is not None else e) - 1
            wt = EPOCH_UTC + _dt.timedelta(milliseconds=last) if self.ltz else timestamp_of(last)
            out.append(r + (timestamp_of(s), timestamp_of(e), wt))
        return out


# -- Top-N, deduplication --------------------------------------------------------------------------
class _Desc:
    """A value that sorts in reverse (a DESC sort key part)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: "_Desc") -> bool:
        return other.v < self.v

    def __gt__(self, other: "_Desc") -> bool:
        return other.v > self.v

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Desc) and self.v == other.v

    def __le__(self, other: "_Desc") -> bool:
        return not self.__gt__(other)

    def __ge__(self, other: "_Desc") -> bool:
        return not self.__lt__(other)

    def __hash__(self) -> int:
        return hash(self.v)

    def __reduce__(self) -> Any:
        return (_Desc, (self.v,))


class SortKey:
    """The sort key of a row for ORDER BY (column, ascending, nulls first) items."""

    def __init__(self, order: Sequence[Tuple[int, bool, bool]]) -> None:
        self.order = [(i + 1, asc, nulls_first) for i, asc, nulls_first in order]

    def __call__(self, r: tuple) -> tuple:
        out = []
        for pos, asc, nulls_first in self.order:
            v = r[pos]
            if v is None:
                out.append((0 if nulls_first else 2, None))
            else:
                out.append((1, v if asc else _Desc(v)))
        return tuple(out)


class TopN(KeyedProcessFunction):
    """ROW_NUMBER() <= N per partition (Flink's Top-N): after each input row the top N of
    its partition is compared with what was emitted: with the rank column, rank positions
    that changed are updated (-U old / +U new, +I a new position, -D a lost one); without
    it, rows entering the top N are +I and rows leaving it -D. An insert-only input keeps
    only the top N rows; an updating one keeps every row (rows leave by retraction)."""

    def __init__(self, order: Sequence[Tuple[int, bool, bool]], limit: int, offset: int,
                 with_rank: bool, keep_all: bool) -> None:
        self.sort_key = SortKey(order)
        self.limit, self.offset = limit, offset
        self.with_rank, self.keep_all = with_rank, keep_all

    def open(self, runtime_context: Any) -> None:
        self.rows = runtime_context.get_state(ValueStateDescriptor("topn-rows"))

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        import bisect
        st = self.rows.value()
        if st is None:
            st = [[], 0]  # [(sort key, sequence, values)], next sequence
        rows, seq = st
        before = [x[2] for x in rows[self.offset:self.limit]]
        values = r[1:]
        if r[0] in (INSERT, UPDATE_AFTER):
            key = (self.sort_key(r), seq)
            st[1] = seq + 1
            i = bisect.bisect_right(rows, key, key=lambda x: (x[0], x[1]))
            if i >= self.limit and not self.keep_all:
                return ()
            rows.insert(i, (key[0], key[1], values))
            if not self.keep_all and len(rows) > self.limit:
                del rows[self.limit:]
        else:
            for i, x in enumerate(rows):
                if x[2] == values:
                    del rows[i]
                    break
            else:
                return ()
        self.rows.update(st)
        after = [x[2] for x in rows[self.offset:self.limit]]
        return self._changes(before, after)

    def _changes(self, before: List[tuple], after: List[tuple]) -> List[tuple]:
        out: List[tuple] = []
        base = self.offset + 1
        if self.with_rank:
            for i in range(max(len(before), len(after))):
                old = before[i] if i < len(before) else None
                new = after[i] if i < len(after) else None
                rank = base + i
                if old is not None and new is not None:
                    if old != new:
                        out.append((UPDATE_BEFORE,) + old + (rank,))
                        out.append((UPDATE_AFTER,) + new + (rank,))
                elif new is not None:
                    out.append((INSERT,) + new + (rank,))
                elif old is not None:
                    out.append((DELETE,) + old + (rank,))
            return out
        remaining = list(before)
        entering = []
        for new in after:
            if new in remaining:
                remaining.remove(new)
            else:
                entering.append(new)
        out.extend((DELETE,) + v + (0,) for v in remaining)
        out.extend((INSERT,) + v + (0,) for v in entering)
        return out


class Deduplicate(KeyedProcessFunction):
    """ROW_NUMBER() = 1 ordered by a time attribute, the rank not read: keep the first row
    of a key (insert-only) or the last (``-U`` previous / ``+U`` new for each later row)."""

    def __init__(self, time_index: int, keep_last: bool) -> None:
        self.position = time_index + 1
        self.keep_last = keep_last

    def open(self, runtime_context: Any) -> None:
        self.kept = runtime_context.get_state(ValueStateDescriptor("dedup-row"))

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        prev = self.kept.value()
        row = (INSERT,) + r[1:] + (1,)
        if prev is None:
            self.kept.update(row)
            return (row,)
        if not self.keep_last:
            t, p = r[self.position], prev[self.position]
            if t is not None and p is not None and t < p:  # an earlier row came late
                self.kept.update(row)
                return ((UPDATE_BEFORE,) + prev[1:], (UPDATE_AFTER,) + row[1:])
            return ()
        t, p = r[self.position], prev[self.position]
        if t is not None and p is not None and t < p:
            return ()
        self.kept.update(row)
        return ((UPDATE_BEFORE,) + prev[1:], (UPDATE_AFTER,) + row[1:])


class WindowTopN(KeyedProcessFunction):
    """Top-N per window (the partition holds window_start and window_end): the window's
    rows are kept until the watermark passes its end, then its top N are emitted once."""

    def __init__(self, order: Sequence[Tuple[int, bool, bool]], limit: int, offset: int,
                 with_rank: bool, end_index: int) -> None:
        self.sort_key = SortKey(order)
        self.limit, self.offset, self.with_rank = limit, offset, with_rank
        self.end_position = end_index + 1

    def open(self, runtime_context: Any) -> None:
        self.rows = runtime_context.get_state(ValueStateDescriptor("window-topn"))

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        rows = self.rows.value()
        if rows is None:
            rows = []
            end = r[self.end_position]
            ctx.timer_service().register_event_time_timer(millis_of(end) - 1)
        rows.append(r)
        self.rows.update(rows)
        return ()

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        rows = self.rows.value() or []
        self.rows.clear()
        ranked = sorted(rows, key=self.sort_key)[self.offset:self.limit]
        return [(INSERT,) + r[1:] + (self.offset + i + 1,) for i, r in enumerate(ranked)]


# -- OVER -------------------------------------------------------------------------------------------
class OverRows(KeyedProcessFunction):
    """Aggregates over a frame of each row's partition, ordered by a time attribute: rows
    wait until the watermark passes their time (later ones are late and dropped), then each
    gets the aggregates of its frame: the last ``preceding + 1`` rows (ROWS), or the rows of
    the last ``preceding`` ms, peers included (RANGE); ``preceding`` None: unbounded."""

    def __init__(self, aggregates: Aggregates, time_index: int, rows: bool,
                 preceding: Optional[int], proctime: bool) -> None:
        self.aggregates = aggregates
        self.position = time_index + 1
        self.rows_frame, self.preceding, self.proctime = rows, preceding, proctime

    def open(self, runtime_context: Any) -> None:
        self.pending = runtime_context.get_state(ValueStateDescriptor("over-pending"))
        self.frame = runtime_context.get_state(ValueStateDescriptor("over-frame"))

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        if self.proctime:
            return self._emit([r], 0)
        ts = millis_of(r[self.position])
        st = self.frame.value()
        if st is not None and ts <= st[2]:
            return ()  # late: its time was already processed
        pending = self.pending.value() or {}
        if ts not in pending:
            pending[ts] = []
            ctx.timer_service().register_event_time_timer(ts)
        pending[ts].append(r)
        self.pending.update(pending)
        return ()

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        pending = self.pending.value() or {}
        rows = pending.pop(timestamp, [])
        if pending:
            self.pending.update(pending)
        else:
            self.pending.clear()
        return self._emit(rows, timestamp)

    def _emit(self, rows: List[tuple], ts: int) -> List[tuple]:
        aggs = self.aggregates
        st = self.frame.value()
        if st is None:
            st = [aggs.create(), [], MIN_TS]  # accumulators, rows in the frame, last time
        acc, window, _last = st
        out = []
        if self.rows_frame:
            for r in rows:
                aggs.add(acc, r)
                if self.preceding is not None:
                    window.append(r)
                    if len(window) > self.preceding + 1:
                        aggs.retract(acc, window.pop(0))
                out.append(r + aggs.values(acc))
        else:
            for r in rows:
                aggs.add(acc, r)
                if self.preceding is not None:
                    window.append((ts, r))
            if self.preceding is not None:
                while window and window[0][0] < ts - self.preceding:
                    aggs.retract(acc, window.pop(0)[1])
            values = aggs.values(acc)
            out = [r + values for r in rows]
        self.frame.update([acc, window, ts])
        return out


class SortAll(KeyedProcessFunction):
    """ORDER BY of a bounded input (batch mode): every row, sorted at the end of the input,
    then OFFSET / FETCH."""

    def __init__(self, order: Sequence[Tuple[int, bool, bool]], offset: int,
                 fetch: Optional[int]) -> None:
        self.sort_key = SortKey(order)
        self.offset, self.fetch = offset, fetch

    def open(self, runtime_context: Any) -> None:
        self.rows = runtime_context.get_state(ValueStateDescriptor("sort-rows"))

    def process_element(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        rows = self.rows.value()
        if rows is None:
            rows = []
            ctx.timer_service().register_event_time_timer(2 ** 63 - 1)
        rows.append(r)
        self.rows.update(rows)
        return ()

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        rows = sorted(self.rows.value() or [], key=self.sort_key)
        self.rows.clear()
        end = None if self.fetch is None else self.offset + self.fetch
        return rows[self.offset:end]


# -- joins ------------------------------------------------------------------------------------------
class RegularJoin(KeyedCoProcessFunction):
    """A streaming join on equi-keys with Flink's changelog (StreamingJoinOperator): an
    inner join passes its inputs' kinds on; an outer side emits a NULL-padded row while it
    has no match and retracts it (-D) when the first match arrives (and back)."""

    def __init__(self, left_width: int, right_width: int, join_type: str,
                 condition: Any = None, keys: Tuple[Sequence[int], Sequence[int]] = ((), ())
                 ) -> None:
        self.widths = (left_width, right_width)
        self.outer = (join_type in ("LEFT", "FULL"), join_type in ("RIGHT", "FULL"))
        self.condition = condition  # compiled over (kind, left..., right...) or None
        self.keys = (tuple(keys[0]), tuple(keys[1]))  # a NULL key matches nothing

    def open(self, runtime_context: Any) -> None:
        self.states = (runtime_context.get_state(ValueStateDescriptor("join-left")),
                       runtime_context.get_state(ValueStateDescriptor("join-right")))

    def process_element1(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        return self._process(r, 0)

    def process_element2(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        return self._process(r, 1)

    def _pair(self, side: int, mine: tuple, other: tuple) -> tuple:
        return mine + other if side == 0 else other + mine

    def _matches(self, side: int, values: tuple, others: dict) -> List[tuple]:
        """The other side's matching rows, a row once per copy of it."""
        cond = self.condition
        out = []
        for o, entry in others.items():
            if cond is None or cond((0,) + self._pair(side, values, o)):
                out.extend([o] * entry[0])
        return out

    def _process(self, r: tuple, side: int) -> List[tuple]:
        kind = r[0]
        values = r[1:]
        mine_state, other_state = self.states[side], self.states[1 - side]
        mine = mine_state.value() or {}
        others = other_state.value() or {}
        out: List[tuple] = []
        nulls_mine = (None,) * self.widths[side]
        nulls_other = (None,) * self.widths[1 - side]
        i_am_outer, other_outer = self.outer[side], self.outer[1 - side]
        null_key = any(values[i] is None for i in self.keys[side])
        matched = [] if null_key else self._matches(side, values, others)
        other_changed = False
        if kind in (INSERT, UPDATE_AFTER):
            if i_am_outer and not matched:
                out.append((INSERT,) + self._pair(side, values, nulls_other))
            for o in matched:
                if other_outer:  # the other row's null-padded result is withdrawn
                    entry = others[o]
                    if entry[1] == 0:
                        out.append((DELETE,) + self._pair(side, nulls_mine, o))
                    entry[1] += 1
                    other_changed = True
                out.append((INSERT if i_am_outer or other_outer else kind,)
                           + self._pair(side, values, o))
            entry = mine.get(values)
            if entry is None:
                mine[values] = [1, len(matched)]
            else:
                entry[0] += 1
        else:
            entry = mine.get(values)
            if entry is None:
                return []
            entry[0] -= 1
            if entry[0] <= 0:
                del mine[values]
            if not matched:
                if i_am_outer:
                    out.append((DELETE,) + self._pair(side, values, nulls_other))
            for o in matched:
                out.append(((DELETE if i_am_outer or other_outer else kind),)
                           + self._pair(side, values, o))
                if other_outer:
                    oe = others[o]
                    if oe[1] == 1:
                        out.append((INSERT,) + self._pair(side, nulls_mine, o))
                    oe[1] -= 1
                    other_changed = True
        mine_state.update(mine)
        if other_changed:
            other_state.update(others)
        return out


class SemiAntiJoin(KeyedCoProcessFunction):
    """A streaming semi join (``IN`` / ``EXISTS``) or anti join (``NOT ...``): left rows
    only, a row out while it has a match (semi) or none (anti), retracted (-D) when that
    changes, as Flink's StreamingSemiAntiJoinOperator; a NULL key matches nothing."""

    def __init__(self, anti: bool, condition: Any = None,
                 keys: Tuple[Sequence[int], Sequence[int]] = ((), ())) -> None:
        self.anti = anti
        self.condition = condition  # compiled over (kind, left..., right...) or None
        self.keys = (tuple(keys[0]), tuple(keys[1]))

    def open(self, runtime_context: Any) -> None:
        # left: values -> [copies, matches]; right: values -> copies
        self.lefts = runtime_context.get_state(ValueStateDescriptor("semi-left"))
        self.rights = runtime_context.get_state(ValueStateDescriptor("semi-right"))

    def _match(self, left: tuple, right: tuple) -> bool:
        return self.condition is None or bool(self.condition((0,) + left + right))

    def _out(self, matches: int) -> bool:
        return (matches == 0) if self.anti else (matches > 0)

    def process_element1(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        values = r[1:]
        lefts = self.lefts.value() or {}
        entry = lefts.get(values)
        if r[0] in (INSERT, UPDATE_AFTER):
            if entry is None:
                rights = {} if any(values[i] is None for i in self.keys[0]) else (
                    self.rights.value() or {})
                matches = sum(n for rv, n in rights.items() if self._match(values, rv))
                entry = lefts[values] = [0, matches]
            entry[0] += 1
            self.lefts.update(lefts)
            return [(INSERT,) + values] if self._out(entry[1]) else ()
        if entry is None:
            return ()
        entry[0] -= 1
        if entry[0] <= 0:
            del lefts[values]
        self.lefts.update(lefts)
        return [(DELETE,) + values] if self._out(entry[1]) else ()

    def process_element2(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        values = r[1:]
        if any(values[i] is None for i in self.keys[1]):
            return ()
        rights = self.rights.value() or {}
        step = 1 if r[0] in (INSERT, UPDATE_AFTER) else -1
        count = rights.get(values, 0) + step
        if count < 0:
            return ()
        if count:
            rights[values] = count
        else:
            rights.pop(values, None)
        self.rights.update(rights)
        lefts = self.lefts.value() or {}
        out: List[tuple] = []
        for lv, entry in lefts.items():
            if not self._match(lv, values):
                continue
            before = self._out(entry[1])
            entry[1] += step
            after = self._out(entry[1])
            if before != after:
                out.extend([((INSERT if after else DELETE),) + lv] * entry[0])
        if out or lefts:
            self.lefts.update(lefts)
        return out


class BatchJoin(KeyedProcessFunction):
    """A join of bounded inputs (batch mode): both sides kept per key, joined once at the
    end of the input (rows tagged with their side by the planner)."""

    def __init__(self, left_width: int, right_width: int, join_type: str,
                 condition: Any = None, keys: Tuple[Sequence[int], Sequence[int]] = ((), ())
                 ) -> None:
        self.widths = (left_width, right_width)
        self.outer = (join_type in ("LEFT", "FULL"), join_type in ("RIGHT", "FULL"))
        self.condition = condition
        self.keys = keys
        self.semi = {"SEMI": True, "ANTI": False}.get(join_type)

    def open(self, runtime_context: Any) -> None:
        self.rows = runtime_context.get_state(ValueStateDescriptor("batch-join"))

    def process_element(self, tagged: tuple, ctx: Any) -> Iterable[tuple]:
        st = self.rows.value()
        if st is None:
            st = [[], []]
            ctx.timer_service().register_event_time_timer(2 ** 63 - 1)
        side, r = tagged
        st[side].append(r[1:])
        self.rows.update(st)
        return ()

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        st = self.rows.value() or [[], []]
        self.rows.clear()
        return _join_lists(st[0], st[1], self.widths, self.outer, self.condition, self.keys,
                           self.semi)


class SetOperation(KeyedProcessFunction):
    """INTERSECT / EXCEPT [ALL], keyed by the whole row: how many copies of the row each
    side holds, and the row out as many times as the operation gives: streaming, the
    change of that number as +I / -D rows; batch, the final copies at the end of input
    (rows tagged with their side by the planner)."""

    def __init__(self, intersect: bool, all_: bool, batch: bool) -> None:
        self.intersect, self.all_, self.batch = intersect, all_, batch

    def open(self, runtime_context: Any) -> None:
        self.counts = runtime_context.get_state(ValueStateDescriptor("set-operation"))

    def copies(self, left: int, right: int) -> int:
        if self.intersect:
            return min(left, right) if self.all_ else int(left > 0 and right > 0)
        return max(left - right, 0) if self.all_ else int(left > 0 and right == 0)

    def process_element(self, tagged: tuple, ctx: Any) -> Iterable[tuple]:
        side, r = tagged
        counts = self.counts.value()
        if counts is None:
            counts = [0, 0, r[1:]]
            if self.batch:
                ctx.timer_service().register_event_time_timer(2 ** 63 - 1)
        before = self.copies(counts[0], counts[1])
        counts[side] += 1 if r[0] in (INSERT, UPDATE_AFTER) else -1
        self.counts.update(counts)
        if self.batch:
            return ()
        after = self.copies(counts[0], counts[1])
        values = counts[2]
        if after > before:
            return [(INSERT,) + values] * (after - before)
        return [(DELETE,) + values] * (before - after)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        counts = self.counts.value()
        self.counts.clear()
        if counts is None:
            return ()
        return [(INSERT,) + counts[2]] * self.copies(counts[0], counts[1])


class TaggedRow:
    """The key of a side-tagged row: its values."""

    def __call__(self, tagged: tuple) -> tuple:
        return tagged[1][1:]


class TagSide:
    def __init__(self, side: int) -> None:
        self.side = side

    def __call__(self, r: tuple) -> tuple:
        return (self.side, r)


class IntervalPair:
    """The ProcessJoinFunction of an interval join: the pair, if the rest of the
    condition holds."""

    def __init__(self, condition: Any = None) -> None:
        self.condition = condition

    def __call__(self, left: tuple, right: tuple, ctx: Any) -> List[tuple]:
        row = (INSERT,) + left[1:] + right[1:]
        if self.condition is None or self.condition(row):
            return [row]
        return []


class IntervalOuterJoin(KeyedCoProcessFunction):
    """An outer interval join (``r.ts BETWEEN l.ts + lower AND l.ts + upper``), insert-only
    as Flink's: a match is out when its second row arrives; a row of an outer side that
    matched nothing is out NULL-padded once the watermark passes the last time a match
    could arrive (left: ``l.ts + upper``, right: ``r.ts - lower``)."""

    def __init__(self, join_type: str, bounds: Tuple[int, int, int, int],
                 widths: Tuple[int, int], condition: Any = None,
                 keys: Tuple[Sequence[int], Sequence[int]] = ((), ())) -> None:
        lt, rt, self.lower, self.upper = bounds
        self.times = (lt + 1, rt + 1)
        self.widths = widths
        self.outer = (join_type in ("LEFT", "FULL"), join_type in ("RIGHT", "FULL"))
        self.condition = condition
        self.keys = (tuple(keys[0]), tuple(keys[1]))  # a NULL key matches nothing

    def open(self, runtime_context: Any) -> None:
        # per side: [time, values, matched] of the rows that may still match
        self.states = (runtime_context.get_state(ValueStateDescriptor("interval-left")),
                       runtime_context.get_state(ValueStateDescriptor("interval-right")))

    def process_element1(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        return self._add(r, 0, ctx)

    def process_element2(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        return self._add(r, 1, ctx)

    def _expiry(self, side: int, t: int) -> int:
        """After this time (the watermark past it) a row of ``side`` at ``t`` meets no row."""
        return t + self.upper if side == 0 else t - self.lower

    def _pair(self, side: int, mine: tuple, other: tuple) -> tuple:
        return (INSERT,) + (mine + other if side == 0 else other + mine)

    def _add(self, r: tuple, side: int, ctx: Any) -> List[tuple]:
        values = r[1:]
        v = values[self.times[side] - 1]
        if v is None:
            return []
        t = millis_of(v)
        out: List[tuple] = []
        matched = False
        if not any(values[i] is None for i in self.keys[side]):
            others = self.states[1 - side].value() or []
            for entry in others:
                ot = entry[0]
                lt, rt = (t, ot) if side == 0 else (ot, t)
                if lt + self.lower <= rt <= lt + self.upper:
                    row = self._pair(side, values, entry[1])
                    if self.condition is None or self.condition(row):
                        out.append(row)
                        matched = True
                        entry[2] = True
            if out:
                self.states[1 - side].update(others)
        expiry = self._expiry(side, t)
        if expiry <= ctx.timer_service().current_watermark():  # can meet no later row
            if not matched and self.outer[side]:
                out.append(self._pair(side, values, (None,) * self.widths[1 - side]))
            return out
        mine = self.states[side].value() or []
        mine.append([t, values, matched])
        self.states[side].update(mine)
        ctx.timer_service().register_event_time_timer(expiry)
        return out

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        out: List[tuple] = []
        for side in (0, 1):
            rows = self.states[side].value()
            if not rows:
                continue
            keep = []
            for entry in rows:
                if self._expiry(side, entry[0]) <= timestamp:
                    if not entry[2] and self.outer[side]:
                        out.append(self._pair(side, entry[1],
                                              (None,) * self.widths[1 - side]))
                else:
                    keep.append(entry)
            if keep:
                self.states[side].update(keep)
            else:
                self.states[side].clear()
        return out


class TemporalJoin(KeyedCoProcessFunction):
    """An event-time temporal join: each left row waits until the watermark passes its
    time, then meets the right version valid then (the latest with time <= it)."""

    def __init__(self, left_time: int, right_time: int, right_width: int, left_outer: bool,
                 condition: Any = None) -> None:
        self.left_pos, self.right_pos = left_time + 1, right_time + 1
        self.right_width, self.left_outer = right_width, left_outer
        self.condition = condition
        # a NULL key meets the version of the NULL key, as in Flink 2.3 (seen in the corpus:
        # temporal_join_null_key); window and regular joins match NULL keys to nothing

    def open(self, runtime_context: Any) -> None:
        self.pending = runtime_context.get_state(ValueStateDescriptor("temporal-left"))
        self.versions = runtime_context.get_state(ValueStateDescriptor("temporal-right"))

    def process_element1(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        pending = self.pending.value() or []
        t = millis_of(r[self.left_pos])
        pending.append((t, r[1:]))
        self.pending.update(pending)
        ctx.timer_service().register_event_time_timer(t)
        return ()

    def process_element2(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        if r[0] == UPDATE_BEFORE:  # the version its +U replaces stays valid until then
            return ()
        versions = self.versions.value() or []
        t = millis_of(r[self.right_pos])
        versions.append((t, r[1:] if r[0] in (INSERT, UPDATE_AFTER) else None))  # -D: gone
        versions.sort(key=lambda v: v[0])
        self.versions.update(versions)
        return ()

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        pending = self.pending.value() or []
        due = [p for p in pending if p[0] <= timestamp]
        keep = [p for p in pending if p[0] > timestamp]
        versions = self.versions.value() or []
        out = []
        for t, lv in due:
            match = None
            for vt, rv in versions:
                if vt <= t:
                    match = rv
                else:
                    break
            if match is not None:
                row = (INSERT,) + lv + match
                if self.condition is None or self.condition(row):
                    out.append(row)
                    continue
            if self.left_outer:
                out.append((INSERT,) + lv + (None,) * self.right_width)
        if keep:
            self.pending.update(keep)
        else:
            self.pending.clear()
        oldest = min((p[0] for p in keep), default=timestamp)
        # versions older than the newest one valid at the oldest pending time are not needed
        while len(versions) > 1 and versions[1][0] <= oldest:
            versions.pop(0)
        self.versions.update(versions)
        return out


class WindowJoin(KeyedCoProcessFunction):
    """A window join: both sides are window aggregations; a window's rows are joined when
    the watermark passes its end (outer sides padded with NULLs), insert-only."""

    def __init__(self, left_width: int, right_width: int, join_type: str, left_end: int,
                 right_end: int, condition: Any = None,
                 keys: Tuple[Sequence[int], Sequence[int]] = ((), ())) -> None:
        self.widths = (left_width, right_width)
        self.outer = (join_type in ("LEFT", "FULL"), join_type in ("RIGHT", "FULL"))
        self.ends = (left_end + 1, right_end + 1)
        self.condition = condition
        self.keys = (tuple(keys[0]), tuple(keys[1]))  # a NULL key matches nothing

    def open(self, runtime_context: Any) -> None:
        self.rows = runtime_context.get_state(ValueStateDescriptor("window-join"))

    def _add(self, r: tuple, side: int, ctx: Any) -> Iterable[tuple]:
        st = self.rows.value()
        if st is None:
            st = [[], []]
            ctx.timer_service().register_event_time_timer(millis_of(r[self.ends[side]]) - 1)
        st[side].append(r[1:])
        self.rows.update(st)
        return ()

    def process_element1(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        return self._add(r, 0, ctx)

    def process_element2(self, r: tuple, ctx: Any) -> Iterable[tuple]:
        return self._add(r, 1, ctx)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[tuple]:
        st = self.rows.value() or [[], []]
        self.rows.clear()
        return _join_lists(st[0], st[1], self.widths, self.outer, self.condition, self.keys)


def _join_lists(lefts: List[tuple], rights: List[tuple], widths: Tuple[int, int],
                outer: Tuple[bool, bool], cond: Any,
                keys: Tuple[Sequence[int], Sequence[int]] = ((), ()),
                semi: Optional[bool] = None) -> List[tuple]:
    """The joined rows of one key's rows; ``semi`` True/False: the left rows that have a
    match / none (a semi / anti join)."""
    out = []
    right_hit = [False] * len(rights)
    right_null = [any(rv[i] is None for i in keys[1]) for rv in rights]
    if semi is not None:
        for lv in lefts:
            hit = not any(lv[i] is None for i in keys[0]) and any(
                not right_null[j] and (cond is None or cond((0,) + lv + rv))
                for j, rv in enumerate(rights))
            if hit == semi:
                out.append((INSERT,) + lv)
        return out
    for lv in lefts:
        hit = False
        if any(lv[i] is None for i in keys[0]):
            if outer[0]:
                out.append((INSERT,) + lv + (None,) * widths[1])
            continue
        for j, rv in enumerate(rights):
            if right_null[j]:
                continue
            if cond is None or cond((0,) + lv + rv):
                out.append((INSERT,) + lv + rv)
                hit = True
                right_hit[j] = True
        if not hit and outer[0]:
            out.append((INSERT,) + lv + (None,) * widths[1])
    if outer[1]:
        for j, rv in enumerate(rights):
            if not right_hit[j]:
                out.append((INSERT,) + (None,) * widths[0] + rv)
    return out


class ColumnarWindowRow:
    """A row of the columnar window's result (keys, window_start, window_end, aggregates;
    epoch ms) as a window aggregation's row (keys, aggregates, window_start, window_end,
    window_time; timestamps)."""

    def __init__(self, keys: int, aggs: int, ltz: bool) -> None:
        self.keys, self.aggs, self.ltz = keys, aggs, ltz

    def __call__(self, r: tuple) -> tuple:
        from .values import EPOCH_UTC, timestamp_of
        import datetime as _dt
        k = self.keys
        start, end = r[k], r[k + 1]
        wt = EPOCH_UTC + _dt.timedelta(milliseconds=end - 1) if self.ltz else timestamp_of(end - 1)
        return (INSERT,) + tuple(r[:k]) + tuple(r[k + 2:k + 2 + self.aggs]) + (
            timestamp_of(start), timestamp_of(end), wt)
