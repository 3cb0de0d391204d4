"""Partitioning: which parallel instance gets which record."""

import collections
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbstream import MapFunction, Partitioner, PlanError, UserFunctionError
from nbstream.runtime.keygroups import canonical_key, subtask_for_key
from nbstream.runtime.partitioners import Hash, _group
from nbstream.runtime.records import Batch
from tests.conftest import collect


class WhoAmI(MapFunction):
    def open(self, ctx):
        self.me = ctx.get_index_of_this_subtask()

    def map(self, value):
        return self.me, value


def spread(got):
    return collections.Counter(me for me, _ in got)


def test_rebalance_is_round_robin_per_record(make_env):
    env = make_env(4)
    got = collect(env.from_collection(list(range(100))).rebalance().map(WhoAmI()))
    assert sorted(v for _, v in got) == list(range(100))
    assert spread(got) == {0: 25, 1: 25, 2: 25, 3: 25}


def test_shuffle_reaches_every_instance(make_env):
    env = make_env(3)
    got = collect(env.from_collection(list(range(3000))).shuffle().map(WhoAmI()))
    assert sorted(v for _, v in got) == list(range(3000))
    assert set(spread(got)) == {0, 1, 2} and min(spread(got).values()) > 700


def test_broadcast_sends_every_record_to_every_instance(make_env):
    env = make_env(3)
    got = collect(env.from_collection([1, 2]).broadcast().map(WhoAmI()))
    assert sorted(got) == [(i, v) for i in range(3) for v in (1, 2)]


def test_forward_needs_equal_parallelism(make_env):
    env = make_env(2)
    with pytest.raises(PlanError, match="forward partitioning between .* needs equal parallelism"):
        collect(env.from_collection([1]).forward().map(lambda x: x))


def test_forward_keeps_records_in_their_instance(make_env):
    env = make_env(2)
    got = collect(env.from_sequence(0, 99).map(WhoAmI()).forward().map(lambda t: t))
    assert sorted(v for _, v in got) == list(range(100))


def test_rescale_from_one_to_many(make_env):
    env = make_env(2)
    got = collect(env.from_collection(list(range(10))).rescale().map(WhoAmI()))
    assert spread(got) == {0: 5, 1: 5}


def test_partition_custom_with_class_and_lambda(make_env):
    env = make_env(3)

    class ByParity(Partitioner):
        def partition(self, key, num_partitions):
            return key % 2

    got = collect(env.from_collection(list(range(10)))
                  .partition_custom(ByParity(), lambda x: x).map(WhoAmI()))
    assert {me for me, v in got if v % 2 == 0} == {0} and {me for me, v in got if v % 2} == {1}
    got = collect(env.from_collection(list(range(6)))
                  .partition_custom(lambda k, n: n - 1, lambda x: x).map(WhoAmI()))
    assert spread(got) == {2: 6}


def test_partition_custom_out_of_range_is_a_clear_error(make_env):
    env = make_env(2)
    with pytest.raises(UserFunctionError, match=r"partitioner returned 5; expected an int in 0..1"):
        collect(env.from_collection([1]).partition_custom(lambda k, n: 5, lambda x: x)
                .map(lambda x: x))


def test_key_by_puts_each_key_on_one_instance(make_env):
    env = make_env(4)
    words = [f"w{i % 37}" for i in range(2000)]
    got = collect(env.from_collection(words).key_by(lambda w: w).map(WhoAmI()))
    owner = {}
    for me, w in got:
        assert owner.setdefault(w, me) == me
    assert len(set(owner.values())) == 4


def test_ship_strategies_in_the_plan(make_env):
    env = make_env(2)
    src = env.from_collection([1])
    for method, strategy in [("shuffle", "SHUFFLE"), ("rebalance", "REBALANCE"),
                             ("rescale", "RESCALE"), ("broadcast", "BROADCAST")]:
        getattr(src, method)().map(lambda x: x).name(method).print()
    src.key_by(lambda x: x).map(lambda x: x).name("keyed").print()
    src.partition_custom(lambda k, n: 0, lambda x: x).map(lambda x: x).name("custom").print()
    plan = json.loads(env.get_execution_plan())
    by_name = {n["type"]: n for n in plan["nodes"]}
    for name, strategy in [("shuffle", "SHUFFLE"), ("rebalance", "REBALANCE"),
                           ("rescale", "RESCALE"), ("broadcast", "BROADCAST"), ("keyed", "HASH"),
                           ("custom", "CUSTOM")]:
        assert [p["ship_strategy"] for p in by_name[name]["predecessors"]] == [strategy]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.data())
def test_a_batch_splits_over_few_channels_as_over_many(n, data):
    """Up to 8 channels a batch is cut at C speed (bytes and compress), above that by one
    loop of appends: both give each channel its records, keys and timestamps in the
    batch's order, channels in order, no empty part (cut: a batch for one channel whole)."""
    size = data.draw(st.integers(0, 40))
    channels = data.draw(st.lists(st.integers(0, n - 1), min_size=size, max_size=size))
    values = [("v", i) for i in range(size)]
    keys = [f"k{c}" for c in channels]
    stamps = data.draw(st.sampled_from([None, list(range(1000, 1000 + size))]))
    got = _group(n, channels, values, stamps, keys)
    expected = [(c, [i for i, ch in enumerate(channels) if ch == c]) for c in sorted(set(channels))]
    assert [c for c, _ in got] == [c for c, _ in expected]
    for (c, part), (_, rows) in zip(got, expected):
        assert part.values == [values[i] for i in rows]
        assert part.keys == [keys[i] for i in rows]
        assert part.timestamps == (None if stamps is None else [stamps[i] for i in rows])
    if n <= 8:
        assert got == [] or len(got) > 1 or got[0][1].values is values


@pytest.mark.parametrize("n", [2, 3, 8, 9])
def test_hash_routes_known_new_and_nan_keys_to_their_key_groups(n):
    """The hash split's fast way (known keys looked up at C speed, up to 8 channels) and
    its slow way (new keys, NaN keys made one key) put every record where its key group
    says, keys beside their records."""
    part = Hash(n, lambda v: v[0], 128, "key_by", "first")
    batches = [[("a", 1), ("b", 2)], [("a", 3), ("c", 4), (float("nan"), 5), ("b", 6)],
               [(float("nan"), 7), ("c", 8), ("a", 9)]]
    for values in batches:
        routed = part.route(Batch(values))
        got = sorted((v for _, b in routed for v in b.values), key=lambda v: v[1])
        assert got == values
        for ch, b in routed:
            assert b.keys == [canonical_key(v[0]) for v in b.values]
            assert {subtask_for_key(k, 128, n) for k in b.keys} == {ch}
