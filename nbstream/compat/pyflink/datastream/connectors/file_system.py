"""``pyflink.datastream.connectors.file_system`` on nbstream: text lines from files, and
rows written as text into part files laid out as Flink's FileSink lays them out
(``base/2024-05-01--13/part-<uuid>-<subtask>-0``).

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
import time
import uuid
from typing import Any, List, Optional

from nbstream.connectors.sinks import SinkSpec, _Writer
from nbstream.errors import PlanError
from ..._exports import exports

__all__ = ["FileSource", "FileSourceBuilder", "StreamFormat", "FileSink", "OutputFileConfig",
           "RollingPolicy", "BucketAssigner"]


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


class OutputFileConfig:
    """Prefix and suffix of part files (``part`` and none by default)."""

    def __init__(self, part_prefix: str = "part", part_suffix: str = "") -> None:
        self.part_prefix, self.part_suffix = part_prefix, part_suffix

    @staticmethod
    def builder() -> "OutputFileConfig.OutputFileConfigBuilder":
        return OutputFileConfig.OutputFileConfigBuilder()

    class OutputFileConfigBuilder:
        def __init__(self) -> None:
            self._config = OutputFileConfig()

        def with_part_prefix(self, prefix: str) -> "OutputFileConfig.OutputFileConfigBuilder":
            self._config.part_prefix = prefix
            return self

        def with_part_suffix(self, suffix: str) -> "OutputFileConfig.OutputFileConfigBuilder":
            self._config.part_suffix = suffix
            return self

        def build(self) -> "OutputFileConfig":
            return self._config


class RollingPolicy:
    """When part files roll over. nbstream writes one part file per subtask and bucket,
    so every policy is accepted and behaves as "roll at the end"."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    @staticmethod
    def default_rolling_policy(part_size: int = 1024 * 1024 * 128, rollover_interval: int = 60_000,
                               inactivity_interval: int = 60_000) -> "RollingPolicy":
        return RollingPolicy("default")

    @staticmethod
    def on_checkpoint_rolling_policy() -> "RollingPolicy":
        return RollingPolicy("on-checkpoint")


class BucketAssigner:
    """Which directory under the base path a record goes to: by the hour it was written
    (``date_time_bucket_assigner``, Flink's default) or the base path itself."""

    def __init__(self, format_str: Optional[str]) -> None:
        self.format = format_str

    @staticmethod
    def base_path_bucket_assigner() -> "BucketAssigner":
        return BucketAssigner(None)

    @staticmethod
    def date_time_bucket_assigner(format_str: str = "yyyy-MM-dd--HH",
                                  timezone_id: Optional[str] = None) -> "BucketAssigner":
        return BucketAssigner(format_str)

    def bucket(self) -> str:
        if self.format is None:
            return ""
        pattern = (self.format.replace("yyyy", "%Y").replace("MM", "%m").replace("dd", "%d")
                   .replace("HH", "%H").replace("mm", "%M").replace("ss", "%S"))
        return time.strftime(pattern)


class _FileSinkSpec(SinkSpec):
    def __init__(self, base_path: str, config: OutputFileConfig, buckets: BucketAssigner,
                 charset: str) -> None:
        self.base_path, self.config, self.buckets, self.charset = base_path, config, buckets, charset
        self.uid = uuid.uuid4()

    def prepare(self, job: Any, parallelism: int) -> None:
        os.makedirs(self.base_path, exist_ok=True)

    def create_writer(self) -> _Writer:
        spec = self

        class Writer(_Writer):
            def open(self, op: Any) -> None:
                super().open(op)
                folder = os.path.join(spec.base_path, spec.buckets.bucket())
                os.makedirs(folder, exist_ok=True)
                name = (f"{spec.config.part_prefix}-{spec.uid}-{op.task.subtask}-0"
                        f"{spec.config.part_suffix}")
                self.file = open(os.path.join(folder, name), "w", encoding=spec.charset)

            def write(self, batch: Any) -> None:
                self.file.write("".join(f"{v}\n" for v in batch.values))

            def close(self) -> None:
                self.file.close()
        return Writer()


class FileSink:
    """Rows written as text lines (``for_row_format(path, Encoder.simple_string_encoder())``)."""

    def __init__(self, base_path: str, encoder: Any) -> None:
        self.base_path = os.fspath(base_path)
        self.encoder = encoder
        self.output_file_config = OutputFileConfig()
        self.bucket_assigner = BucketAssigner.date_time_bucket_assigner()
        self.rolling_policy = RollingPolicy.default_rolling_policy()

    @staticmethod
    def for_row_format(base_path: str, encoder: Any) -> "FileSink.RowFormatBuilder":
        return FileSink.RowFormatBuilder(FileSink(base_path, encoder))

    @staticmethod
    def for_bulk_format(base_path: str, writer_factory: Any) -> Any:
        raise exports_error("FileSink.for_bulk_format")

    class RowFormatBuilder:
        def __init__(self, sink: "FileSink") -> None:
            self._sink = sink

        def with_output_file_config(self, config: OutputFileConfig) -> "FileSink.RowFormatBuilder":
            self._sink.output_file_config = config
            return self

        def with_rolling_policy(self, policy: RollingPolicy) -> "FileSink.RowFormatBuilder":
            self._sink.rolling_policy = policy
            return self

        def with_bucket_assigner(self, assigner: BucketAssigner) -> "FileSink.RowFormatBuilder":
            self._sink.bucket_assigner = assigner
            return self

        def with_bucket_check_interval(self, interval: int) -> "FileSink.RowFormatBuilder":
            return self

        def build(self) -> "FileSink":
            return self._sink

    def _nbstream_sink(self, stream: Any) -> Any:
        spec = _FileSinkSpec(self.base_path, self.output_file_config, self.bucket_assigner,
                             getattr(self.encoder, "charset", "UTF-8"))
        return stream._as_text()._sink(spec, f"Sink: FileSink {self.base_path}")


def exports_error(what: str) -> Exception:
    from ..._exports import not_available
    return not_available(what, __name__, "nbstream reads a static set of files and writes "
                         "text rows only")


_, __getattr__ = exports(__name__, {}, unavailable=[
    "FileCompactor", "FileCompactStrategy", "StreamingFileSink", "BulkFormat",
    "FileEnumeratorProvider", "FileSplitAssignerProvider"])
