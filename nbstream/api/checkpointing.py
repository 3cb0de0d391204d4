"""Checkpointing and restarts as PyFlink spells them.

>>> from nbstream import StreamExecutionEnvironment, CheckpointingMode, RestartStrategies
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env = env.enable_checkpointing(1000, CheckpointingMode.EXACTLY_ONCE)
>>> env.get_checkpoint_config().set_min_pause_between_checkpoints(500)  # doctest: +ELLIPSIS
<nbstream CheckpointConfig ...>
>>> env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 100))
>>> env.get_checkpoint_interval()
1000
"""

from __future__ import annotations

import os
from datetime import timedelta
from enum import Enum
from typing import Any, Optional, Union

from ..errors import PlanError, whole_number
from ..plan.config import CheckpointSettings, RestartSettings
from ..runtime.checkpoint_storage import default_directory

__all__ = ["CheckpointingMode", "CheckpointConfig", "ExternalizedCheckpointCleanup",
           "ExternalizedCheckpointRetention", "RestartStrategies", "RestartStrategyConfiguration",
           "FileSystemCheckpointStorage"]

Millis = Union[int, timedelta]

#: Flink's default when checkpointing is on and no strategy is set: restart (almost)
#: forever, one second apart.
DEFAULT_ATTEMPTS = 2**31 - 1
DEFAULT_DELAY_MS = 1000


def _ms(value: Millis, what: str) -> int:
    if isinstance(value, timedelta):
        return int(value.total_seconds() * 1000)
    return whole_number(value, what, 0)


class CheckpointingMode(Enum):
    """EXACTLY_ONCE aligns barriers; AT_LEAST_ONCE lets records pass (replays may
    count some twice after a restore)."""

    EXACTLY_ONCE = 0
    AT_LEAST_ONCE = 1


class ExternalizedCheckpointRetention(Enum):
    """Whether a cancelled job's checkpoints are kept (a failed job's always are)."""

    DELETE_ON_CANCELLATION = 0
    RETAIN_ON_CANCELLATION = 1
    NO_EXTERNALIZED_CHECKPOINTS = 2


ExternalizedCheckpointCleanup = ExternalizedCheckpointRetention  # PyFlink's older name


class FileSystemCheckpointStorage:
    """Checkpoints in a directory (``set_checkpoint_storage(FileSystemCheckpointStorage(p))``)."""

    def __init__(self, checkpoint_path: str) -> None:
        self.checkpoint_path = os.fspath(checkpoint_path)

    def get_checkpoint_path(self) -> str:
        return self.checkpoint_path


class CheckpointConfig:
    """The checkpoint settings of an environment (``env.get_checkpoint_config()``)."""

    def __init__(self) -> None:
        self.interval_ms = -1
        self.mode = CheckpointingMode.EXACTLY_ONCE
        self.directory = ""
        self.min_pause_ms = 0
        self.timeout_ms = 600_000
        self.tolerable_failures = 0
        self.retained = 1
        self.retention = ExternalizedCheckpointRetention.DELETE_ON_CANCELLATION

    def __repr__(self) -> str:
        return (f"<nbstream CheckpointConfig interval={self.interval_ms} ms "
                f"mode={self.mode.name} dir={self.get_checkpoint_storage_dir()!r}>")

    def is_checkpointing_enabled(self) -> bool:
        return self.interval_ms > 0

    def get_checkpoint_interval(self) -> int:
        return self.interval_ms

    def set_checkpoint_interval(self, interval: Millis) -> "CheckpointConfig":
        self.interval_ms = _ms(interval, "checkpoint interval")
        if self.interval_ms < 10:
            raise PlanError(f"checkpoint interval must be at least 10 ms, not {self.interval_ms}")
        return self

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return self.mode

    def set_checkpointing_mode(self, mode: CheckpointingMode) -> "CheckpointConfig":
        if not isinstance(mode, CheckpointingMode):
            raise PlanError(f"checkpointing mode must be a CheckpointingMode, not {mode!r}")
        self.mode = mode
        return self

    def set_checkpoint_storage_dir(self, path: str) -> "CheckpointConfig":
        """Where completed checkpoints go (default: see :func:`default_directory`)."""
        self.directory = os.fspath(path)
        return self

    def set_checkpoint_storage(self, storage: Any) -> "CheckpointConfig":
        path = storage if isinstance(storage, (str, os.PathLike)) else \
            getattr(storage, "get_checkpoint_path", lambda: None)()
        if path is None:
            raise PlanError(f"set_checkpoint_storage takes a path or a FileSystemCheckpointStorage, "
                            f"not {storage!r}")
        return self.set_checkpoint_storage_dir(path)

    def get_checkpoint_storage_dir(self) -> str:
        return self.directory or default_directory()

    def set_min_pause_between_checkpoints(self, pause: Millis) -> "CheckpointConfig":
        self.min_pause_ms = _ms(pause, "min pause between checkpoints")
        return self

    def get_min_pause_between_checkpoints(self) -> int:
        return self.min_pause_ms

    def set_checkpoint_timeout(self, timeout: Millis) -> "CheckpointConfig":
        self.timeout_ms = _ms(timeout, "checkpoint timeout")
        return self

    def get_checkpoint_timeout(self) -> int:
        return self.timeout_ms

    def set_tolerable_checkpoint_failure_number(self, number: int) -> "CheckpointConfig":
        self.tolerable_failures = whole_number(number, "tolerable checkpoint failures", 0)
        return self

    def get_tolerable_checkpoint_failure_number(self) -> int:
        return self.tolerable_failures

    def set_max_concurrent_checkpoints(self, number: int) -> "CheckpointConfig":
        """Only 1 is supported: a checkpoint starts once the previous one has ended."""
        if whole_number(number, "max concurrent checkpoints", 1) != 1:
            raise PlanError("nbstream runs one checkpoint at a time: "
                            "set_max_concurrent_checkpoints takes 1 only")
        return self

    def get_max_concurrent_checkpoints(self) -> int:
        return 1

    def set_externalized_checkpoint_retention(
            self, retention: ExternalizedCheckpointRetention) -> "CheckpointConfig":
        self.retention = ExternalizedCheckpointRetention[retention.name]
        return self

    enable_externalized_checkpoints = set_externalized_checkpoint_retention

    def set_num_retained_checkpoints(self, number: int) -> "CheckpointConfig":
        """How many completed checkpoints to keep on disk (Flink's ``state.checkpoints.num-retained``)."""
        self.retained = whole_number(number, "retained checkpoints", 1)
        return self

    def settings(self) -> Optional[CheckpointSettings]:
        if self.interval_ms <= 0:
            return None
        return CheckpointSettings(
            self.interval_ms, self.mode is CheckpointingMode.EXACTLY_ONCE,
            self.get_checkpoint_storage_dir(), self.min_pause_ms, self.timeout_ms,
            self.tolerable_failures, self.retained,
            self.retention is ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)


class RestartStrategyConfiguration:
    """One restart strategy (made by :class:`RestartStrategies`)."""

    def __init__(self, settings: Optional[RestartSettings]) -> None:
        self.settings = settings  # None: fall back to the default

    def __repr__(self) -> str:
        return f"<RestartStrategy {self.settings}>"


class RestartStrategies:
    """Flink's restart strategies (delays in milliseconds or as timedelta)."""

    @staticmethod
    def no_restart() -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration(RestartSettings("none"))

    @staticmethod
    def fall_back_restart() -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration(None)

    @staticmethod
    def fixed_delay_restart(restart_attempts: int,
                            delay_between_attempts: Millis) -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration(RestartSettings(
            "fixed-delay", whole_number(restart_attempts, "restart attempts", 0),
            _ms(delay_between_attempts, "delay between attempts")))

    @staticmethod
    def failure_rate_restart(failure_rate: int, failure_interval: Millis,
                             delay_interval: Millis) -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration(RestartSettings(
            "failure-rate", whole_number(failure_rate, "failure rate", 1),
            _ms(delay_interval, "delay interval"),
            failure_interval_ms=_ms(failure_interval, "failure interval")))

    @staticmethod
    def exponential_delay_restart(initial_backoff: Millis, max_backoff: Millis,
                                  backoff_multiplier: float, reset_backoff_threshold: Millis,
                                  jitter_factor: float = 0.0) -> RestartStrategyConfiguration:
        if backoff_multiplier < 1:
            raise PlanError(f"backoff multiplier must be at least 1, not {backoff_multiplier}")
        return RestartStrategyConfiguration(RestartSettings(
            "exponential-delay", 0, _ms(initial_backoff, "initial backoff"),
            max_delay_ms=_ms(max_backoff, "max backoff"), multiplier=float(backoff_multiplier),
            reset_after_ms=_ms(reset_backoff_threshold, "reset backoff threshold")))


def effective_restart(strategy: Optional[RestartStrategyConfiguration],
                      checkpointing: bool) -> RestartSettings:
    """The strategy a job runs with: the one set, else Flink's default (fixed delay,
    practically forever, 1 s apart, when checkpointing is on; no restart otherwise)."""
    if strategy is not None and strategy.settings is not None:
        return strategy.settings
    if checkpointing:
        return RestartSettings("fixed-delay", DEFAULT_ATTEMPTS, DEFAULT_DELAY_MS)
    return RestartSettings("none")


def configure_checkpoints(env: Any, configuration: Any) -> None:
    """Flink's configuration keys for checkpoints, restarts and savepoints."""
    from ..runtime.durations import to_millis

    cfg: CheckpointConfig = env._checkpoint_config

    def millis(v: Any) -> int:
        return to_millis(v, "duration")

    keys = {
        "execution.checkpointing.interval": lambda v: cfg.set_checkpoint_interval(millis(v)),
        "execution.checkpointing.mode": lambda v: cfg.set_checkpointing_mode(
            CheckpointingMode[str(v).upper().replace("-", "_")]),
        "execution.checkpointing.timeout": lambda v: cfg.set_checkpoint_timeout(millis(v)),
        "execution.checkpointing.min-pause": lambda v: cfg.set_min_pause_between_checkpoints(
            millis(v)),
        "execution.checkpointing.tolerable-failed-checkpoints":
            lambda v: cfg.set_tolerable_checkpoint_failure_number(int(v)),
        "execution.checkpointing.max-concurrent-checkpoints":
            lambda v: cfg.set_max_concurrent_checkpoints(int(v)),
        "execution.checkpointing.externalized-checkpoint-retention":
            lambda v: cfg.set_externalized_checkpoint_retention(
                ExternalizedCheckpointRetention[str(v).upper()]),
        "state.checkpoints.dir": cfg.set_checkpoint_storage_dir,
        "execution.checkpointing.dir": cfg.set_checkpoint_storage_dir,
        "state.checkpoints.num-retained": lambda v: cfg.set_num_retained_checkpoints(int(v)),
        "execution.savepoint.path": lambda v: setattr(env, "_savepoint_path", os.fspath(v)),
        "execution.savepoint.ignore-unclaimed-state": lambda v: setattr(
            env, "_allow_non_restored", str(v).lower() == "true"),
        "nbstream.savepoint.trust": lambda v: setattr(
            env, "_trust_savepoint", str(v).lower() == "true"),
    }
    for key, value in configuration.items():
        handler = keys.get(key)
        if handler is not None:
            handler(value)
    strategy = configuration.get("restart-strategy.type", configuration.get("restart-strategy"))
    if strategy is not None:
        env._restart_strategy = _strategy_from(str(strategy).lower(), configuration, millis)


def _strategy_from(kind: str, conf: Any, millis: Any) -> RestartStrategyConfiguration:
    def get(name: str, default: Any) -> Any:
        return conf.get(f"restart-strategy.{name}", default)

    if kind in ("none", "off", "disable"):
        return RestartStrategies.no_restart()
    if kind in ("fixed-delay", "fixeddelay"):
        return RestartStrategies.fixed_delay_restart(int(get("fixed-delay.attempts", 1)),
                                                     millis(get("fixed-delay.delay", "1 s")))
    if kind in ("failure-rate", "failurerate"):
        return RestartStrategies.failure_rate_restart(
            int(get("failure-rate.max-failures-per-interval", 1)),
            millis(get("failure-rate.failure-rate-interval", "1 min")),
            millis(get("failure-rate.delay", "1 s")))
    if kind in ("exponential-delay", "exponentialdelay"):
        return RestartStrategies.exponential_delay_restart(
            millis(get("exponential-delay.initial-backoff", "1 s")),
            millis(get("exponential-delay.max-backoff", "5 min")),
            float(get("exponential-delay.backoff-multiplier", 2.0)),
            millis(get("exponential-delay.reset-backoff-threshold", "1 h")))
    raise PlanError(f"unknown restart strategy {kind!r} (none, fixed-delay, failure-rate, "
                    "exponential-delay)")


def arm_job(job: Any, plan: Any, executor: Any, clock: Any) -> None:
    """Give a job its checkpoint coordinator and restart policy (before it starts)."""
    from ..runtime.checkpoint_storage import CheckpointStorage, find_checkpoint
    from ..runtime.checkpoints import CheckpointCoordinator

    cfg = plan.config
    settings = cfg.checkpoints
    if settings is None and cfg.restore_from is None:
        return
    restore = find_checkpoint(cfg.restore_from, cfg.trust_savepoint) if cfg.restore_from else None
    if restore is not None:
        job.warnings.extend(restore.skipped)
    directory = settings.directory if settings is not None else default_directory()
    folder = f"{_SAFE_NAME(job.job_name)}-{job.job_id[:8]}"
    storage = CheckpointStorage(directory, folder, settings.retained if settings else 1)
    coordinator = CheckpointCoordinator(plan, settings, storage, restore,
                                        cfg.allow_non_restored_state)
    job.checkpoints = coordinator
    if settings is None:
        coordinator.begin_attempt()
        return
    job.restart_policy = _policy(cfg.restart)

    def restart() -> None:
        coordinator.begin_attempt()
        executor.start(plan, job, clock)

    job._restarter = restart
    coordinator.begin_attempt()
    coordinator.start(job)

    def cleanup(done: Any) -> None:
        coordinator.stop()
        status = done.status.value
        if status == "FINISHED" or (status == "CANCELED" and not settings.keep_on_cancel):
            storage.discard()
    job._before_done.append(cleanup)


def _policy(settings: RestartSettings) -> Any:
    from ..runtime.checkpoints import RestartPolicy
    return RestartPolicy(settings)


def _SAFE_NAME(name: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40] or "job"
