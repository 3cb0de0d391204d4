"""``pyflink.datastream.timerservice`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {
    "TimerService": "nbstream.runtime.context:TimerServiceView"})
