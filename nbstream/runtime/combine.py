"""Combining before a keyed shuffle, in BATCH mode.

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

``env.explain()`` names the reduce steps whose inputs are combined:

>>> from nbstream import StreamExecutionEnvironment, RuntimeExecutionMode
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> _ = env.set_runtime_mode(RuntimeExecutionMode.BATCH).set_parallelism(2)
>>> _ = env.from_collection([("a", 1)]).key_by(lambda t: t[0]).sum(1).print()
>>> "combine before shuffle" in env.explain()
True
"""

from __future__ import annotations

from typing import Any, Dict, List

from ..errors import USER_ERRORS, UserFunctionError
from .operators import _function_name, _instance_copy
from .records import Batch
from .task import NetworkTarget

__all__ = ["CombiningTarget"]

_MISSING = object()


class CombiningTarget(NetworkTarget):
    """A network target that holds one partial value per key and sends them on, through
    its partitioner, at a flush (see the module text). Keys are folded as the key selector
    returns them; the partitioner makes them keys (a list one Python can hash, every NaN
    one key) when a key cannot be hashed, and at the flush."""

    __slots__ = ("reduce", "first", "held", "limit", "batch_size", "step", "fn_name")

    def __init__(self, partitioner: Any, receivers: int, open_writer: Any,
                 end_unopened: Any, node: Any, limit: int, batch_size: int) -> None:
        super().__init__(partitioner, receivers, open_writer, end_unopened)
        fn = _instance_copy(node.fn)
        self.reduce = fn.call
        self.first = getattr(fn.call, "check_first", None)
        self.step, self.fn_name = node.name, _function_name(fn)
        self.held: Dict[Any, Any] = {}
        self.limit, self.batch_size = max(1, limit), max(1, batch_size)

    def send(self, batch: Batch) -> None:
        values = batch.values
        keys = self.partitioner.keys_of(values)
        done = self._fold(keys, values)
        if done < len(values):  # a key Python cannot hash: made one by its content
            keys = self.partitioner._hashable(keys[done:], values[done:])
            self._fold(keys, values[done:])
        if len(self.held) > self.limit:
            self.flush()

    def _fold(self, keys: List[Any], values: List[Any]) -> int:
        """Fold the records into the held partial values; returns how many were folded
        (fewer than all when a key cannot be hashed: the first such key stops it)."""
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
            if isinstance(exc, TypeError):
                try:
                    hash(k)
                except TypeError:
                    return next(i for i, key in enumerate(keys) if not _hashable(key))
            raise self._failure(exc, v) from exc
        return len(values)

    def _failure(self, exc: BaseException, record: Any) -> BaseException:
        """The reduce step's error, naming the record (as the reduce step names it)."""
        if self.first is not None:
            try:
                self.first(record)  # a record without the field: the clearer message
            except USER_ERRORS as missing:
                exc = missing
        return exc if isinstance(exc, UserFunctionError) else \
            UserFunctionError(self.step, self.fn_name, record, exc)

    def flush(self) -> None:
        """Send every partial value held, in the order the keys came, and start over."""
        held = self.held
        if not held:
            return
        writers, size = self.writers, self.batch_size
        routed = self.partitioner.route_keys(Batch(list(held.values())), list(held))
        held.clear()
        for ch, part in routed:
            w = writers[ch]
            if w is None:
                w = self._writer(ch)
            values, keys = part.values, part.keys
            for i in range(0, len(values), size):
                w.put(Batch(values[i:i + size], None, keys[i:i + size]))

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


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True
