"""``pyflink.common.typeinfo`` on nbstream."""

from typing import Any

from .._exports import exports, not_available

__all__, __getattr__ = exports(__name__, {"Types": "nbstream", "TypeInformation": "nbstream",
                                          "RowTypeInfo": "nbstream.api.types",
                                          "TupleTypeInfo": "nbstream.api.types"})


def _from_java_type(j_type_info: Any) -> Any:
    """PyFlink's type of a Java TypeInformation: there is no Java one in nbstream."""
    raise not_available("_from_java_type", __name__)
