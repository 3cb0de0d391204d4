"""Metrics a user function registers (``runtime_context.get_metrics_group()``, PyFlink's
``pyflink.metrics``): counters, gauges, meters and distributions, summed over a step's
parallel instances in ``job.metrics()`` and shown in the live view, in every mode."""

from __future__ import annotations

import pytest

from nbstream import MapFunction
from nbstream.notebook.live import LiveJob, metric_lines


class Measured(MapFunction):
    def open(self, runtime_context):
        group = runtime_context.get_metrics_group()
        self.seen = group.counter("seen")
        self.events = group.meter("events", 60)
        self.sizes = group.add_group("io").distribution("sizes")
        self.last = 0
        group.gauge("last", lambda: self.last)

    def map(self, value):
        self.seen.inc()
        assert self.seen.get_count() >= 1
        self.events.mark_event(2)
        self.sizes.update(value)
        self.last = value
        return value


@pytest.mark.parametrize("parallelism", [1, 2])
def test_user_metrics_are_reported_per_step(make_env, parallelism):
    env = make_env(parallelism)
    env.from_collection([1, 2, 3, 4]).map(Measured()).name("measured").add_sink(lambda v: None)
    job = env.execute_async()
    result = job.result(60)
    step = next(m for name, m in result.metrics.items() if name.endswith(":measured"))
    user = step["user_metrics"]
    assert user["seen"] == 4 and user["events"] == 8 and user["events rate"] > 0
    assert user["io.sizes"] == {"count": 4, "sum": 10, "min": 1, "max": 4, "mean": 2.5}
    assert user["last"] in ((4,) if parallelism == 1 else (4, 6, 7))  # each instance's last, summed
    live = LiveJob(job, [], [], [], [])
    assert live.user_metrics() == {name: m["user_metrics"] for name, m in job.metrics().items()
                                   if "user_metrics" in m}
    line, = metric_lines(live.user_metrics())
    assert line.startswith("measured: events 8, events rate ") and "io.sizes n=4 mean 2.5" in line


def test_registering_a_metric_again_gives_the_same_one():
    from nbstream.runtime.metrics import MetricGroup

    group = MetricGroup()
    assert group.counter("c") is group.counter("c")
    assert group.add_group("a").counter("c") is not group.counter("c")
    group.gauge("broken", lambda: 1 / 0)
    assert group.report()["broken"].startswith("<gauge failed: ZeroDivisionError")
