"""Flink's window cases W1-W19 (shared/acceptance/pyflink_cases.md), in nbstream's API,
at parallelism 1 and 2. Results are compared as multisets, as Flink's tests do."""

from __future__ import annotations

from collections import Counter

import pytest

from nbstream import (AggregateFunction, AllWindowFunction, CountSlidingWindowAssigner,
                      CountTrigger, EventTimeSessionWindows, EventTimeTrigger, GlobalWindows,
                      OutputTag, ProcessAllWindowFunction, ProcessWindowFunction, PurgingTrigger,
                      SessionWindowTimeGapExtractor, SlidingEventTimeWindows, Time,
                      TimestampAssigner, TumblingEventTimeWindows, Types, WatermarkGenerator,
                      WatermarkStrategy, WindowFunction)

from tests.conftest import collect
from tests.window_helpers import run_all

PARALLELISM = [1, 2]


class SecondColumnTimestampAssigner(TimestampAssigner):
    def extract_timestamp(self, value, record_timestamp):
        return int(value[1])


def wm():
    return (WatermarkStrategy.for_monotonous_timestamps()
            .with_timestamp_assigner(SecondColumnTimestampAssigner()))


class CountWindowProcessFunction(ProcessWindowFunction):
    def process(self, key, context, elements):
        return [(key, context.window().start, context.window().end, len(list(elements)))]


class CountAllWindowProcessFunction(ProcessAllWindowFunction):
    def process(self, context, elements):
        return [(context.window().start, context.window().end, len(list(elements)))]


class SumWindowFunction(WindowFunction):
    def apply(self, key, window, inputs):
        return [(key, sum(i[0] for i in inputs))]


class GapFromSecondField(SessionWindowTimeGapExtractor):
    def extract(self, element):
        return element[1]


class EvensMinusOdds(AggregateFunction):
    """W9: counts even and odd timestamps; the key is the last record's."""

    def create_accumulator(self):
        return ("", {0: 0, 1: 0})

    def add(self, value, accumulator):
        counts = dict(accumulator[1])
        counts[value[1] % 2] += 1
        return value[0], counts

    def get_result(self, accumulator):
        return accumulator[0], accumulator[1][0] - accumulator[1][1]

    def merge(self, acc_a, acc_b):
        return acc_a[0], {0: acc_a[1][0] + acc_b[1][0], 1: acc_a[1][1] + acc_b[1][1]}


class SumOfTimestamps(AggregateFunction):
    """W10: acc (sum, key) -> (key, sum)."""

    def create_accumulator(self):
        return 0, ""

    def add(self, value, accumulator):
        return accumulator[0] + value[1], value[0]

    def get_result(self, accumulator):
        return accumulator[1], accumulator[0]

    def merge(self, acc_a, acc_b):
        return acc_a[0] + acc_b[0], acc_b[1] or acc_a[1]


class KeyTimestampSum(ProcessWindowFunction):
    def process(self, key, context, elements):
        for k, s in elements:
            yield f"key {k} timestamp sum {s}"


class KeyTimestampSumAll(ProcessAllWindowFunction):
    def process(self, context, elements):
        for k, s in elements:
            yield f"key {k} timestamp sum {s}"


class ReduceResult(ProcessWindowFunction):
    def process(self, key, context, elements):
        yield (f"current window start at {context.window().start}, "
               f"reduce result {next(iter(elements))}")


class ReduceResultAll(ProcessAllWindowFunction):
    def process(self, context, elements):
        yield (f"current window start at {context.window().start}, "
               f"reduce result {next(iter(elements))}")


HI = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 5), ("hi", 8), ("hi", 9), ("hi", 15)]
D7 = [("a", 1), ("a", 2), ("b", 3), ("a", 6), ("b", 8), ("b", 9), ("a", 15)]


def keyed(env, data, key=lambda x: x[0]):
    return env.from_collection(data).assign_timestamps_and_watermarks(wm()).key_by(key)


def assert_multiset(results, expected):
    assert Counter(results) == Counter(expected)


@pytest.mark.parametrize("p", PARALLELISM)
def test_w1_event_time_tumbling_window(make_env, p):
    ds = keyed(make_env(p), HI).window(TumblingEventTimeWindows.of(Time.milliseconds(5)))
    assert_multiset(collect(ds.process(CountWindowProcessFunction())),
                    [("hi", 0, 5, 4), ("hi", 5, 10, 3), ("hi", 15, 20, 1)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w2_event_time_sliding_window(make_env, p):
    ds = keyed(make_env(p), HI).window(SlidingEventTimeWindows.of(Time.milliseconds(5),
                                                                  Time.milliseconds(2)))
    assert_multiset(collect(ds.process(CountWindowProcessFunction())),
                    [("hi", -2, 3, 2), ("hi", 0, 5, 4), ("hi", 2, 7, 4), ("hi", 4, 9, 3),
                     ("hi", 6, 11, 2), ("hi", 8, 13, 2), ("hi", 12, 17, 1), ("hi", 14, 19, 1)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w3_event_time_session_window(make_env, p):
    data = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 8), ("hi", 9), ("hi", 15)]
    ds = keyed(make_env(p), data).window(EventTimeSessionWindows.with_gap(Time.milliseconds(5)))
    assert_multiset(collect(ds.process(CountWindowProcessFunction())),
                    [("hi", 1, 14, 6), ("hi", 15, 20, 1)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w4_event_time_dynamic_gap_session_window(make_env, p):
    data = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 9), ("hi", 9), ("hi", 15)]
    ds = keyed(make_env(p), data).window(
        EventTimeSessionWindows.with_dynamic_gap(GapFromSecondField()))
    assert_multiset(collect(ds.process(CountWindowProcessFunction())),
                    [("hi", 1, 8, 4), ("hi", 9, 30, 3)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w5_count_tumbling_window(make_env, p):
    data = [(1, "hi"), (2, "hello"), (3, "hi"), (4, "hello"), (5, "hi"), (6, "hello"),
            (6, "hello")]
    ds = make_env(p).from_collection(data).key_by(lambda x: x[1]).count_window(3)
    assert_multiset(collect(ds.apply(SumWindowFunction())), [("hi", 9), ("hello", 12)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w6_count_sliding_window(make_env, p):
    data = [(1, "hi"), (2, "hello"), (3, "hi"), (4, "hello"), (5, "hi"), (6, "hello")]
    ds = make_env(p).from_collection(data).key_by(lambda x: x[1])
    out = ds.window(CountSlidingWindowAssigner(2, 1)).apply(SumWindowFunction())
    assert_multiset(collect(out), [("hello", 6), ("hi", 8), ("hi", 4), ("hello", 10)])
    # count_window(size, slide) is the same assigner
    ds = make_env(p).from_collection(data).key_by(lambda x: x[1])
    assert_multiset(collect(ds.count_window(2, 1).apply(SumWindowFunction())),
                    [("hello", 6), ("hi", 8), ("hi", 4), ("hello", 10)])


def session2(env, p, all_windows=False):
    ds = env.from_collection(D7).assign_timestamps_and_watermarks(wm())
    gap = EventTimeSessionWindows.with_gap(Time.milliseconds(2))
    return ds.window_all(gap) if all_windows else ds.key_by(lambda x: x[0]).window(gap)


@pytest.mark.parametrize("p", PARALLELISM)
def test_w7_window_reduce_passthrough(make_env, p):
    out = session2(make_env(p), p).reduce(lambda a, b: (b[0], a[1] + b[1]))
    assert_multiset(collect(out), [("a", 3), ("a", 6), ("a", 15), ("b", 3), ("b", 17)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w8_window_reduce_process(make_env, p):
    out = session2(make_env(p), p).reduce(lambda a, b: (b[0], a[1] + b[1]),
                                          window_function=ReduceResult())
    assert_multiset(collect(out), [
        "current window start at 1, reduce result ('a', 3)",
        "current window start at 15, reduce result ('a', 15)",
        "current window start at 3, reduce result ('b', 3)",
        "current window start at 6, reduce result ('a', 6)",
        "current window start at 8, reduce result ('b', 17)"])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w9_window_aggregate_passthrough(make_env, p):
    out = session2(make_env(p), p).aggregate(EvensMinusOdds())
    assert_multiset(collect(out), [("a", -1), ("a", 0), ("a", 1), ("b", -1), ("b", 0)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w10_window_aggregate_accumulator_type_and_process(make_env, p):
    out = session2(make_env(p), p).aggregate(
        SumOfTimestamps(), accumulator_type=Types.TUPLE([Types.INT(), Types.STRING()]))
    assert_multiset(collect(out), [("a", 15), ("a", 3), ("a", 6), ("b", 17), ("b", 3)])
    out = session2(make_env(p), p).aggregate(SumOfTimestamps(), window_function=KeyTimestampSum())
    assert_multiset(collect(out), ["key a timestamp sum 15", "key a timestamp sum 3",
                                   "key a timestamp sum 6", "key b timestamp sum 17",
                                   "key b timestamp sum 3"])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w11_session_window_late_merge(make_env, p):
    ds = keyed(make_env(p), [("hi", 0), ("hi", 8), ("hi", 4)])
    out = ds.window(EventTimeSessionWindows.with_gap(Time.milliseconds(5)))
    assert_multiset(collect(out.process(CountWindowProcessFunction())), [("hi", 0, 13, 3)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w12_session_window_with_purging_trigger(make_env, p):
    data = [("hi", 1), ("hi", 2), ("hi", 3), ("hi", 4), ("hi", 8), ("hi", 9), ("hi", 15)]
    out = (keyed(make_env(p), data)
           .window(EventTimeSessionWindows.with_gap(Time.milliseconds(3)))
           .trigger(PurgingTrigger.of(EventTimeTrigger.create()))
           .process(CountWindowProcessFunction()))
    assert_multiset(collect(out), [("hi", 1, 7, 4), ("hi", 8, 12, 2), ("hi", 15, 18, 1)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w13_global_window_with_purging_trigger(make_env, p):
    class CountPerKey(ProcessWindowFunction):
        def process(self, key, context, elements):
            return [(key, len(list(elements)))]

    out = (keyed(make_env(p), [("hi", 1)] * 7)
           .window(GlobalWindows.create())
           .trigger(PurgingTrigger.of(CountTrigger.of(2)))
           .process(CountPerKey()))
    assert_multiset(collect(out), [("hi", 2)] * 3)


@pytest.mark.parametrize("p", PARALLELISM)
def test_w14_event_time_tumbling_window_all(make_env, p):
    data = [("hi", 1), ("hello", 2), ("hi", 3), ("hello", 4), ("hello", 5), ("hi", 8),
            ("hi", 9), ("hi", 15)]
    out = (make_env(p).from_collection(data).assign_timestamps_and_watermarks(wm())
           .window_all(TumblingEventTimeWindows.of(Time.milliseconds(5)))
           .process(CountAllWindowProcessFunction()))
    assert_multiset(collect(out), [(0, 5, 4), (5, 10, 3), (15, 20, 1)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w15_window_all_reduce(make_env, p):
    out = session2(make_env(p), p, all_windows=True).reduce(lambda a, b: (a[0], a[1] + b[1]))
    assert_multiset(collect(out), [("a", 6), ("a", 23), ("a", 15)])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w16_window_all_reduce_process(make_env, p):
    out = session2(make_env(p), p, all_windows=True).reduce(
        lambda a, b: (a[0], a[1] + b[1]), window_function=ReduceResultAll())
    assert_multiset(collect(out), ["current window start at 1, reduce result ('a', 6)",
                                   "current window start at 6, reduce result ('a', 23)",
                                   "current window start at 15, reduce result ('a', 15)"])


@pytest.mark.parametrize("p", PARALLELISM)
def test_w17_window_all_aggregate_and_process(make_env, p):
    out = session2(make_env(p), p, all_windows=True).aggregate(EvensMinusOdds())
    assert_multiset(collect(out), [("a", -1), ("b", -1), ("b", 1)])
    out = session2(make_env(p), p, all_windows=True).aggregate(
        SumOfTimestamps(), window_function=KeyTimestampSumAll())
    assert_multiset(collect(out), ["key b timestamp sum 6", "key b timestamp sum 23",
                                   "key a timestamp sum 15"])


class PerElementWatermarks(WatermarkGenerator):
    def on_event(self, event, event_timestamp, output):
        output.emit_watermark(event_timestamp)


@pytest.mark.parametrize("p", PARALLELISM)
def test_w18_side_output_late_data(make_env, p):
    row = Types.ROW([Types.STRING(), Types.INT()])
    late = OutputTag("late-data", row)
    strategy = (WatermarkStrategy.for_generator(PerElementWatermarks)
                .with_timestamp_assigner(SecondColumnTimestampAssigner()))
    env = make_env(p)
    out = (env.from_collection([("a", 0), ("a", 8), ("a", 4), ("a", 6)], type_info=row)
           .assign_timestamps_and_watermarks(strategy)
           .key_by(lambda x: x[0])
           .window(TumblingEventTimeWindows.of(Time.milliseconds(5)))
           .allowed_lateness(0)
           .side_output_late_data(late)
           .process(CountWindowProcessFunction()))
    side = out.get_side_output(late)
    assert side.get_type() == row
    main, late_rows = run_all(env, out, side)
    assert_multiset(main, [("a", 0, 5, 1), ("a", 5, 10, 2)])
    assert [tuple(r) for r in late_rows] == [("a", 4)]
    assert str(late_rows[0].get_row_kind()) == "+I"


@pytest.mark.parametrize("p", PARALLELISM)
def test_w19_chained_window(make_env, p):
    data = [(1676461680000, "a1", "b1", 1), (1676461680000, "a1", "b1", 1),
            (1676461680000, "a2", "b2", 1), (1676461680000, "a1", "b2", 1),
            (1676461740000, "a1", "b1", 1), (1676461740000, "a2", "b2", 1)]
    strategy = (WatermarkStrategy.for_monotonous_timestamps()
                .with_timestamp_assigner(lambda x, _: x[0]))
    out = (make_env(p).from_collection(data).assign_timestamps_and_watermarks(strategy)
           .key_by(lambda x: (x[0], x[1], x[2]))
           .window(TumblingEventTimeWindows.of(Time.minutes(1)))
           .reduce(lambda a, b: (a[0], a[1], a[2], a[3] + b[3]))
           .map(lambda x: (x[0], x[1], x[3])))
    assert_multiset(collect(out), [(1676461680000, "a1", 1), (1676461680000, "a1", 2),
                                   (1676461680000, "a2", 1), (1676461740000, "a1", 1),
                                   (1676461740000, "a2", 1)])


def test_window_functions_as_plain_callables(make_env):
    """apply/process/window_function also take plain callables (no Function class)."""
    ds = keyed(make_env(2), HI).window(TumblingEventTimeWindows.of(5))
    out = ds.apply(lambda key, window, items: [(key, window.start, len(items))])
    assert_multiset(collect(out), [("hi", 0, 4), ("hi", 5, 3), ("hi", 15, 1)])
    all_ds = (make_env(1).from_collection(HI).assign_timestamps_and_watermarks(wm())
              .window_all(TumblingEventTimeWindows.of(5)))

    class Sizes(AllWindowFunction):
        def apply(self, window, inputs):
            yield window.end, len(inputs)

    assert_multiset(collect(all_ds.apply(Sizes())), [(5, 4), (10, 3), (20, 1)])
