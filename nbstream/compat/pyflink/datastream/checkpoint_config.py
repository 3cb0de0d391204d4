"""``pyflink.datastream.CheckpointConfig`` on nbstream: nbstream's checkpoint settings with
PyFlink's other getters and setters.

- ``set_max_concurrent_checkpoints(n)`` bounds how many checkpoints may be in flight: nbstream
  starts one when the previous one has ended, which keeps within any ``n``.
- ``set_fail_on_checkpointing_errors(False)`` tolerates any number of failed checkpoints
  (``set_tolerable_checkpoint_failure_number``), as in Flink.
- Unaligned checkpoints and the alignment timeout are kept and read back; nbstream's
  checkpoints stay aligned, which gives the same guarantees (exactly once) at the cost of
  waiting for barriers under backpressure.

>>> config = CheckpointConfig()
>>> config.get_externalized_checkpoint_retention().name, config.is_externalized_checkpoints_enabled()
('NO_EXTERNALIZED_CHECKPOINTS', False)
>>> config.set_max_concurrent_checkpoints(2).get_max_concurrent_checkpoints()
2
"""

from __future__ import annotations

import os
from typing import Any

from nbstream.api.checkpointing import CheckpointConfig as _CheckpointConfig
from nbstream.api.checkpointing import ExternalizedCheckpointRetention
from nbstream.api.state_backends import local_path
from nbstream.errors import whole_number
from nbstream.runtime.durations import Duration

__all__ = ["CheckpointConfig"]

_UNBOUNDED = 2 ** 31 - 1  # Java's Integer.MAX_VALUE: any number of failed checkpoints


class CheckpointConfig(_CheckpointConfig):
    """The checkpoint settings of an environment (``env.get_checkpoint_config()``)."""

    def __init__(self) -> None:
        super().__init__()
        self.retention = ExternalizedCheckpointRetention.NO_EXTERNALIZED_CHECKPOINTS
        self.max_concurrent = 1
        self.unaligned = self.force_unaligned = False
        self.alignment_timeout = Duration.of_millis(0)
        self.storage: Any = None

    def set_checkpoint_storage(self, storage: Any) -> "CheckpointConfig":
        """A path, ``file:`` URI or CheckpointStorage; one without a path (a
        ``JobManagerCheckpointStorage()``) keeps nbstream's default checkpoint folder."""
        self.storage = storage
        path = storage if isinstance(storage, (str, os.PathLike)) else \
            getattr(storage, "get_checkpoint_path", lambda: "")()
        if path is None:
            return self
        return super().set_checkpoint_storage(local_path(path))

    def get_checkpoint_storage(self) -> Any:
        return self.storage

    def set_checkpoint_storage_dir(self, path: str) -> "CheckpointConfig":
        return super().set_checkpoint_storage_dir(local_path(path))

    def set_max_concurrent_checkpoints(self, number: int) -> "CheckpointConfig":
        self.max_concurrent = whole_number(number, "max concurrent checkpoints", 1)
        return self

    def get_max_concurrent_checkpoints(self) -> int:
        return self.max_concurrent

    def get_externalized_checkpoint_retention(self) -> ExternalizedCheckpointRetention:
        return self.retention

    def is_externalized_checkpoints_enabled(self) -> bool:
        return self.retention is not ExternalizedCheckpointRetention.NO_EXTERNALIZED_CHECKPOINTS

    def set_fail_on_checkpointing_errors(self, fail_on_checkpointing_errors: bool) -> "CheckpointConfig":
        return self.set_tolerable_checkpoint_failure_number(
            0 if fail_on_checkpointing_errors else _UNBOUNDED)

    def is_fail_on_checkpointing_errors(self) -> bool:
        return self.get_tolerable_checkpoint_failure_number() == 0

    def enable_unaligned_checkpoints(self, enabled: bool = True) -> "CheckpointConfig":
        self.unaligned = bool(enabled)
        return self

    def disable_unaligned_checkpoints(self) -> "CheckpointConfig":
        return self.enable_unaligned_checkpoints(False)

    def is_unaligned_checkpoints_enabled(self) -> bool:
        return self.unaligned

    def set_force_unaligned_checkpoints(self, force_unaligned_checkpoints: bool = True
                                        ) -> "CheckpointConfig":
        self.force_unaligned = bool(force_unaligned_checkpoints)
        return self

    def is_force_unaligned_checkpoints(self) -> bool:
        return self.force_unaligned

    def set_alignment_timeout(self, alignment_timeout: Any) -> "CheckpointConfig":
        self.alignment_timeout = alignment_timeout
        return self

    def get_alignment_timeout(self) -> Any:
        return self.alignment_timeout

    set_aligned_checkpoint_timeout = set_alignment_timeout
    get_aligned_checkpoint_timeout = get_alignment_timeout
