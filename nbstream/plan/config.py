"""Settings a job runs with, frozen when the job is planned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..errors import PlanError, whole_number

__all__ = ["JobConfig", "DEFAULT_MAX_PARALLELISM", "UPPER_BOUND_MAX_PARALLELISM",
           "parallelism_of", "CheckpointSettings", "RestartSettings", "StateBackendSettings"]

DEFAULT_MAX_PARALLELISM = 128
UPPER_BOUND_MAX_PARALLELISM = 1 << 15  # 32768 key groups at most, as Flink


def parallelism_of(value: Any, what: str = "parallelism", maximum: bool = False) -> int:
    """A parallelism (or, with ``maximum``, a max parallelism) as Flink bounds it: 1..32768.

    >>> parallelism_of(4)
    4
    >>> parallelism_of(40000, "'Map': parallelism")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nbstream.errors.PlanError: 'Map': parallelism 40000 is above the max parallelism 32768 (...)
    """
    number = whole_number(value, what, 1)
    if number > UPPER_BOUND_MAX_PARALLELISM:
        raise PlanError(f"{what} {number} is above the "
                        f"{'upper bound' if maximum else 'max parallelism'} "
                        f"{UPPER_BOUND_MAX_PARALLELISM} (the upper bound of key groups, as in Flink)")
    return number


DEFAULT_MAX_HELD_RECORDS = 500_000


@dataclass(frozen=True)
class CheckpointSettings:
    """How a job checkpoints (``env.enable_checkpointing`` and the checkpoint config).

    interval_ms: time between the start of two checkpoints.
    exactly_once: align barriers (exactly-once) or not (at-least-once).
    directory: where completed checkpoints go (one folder per checkpoint).
    min_pause_ms, timeout_ms, tolerable_failures, retained: as Flink's checkpoint config.
    keep_on_cancel: keep the checkpoints of a cancelled job (externalized retention).
    max_held_records: how many results an exactly-once sink instance may hold in memory
    for checkpoints that have not completed before it holds the pipeline back.
    """

    interval_ms: int
    exactly_once: bool = True
    directory: str = ""
    min_pause_ms: int = 0
    timeout_ms: int = 600_000
    tolerable_failures: int = 0
    retained: int = 1
    keep_on_cancel: bool = False
    max_held_records: int = DEFAULT_MAX_HELD_RECORDS


@dataclass(frozen=True)
class RestartSettings:
    """What a job does after a failure: ``kind`` is ``none``, ``fixed-delay``,
    ``failure-rate`` or ``exponential-delay``; the other fields belong to those kinds."""

    kind: str = "none"
    attempts: int = 0
    delay_ms: int = 0
    failure_interval_ms: int = 0
    max_delay_ms: int = 0
    multiplier: float = 2.0
    reset_after_ms: int = 0


@dataclass(frozen=True)
class StateBackendSettings:
    """Where keyed state lives (``env.set_state_backend``).

    kind: ``hashmap`` (dicts in memory, the default) or ``rocksdb`` (an embedded RocksDB
    per operator instance, for keyed state larger than memory).
    directory: the folder under which RocksDB instances make their temporary folders
    ("" for the system's temporary folder).
    incremental: incremental checkpoints asked for (RocksDB).
    """

    kind: str = "hashmap"
    directory: str = ""
    incremental: bool = False


@dataclass(frozen=True)
class JobConfig:
    """Runtime settings of one job.

    batch_size: records a source puts in one batch at most.
    buffer_timeout_ms: longest a source holds a record before sending its batch on.
    channel_capacity: batches a channel holds before its sender blocks (backpressure).
    auto_watermark_interval_ms: how often watermark generators emit (processing time).
    batch_mode: True for ``RuntimeExecutionMode.BATCH`` (final values only).
    batch_key_order: the order of a keyed reduce's final values in BATCH mode:
    ``"arrival"`` (first seen first) or ``"serialized"`` (Flink's: by the serialized key,
    see :mod:`nbstream.runtime.keyorder`; the PyFlink compatibility layer's choice).
    combine_before_shuffle: in BATCH mode, a keyed reduce (sum, min, max, min_by, max_by,
    reduce) whose input crosses a keyed shuffle folds each key's records in the sending
    task first and sends partial values (see :mod:`nbstream.runtime.combine`).
    combine_max_keys: the keys a sending task holds partial values of at most; past it,
    it sends them all on and starts over.
    settings: every configuration key the environment was given (executors such as
    ``flink`` hand them on).
    """

    batch_size: int = 2048
    buffer_timeout_ms: int = 50
    channel_capacity: int = 8
    auto_watermark_interval_ms: int = 200
    batch_mode: bool = False
    batch_key_order: str = "arrival"
    combine_before_shuffle: bool = True
    combine_max_keys: int = 10_000
    job_parameters: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    checkpoints: Optional[CheckpointSettings] = None
    restart: RestartSettings = field(default_factory=RestartSettings)
    restore_from: Optional[str] = None
    allow_non_restored_state: bool = False
    trust_savepoint: bool = False  # restore_from even if not signed by this user's key
    state_backend: StateBackendSettings = field(default_factory=StateBackendSettings)
