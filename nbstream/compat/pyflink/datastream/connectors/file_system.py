"""``pyflink.datastream.connectors.file_system`` on nbstream: text lines from files, and
rows written as text into part files laid out as Flink's FileSink lays them out
(``base/2024-05-01--13/part-<uuid>-<subtask>-<n>``), with its rolling policies and,
with checkpointing, its two-phase commit (see :mod:`nbstream.connectors.files`).

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

import os
from typing import Any, List

from nbstream.connectors.files import (BucketAssigner, FileSink, OutputFileConfig,
                                       RollingPolicy)
# PyFlink's return types of the two policies, importable from here as there
from nbstream.connectors.files import DefaultRollingPolicy, OnCheckpointRollingPolicy  # noqa: F401
from nbstream.errors import PlanError
from ..._exports import exports

__all__ = ["FileSource", "FileSourceBuilder", "StreamFormat", "FileSink", "OutputFileConfig",
           "RollingPolicy", "BucketAssigner", "StreamingFileSink"]


class StreamFormat:
    """How a FileSource reads records: ``text_line_format()`` (one line per record)."""

    def __init__(self, charset: str) -> None:
        self.charset = charset

    @staticmethod
    def text_line_format(charset_name: str = "UTF-8") -> "StreamFormat":
        return StreamFormat(charset_name)


class FileSource:
    """The lines of files (a directory stands for the visible files in it)."""

    def __init__(self, paths: List[str], stream_format: StreamFormat) -> None:
        self.paths = paths
        self.format = stream_format

    @staticmethod
    def for_record_stream_format(stream_format: StreamFormat, *paths: str) -> "FileSourceBuilder":
        return FileSourceBuilder([os.fspath(p) for p in paths], stream_format)

    def _files(self) -> List[str]:
        files: List[str] = []
        for path in self.paths:
            if os.path.isdir(path):
                files += sorted(os.path.join(path, f) for f in os.listdir(path)
                                if not f.startswith((".", "_")))
            else:
                files.append(path)
        return files

    def _nbstream_source(self, env: Any, name: str, type_info: Any) -> Any:
        files = self._files()
        if not files:
            raise PlanError(f"FileSource '{name}': no files in {self.paths}")
        streams = [env.read_text_file(f, self.format.charset) for f in files]
        ds = streams[0].union(*streams[1:]) if len(streams) > 1 else streams[0]
        return ds


class FileSourceBuilder:
    def __init__(self, paths: List[str], stream_format: StreamFormat) -> None:
        self._source = FileSource(paths, stream_format)

    def process_static_file_set(self) -> "FileSourceBuilder":
        """Read the files once (the only way nbstream reads them)."""
        return self

    def monitor_continuously(self, discovery_interval: Any) -> "FileSourceBuilder":
        raise exports_error("FileSourceBuilder.monitor_continuously")

    def build(self) -> FileSource:
        return self._source


# the sink lives in nbstream.connectors.files (exactly once with checkpointing)


def exports_error(what: str) -> Exception:
    from ..._exports import not_available
    return not_available(what, __name__, "nbstream reads a static set of files and writes "
                         "text rows only")


_, __getattr__ = exports(__name__, {}, unavailable=[
    "FileCompactor", "FileCompactStrategy", "BulkFormat",
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
