"""``pyflink.table.data_view``: ``ListView`` / ``MapView`` fields of a Python aggregate's
accumulator, from :mod:`nbstream.table.udf`."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream.table.udf" for name in (
    "DataView", "ListView", "MapView")})
