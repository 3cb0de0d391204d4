"""``pyflink.datastream.async_retry_strategies`` on nbstream: PyFlink's strategies."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream.api.async_io" for name in (
    "RetryPredicate", "NoRetryStrategy", "FixedDelayRetryStrategy",
    "ExponentialBackoffDelayRetryStrategy", "NO_RETRY_STRATEGY")})
