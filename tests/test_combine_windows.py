"""Event-time window aggregates combined before the keyed shuffle (nbstream/runtime/combine.py):
the windows' results equal the run without the combiner (and the one-task run) in threads and
processes, late records included, while the shuffle carries one accumulator per key and pane;
only the windows whose results cannot change are combined."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import (CountTrigger, Duration, OutputTag, SlidingEventTimeWindows,
                      StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkGenerator,
                      WatermarkStrategy)
from nbstream.errors import UserFunctionError

SETTINGS = settings(max_examples=int(os.environ.get("NBSTREAM_EXAMPLES", "25")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
# (key, a timestamp that drifts forward with jumps back, value): some records come after
# the watermark passed their window (late, dropped), most within the out-of-orderness
RECORDS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 120), st.integers(-9, 9)),
                   max_size=120).map(lambda rs: [(k, i * 4 + back, v) for i, (k, back, v)
                                                 in enumerate(rs)])
ALL = dict(n="count", s=(2, "sum"), lo=(2, "min"), hi=(2, "max"), m=(2, "mean"),
           f=(2, "first"), la=(2, "last"), vs=(2, lambda vs: list(vs)))
ORDER_FREE = dict(n="count", s=(2, "sum"), lo=(2, "min"), hi=(2, "max"), m=(2, "mean"))


class Punctuated(WatermarkGenerator):
    """Bounded out-of-orderness (60 ms) with a watermark after every record: watermarks
    pass windows while the job runs, as with a real stream (periodic ones would not come
    during a test's few milliseconds)."""

    def __init__(self) -> None:
        self.latest = -(2 ** 62)

    def on_event(self, event: Any, timestamp: int, output: Any) -> None:
        self.latest = max(self.latest, timestamp)
        output.emit_watermark(self.latest - 61)

    def on_periodic_emit(self, output: Any) -> None:
        pass


def make(mode: str, parallelism: int, combine: bool = True, **config: Any) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(
        {"nbstream.combine-before-shuffle": str(combine).lower(), **config})
    env.set_execution_mode(mode).set_parallelism(parallelism)
    return env


def windowed(env: StreamExecutionEnvironment, records: List[Tuple[int, int, int]], assigner: Any,
             aggs: Dict[str, Any], spread: bool = False, periodic: bool = False) -> Any:
    ds = env.from_collection(records)
    if spread:  # several senders, each with its own watermarks
        ds = ds.rebalance().map(lambda r: r)
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(60)) if periodic
                else WatermarkStrategy.for_generator(Punctuated))
    stamped = ds.assign_timestamps_and_watermarks(
        strategy.with_timestamp_assigner(lambda r, _: r[1]))
    return stamped.key_by(lambda r: r[0]).window(assigner).agg(**aggs).name("windows")


def run(env: StreamExecutionEnvironment, *args: Any, **kwargs: Any) -> Tuple[List[Any], int]:
    """The windows' rows (sorted) and how many values the window step took in; with the
    late records it dropped (a record counted as one, as without combining)."""
    it = windowed(env, *args, **kwargs).execute_and_collect()
    rows = sorted((tuple(r.values()) for r in it), key=repr)
    steps = [m for name, m in it.job.metrics().items() if name.endswith(":windows")]
    late = sum(m.get("late_records_dropped", 0) for m in steps)
    return rows + [("late", late)], sum(m["records_in"] for m in steps)


TUMBLING = TumblingEventTimeWindows.of(Duration.of_millis(50))
SLIDING = SlidingEventTimeWindows.of(Duration.of_millis(60), Duration.of_millis(40))


@SETTINGS
@given(records=RECORDS, sliding=st.booleans(), parallelism=st.sampled_from([2, 3]))
def test_one_sender_gives_exactly_the_uncombined_and_the_one_task_results(records, sliding, parallelism):
    assigner, aggs = (SLIDING, ORDER_FREE) if sliding else (TUMBLING, ALL)
    combined, ins = run(make("thread", parallelism), records, assigner, aggs)
    plain, plain_ins = run(make("thread", parallelism, combine=False), records, assigner, aggs)
    alone, _ = run(make("thread", 1), records, assigner, aggs)
    assert combined == plain == alone
    assert ins <= plain_ins


@pytest.mark.parametrize("sliding", [False, True])
def test_processes_threads_and_the_one_task_run_agree_and_the_shuffle_carries_panes(sliding):
    records = [(i % 3, i * 2 + (i * 7919) % 90, i % 11 - 5) for i in range(4000)]
    assigner, aggs = (SLIDING, ORDER_FREE) if sliding else (TUMBLING, ALL)
    # periodic watermarks (every 200 ms): the sender holds a pane's records until then
    alone, _ = run(make("thread", 1), records, assigner, aggs, periodic=True)
    for mode in ("thread", "process"):
        combined, ins = run(make(mode, 2), records, assigner, aggs, periodic=True)
        plain, plain_ins = run(make(mode, 2, combine=False), records, assigner, aggs, periodic=True)
        assert combined == plain == alone, mode
        assert plain_ins == 4000 and ins < plain_ins / 5, (mode, ins, plain_ins)


@SETTINGS
@given(records=RECORDS.map(lambda rs: sorted(rs, key=lambda r: r[1])))
def test_several_senders_with_ordered_input_give_the_uncombined_results(records):
    """Two senders, each with its own watermarks; in time order nothing is late, so the
    results do not depend on which sender's records come first."""
    combined, _ = run(make("thread", 2), records, TUMBLING, ORDER_FREE, spread=True)
    plain, _ = run(make("thread", 2, combine=False), records, TUMBLING, ORDER_FREE, spread=True)
    assert combined == plain


def plan_of(aggs: Dict[str, Any], assigner: Any = TUMBLING, tweak: Any = None) -> str:
    env = make("thread", 2)
    stamped = env.from_collection([(0, 1, 1)]).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda r, _: r[1]))
    win = stamped.key_by(lambda r: r[0]).window(assigner)
    if tweak is not None:
        win = tweak(win)
    win.agg(**aggs).print()
    return env.explain()


def test_only_windows_whose_results_cannot_change_are_combined():
    note = "(combine before shuffle: partial aggregates per key and pane"
    assert note in plan_of(ALL) and note in plan_of(ORDER_FREE, SLIDING)
    # sliding windows get their panes out of the records' order: no first/last/lists
    assert note not in plan_of(dict(f=(2, "first")), SLIDING)
    assert note not in plan_of(dict(vs=(2, sorted)), SLIDING)
    # late records may fire a window again, go to a side output, or be counted by a trigger
    assert note not in plan_of(ALL, tweak=lambda w: w.allowed_lateness(10))
    assert note not in plan_of(ALL, tweak=lambda w: w.side_output_late_data(OutputTag("late")))
    assert note not in plan_of(ALL, tweak=lambda w: w.trigger(CountTrigger.of(2)))
    # an AggregateFunction of the user's: not combined
    env = make("thread", 2)
    env.from_collection([(0, 1, 1)]).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda r, _: r[1])) \
        .key_by(lambda r: r[0]).window(TUMBLING).reduce(lambda a, b: a).print()
    assert note not in env.explain()
    off = make("thread", 2, combine=False)
    windowed(off, [(0, 1, 1)], TUMBLING, ALL).print()
    assert note not in off.explain()


def test_a_record_without_the_field_is_named_with_the_window_step():
    env = make("thread", 2)
    records = [(0, 1, 1), (0, 2)]
    with pytest.raises(UserFunctionError) as info:
        run(env, records, TUMBLING, dict(s=(2, "sum")))
    message = str(info.value)
    assert "step 'windows' failed" in message and "(0, 2)" in message


def test_list_keys_are_not_combined_and_stay_one_key():
    env = make("thread", 2)
    records = [([i % 2], i, 1) for i in range(40)]
    stamped = env.from_collection(records).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda r, _: r[1]))
    rows = stamped.key_by(lambda r: r[0]).window(TUMBLING).agg(n="count").execute_and_collect()
    assert sorted((r["key"], r["n"]) for r in rows) == [([0], 20), ([1], 20)]


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_restart_from_a_checkpoint_gives_the_same_windows(tmp_path, mode):
    """Accumulators held when a checkpoint's barrier passes are sent before it: a restart
    from that checkpoint neither loses nor repeats them."""
    from nbstream import RestartStrategies
    from tests.test_checkpoints import FailOnce

    records = [(i % 7, i, i % 10, i) for i in range(3000)]  # FailOnce reads [3]
    env = make(mode, 2, **{"nbstream.batch-size": "40"})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "ck"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    stamped = (env.from_collection(records).map(FailOnce(str(tmp_path / "failed"), 2500))
               .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()
                                                 .with_timestamp_assigner(lambda r, _: r[1])))
    it = (stamped.key_by(lambda r: r[0]).window(TumblingEventTimeWindows.of(Duration.of_millis(100)))
          .agg(n="count", s=(2, "sum"))).execute_and_collect()
    got = sorted((r["key"], r["window_start"], r["n"], r["s"]) for r in it)
    want: Dict[Tuple[int, int], List[int]] = {}
    for k, t, v, _ in records:
        cell = want.setdefault((k, t - t % 100), [0, 0])
        cell[0] += 1
        cell[1] += v
    assert got == sorted((k, w, n, s) for (k, w), (n, s) in want.items())
    assert it.job.restarts == 1 and it.job.checkpoint_info()["completed"] >= 1


def test_a_sender_whose_records_share_no_pane_stops_combining_and_stays_exact():
    """A key per record: every partial would hold one record. After its first 20,000
    records the sender sends records on as they come; the results do not change."""
    records = [(i, i, i % 5) for i in range(30_000)]
    aggs = dict(n="count", s=(2, "sum"))
    combined, ins = run(make("thread", 2), records, TUMBLING, aggs, periodic=True)
    plain, plain_ins = run(make("thread", 2, combine=False), records, TUMBLING, aggs, periodic=True)
    assert combined == plain and len(combined) == 30_001  # a row a record, and the late count
    assert ins == plain_ins == 30_000


def sender(records_per_pane: int, records: int) -> Tuple[Any, List[Any]]:
    """A window combiner over two receivers, its batches kept in lists (what the channels'
    writers would carry), fed ``records`` records, ``records_per_pane`` to each key's pane."""
    from nbstream.plan.logical import Node, UserFn
    from nbstream.runtime.combine import WindowCombiningTarget
    from nbstream.runtime.partitioners import Hash
    from nbstream.runtime.records import Batch
    from nbstream.runtime.summaries import FieldsAggregate
    from nbstream.runtime.windows import WindowFunctionSpec

    class Channel(list):
        put = list.append

    spec = WindowFunctionSpec("aggregate", aggregate=FieldsAggregate([("n", None, "count")]))
    node = Node(1, "window", "windows", fn=UserFn((), owner=spec, name="agg"),
                params={"combine_panes": (100, 0)})
    channels: List[Any] = [Channel(), Channel()]
    target = WindowCombiningTarget(Hash(2, lambda r: r[0], 128, "key_by", "key"), 2,
                                   lambda i: channels[i], None, node, 10_000, 500)
    for start in range(0, records, 500):
        batch = [(i // records_per_pane, i) for i in range(start, start + 500)]
        target.send(Batch(batch, [t for _, t in batch]))
    target.end()
    return target, [b for ch in channels for b in ch if isinstance(b, Batch)]


def test_the_sender_stops_holding_when_its_records_share_nothing_and_not_before():
    from nbstream.runtime.summaries import Partial

    shared, batches = sender(50, 40_000)  # 50 records a key and pane: 800 partials
    assert not shared.passing and sum(len(b.values) for b in batches) == 800
    assert all(type(v) is Partial for b in batches for v in b.values)
    alone, batches = sender(1, 40_000)  # a key a record: nothing shared
    assert alone.passing and 20_000 <= alone.taken < 40_000  # held no more after that
    sent = [v for b in batches for v in b.values]
    assert len(sent) == 40_000 and type(sent[-1]) is tuple  # the later ones as they came
