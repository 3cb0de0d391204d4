"""The head of a feedback loop.

Input 0 is the loop's input, input 1 the feedback edge (planned as ``Edge.feedback``).
The task treats the feedback channel specially (see ``Task._run_inputs``): it does not
wait for its end, ignores its watermarks, and once the real inputs have ended keeps
reading feedback until none has come for ``max_wait_ms``. The head passes records on
unchanged and holds back the final watermark until the loop has ended.

Checkpoints of a loop (as Flink's iterations and Stateful Functions do): the head
snapshots when the barrier has come in on its real inputs, then logs the records that
come back on the feedback edge until the barrier itself comes back around the loop;
the log is part of the checkpoint and is fed again after a restore.
"""

from __future__ import annotations

from typing import Any

from .registry import register
from .operators import Operator, TwoInputOperator
from .records import MAX_TIMESTAMP, Batch

__all__ = ["IterationHeadOperator"]


@register("iterate")
class IterationHeadOperator(TwoInputOperator):
    def __init__(self, node: Any) -> None:
        super().__init__(node)
        wait = int(self.params.get("max_wait_ms", 0))
        self.feedback_wait_s = wait / 1000.0 if wait > 0 else None
        self.held_final = False

    def open(self) -> None:
        Operator.open(self)

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        self.output.emit(Batch(batch.values, batch.timestamps))

    def process_watermark(self, timestamp: int) -> None:
        if timestamp == MAX_TIMESTAMP:
            self.held_final = True
        else:
            super().process_watermark(timestamp)

    def end_input(self) -> None:
        if self.held_final:
            super().process_watermark(MAX_TIMESTAMP)
