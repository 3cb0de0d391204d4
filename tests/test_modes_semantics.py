"""The foundation's semantics, run in every execution mode (``MODES`` in conftest):
each test compares a job's results with a plain-Python reference, so the same
expectation holds in thread and process mode."""

from __future__ import annotations

import collections
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import collect
from nbstream import (CoMapFunction, DataFrameSink, KeyedProcessFunction, ManualClock,
                      MapFunction, OutputTag, ProcessFunction, RuntimeExecutionMode,
                      SinkFunction, SourceFunction, TimeDomain, UserFunctionError, WriteMode)

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def per_key(pairs):
    out = collections.defaultdict(list)
    for k, v in pairs:
        out[k].append(v)
    return dict(out)


@pytest.mark.parametrize("parallelism", [1, 3])
def test_stateless_chain_matches_reference(make_env, parallelism):
    env = make_env(parallelism)
    data = list(range(200))
    got = collect(env.from_collection(data).map(lambda x: x * 3)
                  .flat_map(lambda x: [x, x + 1] if x % 2 else [x])
                  .filter(lambda x: x % 5 != 0))
    expected = [y for x in data for y in ([3 * x, 3 * x + 1] if (3 * x) % 2 else [3 * x])
                if y % 5 != 0]
    assert sorted(got) == sorted(expected)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_rolling_reduce_keeps_per_key_order(make_env, parallelism):
    env = make_env(parallelism)
    data = [(WORDS[i % 5], i) for i in range(300)]
    got = collect(env.from_collection(data).key_by(lambda t: t[0])
                  .reduce(lambda a, b: (a[0], a[1] + b[1])))
    running, expected = {}, []
    for w, i in data:
        running[w] = running.get(w, 0) + i
        expected.append((w, running[w]))
    assert per_key(got) == per_key(expected)


def test_wordcount_pipeline_w1_shape(make_env):
    n = 20_000
    env = make_env(2)
    got = collect(env.from_sequence(0, n - 1).map(lambda i: (WORDS[i % 5], 1))
                  .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
                  .filter(lambda t: t[1] == n // 5))
    assert sorted(got) == sorted((w, n // 5) for w in WORDS)


def test_field_aggregations(env):
    data = [("a", 3, 1), ("b", 1, 2), ("a", 1, 3), ("a", 5, 4), ("b", 0, 5)]
    keyed = lambda: env.from_collection(data).key_by(lambda t: t[0])  # noqa: E731
    assert per_key((t[0], t) for t in collect(keyed().sum(1)))["a"][-1] == ("a", 9, 1)
    assert per_key((t[0], t) for t in collect(keyed().min(1)))["b"][-1] == ("b", 0, 2)
    assert per_key((t[0], t) for t in collect(keyed().max_by(1)))["a"][-1] == ("a", 5, 4)


def test_batch_runtime_mode_emits_final_values(make_env):
    env = make_env(2)
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    data = [(WORDS[i % 3], i) for i in range(30)]
    got = collect(env.from_collection(data).key_by(lambda t: t[0]).sum(1))
    totals = collections.Counter()
    for w, i in data:
        totals[w] += i
    assert sorted(got) == sorted(totals.items())


def test_union_and_connect(env):
    a = env.from_collection([1, 2, 3])
    b = env.from_collection([10, 20])
    assert sorted(collect(a.union(b))) == [1, 2, 3, 10, 20]

    class Tag(CoMapFunction):
        def map1(self, value):
            return ("left", value)

        def map2(self, value):
            return ("right", value) if value > 10 else None

    c = env.from_collection([1, 2])
    d = env.from_collection([10, 20])
    assert sorted(collect(c.connect(d).map(Tag()))) == [("left", 1), ("left", 2), ("right", 20)]


def test_side_outputs(make_env):
    env = make_env(2)
    odd = OutputTag("odd")

    class Split(ProcessFunction):
        def process_element(self, value, ctx):
            yield (odd, value) if value % 2 else value

    main = env.from_collection(list(range(20))).rebalance().process(Split())
    side = main.get_side_output(odd).map(lambda x: -x)
    sink = DataFrameSink()
    main.add_sink(sink)
    got_side = collect(side)
    assert sorted(got_side) == sorted(-x for x in range(20) if x % 2)
    assert sorted(sink.rows()) == [x for x in range(20) if x % 2 == 0]


@pytest.mark.parametrize("partition", ["rebalance", "shuffle", "rescale", "broadcast", "custom"])
def test_partitionings(make_env, partition):
    env = make_env(1)
    ds = env.from_collection(list(range(40)))
    if partition == "custom":
        ds = ds.partition_custom(lambda key, n: key % n, lambda x: x)
    else:
        ds = getattr(ds, partition)()
    got = collect(ds.map(lambda x: x + 1).set_parallelism(3))
    times = 3 if partition == "broadcast" else 1
    assert sorted(got) == sorted(list(range(1, 41)) * times)


class _TimedSource(SourceFunction):
    """Records with event-time timestamps and explicit watermarks."""

    def __init__(self, items, marks):
        self.items, self.marks = items, marks

    def run(self, ctx):
        for (value, ts), mark in zip(self.items, self.marks):
            ctx.collect_with_timestamp(value, ts)
            if mark is not None:
                ctx.emit_watermark(mark)


class _SumUntilTimer(KeyedProcessFunction):
    """Sums values per key and emits the sum when event time passes ts + 10."""

    def open(self, runtime_context):
        self.sums = {}

    def process_element(self, value, ctx):
        key = ctx.get_current_key()
        self.sums[key] = self.sums.get(key, 0) + value[1]
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 10)
        return []

    def on_timer(self, timestamp, ctx):
        assert ctx.time_domain() is TimeDomain.EVENT_TIME
        yield (ctx.get_current_key(), timestamp, self.sums[ctx.get_current_key()],
               ctx.current_watermark())


@pytest.mark.parametrize("parallelism", [1, 2])
def test_event_time_timers_fire_with_watermarks(make_env, parallelism):
    env = make_env(parallelism)
    items = [(("a", 1), 100), (("b", 2), 101), (("a", 3), 105), (("b", 4), 130), (("c", 5), 200)]
    marks = [None, 104, None, 140, None]
    got = collect(env.add_source(_TimedSource(items, marks))
                  .key_by(lambda v: v[0]).process(_SumUntilTimer()))
    # watermark 104 fires nothing; 140 fires a's, b's timers; c's at the final watermark
    assert sorted(got) == [("a", 110, 4, 140), ("a", 115, 4, 140), ("b", 111, 6, 140),
                           ("b", 140, 6, 140), ("c", 210, 5, 2**63 - 1)]


class _Remind(KeyedProcessFunction):
    def process_element(self, value, ctx):
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().register_processing_time_timer(now + 1000)
        return []

    def on_timer(self, timestamp, ctx):
        yield (ctx.get_current_key(), timestamp, ctx.time_domain().name)


def test_processing_time_timers_follow_a_manual_clock(make_env):
    clock = ManualClock(5_000)
    env = make_env(1)
    env.set_processing_time_clock(clock)

    def slow_source():
        yield "k"
        while True:  # endless: the job ends when the timer's output has been seen
            yield None

    it = (env.from_iterable(slow_source).filter(lambda v: v is not None)
          .key_by(lambda v: v).process(_Remind())).execute_and_collect()
    with it:
        import time
        time.sleep(0.3)
        clock.advance(999)
        time.sleep(0.2)
        clock.advance(1)
        assert next(it) == ("k", 6_000, "PROCESSING_TIME")


def test_print_sink_goes_to_the_job_output(make_env, capsys):
    env = make_env(2)
    env.from_collection(list(range(6))).rebalance().map(lambda x: x * x).print("sq")
    env.execute()
    lines = capsys.readouterr().out.splitlines()
    assert sorted(int(line.split("> ")[1]) for line in lines) == [x * x for x in range(6)]
    assert {line.split("> ")[0] for line in lines} == {"sq:1", "sq:2"}


def test_write_as_text_with_parallelism(make_env, tmp_path):
    env = make_env(2)
    out = tmp_path / "out"
    env.from_collection(list(range(10))).rebalance().map(str).write_as_text(
        str(out), WriteMode.OVERWRITE)
    env.execute()
    lines = [line for f in sorted(os.listdir(out)) for line in (out / f).read_text().split()]
    assert sorted(map(int, lines)) == list(range(10))


def test_sinks_reach_kernel_objects(env):
    seen = []

    class Keep(SinkFunction):
        def __init__(self):
            self.values = []

        def invoke(self, value, context):
            self.values.append(value)

    keep = Keep()
    frame = DataFrameSink()
    ds = env.from_collection([3, 1, 2]).map(lambda x: x * 2)
    ds.add_sink(seen.append)
    ds.add_sink(keep)
    ds.add_sink(frame)
    env.execute()
    assert sorted(seen) == sorted(keep.values) == sorted(frame.rows()) == [2, 4, 6]


class _Scale(MapFunction):
    def open(self, runtime_context):
        self.factor = runtime_context.get_job_parameter("factor", 1)
        self.sub = runtime_context.get_index_of_this_subtask()

    def map(self, value):
        return (value * self.factor, self.sub)


def test_function_class_with_open_and_job_parameters(make_env):
    env = make_env(2)
    env.get_config().set_global_job_parameters({"factor": 7})
    got = collect(env.from_collection(list(range(10))).rebalance().map(_Scale()))
    assert sorted(v for v, _ in got) == [7 * x for x in range(10)]
    assert {s for _, s in got} == {0, 1}


def test_user_error_names_step_function_and_record(env):
    ds = env.from_collection([1, 2, 0, 4]).map(lambda x: 10 // x).name("invert")
    with pytest.raises(UserFunctionError) as info:
        collect(ds)
    err = info.value
    assert err.step == "invert"
    assert "<lambda>" in err.function
    assert "0" in str(err) and "ZeroDivisionError" in str(err)
    assert isinstance(err.__cause__, ZeroDivisionError)


def test_endless_source_stops_when_the_reader_has_enough(env):
    def naturals():
        n = 0
        while True:
            yield n
            n += 1

    assert env.from_iterable(naturals).map(lambda x: x * 2).execute_and_collect(limit=5) == \
        [0, 2, 4, 6, 8]


def test_dataframe_in_and_out(env):
    import pandas as pd
    df = pd.DataFrame({"page": ["a", "b", "a"], "ms": [1, 2, 3]})
    out = env.from_dataframe(df, rows="tuple").key_by(lambda t: t[0]).sum(1).to_pandas()
    assert sorted(map(tuple, out.values.tolist()))[-1] == ("b", 2)
    assert len(out) == 3


def test_text_file_source(env, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("to be\nor not\nto be\n")
    got = collect(env.read_text_file(str(path)).flat_map(str.split)
                  .map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1))
    assert per_key(got)["to"] == [1, 2]


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.tuples(st.sampled_from("abcd"), st.integers(-50, 50)), max_size=60),
       parallelism=st.integers(1, 3), threshold=st.integers(-50, 50))
def test_keyed_pipeline_property(make_env, data, parallelism, threshold):
    env = make_env(1)  # a rebalance before the key_by would reorder a key's records
    got = collect(env.from_collection(data).filter(lambda t: t[1] >= threshold)
                  .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], max(a[1], b[1])))
                  .set_parallelism(parallelism).map(lambda t: (t[0], t[1] * 2)))
    best, expected = {}, []
    for k, v in data:
        if v >= threshold:
            best[k] = max(best.get(k, v), v)
            expected.append((k, best[k] * 2))
    assert per_key(got) == per_key(expected)
