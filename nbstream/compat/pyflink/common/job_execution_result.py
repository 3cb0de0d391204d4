"""``pyflink.common.job_execution_result`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"JobExecutionResult": "nbstream"})
