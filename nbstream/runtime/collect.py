"""Results on their way back to the driver: the collect sink's bounded channel and the
iterator ``execute_and_collect`` returns.
"""

from __future__ import annotations

import queue
from typing import Any, Iterator, List, Optional

from ..errors import NbstreamError
from .job import JobClient, JobStatus
from .records import TaskCancelled

__all__ = ["ResultChannel", "CloseableIterator"]


_END = object()


class ResultChannel:
    """Bounded hand-over of result batches from a sink task to a reader in the driver.

    Bound to its job (:meth:`bind`) when the job is submitted; closed when it ends.
    """

    def __init__(self, capacity: int = 16) -> None:
        self._queue: "queue.Queue[Any]" = queue.Queue(maxsize=capacity)
        self._job: Optional[JobClient] = None
        self._closed = False

    def bind(self, job: JobClient) -> None:
        if self._job is not None:
            raise NbstreamError("this result channel already belongs to a job")
        self._job = job
        job.on_done(lambda _job: self._close())

    def put(self, values: List[Any]) -> None:
        while True:
            if self._job is None or self._job.cancelled:
                raise TaskCancelled()
            try:
                self._queue.put(values, timeout=0.05)
                return
            except queue.Full:
                continue

    def put_committed(self, values: List[Any]) -> None:
        """Results of a completed checkpoint: they were held in memory already, so they go
        in without waiting for room (a reader busy stopping the job must not block the
        commit, and with it the job)."""
        q = self._queue
        with q.mutex:
            q.queue.append(values)
            q.unfinished_tasks += 1
            q.not_empty.notify()

    def _close(self) -> None:
        """The job has stopped: no more batches will come. Never drops a batch."""
        self._closed = True
        try:
            self._queue.put_nowait(_END)  # wake a waiting reader at once
        except queue.Full:
            pass  # the reader drains the queue, then sees ``_closed``

    def batches(self) -> Iterator[List[Any]]:
        while True:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._closed and self._queue.empty():
                    return
                continue
            if item is _END:
                return
            yield item


class CloseableIterator:
    """Iterates over a job's results while it runs; ``close()`` cancels the job.

    Use it as a context manager. Raises the job's error if the job failed.
    """

    def __init__(self, job: JobClient, channel: ResultChannel) -> None:
        self.job = job
        self._batches = channel.batches()
        self._current: Iterator[Any] = iter(())
        self._closed = False

    def __iter__(self) -> "CloseableIterator":
        return self

    def __next__(self) -> Any:
        while True:
            try:
                return next(self._current)
            except StopIteration:
                pass
            try:
                self._current = iter(next(self._batches))
            except KeyboardInterrupt:  # interrupting the reader stops the job too
                self.close()
                raise
            except StopIteration:
                self._closed = True
                self.job.wait()
                if self.job.status is JobStatus.FAILED:
                    raise self.job.error  # type: ignore[misc]
                raise

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.job.cancel()
            self.job.wait()

    def __enter__(self) -> "CloseableIterator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # an abandoned iterator must not leave its job running
        try:
            if not self._closed:
                self.job.cancel()
        except Exception:
            pass
