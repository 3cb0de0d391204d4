"""Feedback loops: ``iterate()`` and ``close_with()`` (as Flink's old iterations).

Records that reach ``close_with(feedback)`` go back to the start of the loop body.
The loop ends when its input has ended and no record has come back for
``max_wait_time_ms``; then the final watermark goes on downstream.

>>> from nbstream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> loop = env.from_collection([3, 5]).iterate(max_wait_time_ms=200)
>>> step = loop.map(lambda n: n - 1)
>>> _ = loop.close_with(step.filter(lambda n: n > 0))
>>> sorted(step.execute_and_collect())
[0, 0, 1, 1, 2, 2, 3, 4]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import PlanError
from ..runtime.durations import to_millis
from .datastream import DataStream, as_rows

if TYPE_CHECKING:  # pragma: no cover
    pass

__all__ = ["IterativeStream"]


class IterativeStream(DataStream):
    """The head of a feedback loop: build the body on it, then ``close_with(feedback)``."""

    @staticmethod
    def create(input_stream: DataStream, max_wait_time_ms: Any) -> "IterativeStream":
        wait = to_millis(max_wait_time_ms, "max_wait_time_ms")
        if wait < 0:
            raise PlanError("max_wait_time_ms must not be negative")
        node = input_stream._env._graph.add(
            "iterate", "Iteration Head", (input_stream._id,),
            params={"max_wait_ms": wait}, output_type=input_stream._declared_type())
        return IterativeStream(input_stream._env, node.id)

    def close_with(self, feedback_stream: DataStream) -> DataStream:
        """Send ``feedback_stream``'s records back to the head of the loop; returns it.
        It must have the head's parallelism (records go back to the same instance)."""
        feedback_stream = as_rows(feedback_stream, "close_with")
        if not isinstance(feedback_stream, DataStream):
            raise TypeError(f"close_with() takes a DataStream, not {type(feedback_stream).__name__}")
        if feedback_stream._env is not self._env:
            raise PlanError("close_with() of a stream from another environment")
        node = self._env._graph.nodes[self._id]
        if len(node.inputs) > 1:
            raise PlanError("this iteration is already closed (close_with() was called)")
        if feedback_stream._id == self._id:
            raise PlanError("close_with() needs a stream built on the iteration's body")
        self._env._graph.update(self._id, inputs=(node.inputs[0], feedback_stream._id))
        return feedback_stream
