"""``pyflink.datastream.execution_mode`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"RuntimeExecutionMode": "nbstream"})
