"""Scale: a job at parallelism 256 in thread mode starts, runs and stops, leaving no
thread behind (the conftest fixture checks nbstream's threads after every test)."""

from __future__ import annotations

import threading

from nbstream import StreamExecutionEnvironment


def test_parallelism_256_in_thread_mode_runs_10000_records_and_leaves_no_thread():
    before = threading.active_count()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(256)
    totals: dict = {}
    (env.from_sequence(1, 10_000).map(lambda x: (x % 97, x)).key_by(lambda t: t[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
        .add_sink(lambda t: totals.__setitem__(t[0], max(totals.get(t[0], 0), t[1]))))
    result = env.execute("p256")
    expected = {k: sum(x for x in range(1, 10_001) if x % 97 == k) for k in range(97)}
    assert totals == expected
    assert max(m["parallelism"] for m in result.metrics.values()) == 256
    assert threading.active_count() == before


def test_channel_numbers_agree_at_both_ends_at_high_parallelism():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(64)
    (env.from_sequence(1, 100).rescale().map(str).set_parallelism(16).key_by(len)
        .map(str).set_parallelism(64).add_sink(lambda x: None))
    plan = env._plan("channels")
    for chain in plan.chains:
        for sub in range(chain.parallelism):
            for ch, (edge, sender) in enumerate(plan.input_channels(chain.id, sub)):
                assert sub in plan.receivers(edge, sender)
                assert plan.channel_index(edge, sender, sub) == ch
