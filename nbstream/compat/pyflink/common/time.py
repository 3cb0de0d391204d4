"""``pyflink.common.time`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {
    "Time": "nbstream", "Duration": "nbstream",
    "Instant": "nbstream.compat.pyflink.common.instant"})
