"""``pyflink.common.time`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"Time": "nbstream", "Duration": "nbstream"},
                               unavailable=["Instant"])
