"""Combining before a keyed shuffle: BATCH reduces and event-time window aggregates.

A keyed reduce (``sum``, ``min``, ``max``, ``min_by``, ``max_by``, ``reduce``) in BATCH
mode outputs one final value per key. When its input crosses a keyed shuffle (another
task: parallelism above 1, or another execution mode), each sending task folds the
records of each key with the same reduce function and sends one partial value per key
instead of every record; the reduce step folds the partial values. The sender holds at
most ``combine_max_keys`` keys: past that, and before every watermark, checkpoint
barrier and the end of its input, it sends what it holds and starts over.

This is exact for the built-in aggregations (``min_by``/``max_by`` keep the first
record holding the extreme: within a sender its first, across senders the first to
arrive, as without combining). For a user reduce function it relies on the function
being associative, as Flink's batch combiners (DataSet ``reduce``) do: folding
``(a, b, c)`` as ``f(f(a, b), c)`` in the sender and ``f(partial, d)`` in the reduce
step. Floating-point sums are added in another grouping (each sender's first), so
their last bits may differ from a run without combining, as they differ between runs
with several senders anyway. STREAMING mode never combines: there every record's rolling
value is output, and folding records before the shuffle would drop outputs.

An event-time window's built-in aggregates (``count``, ``sum``, ``mean``, ``min``,
``max``, ``agg(...)``) over tumbling or sliding windows, with the default trigger, no
allowed lateness, no late-data side output and no evictor, are combined in STREAMING
mode too: the sending task adds the records of each key and pane (the window itself
when tumbling; for sliding windows the greatest common divisor of size and slide,
whose records all belong to the same windows, and only for aggregates that ignore the
records' order: not ``first``, ``last`` or a function of the list of values, as a window
gets its panes in the order each was first seen) into one accumulator and sends it as a
:class:`~nbstream.runtime.summaries.Partial`, stamped with the pane's latest
timestamp, which the window merges. It sends them on before every watermark it
forwards, so the window cannot see a watermark that passes a pane before the pane's
records. A record not after the sender's last watermark goes on alone, at once: it
may be late, and whether it is depends on when the window sees it, as without
combining. The window's ``records_in`` then counts partial accumulators, not records.

A sender whose records hardly share partial values (fewer than two records a partial
value over its first 20,000 records: many keys, a window per record) stops combining
and sends its records on as they come.

``env.explain()`` names the reduce steps whose inputs are combined:

>>> from nbstream import StreamExecutionEnvironment, RuntimeExecutionMode
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> _ = env.set_runtime_mode(RuntimeExecutionMode.BATCH).set_parallelism(2)
>>> _ = env.from_collection([("a", 1)]).key_by(lambda t: t[0]).sum(1).print()
>>> "combine before shuffle" in env.explain()
True
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from ..errors import USER_ERRORS, UserFunctionError
from .operators import _function_name, _instance_copy
from .records import MIN_TIMESTAMP, Batch
from .summaries import FieldsAggregate, Partial
from .task import NetworkTarget
from .windows.assigners import SlidingEventTimeWindows, TumblingEventTimeWindows
from .windows.triggers import EventTimeTrigger

__all__ = ["CombiningTarget", "WindowCombiningTarget", "combining_target", "window_panes"]

_MISSING = object()
_ORDER_FREE = ("count", "sum", "mean", "min", "max")


def window_panes(assigner: Any, trigger: Any, evictor: Any, lateness: int, late_tag: Any,
                 spec: Any) -> Optional[Tuple[int, int]]:
    """(pane size, offset) in ms when a window step's input may be combined before the
    shuffle (see the module text), else None."""
    if (evictor is not None or lateness or late_tag is not None
            or type(trigger) is not EventTimeTrigger or spec.contents != "aggregate"
            or not isinstance(spec.aggregate, FieldsAggregate)):
        return None
    if type(assigner) is TumblingEventTimeWindows:
        return assigner.size, assigner.offset
    if type(assigner) is SlidingEventTimeWindows and all(
            fn in _ORDER_FREE for _, _, fn in spec.aggregate.specs):
        # a window spans several panes, sent in the order each pane was first seen, not
        # in the order of their records: only aggregates that ignore order
        return math.gcd(assigner.size, assigner.slide), assigner.offset
    return None


def combining_target(partitioner: Any, receivers: int, open_writer: Any, end_unopened: Any,
                     node: Any, limit: int, batch_size: int) -> NetworkTarget:
    """The combining network target for an edge into ``node`` (a reduce or a window)."""
    kind = WindowCombiningTarget if node.kind == "window" else CombiningTarget
    return kind(partitioner, receivers, open_writer, end_unopened, node, limit, batch_size)


class _Holding(NetworkTarget):
    """A network target that holds partial values and sends them on, through its
    partitioner, at a flush: past ``limit`` held, and before every watermark, status,
    barrier and the end of input.

    Combining pays only when records share their partial values: once ``SEEN`` records
    have gone into fewer than ``GAIN`` records each on average, the target stops holding
    and sends every record on as it comes (``passing``; e.g. a window per record)."""

    __slots__ = ("held", "limit", "batch_size", "step", "fn_name", "taken", "sent", "passing")
    SEEN, GAIN = 20_000, 2

    def __init__(self, partitioner: Any, receivers: int, open_writer: Any,
                 end_unopened: Any, node: Any, limit: int, batch_size: int) -> None:
        super().__init__(partitioner, receivers, open_writer, end_unopened)
        self.held: Dict[Any, Any] = {}
        self.limit, self.batch_size = max(1, limit), max(1, batch_size)
        self.taken = self.sent = 0  # records taken in, partial values sent
        self.passing = False

    def _drain(self) -> Tuple[List[Any], List[Any], Optional[List[Any]]]:
        """The held values, their keys and timestamps (or None); then nothing is held."""
        raise NotImplementedError

    def flush(self) -> None:
        """Send every partial value held, in the order the keys came, and start over."""
        if not self.held:
            return
        values, keys, tss = self._drain()
        self.sent += len(values)
        if self.taken >= self.SEEN and self.sent * self.GAIN > self.taken:
            self.passing = True  # from now on: every record as it comes
        self.put_parts((ch, chunk) for ch, part in self.partitioner.route_keys(
            Batch(values, tss), keys) for chunk in _chunks(part, self.batch_size))

    def _send_on(self, batch: Batch, keys: List[Any]) -> None:
        """Send records as they are (their keys known), after the partial values held:
        the order per key stays that of the records."""
        self.flush()
        self.put_parts(self.partitioner.route_keys(batch, keys))

    def watermark(self, timestamp: int) -> None:
        self.flush()
        super().watermark(timestamp)

    def status(self, idle: bool) -> None:
        self.flush()
        super().status(idle)

    def barrier(self, checkpoint_id: int, stop: bool = False) -> None:
        self.flush()
        super().barrier(checkpoint_id, stop)

    def end(self) -> None:
        self.flush()
        super().end()


class CombiningTarget(_Holding):
    """Holds one partial value per key of a BATCH reduce (see the module text). Keys are
    folded as the key selector returns them; the partitioner makes them keys (a list one
    Python can hash, every NaN one key) when a key cannot be hashed, and at the flush."""

    __slots__ = ("reduce", "first")

    def __init__(self, partitioner: Any, receivers: int, open_writer: Any,
                 end_unopened: Any, node: Any, limit: int, batch_size: int) -> None:
        super().__init__(partitioner, receivers, open_writer, end_unopened, node, limit,
                         batch_size)
        fn = _instance_copy(node.fn)
        self.reduce = fn.call
        self.first = getattr(fn.call, "check_first", None)
        self.step, self.fn_name = node.name, _function_name(fn)

    def send(self, batch: Batch) -> None:
        if self.passing:
            NetworkTarget.send(self, batch)
            return
        values = batch.values
        keys = self.partitioner.keys_of(values)
        if not _hashable(tuple(keys)):  # a list or dict key: a key by its content
            keys = self.partitioner._hashable(keys, values)
        self._fold(keys, values)
        if len(self.held) > self.limit:
            self.flush()

    def _fold(self, keys: List[Any], values: List[Any]) -> None:
        """Fold the records into the held partial values."""
        self.taken += len(values)
        acc, f, first = self.held, self.reduce, self.first
        get = acc.get
        try:
            for k, v in zip(keys, values):
                a = get(k, _MISSING)
                if a is not _MISSING:
                    v = f(a, v)
                elif first is not None:
                    first(v)
                acc[k] = v
        except USER_ERRORS as exc:
            raise self._failure(exc, v) from exc

    def _failure(self, exc: BaseException, record: Any) -> BaseException:
        """The reduce step's error, naming the record (as the reduce step names it)."""
        if self.first is not None:
            try:
                self.first(record)  # a record without the field: the clearer message
            except USER_ERRORS as missing:
                exc = missing
        return exc if isinstance(exc, UserFunctionError) else \
            UserFunctionError(self.step, self.fn_name, record, exc)

    def _drain(self) -> Tuple[List[Any], List[Any], Optional[List[Any]]]:
        held = self.held
        values, keys = list(held.values()), list(held)
        held.clear()
        return values, keys, None


class WindowCombiningTarget(_Holding):
    """Holds one accumulator per key and pane of an event-time window's built-in
    aggregates and sends them as :class:`Partial` values (see the module text)."""

    __slots__ = ("agg", "pane", "offset", "last_watermark")

    def __init__(self, partitioner: Any, receivers: int, open_writer: Any,
                 end_unopened: Any, node: Any, limit: int, batch_size: int) -> None:
        super().__init__(partitioner, receivers, open_writer, end_unopened, node, limit,
                         batch_size)
        spec = node.fn.owner
        self.agg: FieldsAggregate = spec.aggregate
        self.pane, self.offset = node.params["combine_panes"]
        self.step, self.fn_name = node.name, node.fn.name
        self.last_watermark = MIN_TIMESTAMP

    def send(self, batch: Batch) -> None:
        if self.passing:
            NetworkTarget.send(self, batch)
            return
        values, tss = batch.values, batch.timestamps
        keys = self.partitioner.keys_of(values)
        if tss is None or not _hashable(tuple(keys)):
            # no event time (the window step says what is wrong), or a list or dict key
            self._send_on(batch, keys)
            return
        wm = self.last_watermark
        begin = 0
        for i, t in enumerate(tss):
            if t is None or t <= wm:  # maybe late: alone, after what came before it
                self._fold(keys[begin:i], values[begin:i], tss[begin:i])
                self._send_on(Batch([values[i]], [t]), [keys[i]])
                begin = i + 1
        self._fold(keys[begin:], values[begin:], tss[begin:])
        if len(self.held) > self.limit:
            self.flush()

    def _fold(self, keys: List[Any], values: List[Any], tss: List[Any]) -> None:
        """Add the records into the held accumulators of their keys' panes."""
        self.taken += len(values)
        pane, offset = self.pane, self.offset
        groups: Dict[Any, List[Any]] = {}
        latest: Dict[Any, int] = {}
        for k, v, t in zip(keys, values, tss):
            slot = (k, (t - offset) // pane)
            group = groups.get(slot)
            if group is None:
                groups[slot] = [v]
                latest[slot] = t
            else:
                group.append(v)
                if t > latest[slot]:
                    latest[slot] = t
        held, agg = self.held, self.agg
        for slot, vals in groups.items():
            entry = held.get(slot)
            try:
                if entry is None:
                    held[slot] = [agg.add_all(vals, agg.create_accumulator()), latest[slot]]
                else:
                    entry[0] = agg.add_all(vals, entry[0])
                    entry[1] = max(entry[1], latest[slot])
            except USER_ERRORS as exc:
                raise UserFunctionError(self.step, self.fn_name, _failing(agg, vals), exc) from exc

    def _drain(self) -> Tuple[List[Any], List[Any], Optional[List[Any]]]:
        held = self.held
        values = [Partial(acc) for acc, _ in held.values()]
        tss = [t for _, t in held.values()]
        keys = [k for k, _ in held]
        held.clear()
        return values, keys, tss

    def watermark(self, timestamp: int) -> None:
        super().watermark(timestamp)
        self.last_watermark = max(self.last_watermark, timestamp)


def _failing(agg: FieldsAggregate, values: List[Any]) -> Any:
    """The first of ``values`` the aggregate cannot add alone (the record to name)."""
    for v in values:
        try:
            agg.add_all([v], agg.create_accumulator())
        except USER_ERRORS:
            return v
    return values[0]


def _chunks(batch: Batch, size: int) -> List[Batch]:
    """``batch`` cut into batches of at most ``size`` records."""
    values, keys, tss = batch.values, batch.keys, batch.timestamps
    return [Batch(values[i:i + size], None if tss is None else tss[i:i + size],
                  None if keys is None else keys[i:i + size])
            for i in range(0, len(values), size)]


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True
