"""``pyflink.datastream.connectors.file_system`` on nbstream: records of files (text lines,
CSV, JSON lines, Parquet), once or from a folder watched for new files
(``monitor_continuously``), and rows written as text or Parquet into part files laid out
as Flink's FileSink lays them out (``base/2024-05-01--13/part-<uuid>-<subtask>-<n>``),
with its rolling policies and, with checkpointing, its two-phase commit (see
:mod:`nbstream.connectors.files`).

>>> import tempfile, pathlib
>>> from nbstream.compat.pyflink.common import Encoder
>>> from nbstream.compat.pyflink.datastream import StreamExecutionEnvironment
>>> out = tempfile.mkdtemp()
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.set_parallelism(1)
<nbstream StreamExecutionEnvironment mode=thread parallelism=1>
>>> sink = (FileSink.for_row_format(out, Encoder.simple_string_encoder())
...         .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
>>> _ = env.from_collection(["a", "b"]).sink_to(sink)
>>> _ = env.execute()
>>> [p.read_text() for p in pathlib.Path(out).iterdir()]
['a\\nb\\n']
"""

from __future__ import annotations

from typing import Any

from nbstream.connectors.files import (BucketAssigner, BulkFormat, FileSink, FileSource,
                                       FileSourceBuilder, OutputFileConfig,
                                       ParquetWriterFactory, RollingPolicy, StreamFormat)
# PyFlink's return types of the two policies, importable from here as there
from nbstream.connectors.files import DefaultRollingPolicy, OnCheckpointRollingPolicy  # noqa: F401
from ..._exports import exports

__all__ = ["FileSource", "FileSourceBuilder", "StreamFormat", "BulkFormat", "FileSink",
           "OutputFileConfig", "RollingPolicy", "BucketAssigner", "ParquetWriterFactory",
           "StreamingFileSink"]

# FileSource (static or monitor_continuously) and the sink live in nbstream.connectors.files
# (exactly once with checkpointing)

_, __getattr__ = exports(__name__, {}, unavailable=[
    "FileCompactor", "FileCompactStrategy",
    "FileEnumeratorProvider", "FileSplitAssignerProvider"])


class StreamingFileSink(FileSink):
    """Flink's legacy file sink (``add_sink(StreamingFileSink.for_row_format(...).build())``):
    nbstream's :class:`FileSink` whose part files are finished only by completed
    checkpoints, as the legacy sink's are; without checkpointing they all stay in progress
    (hidden ``.part-...inprogress...`` files)."""

    finalize_at_end = False

    @staticmethod
    def for_row_format(base_path: str, encoder: Any = None) -> "FileSink.RowFormatBuilder":
        return FileSink.RowFormatBuilder(StreamingFileSink(base_path, encoder))
