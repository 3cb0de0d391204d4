"""``pyflink.common.types`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"Row": "nbstream", "RowKind": "nbstream"})
