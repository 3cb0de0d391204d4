"""Questions to the tasks of a running job: read a key's state while the job runs.

The job's client posts ``("query", (id, step, key, method))`` into the mailbox of the task
that owns ``key`` (its key group's subtask); the task, between two batches and on its own
thread, calls ``method(key)`` of the step's function with ``key`` as the current key and
answers through its control: :meth:`TaskQueries.answer` in the kernel, an ``ANSWER`` wire
message from a worker process. Nothing else of the job waits for a question.

>>> queries = TaskQueries()
>>> queries.ask(lambda message: queries.answer(message[1][0], True, {"seen": 2}), 1, "Bob",
...             "read_address", timeout=1.0)
{'seen': 2}
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any, Callable, Dict, Optional, Tuple

from ..errors import NbstreamError

__all__ = ["TaskQueries", "QueryError"]


class QueryError(NbstreamError):
    """A question to a running job's task got no answer, or the task could not answer it."""


class TaskQueries:
    """The questions of one job that wait for their answer, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._pending: Dict[int, Future] = {}
        self._closed: Optional[str] = None

    def ask(self, post: Callable[[Tuple[str, Any]], None], node_id: int, key: Any, method: str,
            timeout: float) -> Any:
        """Post the question with ``post`` and wait up to ``timeout`` seconds for the answer."""
        future: Future = Future()
        with self._lock:
            if self._closed is not None:
                raise QueryError(self._closed)
            self._next += 1
            query_id = self._next
            self._pending[query_id] = future
        try:
            post(("query", (query_id, node_id, key, method)))
            ok, value = future.result(timeout)
        except FutureTimeout:
            raise QueryError(f"no answer within {timeout:g} s for the key {key!r} (the task that "
                             "owns it is busy in a long call, or restarting)") from None
        finally:
            with self._lock:
                self._pending.pop(query_id, None)
        if not ok:
            raise QueryError(f"reading the state of the key {key!r} failed: {value}")
        return value

    def answer(self, query_id: int, ok: bool, value: Any) -> None:
        """A task's answer (late answers, to questions that timed out, are dropped)."""
        with self._lock:
            future = self._pending.get(query_id)
        if future is not None and not future.done():
            future.set_result((ok, value))

    def close(self, reason: str) -> None:
        """The job is over: questions waiting, and any asked from now on, fail with ``reason``."""
        with self._lock:
            self._closed = reason
            pending, self._pending = list(self._pending.values()), {}
        for future in pending:
            if not future.done():
                future.set_result((False, reason))
