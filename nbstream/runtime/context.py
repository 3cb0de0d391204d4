"""Contexts handed to user functions: the runtime context (``open``), the per-record
context of process functions (``ctx``) and its timer service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional

from .keygroups import plain_key
from .timers import TimeDomain

if TYPE_CHECKING:  # pragma: no cover
    from .clock import TimeService
    from ..plan.config import JobConfig
    from .operators import Operator

__all__ = ["TaskInfo", "StreamingRuntimeContext", "ProcessContext", "TimerServiceView"]


@dataclass
class TaskInfo:
    """Where an operator instance runs."""

    task_name: str
    subtask: int
    parallelism: int
    max_parallelism: int
    config: "JobConfig"
    time_service: "TimeService"
    job_name: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)


class StreamingRuntimeContext:
    """The ``RuntimeContext`` given to ``open()``: task facts, job parameters, keyed state."""

    def __init__(self, op: "Operator") -> None:
        self._op = op
        self._task = op.task

    # task facts ---------------------------------------------------------------------------
    def get_task_name(self) -> str:
        return self._task.task_name

    def get_task_name_with_subtasks(self) -> str:
        return f"{self._task.task_name} ({self._task.subtask + 1}/{self._task.parallelism})"

    def get_number_of_parallel_subtasks(self) -> int:
        return self._task.parallelism

    def get_max_number_of_parallel_subtasks(self) -> int:
        return self._task.max_parallelism

    def get_index_of_this_subtask(self) -> int:
        return self._task.subtask

    def get_attempt_number(self) -> int:
        return 0

    def get_job_parameter(self, key: str, default_value: Optional[Any] = None) -> Any:
        return self._task.config.job_parameters.get(key, default_value)

    def get_metrics_group(self) -> Any:
        """This instance's metric group: ``counter(name)``, ``gauge(name, fn)``,
        ``meter(name)``, ``distribution(name)``, ``add_group(name)``; the values appear in
        ``job.metrics()`` under the step (see :mod:`nbstream.runtime.metrics`)."""
        return self._op.metric_group()

    @property
    def task_name(self) -> str:
        return self._task.task_name

    @property
    def subtask_index(self) -> int:
        return self._task.subtask

    @property
    def parallelism(self) -> int:
        return self._task.parallelism

    @property
    def max_parallelism(self) -> int:
        return self._task.max_parallelism

    @property
    def job_parameters(self) -> Mapping[str, Any]:
        return dict(self._task.config.job_parameters)

    # keyed state ---------------------------------------------------------------------------
    def _state(self, descriptor: Any) -> Any:
        backend = self._op.state
        if backend is None:
            raise RuntimeError(
                f"step '{self._op.name}': keyed state is only available on a keyed stream; "
                "call key_by(...) before this step")
        return backend.get(descriptor)

    get_state = _state
    get_list_state = _state
    get_map_state = _state
    get_reducing_state = _state
    get_aggregating_state = _state


class TimerServiceView:
    """``ctx.timer_service()``: current times, and timers on keyed streams."""

    def __init__(self, op: "Operator") -> None:
        self._op = op

    def current_processing_time(self) -> int:
        return self._op.task.time_service.now_ms()

    def current_watermark(self) -> int:
        return self._op.current_watermark

    def _timers(self) -> Any:
        if self._op.timers is None:
            raise RuntimeError(
                f"step '{self._op.name}': timers are only available on keyed streams; "
                "call key_by(...) before process(...)")
        return self._op.timers

    def register_event_time_timer(self, timestamp: int) -> None:
        self._timers().register_event(int(timestamp), self._op.state.current_key)

    def register_processing_time_timer(self, timestamp: int) -> None:
        self._timers().register_processing(int(timestamp), self._op.state.current_key)

    def delete_event_time_timer(self, timestamp: int) -> None:
        self._timers().delete_event(int(timestamp), self._op.state.current_key)

    def delete_processing_time_timer(self, timestamp: int) -> None:
        self._timers().delete_processing(int(timestamp), self._op.state.current_key)


class ProcessContext:
    """The ``ctx`` of ``process_element`` and ``on_timer`` (one object, updated per call)."""

    __slots__ = ("_op", "_ts", "_domain", "_timer_service")

    def __init__(self, op: "Operator") -> None:
        self._op = op
        self._ts: Optional[int] = None
        self._domain: Optional[TimeDomain] = None
        self._timer_service = TimerServiceView(op)

    def timestamp(self) -> Optional[int]:
        """The event-time timestamp of the current record (or timer), or None."""
        return self._ts

    def timer_service(self) -> TimerServiceView:
        return self._timer_service

    def get_current_key(self) -> Any:
        if self._op.state is None:
            raise RuntimeError(f"step '{self._op.name}' is not keyed: there is no current key")
        return plain_key(self._op.state.current_key)

    def time_domain(self) -> Optional[TimeDomain]:
        """In ``on_timer``: which clock fired the timer."""
        return self._domain

    def current_watermark(self) -> int:
        return self._op.current_watermark
