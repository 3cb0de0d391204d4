"""``pyflink.datastream.StreamExecutionEnvironment`` on nbstream.

nbstream's environment with what PyFlink scripts call besides: ``from_source`` with
PyFlink's source objects, and the settings that only matter to a JVM cluster
(``add_jars``, ``add_python_file``, ``set_python_executable``, ...), which are accepted
and have no effect here. As Flink's local environment, the default parallelism is the
number of CPU cores unless ``parallelism.default`` is configured.

>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.get_parallelism() == (os.cpu_count() or 1)
True
"""

from __future__ import annotations

import os
from typing import Any, Optional

from nbstream.api.environment import RuntimeExecutionMode
from nbstream.api.environment import StreamExecutionEnvironment as _Environment
from nbstream.api.datastream import DataStream
from nbstream.errors import PlanError

__all__ = ["StreamExecutionEnvironment"]


class StreamExecutionEnvironment(_Environment):
    """PyFlink's StreamExecutionEnvironment, running on nbstream.

    In BATCH runtime mode it plans as Flink 2's adaptive batch scheduler does for
    small inputs (under 16 MiB per task, the case of every program run here): a step
    without a parallelism of its own runs at 1, so its print sink writes no ``N>``
    prefix; and a keyed reduce hands out its final values in the order Flink's sorted
    batch input gives the keys (:mod:`nbstream.runtime.keyorder`).
    """

    _batch_key_order = "serialized"

    def _default_parallelism(self) -> int:
        if self.get_runtime_mode() is RuntimeExecutionMode.BATCH:
            return 1
        return self.get_parallelism()

    @staticmethod
    def get_execution_environment(configuration: Any = None) -> "StreamExecutionEnvironment":
        config = {}
        if configuration is not None:
            config = dict(configuration.to_dict() if hasattr(configuration, "to_dict")
                          else configuration)
        from .. import DEFAULTS

        env = StreamExecutionEnvironment(None)
        env.set_parallelism(DEFAULTS.get("parallelism") or os.cpu_count() or 1)
        if DEFAULTS.get("mode"):
            env.set_execution_mode(DEFAULTS["mode"])
        env.configure(config)
        return env

    def from_source(self, source: Any, watermark_strategy: Any, source_name: str,
                    type_info: Any = None) -> DataStream:
        """Records of a PyFlink source (NumberSequenceSource, FileSource), with timestamps
        and watermarks from ``watermark_strategy`` when it has a timestamp assigner (these
        sources' records carry no timestamps of their own, so there is nothing else to
        derive watermarks from)."""
        own = getattr(source, "_nbstream_from_source", None)  # Kafka: watermarks per partition
        if own is not None:
            return own(self, watermark_strategy, source_name, type_info)
        make = getattr(source, "_nbstream_source", None)
        if make is None:
            raise PlanError(f"from_source: {type(source).__name__} is not a source nbstream "
                            "can read (NumberSequenceSource, FileSource, KafkaSource)")
        ds = make(self, source_name, type_info)
        if watermark_strategy is not None and watermark_strategy.describe_assigner() is not None:
            ds = ds.assign_timestamps_and_watermarks(watermark_strategy)
        return ds

    # settings for a JVM cluster: accepted, nothing to do without one ---------------------
    def add_jars(self, *jars_path: str) -> None:
        """Java libraries: nothing to load without a JVM."""

    def add_classpaths(self, *classpaths: str) -> None:
        """Java class paths: nothing to load without a JVM."""

    def add_python_file(self, file_path: str) -> None:
        """Make a Python file or directory importable by the job's functions."""
        import sys

        folder = file_path if os.path.isdir(file_path) else os.path.dirname(file_path)
        if folder not in sys.path:
            sys.path.append(os.path.abspath(folder))

    def set_python_executable(self, python_exec: str) -> None:
        """The Python of Flink's workers: nbstream runs functions in this interpreter."""

    def set_python_requirements(self, requirements_file_path: str,
                                requirements_cache_dir: Optional[str] = None) -> None:
        """Requirements to install on Flink's workers: install them here yourself."""

    def add_python_archive(self, archive_path: str, target_dir: Optional[str] = None) -> None:
        """An archive for Flink's workers: nothing to ship here."""

    def get_default_local_parallelism(self) -> int:
        return self.get_parallelism()

    def set_default_local_parallelism(self, parallelism: int) -> None:
        self.set_parallelism(parallelism)

    def close(self) -> None:
        """Release the environment (nothing is held between jobs)."""
