"""``pyflink.metrics`` on nbstream: the metrics a function registers through
``runtime_context.get_metrics_group()``, reported in ``job.metrics()`` (see
:mod:`nbstream.runtime.metrics`)."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream.runtime.metrics" for name in (
    "MetricGroup", "Metric", "Counter", "Meter", "Distribution")})
