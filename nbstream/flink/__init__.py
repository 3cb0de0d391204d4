"""Apache Flink as an execution mode: ``env.set_execution_mode("flink")``.

nbstream pipelines run as PyFlink jobs on a local Flink mini-cluster, or on a remote
cluster named in the environment's configuration (``rest.address``, ``rest.port``),
with results streaming back into the same job handle, print output and DataFrames as
in the embedded modes. See :mod:`nbstream.flink.executor` and
:mod:`nbstream.flink.translate`. Needs ``pip install 'nbstream[flink]'``.
"""

from __future__ import annotations

__all__ = ["register"]


def register() -> None:
    """Register the ``flink`` execution mode with the runtime (the runtime never names
    this package). Cheap: nothing of PyFlink is imported until a flink job runs."""
    from ..runtime.executors import register_executor

    register_executor(
        "flink", "nbstream.flink.executor:FlinkExecutor",
        "a job on Apache Flink (local mini-cluster or remote cluster); needs nbstream[flink]",
        check="nbstream.flink.executor:check_available")
