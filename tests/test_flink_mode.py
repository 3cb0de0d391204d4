"""The flink execution mode: the same pipelines in thread mode and on an Apache Flink
mini-cluster give the same multiset of results, into the same sinks and job handles.

Every Flink job costs a second or two (the first one of the session also starts the
JVM), so each test runs few of them.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, List

import pytest

from nbstream import (CoMapFunction, DataFrameSink, JobFailedError, JobStatus, OutputTag, PlanError,
                      ProcessFunction, RuntimeExecutionMode, StreamExecutionEnvironment)

pytestmark = [pytest.mark.slow, pytest.mark.flink]

MODES = ("thread", "flink")


def make(mode: str, parallelism: int = 1, **config: Any) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(config or None)
    env.set_parallelism(parallelism)
    env.set_execution_mode(mode)
    return env


def run_in_both(build: Callable[[StreamExecutionEnvironment], List[Any]], parallelism: int = 1,
                **config: Any) -> Dict[str, List[collections.Counter]]:
    """Run the streams ``build(env)`` returns into DataFrameSinks, in each mode; the
    multisets of rows (by repr) of every stream must agree. Returns them per mode."""
    got: Dict[str, List[collections.Counter]] = {}
    for mode in MODES:
        env = make(mode, parallelism, **config)
        sinks = []
        for stream in build(env):
            sink = DataFrameSink()
            stream.add_sink(sink)
            sinks.append(sink)
        result = env.execute(f"{mode} job")
        assert result.job_name == f"{mode} job"
        got[mode] = [collections.Counter(map(repr, s.rows())) for s in sinks]
    assert got["thread"] == got["flink"]
    return got


WORDS = ["to", "be", "or", "not", "to", "be", "that", "is", "the", "question", "to", "be"]


def test_keyed_rolling_reduce_and_aggregations_at_parallelism_2():
    def build(env):
        # one instance before key_by keeps each key's order, which max_by/min depend on
        pairs = env.from_collection(WORDS).map(lambda w: (w, 1, len(w))).set_parallelism(1)
        keyed = pairs.key_by(lambda t: t[0])
        return [keyed.reduce(lambda a, b: (a[0], a[1] + b[1], a[2])),
                keyed.sum(1), pairs.key_by(lambda t: t[2]).max_by(0),
                pairs.key_by(lambda t: t[2]).min(0)]

    got = run_in_both(build, parallelism=2)
    assert got["flink"][0][repr(("to", 3, 2))] == 1  # the rolling count reached 3


def test_batch_runtime_mode_emits_final_values_only():
    def build(env):
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
        return [env.from_collection(WORDS).map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1)]

    got = run_in_both(build)
    assert sorted(got["flink"][0]) == sorted(repr((w, WORDS.count(w))) for w in set(WORDS))


def test_side_outputs_of_process_functions():
    odd = OutputTag("odd")

    class Split(ProcessFunction):
        def process_element(self, value, ctx):
            if value % 2:
                yield odd, value * 10
            else:
                yield value

    def build(env):
        main = env.from_sequence(1, 20).process(Split())
        return [main, main.get_side_output(odd), main.get_side_output(odd).map(lambda v: -v)]

    got = run_in_both(build, parallelism=2)
    assert sum(got["flink"][1].values()) == 10


def test_connect_union_and_partitionings():
    class Shift(CoMapFunction):
        def map1(self, value):
            return ("left", value + 1)

        def map2(self, value):
            return None if value == 4 else ("right", value - 1)  # None is dropped

    def build(env):
        a = env.from_collection([1, 2, 3, 4, 5])
        b = a.map(lambda v: v * 2)
        co = a.connect(b).map(Shift())
        flat = a.connect(b).flat_map(lambda v: [v] * 2, lambda v: [])
        mixed = a.union(b).rebalance().map(lambda v: v + 100).shuffle().filter(lambda v: v % 3)
        custom = a.partition_custom(lambda key, n: key % n, lambda v: v).map(lambda v: (v, v))
        everywhere = a.broadcast().map(lambda v: v)
        return [co, flat, mixed, custom, everywhere]

    got = run_in_both(build, parallelism=2)
    assert sum(got["flink"][4].values()) == 10  # broadcast: each record to both instances


def test_print_writes_into_the_driver_with_flink_prefixes(capsys):
    lines = {}
    for mode in MODES:
        env = make(mode, 2)
        env.from_collection(["a", "b", "c", "d"]).map(str.upper).print("up")
        env.from_collection([("x", 1)]).print()
        env.execute()
        lines[mode] = capsys.readouterr().out.splitlines()
    # which subtask prints what depends on the round-robin order: compare the prefixes' form
    for mode in MODES:
        prefixes = collections.Counter(line.split("> ", 1)[0] for line in lines[mode])
        assert set(prefixes) <= {"up:1", "up:2", "1", "2"}
        assert sum(n for p, n in prefixes.items() if p.startswith("up:")) == 4
        assert sorted(line.split("> ", 1)[1] for line in lines[mode]) == [
            "('x', 1)", "A", "B", "C", "D"]


def test_execute_and_collect_and_the_job_handle():
    env = make("flink", 1)
    assert sorted(env.from_sequence(1, 50).map(lambda x: x * x).execute_and_collect()) == [
        x * x for x in range(1, 51)]
    first = env.from_sequence(1, 1000).execute_and_collect(limit=3)
    assert len(first) == 3
    sink = DataFrameSink()
    env.from_collection([("a", 1), ("b", 2)]).add_sink(sink)
    job = env.execute_async("handle")
    assert job.mode == "flink"
    job.result(timeout=120)
    assert job.status is JobStatus.FINISHED
    assert sink.to_pandas().to_dict("list") == {"f0": ["a", "b"], "f1": [1, 2]}


def test_a_failing_function_fails_the_job_naming_step_and_record():
    env = make("flink", 1)

    def explode(v):
        if v == 3:
            raise ValueError("three is too many")
        return v

    env.from_collection([1, 2, 3, 4]).map(explode).name("checked").print()
    with pytest.raises(JobFailedError) as info:
        env.execute()
    message = str(info.value)
    assert "step 'checked'" in message and "on record 3" in message
    assert "ValueError: three is too many" in message


def test_python_sources_run_in_the_driver_and_feed_the_job():
    from nbstream import SourceFunction, TumblingEventTimeWindows, WatermarkStrategy

    def readings():  # a generator function: read again by every run
        for i in range(40):
            yield ("abc"[i % 3], i)

    class Clicks(SourceFunction):
        def run(self, ctx):
            for i in range(30):
                ctx.collect_with_timestamp(("page%d" % (i % 2), 1), 1_000 * i)

    def build(env):
        counts = env.from_iterable(readings).key_by(lambda r: r[0]).sum(1)
        clicks = env.add_source(Clicks(), "clicks").assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps())
        windows = clicks.key_by(lambda c: c[0]).window(TumblingEventTimeWindows.of("10s")).sum(1)
        return [counts, windows]

    got = run_in_both(build, parallelism=2)
    assert sum(got["flink"][0].values()) == 40 and len(got["flink"][1]) == 6


def test_a_failing_driver_source_fails_the_job():
    env = make("flink", 1)

    def broken():
        yield 1
        raise OSError("sensor unplugged")

    env.from_iterable(broken).map(lambda v: v).print()
    with pytest.raises(JobFailedError, match="sensor unplugged"):
        env.execute()


def test_untranslatable_steps_fail_before_submission():
    from nbstream import WatermarkGenerator, WatermarkStrategy

    class EveryRecord(WatermarkGenerator):
        def on_event(self, event, event_timestamp, output):
            output.emit_watermark(event_timestamp)

    env = make("flink", 1)
    env.from_collection([1, 2]).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_generator(EveryRecord).with_timestamp_assigner(lambda v, _: v)
    ).name("per record").print()
    with pytest.raises(PlanError, match=r"step 'per record' \(timestamps_watermarks\) cannot run "
                                        r"in flink mode: PyFlink runs no Python watermark"):
        env.execute()


# -- event time, windows, state and timers ------------------------------------------------------

EVENTS = [("a", 1_000, 3), ("b", 1_500, 1), ("a", 2_000, 4), ("a", 9_500, 1), ("b", 8_000, 2),
          ("a", 12_000, 7), ("b", 11_000, 5), ("a", 10_500, 2), ("c", 14_000, 9),
          ("b", 25_000, 6), ("a", 30_000, 1), ("c", 31_000, 2), ("a", 29_000, 8)]


def timed(env):
    from nbstream import WatermarkStrategy

    return env.from_collection(EVENTS).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_bounded_out_of_orderness("2s").with_timestamp_assigner(
            lambda e, _ts: e[1]))


def test_windows_of_every_kind_agree_with_thread_mode():
    from nbstream import (AggregateFunction, CountTrigger, EventTimeSessionWindows,
                          ProcessAllWindowFunction, ProcessWindowFunction, PurgingTrigger,
                          SlidingEventTimeWindows, TumblingEventTimeWindows, WindowFunction)

    class CountAndSum(AggregateFunction):
        def create_accumulator(self):
            return (0, 0)

        def add(self, value, acc):
            return (acc[0] + 1, acc[1] + value[2])

        def get_result(self, acc):
            return acc

        def merge(self, a, b):
            return (a[0] + b[0], a[1] + b[1])

    class Sessions(ProcessWindowFunction):
        def process(self, key, context, elements):
            w = context.window()
            yield (key, w.start, w.end, len(elements), sum(e[2] for e in elements))

    class Bounds(WindowFunction):
        def apply(self, key, window, inputs):
            return [(key, window.start, window.end, *inputs)]

    class Everything(ProcessAllWindowFunction):
        def process(self, context, elements):
            yield (context.window().start, sorted(e[0] for e in elements))

    def build(env):
        ts = timed(env)
        keyed = ts.key_by(lambda e: e[0])
        return [
            keyed.window(TumblingEventTimeWindows.of("10s")).aggregate(CountAndSum()),
            keyed.window(EventTimeSessionWindows.with_gap("3s")).process(Sessions()),
            keyed.window(SlidingEventTimeWindows.of("10s", "5s")).reduce(
                lambda a, b: (a[0], max(a[1], b[1]), a[2] + b[2]), window_function=Bounds()),
            ts.window_all(TumblingEventTimeWindows.of("10s")).process(Everything()),
            keyed.window(TumblingEventTimeWindows.of("10s")).agg(n="count", total=(2, "sum")),
            env.from_collection(EVENTS).key_by(lambda e: e[0]).count_window(2).apply(
                lambda key, window, inputs: [(key, [e[2] for e in inputs])]),
            keyed.window(TumblingEventTimeWindows.of("20s"))
                 .trigger(PurgingTrigger.of(CountTrigger.of(2)))
                 .process(Sessions()),
        ]

    got = run_in_both(build, parallelism=2)
    assert got["flink"][0][repr((3, 8))] == 1  # key a, window [0, 10s): 3 + 4 + 1
    assert sum(got["flink"][1].values()) > 0 and sum(got["flink"][5].values()) == 6


def test_keyed_process_function_with_state_and_event_time_timers():
    from nbstream import KeyedProcessFunction, ValueStateDescriptor

    alarms = OutputTag("alarms")

    class SumThenReport(KeyedProcessFunction):
        def open(self, runtime_context):
            self.total = runtime_context.get_state(ValueStateDescriptor("total"))
            self.seen = runtime_context.get_list_state(
                __import__("nbstream").ListStateDescriptor("seen"))

        def process_element(self, value, ctx):
            self.total.update((self.total.value() or 0) + value[2])
            self.seen.add(value[1])
            ctx.timer_service().register_event_time_timer(ctx.timestamp() + 5_000)
            if value[2] > 6:
                yield alarms, (ctx.get_current_key(), value[2])
            return []

        def on_timer(self, timestamp, ctx):
            yield (ctx.get_current_key(), timestamp, self.total.value(),
                   sorted(self.seen.get()), ctx.time_domain().name)

    def build(env):
        reports = timed(env).key_by(lambda e: e[0]).process(SumThenReport())
        return [reports, reports.get_side_output(alarms)]

    got = run_in_both(build, parallelism=2)
    assert sorted(got["flink"][1]) == sorted(map(repr, [("a", 7), ("c", 9), ("a", 8)]))
    assert any("EVENT_TIME" in r for r in got["flink"][0])


def test_keyed_co_process_shares_state_across_both_inputs():
    from nbstream import KeyedCoProcessFunction, ValueStateDescriptor

    class Count(KeyedCoProcessFunction):
        def open(self, runtime_context):
            self.count = runtime_context.get_state(ValueStateDescriptor("count"))

        def _bump(self, value, ctx):
            n = (self.count.value() or 0) + 1
            self.count.update(n)
            yield (ctx.get_current_key(), n)  # which input comes first per key may vary

        def process_element1(self, value, ctx):
            return self._bump(value, ctx)

        def process_element2(self, value, ctx):
            return self._bump(value, ctx)

    def build(env):
        left = env.from_collection([("a", 1), ("b", 2), ("c", 3)])
        right = env.from_collection([("b", 2), ("c", 3), ("d", 4)])
        return [left.connect(right).key_by(lambda x: x[0], lambda x: x[0]).process(Count())]

    got = run_in_both(build, parallelism=2)
    assert sorted(got["flink"][0]) == sorted(map(repr, [("a", 1), ("b", 1), ("b", 2), ("c", 1),
                                                        ("c", 2), ("d", 1)]))


def test_windows_that_flink_cannot_run_are_refused_before_submission():
    from nbstream import CountEvictor, TumblingEventTimeWindows

    env = make("flink", 1)
    (timed(env).key_by(lambda e: e[0]).window(TumblingEventTimeWindows.of("10s"))
               .evictor(CountEvictor.of(2)).reduce(lambda a, b: a).name("evicting").print())
    with pytest.raises(PlanError, match="step 'evicting' .* PyFlink's windows take no evictor"):
        env.execute()


def test_a_job_can_have_a_mini_cluster_of_its_own():
    env = make("flink", 2, **{"nbstream.flink.shared-cluster": "false",
                              "pipeline.name": "ignored by nbstream, read by Flink"})
    assert sorted(env.from_collection(WORDS).map(str.upper).execute_and_collect()) == sorted(
        w.upper() for w in WORDS)


def test_broadcast_state_reaches_every_instance():
    from nbstream import (BroadcastProcessFunction, KeyedBroadcastProcessFunction,
                          MapStateDescriptor, ValueStateDescriptor)

    names = MapStateDescriptor("names")

    class Label(BroadcastProcessFunction):
        """Values wait in a local cache until the name of their class has arrived."""

        def open(self, runtime_context):
            self.cache = []

        def process_element(self, value, ctx):
            name = ctx.get_broadcast_state(names).get(value % 2)
            if name is None:
                self.cache.append(value)
                return []
            return [f"{name}{value}"]

        def process_broadcast_element(self, value, ctx):
            ctx.get_broadcast_state(names).put(value[0], value[1])
            ready = [v for v in self.cache if v % 2 == value[0]]
            self.cache = [v for v in self.cache if v % 2 != value[0]]
            return [f"{value[1]}{v}" for v in ready] + [f"rule {value[1]}"]

    class CountPerKey(KeyedBroadcastProcessFunction):
        def open(self, runtime_context):
            self.seen = runtime_context.get_state(ValueStateDescriptor("seen"))

        def process_element(self, value, ctx):
            n = (self.seen.value() or 0) + 1
            self.seen.update(n)
            return [(ctx.get_current_key(), n)]

        def process_broadcast_element(self, value, ctx):
            ctx.get_broadcast_state(names).put(value[0], value[1])
            return []

    def build(env):
        rules = env.from_collection([(0, "even-"), (1, "odd-")]).broadcast(names)
        data = env.from_collection([1, 2, 3, 4, 5])
        return [data.connect(rules).process(Label()),
                data.key_by(lambda v: v % 2).connect(rules).process(CountPerKey())]

    got = run_in_both(build, parallelism=2)
    assert sum(got["flink"][0].values()) == 5 + 2 * 2  # each instance sees both rules


def test_set_mode_flink_is_all_a_notebook_needs(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("%load_ext nbstream")
    try:
        assert shell.run_cell("%set_mode flink").success
        result = shell.run_cell(
            "%%stream --name onflink --to onflink --blocking\n"
            "env.from_collection(['to be', 'or not', 'to be']).flat_map(str.split)"
            ".map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1)")
        assert result.success, result.error_in_exec
        out = capsys.readouterr().out
        assert "nbstream job 'onflink' [flink] finished: " in out
        assert dict(shell.user_ns["onflink"].rows()) == {"to": 2, "be": 2, "or": 1, "not": 1}
    finally:
        shell.run_cell("%set_mode thread")
        shell.run_cell("%unload_ext nbstream")


def test_records_of_a_class_defined_in_the_notebook_get_a_hint(tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "main.py"
    script.write_text(
        "from dataclasses import dataclass\n"
        "from nbstream import StreamExecutionEnvironment\n"
        "@dataclass\n"
        "class Point:\n"
        "    k: str\n"
        "    v: int\n"
        "env = StreamExecutionEnvironment.get_execution_environment()\n"
        "env.set_execution_mode('flink')\n"
        "try:\n"
        "    env.from_collection([Point('a', 1), Point('a', 2)]).key_by(lambda p: p.k)"
        ".sum('v').execute_and_collect(limit=2)\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, PYTHONPATH=root))
    assert out.stdout.startswith("JobFailedError"), out.stderr[-2000:]
    assert "define the classes of your records in a module" in out.stdout
