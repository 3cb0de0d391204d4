"""``pyflink.common.ExecutionConfig`` on nbstream: the environment's job-wide settings.

nbstream's :class:`~nbstream.api.environment.ExecutionConfig` (watermark interval, job
parameters, batch size) with PyFlink's other getters and setters. Parallelism and max
parallelism are the environment's own; the settings of Flink's JVM runtime (closure
cleaner, object reuse, generated uids, task cancellation, snapshot compression) are kept
and read back, and change nothing here: nbstream copies no closures, reuses no objects
between functions, and its checkpoints are not compressed.

>>> from nbstream.compat.pyflink.datastream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> config = env.get_config()
>>> config.set_parallelism(3).get_parallelism(), env.get_parallelism()
(3, 3)
"""

from __future__ import annotations

import weakref
from typing import Any, Tuple

from nbstream.api.environment import ExecutionConfig as _ExecutionConfig

__all__ = ["ExecutionConfig"]


class ExecutionConfig(_ExecutionConfig):
    """The job-wide settings of one environment (``env.get_config()``)."""

    #: the parallelism of a step that has none of its own: the environment's
    PARALLELISM_DEFAULT = -1
    #: a parallelism not known yet
    PARALLELISM_UNKNOWN = -2

    def __init__(self, env: Any = None) -> None:
        super().__init__()
        self._env = weakref.ref(env) if env is not None else None
        self._parallelism = self.PARALLELISM_DEFAULT
        self._max_parallelism = -1
        self._flags = {"closure_cleaner": True, "object_reuse": False, "auto_uids": True,
                       "snapshot_compression": False}
        self._cancellation = [30_000, 180_000]  # interval, timeout (ms)

    def _environment(self) -> Any:
        return self._env() if self._env is not None else None

    # -- the environment's parallelism ------------------------------------------------------
    def set_parallelism(self, parallelism: int) -> "ExecutionConfig":
        env = self._environment()
        if env is not None:
            env.set_parallelism(parallelism)
        else:
            self._parallelism = int(parallelism)
        return self

    def get_parallelism(self) -> int:
        env = self._environment()
        return env.get_parallelism() if env is not None else self._parallelism

    def set_max_parallelism(self, max_parallelism: int) -> "ExecutionConfig":
        env = self._environment()
        if env is not None:
            env.set_max_parallelism(max_parallelism)
        else:
            self._max_parallelism = int(max_parallelism)
        return self

    def get_max_parallelism(self) -> int:
        env = self._environment()
        return env.get_max_parallelism() if env is not None else self._max_parallelism

    # -- settings of Flink's JVM runtime: kept, no effect here -------------------------------
    def _flag(self, name: str, value: bool) -> "ExecutionConfig":
        self._flags[name] = bool(value)
        return self

    def enable_closure_cleaner(self) -> "ExecutionConfig":
        return self._flag("closure_cleaner", True)

    def disable_closure_cleaner(self) -> "ExecutionConfig":
        return self._flag("closure_cleaner", False)

    def is_closure_cleaner_enabled(self) -> bool:
        return self._flags["closure_cleaner"]

    def enable_object_reuse(self) -> "ExecutionConfig":
        return self._flag("object_reuse", True)

    def disable_object_reuse(self) -> "ExecutionConfig":
        return self._flag("object_reuse", False)

    def is_object_reuse_enabled(self) -> bool:
        return self._flags["object_reuse"]

    def enable_auto_generated_uids(self) -> "ExecutionConfig":
        return self._flag("auto_uids", True)

    def disable_auto_generated_uids(self) -> "ExecutionConfig":
        return self._flag("auto_uids", False)

    def has_auto_generated_uids_enabled(self) -> bool:
        return self._flags["auto_uids"]

    def set_use_snapshot_compression(self, use_snapshot_compression: bool) -> "ExecutionConfig":
        return self._flag("snapshot_compression", use_snapshot_compression)

    def is_use_snapshot_compression(self) -> bool:
        return self._flags["snapshot_compression"]

    def set_task_cancellation_interval(self, interval: int) -> "ExecutionConfig":
        self._cancellation[0] = int(interval)
        return self

    def get_task_cancellation_interval(self) -> int:
        return self._cancellation[0]

    def set_task_cancellation_timeout(self, timeout: int) -> "ExecutionConfig":
        self._cancellation[1] = int(timeout)
        return self

    def get_task_cancellation_timeout(self) -> int:
        return self._cancellation[1]

    def _state(self) -> Tuple[Any, ...]:
        return (self.get_parallelism(), self.get_max_parallelism(),
                self.get_auto_watermark_interval(), sorted(self._flags.items()),
                tuple(self._cancellation), sorted(self.get_global_job_parameters().items()))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ExecutionConfig) and other._state() == self._state()

    def __hash__(self) -> int:
        return hash(repr(self._state()))
