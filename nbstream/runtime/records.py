"""What travels between operators: batches of records and control events.

A :class:`Batch` holds parallel lists: the values, optionally their event-time
timestamps (int epoch milliseconds, ``None`` for a record without one) and,
after a key-by edge, their keys. Batches are never mutated once emitted.
Control events (:class:`Watermark`, :class:`WatermarkStatus`, :class:`Barrier`,
``END_OF_INPUT``)
travel in the same channels, in order.
"""

from __future__ import annotations

from typing import Any, List, NamedTuple, Optional

MIN_TIMESTAMP = -(2**63)
MAX_TIMESTAMP = 2**63 - 1


class Batch:
    """Records moving together through a chain or a channel."""

    __slots__ = ("values", "timestamps", "keys")

    def __init__(self, values: List[Any], timestamps: Optional[List[Any]] = None,
                 keys: Optional[List[Any]] = None) -> None:
        self.values = values
        self.timestamps = timestamps
        self.keys = keys

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"Batch({len(self.values)} records)"

    def __reduce__(self):
        return (Batch, (self.values, self.timestamps, self.keys))


class Watermark(NamedTuple):
    """Event time has progressed to ``timestamp``: no older record should follow."""

    timestamp: int


class WatermarkStatus(NamedTuple):
    """An input became idle (excluded from the watermark minimum) or active again."""

    idle: bool


class Barrier(NamedTuple):
    """Checkpoint ``checkpoint_id``: everything before this in the channel belongs to it.
    ``stop``: the savepoint of a stop (Flink's synchronous savepoint): a task that took
    its snapshot for it processes, fires and emits nothing more, and ends once the
    savepoint completed (or goes on if it failed)."""

    checkpoint_id: int
    stop: bool = False


class _EndOfInput:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END_OF_INPUT"

    def __reduce__(self):
        return "END_OF_INPUT"


END_OF_INPUT = _EndOfInput()


class Ends(NamedTuple):
    """The end of input on several channels at once: channels that never carried
    anything, whose ends a task takes together (``executors/channels.py: Inbox``)."""

    channels: List[int]


class OutputTag:
    """Names a side output. A process function yields ``(tag, value)`` to emit to it.

    >>> late = OutputTag("late")
    >>> late == OutputTag("late")
    True
    """

    __slots__ = ("tag_id", "type_info")

    def __init__(self, tag_id: str, type_info: Any = None) -> None:
        if not isinstance(tag_id, str) or not tag_id:
            raise ValueError("an OutputTag needs a non-empty string id")
        self.tag_id = tag_id
        self.type_info = type_info

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, OutputTag) and other.tag_id == self.tag_id

    def __hash__(self) -> int:
        return hash(("OutputTag", self.tag_id))

    def __repr__(self) -> str:
        return f"OutputTag({self.tag_id!r})"

    def __reduce__(self):
        return (OutputTag, (self.tag_id, self.type_info))


class TaskCancelled(BaseException):
    """Raised inside a task (and a source's ``collect``) when its job is cancelled.

    A BaseException, so ``except Exception`` in user code does not swallow it.
    """
