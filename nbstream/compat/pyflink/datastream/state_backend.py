"""``pyflink.datastream.state_backend`` on nbstream.

:class:`HashMapStateBackend` and :class:`EmbeddedRocksDBStateBackend` are nbstream's (see
:mod:`nbstream.api.state_backends`); the RocksDB one takes PyFlink's tuning settings too
(predefined options, an options factory class, transfer threads), which are kept and read
back: nbstream's embedded RocksDB runs with its own defaults. A ``CustomStateBackend``
wraps a Java one and needs Flink's JVM.

>>> backend = EmbeddedRocksDBStateBackend()
>>> backend.set_db_storage_paths("file:///var/lib/state/")
>>> backend.get_db_storage_paths(), backend.get_predefined_options()
(['/var/lib/state'], <PredefinedOptions.DEFAULT: 0>)
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Optional

from nbstream.api.state_backends import EmbeddedRocksDBStateBackend as _RocksDB
from nbstream.api.state_backends import HashMapStateBackend, StateBackend
from .._exports import exports, not_available

__all__ = ["StateBackend", "HashMapStateBackend", "EmbeddedRocksDBStateBackend",
           "PredefinedOptions"]


class PredefinedOptions(Enum):
    """Flink's RocksDB option presets."""

    DEFAULT = 0
    SPINNING_DISK_OPTIMIZED = 1
    SPINNING_DISK_OPTIMIZED_HIGH_MEM = 2
    FLASH_SSD_OPTIMIZED = 3


class EmbeddedRocksDBStateBackend(_RocksDB):
    """nbstream's RocksDB state backend with PyFlink's tuning settings (kept, see above)."""

    def __init__(self, enable_incremental_checkpointing: Optional[bool] = None) -> None:
        super().__init__(enable_incremental_checkpointing)
        self._predefined = PredefinedOptions.DEFAULT
        self._options: Optional[str] = None
        self._transfer_threads = 4

    def set_predefined_options(self, options: PredefinedOptions) -> None:
        self._predefined = PredefinedOptions[options.name]

    def get_predefined_options(self) -> PredefinedOptions:
        return self._predefined

    def set_options(self, options_factory_class_name: str) -> None:
        """The name of a Java ``RocksDBOptionsFactory`` class (kept; no JVM loads it here)."""
        self._options = str(options_factory_class_name)

    def get_options(self) -> Optional[str]:
        return self._options

    def set_number_of_transfer_threads(self, number_of_transfering_threads: int) -> None:
        self._transfer_threads = int(number_of_transfering_threads)

    def get_number_of_transfer_threads(self) -> int:
        return self._transfer_threads


def _from_j_state_backend(j_state_backend: Any) -> Any:
    raise not_available("_from_j_state_backend", __name__)


_, __getattr__ = exports(__name__, {}, unavailable=["CustomStateBackend"])
