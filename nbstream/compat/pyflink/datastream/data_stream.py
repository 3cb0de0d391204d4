"""``pyflink.datastream.data_stream`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream" for name in (
    "DataStream", "KeyedStream", "WindowedStream", "AllWindowedStream", "ConnectedStreams",
    "BroadcastStream", "BroadcastConnectedStream", "DataStreamSink", "CloseableIterator")})
