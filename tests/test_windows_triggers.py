"""Triggers (count, continuous event/processing time, purging, custom) and evictors
(count, time, delta, before and after the function, custom)."""

from __future__ import annotations

from nbstream import (ContinuousEventTimeTrigger, ContinuousProcessingTimeTrigger, CountEvictor,
                      CountTrigger, DataFrameSink, DeltaEvictor, Evictor, GlobalWindows,
                      ManualClock, PurgingTrigger, TimeEvictor, Trigger, TriggerResult,
                      TumblingEventTimeWindows, TumblingProcessingTimeWindows,
                      ValueStateDescriptor, WatermarkGenerator, WatermarkStrategy)

from tests.conftest import collect
from tests.window_helpers import QueueSource, metric, wait_until


class PerElement(WatermarkGenerator):
    def on_event(self, event, event_timestamp, output):
        output.emit_watermark(event_timestamp)


def per_element(env, values):
    strategy = WatermarkStrategy.for_generator(PerElement).with_timestamp_assigner(lambda v, _: v)
    return env.from_collection(values).assign_timestamps_and_watermarks(strategy)


def sums(rows):
    return [r["sum"] for r in rows]


def test_count_trigger_fires_without_purging(make_env):
    rows = collect(make_env(1).from_collection([1, 2, 3, 4, 5]).key_by(lambda v: 0)
                   .window(GlobalWindows.create()).trigger(CountTrigger.of(2)).sum())
    assert sums(rows) == [3, 10]
    rows = collect(make_env(1).from_collection([1, 2, 3, 4, 5]).key_by(lambda v: 0)
                   .window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(2)))
                   .sum())
    assert sums(rows) == [3, 7]


def test_continuous_event_time_trigger_fires_early_and_at_the_end(make_env):
    rows = collect(per_element(make_env(1), [1, 3, 5, 12]).key_by(lambda v: 0)
                   .window(TumblingEventTimeWindows.of(10))
                   .trigger(ContinuousEventTimeTrigger.of(2)).count())
    assert [(r["window_start"], r["count"]) for r in rows] == [
        (0, 2), (0, 3), (0, 3), (0, 3), (0, 3), (10, 1), (10, 1), (10, 1), (10, 1)]


def test_continuous_processing_time_trigger(make_env):
    clock = ManualClock(1_000)
    env = make_env(1).set_processing_time_clock(clock)
    source = QueueSource()
    sink = DataFrameSink()
    (env.add_source(source).key_by(lambda v: 0)
        .window(TumblingProcessingTimeWindows.of("10s"))
        .trigger(ContinuousProcessingTimeTrigger.of("1s")).count().add_sink(sink))
    job = env.execute_async()
    try:
        source.push("x")
        wait_until(lambda: metric(job, "Window", "records_in") == 1)
        clock.advance(999)
        source.push("y")
        wait_until(lambda: metric(job, "Window", "records_in") == 2)
        assert sink.rows() == []
        clock.advance(1)  # 2000: first early firing
        wait_until(lambda: len(sink.rows()) == 1)
        source.push("z")
        wait_until(lambda: metric(job, "Window", "records_in") == 3)
        clock.advance(1000)  # 3000
        wait_until(lambda: len(sink.rows()) == 2)
        # a jump to 10000 fires every interval it passes (timers registered while firing
        # fire in the same pass, as Flink), the last one at the window's end, 9999
        clock.advance(7000)
        wait_until(lambda: len(sink.rows()) == 9)
        assert [r["count"] for r in sink.rows()] == [2] + [3] * 8
        source.end()
        job.result(10)
    finally:
        job.cancel()
        job.wait(10)


class FlushOnMarker(Trigger):
    """Fires (and purges) when a record is "!", counting records in trigger state."""

    seen = ValueStateDescriptor("seen")

    def on_element(self, element, timestamp, window, ctx: Trigger.TriggerContext):
        assert isinstance(ctx, Trigger.TriggerContext)  # PyFlink's annotations work
        state = ctx.get_partitioned_state(self.seen)
        state.update((state.value() or 0) + 1)
        if element == "!":
            state.clear()
            return TriggerResult.FIRE_AND_PURGE
        return TriggerResult.CONTINUE

    def on_processing_time(self, time, window, ctx):
        return TriggerResult.CONTINUE

    def on_event_time(self, time, window, ctx):
        return TriggerResult.CONTINUE

    def clear(self, window, ctx):
        ctx.get_partitioned_state(self.seen).clear()


def test_custom_trigger(make_env):
    data = list("ab!c!de")
    rows = collect(make_env(2).from_collection(data).key_by(lambda v: 0)
                   .window(GlobalWindows.create()).trigger(FlushOnMarker())
                   .apply(lambda key, window, items: ["".join(items)]))
    assert rows == ["ab!", "c!"]


def global_sum(env, values, evictor, trigger):
    return collect(env.from_collection(values).key_by(lambda v: 0)
                   .window(GlobalWindows.create()).trigger(trigger).evictor(evictor)
                   .apply(lambda key, window, items: [sum(items)]))


def test_count_evictor_is_a_sliding_count_window(make_env):
    # Flink Java's count_window(3, 2): GlobalWindows + CountEvictor(3) + CountTrigger(2)
    assert global_sum(make_env(1), [1, 2, 3, 4, 5, 6], CountEvictor.of(3),
                      CountTrigger.of(2)) == [3, 9, 15]


def test_evict_after_the_function(make_env):
    assert global_sum(make_env(1), [1, 2, 3, 4], CountEvictor.of(1, do_evict_after=True),
                      CountTrigger.of(2)) == [3, 9]


def test_time_and_delta_evictors(make_env):
    rows = collect(per_element(make_env(1), [1, 3, 8, 10]).window_all(
        TumblingEventTimeWindows.of(100)).evictor(TimeEvictor.of(5))
        .apply(lambda window, items: [list(items)]))
    assert rows == [[8, 10]]
    rows = collect(make_env(1).from_collection([1, 5, 6, 7]).window_all(GlobalWindows.create())
                   .trigger(CountTrigger.of(4))
                   .evictor(DeltaEvictor.of(3, lambda a, b: abs(a - b)))
                   .apply(lambda window, items: [list(items)]))
    assert rows == [[5, 6, 7]]


class DropOdd(Evictor):
    def evict_before(self, elements, size, window, ctx):
        elements[:] = [e for e in elements if e.value % 2 == 0]

    def evict_after(self, elements, size, window, ctx):
        pass


def test_custom_evictor_with_reduce_and_aggregate(make_env):
    base = lambda env: (per_element(env, [1, 2, 3, 4, 6]).window_all(  # noqa: E731
        TumblingEventTimeWindows.of(100)).evictor(DropOdd()))
    assert collect(base(make_env(1)).reduce(lambda a, b: a + b)) == [12]
    assert [r["count"] for r in collect(base(make_env(1)).count())] == [3]
