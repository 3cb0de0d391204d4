"""The window operator: assigner + trigger + window contents + function (+ evictor).

It follows Flink's ``WindowOperator`` (and ``EvictingWindowOperator``) step by step:
each record goes to the windows its assigner gives it (merging windows through a
:class:`MergingWindowSet` per key), windows whose cleanup time has passed are late
and skipped, the trigger decides after every record and every timer whether to fire
(evaluate the window function) and/or purge, and each window's state is cleared at
its cleanup time (``max_timestamp + allowed_lateness``). Results carry the window's
``max_timestamp()`` as their timestamp. ``window_all`` is this operator on one key.

Window contents are plain dicts keyed by ``(key, window)``: a list of records, a
reduced value or an aggregate accumulator. The common case (event-time trigger,
non-merging windows, no evictor) takes a faster path that groups a batch by key and
window before adding, with the same results.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from ...errors import USER_ERRORS, short_repr
from ..context import StreamingRuntimeContext
from ..keygroups import plain_key
from ..operators import Collector, OneInputOperator, Operator
from ..records import MAX_TIMESTAMP, Batch
from ..registry import register
from ..state import KeyedStateBackend
from ..state_backends import keyed_state_backend
from ..summaries import FieldsAggregate
from ..timers import TimeDomain
from .assigners import (NO_TIMESTAMP, MergingWindowAssigner, TumblingEventTimeWindows,
                        WindowAssigner)
from .triggers import EventTimeTrigger, Trigger
from .window import TimestampedValue, TimeWindow

__all__ = ["WindowFunctionSpec", "WindowOperator", "MergingWindowSet"]


class WindowFunctionSpec:
    """What a window computes, as planned by the API.

    contents: ``"list"`` (keep the records), ``"reduce"`` (fold with ``reduce``) or
    ``"aggregate"`` (an AggregateFunction ``aggregate``). style: ``None`` (emit the
    reduced value / aggregate result / records), ``"process"`` (a ProcessWindowFunction,
    ``function.process``) or ``"apply"`` (a WindowFunction, ``function.apply``).
    ``keyed=False`` for ``window_all`` (functions get no key).
    """

    def __init__(self, contents: str, reduce: Optional[Callable[[Any, Any], Any]] = None,
                 aggregate: Any = None, function: Any = None, style: Optional[str] = None,
                 keyed: bool = True, owners: Iterable[Any] = ()) -> None:
        if contents not in ("list", "reduce", "aggregate"):
            raise ValueError(f"unknown window contents {contents!r}")
        self.contents = contents
        self.reduce = reduce
        self.aggregate = aggregate
        self.function = function
        self.style = style
        self.keyed = keyed
        self.owners = [o for o in owners if o is not None]

    def open(self, runtime_context: Any) -> None:
        for owner in self.owners:
            if hasattr(owner, "open"):
                owner.open(runtime_context)

    def close(self) -> None:
        for owner in self.owners:
            if hasattr(owner, "close"):
                owner.close()


class MergingWindowSet:
    """The in-flight windows of one key for a merging assigner, and for each the window
    whose state holds its contents (merging keeps one of the merged state windows)."""

    __slots__ = ("assigner", "mapping")

    def __init__(self, assigner: Any) -> None:
        self.assigner = assigner
        self.mapping: Dict[Any, Any] = {}

    def state_window(self, window: Any) -> Any:
        return self.mapping.get(window)

    def retire_window(self, window: Any) -> None:
        if self.mapping.pop(window, None) is None:
            raise RuntimeError(f"window {window} is not in the in-flight window set")

    def add_window(self, new: Any, merge: Callable[[Any, List[Any], Any, List[Any]], None]) -> Any:
        """Add ``new``, merging as the assigner says; returns the window ``new`` ended in.
        ``merge(result, merged_windows, state_window, merged_state_windows)`` is called for
        every merge so the operator can merge contents, trigger state and timers."""
        candidates = list(dict.fromkeys([*self.mapping, new]))
        results: List[Tuple[Any, List[Any]]] = []

        class Callback(MergingWindowAssigner.MergeCallback):
            def merge(self, to_be_merged: Iterable[Any], merge_result: Any) -> None:
                results.append((merge_result, list(dict.fromkeys(to_be_merged))))

        self.assigner.merge_windows(candidates, Callback())
        result_window, merged_new = new, False
        mapping = self.mapping
        for merge_result, merged in results:
            if new in merged:
                merged.remove(new)
                merged_new = True
                result_window = merge_result
            state_window = mapping[merged[0]]
            merged_state_windows = [mapping.pop(w) for w in merged if w in mapping]
            mapping[merge_result] = state_window
            merged_state_windows.remove(state_window)
            if not (len(merged) == 1 and merged[0] == merge_result):
                merge(merge_result, merged, state_window, merged_state_windows)
        if not results or (result_window == new and not merged_new):
            mapping[result_window] = result_window
        return result_window


# -- contexts given to user code -------------------------------------------------------------------

class _StateStore:
    """Keyed state scoped by a backend's current key and namespace."""

    def __init__(self, backend: KeyedStateBackend, refuse: Optional[str] = None) -> None:
        self._backend = backend
        self._refuse = refuse

    def _get(self, descriptor: Any) -> Any:
        if self._refuse:
            raise RuntimeError(self._refuse)
        return self._backend.get(descriptor)

    get_state = get_list_state = get_map_state = _get
    get_reducing_state = get_aggregating_state = _get


class _AssignerContext:
    def __init__(self, op: "WindowOperator") -> None:
        self._op = op
        self._rc: Optional[StreamingRuntimeContext] = None

    def get_current_processing_time(self) -> int:
        return self._op.task.time_service.now_ms()

    def get_runtime_context(self) -> StreamingRuntimeContext:
        if self._rc is None:
            self._rc = self._op.runtime_context()
        return self._rc


class _TriggerContext:
    """The trigger's view of one (key, window); also the OnMergeContext."""

    def __init__(self, op: "WindowOperator") -> None:
        self._op = op
        self.key: Any = None
        self.window: Any = None
        self.merged: List[Any] = []

    def _at(self, key: Any, window: Any) -> "_TriggerContext":
        self.key, self.window = key, window
        self._op.wstate.namespace = window
        return self

    def get_current_processing_time(self) -> int:
        return self._op.task.time_service.now_ms()

    def get_current_watermark(self) -> int:
        return self._op.current_watermark

    def get_metric_group(self) -> Any:
        return None

    def register_event_time_timer(self, time: int) -> None:
        self._op.timers.register_event(int(time), self.key, self.window)

    def register_processing_time_timer(self, time: int) -> None:
        self._op.timers.register_processing(int(time), self.key, self.window)

    def delete_event_time_timer(self, time: int) -> None:
        self._op.timers.delete_event(int(time), self.key, self.window)

    def delete_processing_time_timer(self, time: int) -> None:
        self._op.timers.delete_processing(int(time), self.key, self.window)

    def get_partitioned_state(self, descriptor: Any) -> Any:
        wstate = self._op.wstate
        wstate.namespace = self.window
        return wstate.get(descriptor)

    def merge_partitioned_state(self, descriptor: Any) -> None:
        if self.merged:
            self._op.wstate.merge_namespaces(descriptor, self.window, self.merged)


class _WindowContext:
    """``ProcessWindowFunction.Context`` (also the evictor's context)."""

    def __init__(self, op: "WindowOperator") -> None:
        self._op = op
        self._window: Any = None
        merging = "per-window state (window_state()) is not available with merging windows"
        self._window_store = _StateStore(op.wstate, merging if op.merging else None)
        self._global_store = _StateStore(op.state)

    def window(self) -> Any:
        return self._window

    def current_processing_time(self) -> int:
        return self._op.task.time_service.now_ms()

    def current_watermark(self) -> int:
        return self._op.current_watermark

    get_current_processing_time = current_processing_time
    get_current_watermark = current_watermark

    def window_state(self) -> _StateStore:
        self._op.wstate.namespace = self._window
        return self._window_store

    def global_state(self) -> _StateStore:
        return self._global_store


# -- the operator --------------------------------------------------------------------------------------

@register("window")
class WindowOperator(OneInputOperator):
    """Keyed windows (the plan's ``window`` nodes)."""

    def __init__(self, node: Any) -> None:
        super().__init__(node)
        self.fn_name = node.fn.name if node.fn is not None else self.name
        self.late_records = 0
        self.late_records_dropped = 0

    def open(self) -> None:
        p = self.params
        self.spec: WindowFunctionSpec = self.fn.owner
        self.assigner = p["assigner"]
        self.trigger = p["trigger"]
        self.evictor = p.get("evictor")
        self.lateness = int(p.get("allowed_lateness", 0))
        self.late_tag = p.get("late_tag")
        self.event_time = bool(self.assigner.is_event_time())
        self.merging = hasattr(self.assigner, "merge_windows")
        if self.merging and not self.trigger.can_merge():
            raise self.error(TypeError(
                f"the trigger {self.trigger!r} cannot be used with merging windows "
                f"({self.assigner!r}): its can_merge() is False"), None, has_record=False,
                phase="open()")
        self.wstate = keyed_state_backend(self, "window")
        self.contents: Dict[Tuple[Any, Any], Any] = self.wstate.entries("contents")
        self.merging_sets: Dict[Any, MergingWindowSet] = {}
        self.actx = _AssignerContext(self)
        self.tctx = _TriggerContext(self)
        self.wctx = _WindowContext(self)
        spec = self.spec
        self.reduce = spec.reduce
        self.agg = spec.aggregate
        self.add_all = getattr(self.agg, "add_all", None) if self.agg is not None else None
        # user reduce/aggregate functions may read keyed state: keep the key current
        self.set_key_per_group = not isinstance(self.agg, FieldsAggregate)
        self.fast = (type(self.trigger) is EventTimeTrigger and not self.merging
                     and self.evictor is None and self.event_time)
        self.tumbling = (type(self.assigner) is TumblingEventTimeWindows)
        self.window_cache: Dict[int, Any] = {}
        Operator.open(self)

    # Checkpoints: contents by (key, window), merging window sets by key, the window-scoped
    # trigger state (slots are (window, key)), and the late-record counters.
    keyed_fields = {"contents": lambda slot: slot[0], "merging_sets": lambda key: key}
    instance_fields = ("late_records", "late_records_dropped")

    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        snap = super().snapshot_state(checkpoint_id)
        snap["window_state"] = self.wstate.snapshot()
        return snap

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Any, same_instance: bool) -> None:
        super().restore_state(snaps, owns, same_instance)
        for snap in snaps:
            self.wstate.restore({name: (kind, {slot: v for slot, v in data.items()
                                              if owns is None or owns(slot[1])})
                                 for name, (kind, data) in snap["window_state"].items()})
        for mset in self.merging_sets.values():
            mset.assigner = self.assigner

    def extra_metrics(self) -> Dict[str, int]:
        return {"late_records": self.late_records,
                "late_records_dropped": self.late_records_dropped}

    # -- helpers -------------------------------------------------------------------------------------
    def _set_key(self, key: Any) -> None:
        self.state.current_key = key
        self.wstate.current_key = key

    def _cleanup_time(self, window: Any) -> int:
        if not self.event_time:
            return window.max_timestamp()
        t = window.max_timestamp() + self.lateness
        return t if t < MAX_TIMESTAMP else MAX_TIMESTAMP

    def _is_late(self, window: Any) -> bool:
        return self.event_time and self._cleanup_time(window) <= self.current_watermark

    def _register_cleanup(self, key: Any, window: Any) -> None:
        t = self._cleanup_time(window)
        if t == MAX_TIMESTAMP:
            return
        if self.event_time:
            self.timers.register_event(t, key, window)
        else:
            self.timers.register_processing(t, key, window)

    def _delete_cleanup(self, key: Any, window: Any) -> None:
        t = self._cleanup_time(window)
        if t == MAX_TIMESTAMP:
            return
        if self.event_time:
            self.timers.delete_event(t, key, window)
        else:
            self.timers.delete_processing(t, key, window)

    def _add(self, key: Any, state_window: Any, value: Any, ts: Optional[int]) -> None:
        slot = (key, state_window)
        contents = self.contents
        if self.evictor is not None:
            item = TimestampedValue(value, ts)
            lst = contents.get(slot)
            if lst is None:
                contents[slot] = [item]
            else:
                lst.append(item)
            return
        kind = self.spec.contents
        current = contents.get(slot)
        if kind == "list":
            if current is None:
                contents[slot] = [value]
            else:
                current.append(value)
        elif kind == "reduce":
            contents[slot] = value if current is None else self.reduce(current, value)
        else:
            agg = self.agg
            contents[slot] = agg.add(value, agg.create_accumulator() if current is None else current)

    def _late(self, value: Any, ts: Optional[int], out: Collector) -> None:
        self.late_records += 1
        if self.late_tag is not None:
            out.side(self.late_tag, value, ts)
        else:
            self.late_records_dropped += 1

    # -- records ----------------------------------------------------------------------------------------
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        out = Collector(self, True)
        if self.fast:
            self._fast_batch(batch, out)
        else:
            tss = batch.timestamps
            v = None
            try:
                for i, (k, v) in enumerate(zip(batch.keys, batch.values)):
                    self._set_key(k)
                    self._process_record(k, v, tss[i] if tss is not None else None, out)
            except USER_ERRORS as exc:
                raise self.error(exc, v) from exc
        out.flush()

    def _process_record(self, key: Any, value: Any, ts: Optional[int], out: Collector) -> None:
        windows = self.assigner.assign_windows(value, ts, self.actx)
        trigger, tctx = self.trigger, self.tctx
        skipped = True
        if self.merging:
            mset = self.merging_sets.get(key)
            if mset is None:
                mset = self.merging_sets[key] = MergingWindowSet(self.assigner)
            for window in windows:
                actual = mset.add_window(window, functools.partial(self._merge, key))
                if self._is_late(actual):
                    mset.retire_window(actual)
                    continue
                skipped = False
                state_window = mset.state_window(actual)
                self._add(key, state_window, value, ts)
                result = trigger.on_element(value, ts, actual, tctx._at(key, actual))
                self._after_trigger(result, key, actual, state_window, out)
                self._register_cleanup(key, actual)
            if not mset.mapping:
                del self.merging_sets[key]
        else:
            for window in windows:
                if self._is_late(window):
                    continue
                skipped = False
                self._add(key, window, value, ts)
                result = trigger.on_element(value, ts, window, tctx._at(key, window))
                self._after_trigger(result, key, window, window, out)
                self._register_cleanup(key, window)
        if skipped and self.event_time and ts is not None \
                and ts + self.lateness <= self.current_watermark:
            self._late(value, ts, out)

    def _after_trigger(self, result: Any, key: Any, window: Any, state_window: Any,
                       out: Collector) -> None:
        if result.is_fire():
            contents = self.contents.get((key, state_window))
            if contents is not None:
                self._emit(key, window, state_window, contents, out)
        if result.is_purge():
            self.contents.pop((key, state_window), None)

    def _merge(self, key: Any, result: Any, merged: List[Any], state_window: Any,
               merged_state_windows: List[Any]) -> None:
        if self.event_time and self._cleanup_time(result) <= self.current_watermark:
            raise RuntimeError(
                "the end timestamp of an event-time window cannot become earlier than the "
                f"current watermark by merging (watermark {self.current_watermark}, "
                f"window {result})")
        if not self.event_time and result.max_timestamp() <= self.task.time_service.now_ms():
            raise RuntimeError(
                "the end timestamp of a processing-time window cannot become earlier than "
                f"the current processing time by merging (window {result})")
        tctx = self.tctx._at(key, result)
        tctx.merged = merged
        try:
            self.trigger.on_merge(result, tctx)
        finally:
            tctx.merged = []
        for w in merged:
            self.trigger.clear(w, tctx._at(key, w))
            self._delete_cleanup(key, w)
        contents = self.contents
        target = contents.get((key, state_window))
        for sw in merged_state_windows:
            source = contents.pop((key, sw), None)
            if source is None:
                continue
            if target is None:
                target = source
            elif self.evictor is not None or self.spec.contents == "list":
                target = target + source
            elif self.spec.contents == "reduce":
                target = self.reduce(target, source)
            else:
                target = self.agg.merge(target, source)
        if target is not None:
            contents[(key, state_window)] = target

    # -- the fast path -------------------------------------------------------------------------------------
    def _fast_batch(self, batch: Batch, out: Collector) -> None:
        """Event-time trigger, non-merging windows, no evictor: group the batch by (key,
        window), add each group at once, register each new window's timer once.

        The watermark cannot move within a batch, so a record is on time, late, or for a
        window that already fired (allowed lateness: it fires again at once, as Flink)
        regardless of the others; the rare last two take the per-record path, in order.
        """
        keys, values, tss = batch.keys, batch.values, batch.timestamps
        wm, lateness = self.current_watermark, self.lateness
        if tss is None:
            tss = [None] * len(values)
        try:
            if self.tumbling:
                groups, rare = self._group_tumbling(keys, values, tss, wm)
            else:
                groups, rare = self._group_windows(keys, values, tss, wm)
        except USER_ERRORS as exc:
            raise self._assign_error(exc, values, tss) from exc
        v = None
        contents, kind, timers = self.contents, self.spec.contents, self.timers
        try:
            set_key = self.set_key_per_group
            for (k, window), vals in groups.items():
                if set_key:
                    self._set_key(k)
                slot = (k, window)
                current = contents.get(slot)
                if current is None:
                    timers.register_event(window.max_timestamp(), k, window)
                    if lateness:
                        self._register_cleanup(k, window)
                    if kind == "list":
                        contents[slot] = vals
                        continue
                    if kind == "reduce":
                        current = vals[0]
                        vals = vals[1:]
                    else:
                        current = self.agg.create_accumulator()
                if kind == "list":
                    current.extend(vals)
                elif kind == "reduce":
                    f = self.reduce
                    for v in vals:
                        current = f(current, v)
                elif self.add_all is not None:
                    current = self.add_all(vals, current)
                else:
                    add = self.agg.add
                    for v in vals:
                        current = add(v, current)
                contents[slot] = current
            for k, window, v, ts in rare:
                self._set_key(k)
                if window is None:  # every window of the record is gone
                    if ts + lateness <= wm:
                        self._late(v, ts, out)
                    continue
                self._add(k, window, v, ts)
                result = self.trigger.on_element(v, ts, window, self.tctx._at(k, window))
                self._after_trigger(result, k, window, window, out)
                self._register_cleanup(k, window)
        except USER_ERRORS as exc:
            raise self.error(exc, v) from exc

    def _assign_error(self, exc: Exception, values: List[Any], tss: List[Any]) -> Exception:
        """Name the record the batch failed on (assigning windows is done per batch)."""
        for v, ts in zip(values, tss):
            if ts is None:
                return self.error(TypeError(NO_TIMESTAMP), v)
            try:
                self.assigner.assign_windows(v, ts, self.actx)
            except USER_ERRORS as record_exc:
                return self.error(record_exc, v)
        return self.error(exc, None, has_record=False)

    def _group_tumbling(self, keys: List[Any], values: List[Any], tss: List[Any],
                        wm: int) -> Tuple[Dict[Tuple[Any, Any], List[Any]], List[Any]]:
        size, offset = self.assigner.size, self.assigner.offset
        if offset:
            starts = [t - (t - offset + size) % size for t in tss]
        else:
            starts = [t - t % size for t in tss]
        # a window [start, start + size) has fired once start + size - 1 <= wm
        fired_start = wm + 1 - size
        by_start: Dict[Tuple[Any, int], List[Any]] = defaultdict(list)
        rare: List[Any] = []
        if not starts or min(starts) > fired_start:  # the common case: all on time
            for k, start, v in zip(keys, starts, values):
                by_start[(k, start)].append(v)
        else:
            for k, start, v, ts in zip(keys, starts, values, tss):
                if start <= fired_start:
                    rare.append((k, start, v, ts))
                else:
                    by_start[(k, start)].append(v)
        cache = self.window_cache
        if len(cache) > 4096:
            cache.clear()
        groups = {}
        for (k, start), vals in by_start.items():
            window = cache.get(start)
            if window is None:
                window = cache[start] = TimeWindow(start, start + size)
            groups[(k, window)] = vals
        late_start = fired_start - self.lateness
        resolved = []
        for k, start, v, ts in rare:
            window = None if start <= late_start else TimeWindow(start, start + size)
            resolved.append((k, window, v, ts))
        return groups, resolved

    def _group_windows(self, keys: List[Any], values: List[Any], tss: List[Any],
                       wm: int) -> Tuple[Dict[Tuple[Any, Any], List[Any]], List[Any]]:
        lateness = self.lateness
        assign, actx = self.assigner.assign_windows, self.actx
        groups: Dict[Tuple[Any, Any], List[Any]] = {}
        rare: List[Any] = []
        for k, v, ts in zip(keys, values, tss):
            windows = assign(v, ts, actx)
            on_time = False
            for window in windows:
                max_ts = window.max_timestamp()
                if max_ts + lateness <= wm:
                    continue
                on_time = True
                if max_ts <= wm:
                    rare.append((k, window, v, ts))
                    continue
                g = groups.get((k, window))
                if g is None:
                    groups[(k, window)] = [v]
                else:
                    g.append(v)
            if windows and not on_time:
                rare.append((k, None, v, ts))
        return groups, rare

    # -- firing --------------------------------------------------------------------------------------
    def _emit(self, key: Any, window: Any, state_window: Any, contents: Any,
              out: Collector) -> None:
        spec = self.spec
        try:
            if self.evictor is not None:
                results = self._emit_evicting(key, window, state_window, contents)
            else:
                kind = spec.contents
                if kind == "list":
                    elements = list(contents)
                elif kind == "reduce":
                    elements = [contents]
                else:
                    elements = [self.agg.get_result(contents)]
                results = self._call(key, window, elements)
            if results is None:
                raise TypeError(f"{self.fn_name} returned None; yield values or return an "
                                "iterable (return [] to emit nothing)")
            out.add(results, window.max_timestamp())
        except USER_ERRORS as exc:
            raise self.error(exc, f"window {window}" + (f" of key {short_repr(key)}"
                                                         if spec.keyed else ""),
                             phase="the window function") from exc

    def _call(self, key: Any, window: Any, elements: List[Any]) -> Any:
        spec = self.spec
        style = spec.style
        if style is None:
            return elements
        if style == "process":
            wctx = self.wctx
            wctx._window = window
            self.wstate.namespace = window
            if spec.keyed:
                return spec.function.process(plain_key(key), wctx, elements)
            return spec.function.process(wctx, elements)
        if spec.keyed:
            return spec.function.apply(plain_key(key), window, elements)
        return spec.function.apply(window, elements)

    def _emit_evicting(self, key: Any, window: Any, state_window: Any,
                       items: List[TimestampedValue]) -> Any:
        ctx = self.wctx
        ctx._window = window
        self.evictor.evict_before(items, len(items), window, ctx)
        values = [item.value for item in items]
        kind = self.spec.contents
        if kind == "list":
            elements = values
        elif not values:
            elements = []
        elif kind == "reduce":
            elements = [functools.reduce(self.reduce, values)]
        else:
            acc = self.agg.create_accumulator()
            for v in values:
                acc = self.agg.add(v, acc)
            elements = [self.agg.get_result(acc)]
        results = self._call(key, window, elements) if elements or kind == "list" else []
        results = list(results) if results is not None else None
        self.evictor.evict_after(items, len(items), window, ctx)
        if not items:
            self.contents.pop((key, state_window), None)
        return results

    def on_timers(self, due: Iterable[Any], domain: TimeDomain) -> None:
        out = Collector(self, True)
        event = domain is TimeDomain.EVENT_TIME
        trigger, tctx = self.trigger, self.tctx
        for ts, key, window in due:
            self._set_key(key)
            if self.merging:
                mset = self.merging_sets.get(key)
                state_window = mset.state_window(window) if mset is not None else None
                if state_window is None:
                    continue  # a merged-away window whose trigger left a timer behind
            else:
                state_window = window
            try:
                if (key, state_window) in self.contents:
                    tctx._at(key, window)
                    result = (trigger.on_event_time(ts, window, tctx) if event
                              else trigger.on_processing_time(ts, window, tctx))
                    self._after_trigger(result, key, window, state_window, out)
                if event == self.event_time and ts == self._cleanup_time(window):
                    self._clear_all(key, window, state_window)
            except USER_ERRORS as exc:
                raise self.error(exc, f"timer at {ts} for window {window}",
                                 phase="the trigger") from exc
        out.flush()

    def _clear_all(self, key: Any, window: Any, state_window: Any) -> None:
        self.contents.pop((key, state_window), None)
        self.trigger.clear(window, self.tctx._at(key, window))
        clear = getattr(self.spec.function, "clear", None) if self.spec.style == "process" else None
        if clear is not None:
            self.wctx._window = window
            self.wstate.namespace = window
            clear(self.wctx)
        if self.merging:
            mset = self.merging_sets.get(key)
            if mset is not None:
                mset.retire_window(window)
                if not mset.mapping:
                    del self.merging_sets[key]


Trigger.OnMergeContext.register(_TriggerContext)
WindowAssigner.WindowAssignerContext.register(_AssignerContext)
