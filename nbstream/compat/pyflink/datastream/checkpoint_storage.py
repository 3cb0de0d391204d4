"""``pyflink.datastream.checkpoint_storage`` on nbstream: where checkpoints go
(``env.get_checkpoint_config().set_checkpoint_storage(storage)``).

nbstream writes checkpoints into a folder: a :class:`FileSystemCheckpointStorage`'s path
(a ``file://`` URI or a plain path), or, for a :class:`JobManagerCheckpointStorage` without a
path, nbstream's default checkpoint folder (Flink keeps those in the JobManager's memory).
The size thresholds are kept and read back. A ``CustomCheckpointStorage`` wraps a Java one
and needs Flink's JVM.

>>> FileSystemCheckpointStorage("file:///tmp/checkpoints/").get_checkpoint_path()
'file:///tmp/checkpoints'
>>> JobManagerCheckpointStorage().get_max_state_size()
5242880
"""

from __future__ import annotations

from typing import Optional

from nbstream.api.checkpointing import FileSystemCheckpointStorage as _FileSystemStorage
from .._exports import exports

__all__ = ["CheckpointStorage", "JobManagerCheckpointStorage", "FileSystemCheckpointStorage"]


class CheckpointStorage:
    """Where an environment's checkpoints go."""

    def get_checkpoint_path(self) -> Optional[str]:
        raise NotImplementedError


def _normalized(path: Optional[str]) -> Optional[str]:
    if path is None:
        return None
    text = str(path)
    return text.rstrip("/") if text.rstrip("/") and not text.endswith(":/") else text


class JobManagerCheckpointStorage(CheckpointStorage):
    """Checkpoints Flink keeps in the JobManager's memory (up to ``max_state_size`` bytes
    of state); in nbstream, in ``checkpoint_path`` or the default checkpoint folder."""

    #: Flink's default bound of the state kept in the JobManager (5 MiB)
    DEFAULT_MAX_STATE_SIZE = 5 * 1024 * 1024

    def __init__(self, checkpoint_path: Optional[str] = None,
                 max_state_size: Optional[int] = None) -> None:
        self._path = _normalized(checkpoint_path)
        self._max_state_size = self.DEFAULT_MAX_STATE_SIZE if max_state_size is None \
            else int(max_state_size)
        if self._max_state_size <= 0:
            raise ValueError("max_state_size must be positive")

    def get_checkpoint_path(self) -> Optional[str]:
        return self._path

    def get_max_state_size(self) -> int:
        return self._max_state_size

    def __repr__(self) -> str:
        return f"JobManagerCheckpointStorage(checkpoint_path={self._path!r})"


class FileSystemCheckpointStorage(_FileSystemStorage, CheckpointStorage):
    """Checkpoints in a folder (``file://`` URI or path)."""

    #: Flink's default: state smaller than this (bytes) goes inline into the metadata
    DEFAULT_FILE_STATE_THRESHOLD = 20 * 1024
    MAX_FILE_STATE_THRESHOLD = 1024 * 1024

    def __init__(self, checkpoint_path: str, file_state_size_threshold: Optional[int] = None,
                 write_buffer_size: int = -1) -> None:
        super().__init__(_normalized(checkpoint_path))
        threshold = self.DEFAULT_FILE_STATE_THRESHOLD if file_state_size_threshold is None \
            else int(file_state_size_threshold)
        if not 0 <= threshold <= self.MAX_FILE_STATE_THRESHOLD:
            raise ValueError(f"The threshold for file state size must be in [0, "
                             f"{self.MAX_FILE_STATE_THRESHOLD}], not {threshold}")
        self._threshold, self._write_buffer_size = threshold, int(write_buffer_size)

    def get_min_file_size_threshold(self) -> int:
        return self._threshold

    def get_write_buffer_size(self) -> int:
        return self._write_buffer_size if self._write_buffer_size >= 0 \
            else max(self._threshold, 4096)

    def __repr__(self) -> str:
        return f"FileSystemCheckpointStorage({self.checkpoint_path!r})"


_, __getattr__ = exports(__name__, {}, unavailable=["CustomCheckpointStorage"])
