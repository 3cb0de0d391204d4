"""The interval join operator (as Flink's ``IntervalJoinOperator``).

Both inputs are keyed by the same key. Each record is kept in its side's buffer
(per key and timestamp) until the watermark shows no partner can still arrive, and is
joined with every buffered record of the other side within the bounds. Records
older than the watermark are late and dropped (counted in ``late_records_dropped``).

Checkpoints take both buffers (entries by key, so a rescaled restore gives each instance
the keys it owns) and their cleanup timers (keyed event-time timers, namespace ``left`` or
``right``), as Flink's ``IntervalJoinOperator`` keeps both in keyed state.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from ..errors import USER_ERRORS
from .registry import register
from .operators import Collector, Operator, TwoInputOperator
from .records import MIN_TIMESTAMP, Batch
from .timers import TimeDomain

__all__ = ["IntervalJoinOperator"]


class _JoinContext:
    __slots__ = ("left_ts", "right_ts")

    def __init__(self) -> None:
        self.left_ts = self.right_ts = 0

    def get_left_timestamp(self) -> int:
        return self.left_ts

    def get_right_timestamp(self) -> int:
        return self.right_ts

    def get_timestamp(self) -> int:
        return max(self.left_ts, self.right_ts)


def _own_key(key: Any) -> Any:
    return key


@register("interval_join")
class IntervalJoinOperator(TwoInputOperator):
    keyed_fields = {"left_buffer": _own_key, "right_buffer": _own_key}
    instance_fields = ("late_records", "late_records_dropped")

    def __init__(self, node: Any) -> None:
        super().__init__(node)
        self.late_records = 0
        self.late_records_dropped = 0

    def open(self) -> None:
        self.join = self.fn.call
        self.lower = int(self.params["lower"])
        self.upper = int(self.params["upper"])
        # buffers[side][key][timestamp] -> records (restored in place: see keyed_fields)
        self.left_buffer: Dict[Any, Dict[int, List[Any]]] = {}
        self.right_buffer: Dict[Any, Dict[int, List[Any]]] = {}
        self.buffers = [self.left_buffer, self.right_buffer]
        self.jctx = _JoinContext()
        Operator.open(self)

    def extra_metrics(self) -> Dict[str, int]:
        return {"late_records": self.late_records,
                "late_records_dropped": self.late_records_dropped}

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        tss = batch.timestamps
        left = input_index == 0
        lo, hi = (self.lower, self.upper) if left else (-self.upper, -self.lower)
        ours, others = self.buffers[input_index], self.buffers[1 - input_index]
        wm = self.current_watermark
        out = Collector(self, True)
        jctx, join = self.jctx, self.join
        v = None
        try:
            for i, (key, v) in enumerate(zip(batch.keys, batch.values)):
                ts = tss[i] if tss is not None else None
                if ts is None:
                    raise TypeError("interval joins need event time: call "
                                    "assign_timestamps_and_watermarks(...) on both inputs")
                if wm != MIN_TIMESTAMP and ts < wm:
                    self.late_records += 1
                    self.late_records_dropped += 1
                    continue
                self.state.current_key = key
                ours.setdefault(key, {}).setdefault(ts, []).append(v)
                for other_ts, partners in list(others.get(key, {}).items()):
                    if other_ts < ts + lo or other_ts > ts + hi:
                        continue
                    for partner in partners:
                        if left:
                            jctx.left_ts, jctx.right_ts = ts, other_ts
                            results = join(v, partner, jctx)
                        else:
                            jctx.left_ts, jctx.right_ts = other_ts, ts
                            results = join(partner, v, jctx)
                        if results is None:
                            raise TypeError(f"{self.fn_name} returned None; yield values or "
                                            "return an iterable")
                        out.add(results, max(ts, other_ts))
                cleanup = ts + hi if hi > 0 else ts
                self.timers.register_event(cleanup, key, "left" if left else "right")
        except USER_ERRORS as exc:
            raise self.error(exc, v) from exc
        out.flush()

    def on_timers(self, due: Iterable[Any], domain: TimeDomain) -> None:
        for ts, key, side in due:
            if side == "left":
                self._drop(0, key, ts - self.upper if self.upper > 0 else ts)
            elif side == "right":
                self._drop(1, key, ts + self.lower if self.lower <= 0 else ts)

    def _drop(self, side: int, key: Any, ts: int) -> None:
        per_key: Optional[Dict[int, List[Any]]] = self.buffers[side].get(key)
        if per_key is not None:
            per_key.pop(ts, None)
            if not per_key:
                del self.buffers[side][key]
