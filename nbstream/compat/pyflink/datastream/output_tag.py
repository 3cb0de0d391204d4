"""``pyflink.datastream.output_tag`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"OutputTag": "nbstream"})
