"""``pyflink.datastream.async_data_stream`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"AsyncDataStream": "nbstream"})
