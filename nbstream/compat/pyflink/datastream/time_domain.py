"""``pyflink.datastream.time_domain`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"TimeDomain": "nbstream"})
