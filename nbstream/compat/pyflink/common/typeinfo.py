"""``pyflink.common.typeinfo`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"Types": "nbstream", "TypeInformation": "nbstream",
                                          "RowTypeInfo": "nbstream.api.types",
                                          "TupleTypeInfo": "nbstream.api.types"})
