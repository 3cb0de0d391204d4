"""Random pipelines against a plain-Python reference, at several parallelisms (hypothesis)."""

import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import RuntimeExecutionMode
from tests.conftest import collect

STATELESS = st.one_of(
    st.tuples(st.just("map"), st.integers(1, 7), st.integers(0, 50)),
    st.tuples(st.just("filter"), st.integers(2, 5), st.integers(0, 4)),
    st.tuples(st.just("flat_map"), st.integers(1, 3)),
    st.tuples(st.just("rebalance")),
    st.tuples(st.just("shuffle")),
    st.tuples(st.just("union_shifted")),
)
KEYED = st.tuples(st.just("keyed_sum"), st.integers(1, 6))
DATA = st.lists(st.integers(0, 200), max_size=60)
SETTINGS = settings(max_examples=int(os.environ.get("NBSTREAM_EXAMPLES", "40")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- the reference: the same operations on Python lists -----------------------------------------

def reference(data, ops, batch_mode):
    out = list(data)
    for op in ops:
        kind = op[0]
        if kind == "map":
            out = [(x * op[1] + op[2]) % 1000 for x in out]
        elif kind == "filter":
            out = [x for x in out if x % op[1] != op[2]]
        elif kind == "flat_map":
            out = [x for x in out for _ in range(x % op[1] + 1)]
        elif kind == "union_shifted":
            out = out + [x + 1 for x in out]
        elif kind == "keyed_sum":
            sums, rolling = {}, []
            for x in out:
                k = x % op[1]
                sums[k] = sums.get(k, 0) + x
                rolling.append(sums[k])
            out = list(sums.values()) if batch_mode else rolling
    return out


# -- the same pipeline in nbstream ------------------------------------------------------------------

def build(env, data, ops):
    ds = env.from_collection(data)
    for op in ops:
        kind = op[0]
        if kind == "map":
            a, b = op[1], op[2]
            ds = ds.map(lambda x, a=a, b=b: (x * a + b) % 1000)
        elif kind == "filter":
            k, r = op[1], op[2]
            ds = ds.filter(lambda x, k=k, r=r: x % k != r)
        elif kind == "flat_map":
            k = op[1]
            ds = ds.flat_map(lambda x, k=k: [x] * (x % k + 1))
        elif kind == "rebalance":
            ds = ds.rebalance()
        elif kind == "shuffle":
            ds = ds.shuffle()
        elif kind == "union_shifted":
            ds = ds.union(ds.map(lambda x: x + 1))
        elif kind == "keyed_sum":
            k = op[1]
            ds = ds.key_by(lambda x, k=k: x % k).reduce(lambda a, b: a + b)
    return ds


@SETTINGS
@given(data=DATA, ops=st.lists(STATELESS, max_size=5), parallelism=st.sampled_from([1, 2, 4]))
def test_stateless_pipelines_match_the_reference(make_env, data, ops, parallelism):
    env = make_env(parallelism)
    assert Counter(collect(build(env, data, ops))) == Counter(reference(data, ops, False))


@SETTINGS
@given(data=DATA, ops=st.lists(st.one_of(STATELESS, KEYED), max_size=6),
       parallelism=st.sampled_from([1, 2, 4]))
def test_batch_mode_pipelines_with_keyed_reduces_match_the_reference(make_env, data, ops, parallelism):
    env = make_env(parallelism)
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    assert Counter(collect(build(env, data, ops))) == Counter(reference(data, ops, True))


@SETTINGS
@given(data=DATA, keys=st.integers(1, 6), tail=st.lists(STATELESS, max_size=3),
       parallelism=st.sampled_from([1, 2, 4]))
def test_rolling_reduce_keeps_per_key_order(make_env, data, keys, tail, parallelism):
    """Straight after a single-instance source the per-key order is the input's, so the
    rolling values are exactly the reference's, whatever the parallelism."""
    env = make_env(parallelism)
    ds = env.from_collection(data).key_by(lambda x: x % keys).map(lambda x: (x % keys, x))
    rolling = ds.key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
    got = collect(rolling)
    want = {}
    sums = {}
    for x in data:
        k = x % keys
        sums[k] = sums.get(k, 0) + x
        want.setdefault(k, []).append(sums[k])
    got_per_key = {}
    for k, v in got:
        got_per_key.setdefault(k, []).append(v)
    assert got_per_key == want
    tail_env = make_env(parallelism)
    assert Counter(collect(build(tail_env, data, [("keyed_sum", keys)] + tail))) == \
        Counter(reference(data, [("keyed_sum", keys)] + tail, False))
