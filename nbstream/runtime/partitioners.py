"""Routing a batch to downstream channels.

A partitioner splits one batch into per-channel batches: ``route(batch)`` returns
``[(channel, batch), ...]`` with no empty batches. Work is per batch except where
the strategy is per record (hash, custom, round-robin, shuffle), and even there it
is one pass with slicing or list appends, no locks.
"""

from __future__ import annotations

import random
from collections import defaultdict
from itertools import compress
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import USER_ERRORS, UserFunctionError, describe_function
from .keygroups import canonical_key, hashable_key, stable_hash
from .records import Batch

__all__ = ["make_partitioner", "Partitioner", "check_hashable"]

Route = List[Tuple[int, Batch]]

_CACHE_LIMIT = 1 << 16


class Partitioner:
    """Splits batches over ``n`` channels."""

    def __init__(self, n: int) -> None:
        self.n = n

    def route(self, batch: Batch) -> Route:
        raise NotImplementedError


class Forward(Partitioner):
    def route(self, batch: Batch) -> Route:
        return [(0, batch)]


class Broadcast(Partitioner):
    def route(self, batch: Batch) -> Route:
        return [(i, batch) for i in range(self.n)]


class RoundRobin(Partitioner):
    """Record i goes to channel (start + i) % n: rebalance and rescale."""

    def __init__(self, n: int, start: int = 0) -> None:
        super().__init__(n)
        self.next = start % n if n else 0

    def route(self, batch: Batch) -> Route:
        n, values, ts = self.n, batch.values, batch.timestamps
        if n == 1:
            return [(0, Batch(values, ts))]
        out = []
        start = self.next
        for offset in range(min(n, len(values))):  # the channels that get a record, no more
            out.append(((start + offset) % n,
                        Batch(values[offset::n], ts[offset::n] if ts is not None else None)))
        self.next = (start + len(values)) % n
        return out


class Shuffle(Partitioner):
    """Each record to a random channel."""

    def __init__(self, n: int, seed: Optional[int] = None) -> None:
        super().__init__(n)
        self.rng = random.Random(seed)

    def route(self, batch: Batch) -> Route:
        choices = self.rng.choices(range(self.n), k=len(batch.values))
        return _group(self.n, choices, batch.values, batch.timestamps, None)


class _Keyed(Partitioner):
    """Shared by hash and custom partitioning: extract keys, choose a channel per key."""

    def __init__(self, n: int, key_fn: Callable[[Any], Any], step: str, fn_name: str) -> None:
        super().__init__(n)
        self.key_fn = key_fn
        self.step = step
        self.fn_name = fn_name
        self.cache: dict = {}
        self.known: set = set()  # at n=1: the keys seen (canonical)

    def keys_of(self, values: Sequence[Any]) -> List[Any]:
        key_fn = self.key_fn
        try:
            return [key_fn(v) for v in values]
        except Exception:
            pass
        for v in values:  # find the record that fails, to name it
            try:
                key_fn(v)
            except USER_ERRORS as exc:
                raise UserFunctionError(self.step, self.fn_name, v, exc,
                                        phase="key selector") from exc
        return [key_fn(v) for v in values]  # pragma: no cover - failed only once

    def channel_of(self, key: Any) -> int:
        raise NotImplementedError

    def route(self, batch: Batch) -> Route:
        return self.route_keys(batch, self.keys_of(batch.values))

    def route_keys(self, batch: Batch, keys: List[Any]) -> Route:
        """Route ``batch`` whose records' keys are ``keys`` (a list this may change)."""
        if self.n == 1:  # no channel to choose: only new (or NaN) keys need a look
            known = self.known
            try:
                seen = known.issuperset(keys)
            except TypeError:  # a list or dict key: keyed as PyFlink keys it, by its content
                keys = self._hashable(keys, batch.values)
                seen = known.issuperset(keys)
            if not seen:
                self._channels(keys, batch.values)
                known.update(keys)
                if len(known) > _CACHE_LIMIT:
                    known.clear()
                    self.cache.clear()
            return [(0, Batch(batch.values, batch.timestamps, keys))]
        cache = self.cache
        if self.n <= _CUT_CHANNELS:
            try:  # known keys at C speed, their channels as bytes (a new key's None fails)
                return _cut(self.n, bytes(map(cache.get, keys)), batch.values,
                            batch.timestamps, keys)
            except TypeError:  # a new key, or a list or dict key: the way below
                pass
        try:
            channels = list(map(cache.get, keys))  # known keys at C speed
        except TypeError:  # a list or dict key: keyed as PyFlink keys it, by its content
            keys = self._hashable(keys, batch.values)
            channels = list(map(cache.get, keys))
        if None in channels or len(channels) < len(keys):
            channels = self._channels(keys, batch.values)
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        return _group(self.n, channels, batch.values, batch.timestamps, keys)

    def _hashable(self, keys: List[Any], values: Sequence[Any]) -> List[Any]:
        out = []
        for k, v in zip(keys, values):
            try:
                out.append(hashable_key(k))
            except TypeError:
                check_hashable(k, self.step, self.fn_name, v)
                raise
        return out

    def _channels(self, keys: List[Any], values: Sequence[Any]) -> List[int]:
        """Channels of keys not all known; a NaN key becomes NAN_KEY in ``keys`` (one
        key for all NaNs, as Flink), a key never seen is placed and remembered."""
        cache = self.cache
        channels: List[int] = []
        append = channels.append
        try:
            for i, k in enumerate(keys):
                ch = cache.get(k)
                if ch is None:
                    same = canonical_key(k)
                    if same is not k:
                        keys[i] = k = same
                        ch = cache.get(k)
                    if ch is None:
                        ch = cache[k] = self.channel_of(k)
                append(ch)
        except TypeError:
            check_hashable(k, self.step, self.fn_name, values[len(channels)])
            raise
        return channels


class Hash(_Keyed):
    """Key groups, as Flink: the key's group decides its subtask."""

    def __init__(self, n: int, key_fn: Callable[[Any], Any], max_parallelism: int,
                 step: str, fn_name: str) -> None:
        super().__init__(n, key_fn, step, fn_name)
        self.max_parallelism = max_parallelism

    def channel_of(self, key: Any) -> int:
        if self.n == 1:  # one receiver: no hash to compute
            return 0
        return (stable_hash(key) % self.max_parallelism) * self.n // self.max_parallelism


class Custom(_Keyed):
    """``partitioner(key, n)`` chooses the channel."""

    def __init__(self, n: int, key_fn: Callable[[Any], Any], partition: Callable[[Any, int], int],
                 step: str, fn_name: str, partition_name: str) -> None:
        super().__init__(n, key_fn, step, fn_name)
        self.partition = partition
        self.partition_name = partition_name

    def channel_of(self, key: Any) -> int:
        try:
            ch = self.partition(key, self.n)
        except USER_ERRORS as exc:
            raise UserFunctionError(self.step, self.partition_name, key, exc,
                                    phase="partitioner") from exc
        if not isinstance(ch, int) or not 0 <= ch < self.n:
            raise UserFunctionError(
                self.step, self.partition_name, key,
                ValueError(f"partitioner returned {ch!r}; expected an int in 0..{self.n - 1}"),
                phase="partitioner")
        return ch

    def route(self, batch: Batch) -> Route:
        self.cache.clear()  # a custom partitioner may be stateful: ask it every time
        routed = super().route(batch)
        return [(ch, Batch(b.values, b.timestamps)) for ch, b in routed]


def _group(n: int, channels: Sequence[int], values: Sequence[Any],
           timestamps: Optional[Sequence[Any]], keys: Optional[Sequence[Any]]) -> Route:
    """Records split by channel, in channel order, each part in the batch's order: lists
    only for the channels that get records (a small batch over many channels builds a few
    lists, not 3 x n). Over a few channels the parts are cut at C speed (:func:`_cut`)."""
    if n <= _CUT_CHANNELS:
        return _cut(n, channels, values, timestamps, keys)
    vals: Dict[int, List[Any]] = defaultdict(list)
    if keys is not None:  # one pass: a value and its key
        keys_out: Dict[int, List[Any]] = defaultdict(list)
        for ch, v, k in zip(channels, values, keys):
            vals[ch].append(v)
            keys_out[ch].append(k)
    else:
        for ch, v in zip(channels, values):
            vals[ch].append(v)
    if timestamps is not None:
        tss: Dict[int, List[Any]] = defaultdict(list)
        for ch, t in zip(channels, timestamps):
            tss[ch].append(t)
    return [(ch, Batch(vals[ch], tss[ch] if timestamps is not None else None,
                       keys_out[ch] if keys is not None else None))
            for ch in sorted(vals)]


#: up to this many channels, :func:`_group` cuts with :func:`_cut` (a pass per channel)
_CUT_CHANNELS = 8
#: ``_SELECT[c]`` turns a batch's channel numbers (as bytes) into 1 for channel c, else 0
_SELECT = [bytes(int(i == c) for i in range(256)) for c in range(_CUT_CHANNELS)]


def _cut(n: int, channels: Sequence[int], values: Sequence[Any],
         timestamps: Optional[Sequence[Any]], keys: Optional[Sequence[Any]]) -> Route:
    """:func:`_group` over at most ``_CUT_CHANNELS`` channels: the channel numbers as one
    bytes object (``channels`` may be one already), and per channel that gets records a
    selector (``translate``) and ``compress`` of the values, keys and timestamps, all in C
    (W1's split at p=2: 69 -> 43 ns a record). A batch for one channel goes on whole."""
    code = channels if type(channels) is bytes else bytes(channels)
    present = [ch for ch in range(n) if ch in code]
    if len(present) == 1:
        return [(present[0], Batch(values, timestamps, keys))]
    out = []
    for ch in present:
        select = code.translate(_SELECT[ch])
        out.append((ch, Batch(list(compress(values, select)),
                              list(compress(timestamps, select)) if timestamps is not None else None,
                              list(compress(keys, select)) if keys is not None else None)))
    return out


def check_hashable(key: Any, step: str, fn_name: str, record: Any) -> None:
    """Raise a clear error when a key selector returned something that cannot be a key."""
    try:
        hash(key)
    except TypeError as exc:
        raise UserFunctionError(
            step, fn_name, record,
            TypeError(f"key {key!r} of type {type(key).__name__} is not hashable; "
                      "return a tuple, str, number, list or dict from the key selector"),
            phase="key selector") from exc


def make_partitioner(partitioning: Any, n: int, sender: int, target_max_parallelism: int,
                     step: str) -> Partitioner:
    """The runtime partitioner for a planned edge with ``n`` downstream channels."""
    kind = partitioning.kind
    if kind in ("forward", "global"):
        return Forward(n)
    if kind == "broadcast":
        return Broadcast(n)
    if kind in ("rebalance", "rescale"):
        return RoundRobin(n, start=sender)
    if kind == "shuffle":
        return Shuffle(n)
    if kind == "columns":
        from .columnar import ColumnHash

        return ColumnHash(n, partitioning.columns, target_max_parallelism, step)
    key_fn = partitioning.key_selector
    fn_name = describe_function(key_fn.owner or key_fn.call) if key_fn else "?"
    if kind == "hash":
        return Hash(n, key_fn.call, target_max_parallelism, step, fn_name)
    if kind == "custom":
        part = partitioning.partitioner
        return Custom(n, key_fn.call, part.call, step, fn_name,
                      describe_function(part.owner or part.call))
    raise ValueError(f"unknown partitioning {kind!r}")
