"""Settings a job runs with, frozen when the job is planned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["JobConfig", "DEFAULT_MAX_PARALLELISM"]

DEFAULT_MAX_PARALLELISM = 128


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
    settings: every configuration key the environment was given (executors such as
    ``flink`` hand them on).
    """

    batch_size: int = 1024
    buffer_timeout_ms: int = 50
    channel_capacity: int = 8
    auto_watermark_interval_ms: int = 200
    batch_mode: bool = False
    batch_key_order: str = "arrival"
    job_parameters: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
