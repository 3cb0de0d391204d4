"""``pyflink.datastream.async_retry_predicates`` on nbstream: PyFlink's predicates."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream.api.async_io" for name in (
    "empty_result_predicate", "has_exception_predicate", "exception_type_predicate")})
