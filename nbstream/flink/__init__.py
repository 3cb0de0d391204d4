"""Apache Flink as an execution mode: ``env.set_execution_mode("flink")``.

nbstream pipelines run as PyFlink jobs on a local Flink mini-cluster, or on a remote
cluster named in the environment's configuration (``rest.address``, ``rest.port``),
with results streaming back into the same job handle, print output and DataFrames as
in the embedded modes. See :mod:`nbstream.flink.executor` and
:mod:`nbstream.flink.translate`. Needs ``pip install 'nbstream[flink]'``.
"""
