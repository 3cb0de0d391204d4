"""The async wait operator: a one-input operator whose calls run on an event loop of its own.

Each parallel instance owns one event loop on one thread (started with the task's context
variables, so ``print`` in a coroutine reaches the cell that started the job, and it works
inside a Jupyter kernel whose own loop is running). The task thread starts calls in bulk,
at most ``capacity`` in the queue (in flight or waiting to be emitted): when it is full the
task waits, which holds back its input (backpressure). Results are emitted from the task
thread only: after each batch, on each watermark, from a processing-time poll while calls
are in flight, and at the end of input (which waits for every call).

Ordered mode emits in input order. Unordered mode emits as calls complete, within
*segments* separated by watermarks: a watermark goes out once every record before it has,
and no record after it goes out before it (Flink's ``UnorderedStreamElementQueue``).

A checkpoint takes the inputs of the queue: records whose calls are in flight or whose
results wait to be emitted, with the watermarks between them, in order. A restore issues
those calls again (as Flink's ``AsyncWaitOperator`` does); at another parallelism the
records are dealt out round-robin and the watermarks left to come again from upstream.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple, Union

from .operators import OneInputOperator
from .records import Batch, TaskCancelled
from .registry import register

__all__ = ["AsyncWaitOperator"]

_POLL_MS = 2          # how often an idle task looks for completed calls
_WAIT_S = 0.05        # longest single wait of the task thread for a completion


class _Entry:
    __slots__ = ("value", "ts", "results", "error", "done", "mark", "segment")

    def __init__(self, value: Any, ts: Optional[int], mark: Optional[int] = None) -> None:
        self.value, self.ts, self.mark = value, ts, mark
        self.results: Optional[List[Any]] = None
        self.error: Optional[BaseException] = None
        self.done = mark is not None
        self.segment: Optional[_Segment] = None


class _Segment:
    """Unordered mode: the records between two watermarks (in flight, in input order, and
    completed but not emitted), and the watermark closing them."""

    __slots__ = ("pending", "completed", "mark")

    def __init__(self) -> None:
        self.pending: Dict[_Entry, None] = {}
        self.completed: List[_Entry] = []
        self.mark: Optional[int] = None

#: a snapshot of the queue: (record, timestamp) pairs, and an int watermark between them
Queued = List[Union[Tuple[Any, Optional[int]], int]]


@register("async_wait")
class AsyncWaitOperator(OneInputOperator):

    def __init__(self, node: Any) -> None:
        super().__init__(node)
        p = self.params
        self.ordered: bool = p["ordered"]
        self.capacity: int = p["capacity"]
        self.timeout_s: float = p["timeout_ms"] / 1000.0
        self.retry = p["retry"]
        predicate = self.retry.get_retry_predicate()
        self.retry_on_result = predicate.result_predicate()
        self.retry_on_error = predicate.exception_predicate()
        self.lock = threading.Condition()
        self.queue: Deque[_Entry] = deque()            # ordered mode
        self.segments: Deque[_Segment] = deque([_Segment()])  # unordered mode
        self.count = 0          # records in the queue (counts against capacity)
        self.failure: Optional[_Entry] = None
        self.retries = self.timeouts = 0
        self.reissued = 0  # records of a checkpoint whose calls were issued again
        self._restored: Queued = []
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.thread: Optional[threading.Thread] = None
        self.calls: Set["asyncio.Task[Any]"] = set()
        self.polling = False
        self.cancelled = False

    def extra_metrics(self) -> dict:
        return {"async_retries": self.retries, "async_timeouts": self.timeouts,
                "async_in_flight": self.count, "async_reissued": self.reissued}

    # lifecycle: the loop thread, and the user's open/close on it ------------------------------
    def open(self) -> None:
        self.invoke, self.on_timeout = self.fn.calls
        ready = threading.Event()

        def run_loop() -> None:
            loop = self.loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self.thread = threading.Thread(
            target=contextvars.copy_context().run, args=(run_loop,), daemon=True,
            name=f"nbstream[{self.task.job_name}] {self.task.task_name} "
                 f"({self.task.subtask + 1}/{self.task.parallelism}) event loop")
        self.thread.start()
        ready.wait()
        try:
            self._on_loop("open")
        except BaseException:
            self._stop_loop()  # the task does not close an operator whose open() failed
            raise

    def close(self) -> None:
        loop, thread = self.loop, self.thread
        if loop is None or thread is None:
            return
        try:
            if thread.is_alive():
                asyncio.run_coroutine_threadsafe(self._cancel_calls(), loop).result(10)
                self._on_loop("close")
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        loop, thread = self.loop, self.thread
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
        self.loop = self.thread = None

    def _on_loop(self, method: str) -> None:
        """Run ``open``/``close`` of the user's function on the loop (an ``async def`` one is
        awaited), so clients it makes belong to the loop its calls run on."""
        hook = getattr(self.fn.owner, method, None)
        if hook is None:
            return

        async def run() -> None:
            try:
                result = hook(self.runtime_context()) if method == "open" else hook()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                raise self.error(exc, None, has_record=False, phase=f"{method}()") from exc

        assert self.loop is not None
        asyncio.run_coroutine_threadsafe(run(), self.loop).result()

    def cancel(self) -> None:
        """The job is stopping (called from another thread): stop waiting, cancel the calls."""
        self.cancelled = True
        loop = self.loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(lambda: [call.cancel() for call in list(self.calls)])
            except RuntimeError:
                pass  # the loop has just closed
        with self.lock:
            self.lock.notify_all()

    async def _cancel_calls(self) -> None:
        calls = list(self.calls)
        for call in calls:
            call.cancel()
        if calls:
            await asyncio.gather(*calls, return_exceptions=True)

    # checkpoints (task thread) ------------------------------------------------------------------
    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        snap = super().snapshot_state(checkpoint_id)
        with self.lock:
            snap["queued"] = self._queued()
        return snap

    def _queued(self) -> Queued:
        """What the queue holds, as inputs: every record not emitted yet, watermarks between."""
        if self.ordered:
            return [e.mark if e.mark is not None else (e.value, e.ts) for e in self.queue]
        out: Queued = []
        for seg in self.segments:
            out.extend((e.value, e.ts) for e in seg.completed)
            out.extend((e.value, e.ts) for e in seg.pending)
            if seg.mark is not None:
                out.append(seg.mark)
        return out

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Optional[Callable[[Any], bool]],
                      same_instance: bool) -> None:
        super().restore_state(snaps, owns, same_instance)
        if same_instance:
            self._restored = list(snaps[0]["queued"])
        else:  # records dealt out round-robin; watermarks come again from upstream
            records = [item for snap in snaps for item in snap["queued"] if type(item) is tuple]
            self._restored = records[self.task.subtask::self.task.parallelism]

    def initialize_function_state(self) -> None:
        """Issue the restored records' calls again (after every step of the chain has its
        state back, so what they emit reaches restored steps)."""
        super().initialize_function_state()
        restored, self._restored = self._restored, []
        records: List[_Entry] = []
        for item in restored:
            if type(item) is tuple:
                records.append(_Entry(*item))
                continue
            self._enqueue(records)
            records = []
            self._mark(item)
        self._enqueue(records)
        self.reissued += sum(1 for item in restored if type(item) is tuple)
        self._poll_later()

    # records and watermarks (task thread) -------------------------------------------------------
    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        values, tss = batch.values, batch.timestamps
        i, n = 0, len(values)
        while i < n:
            room = self._wait_room()
            j = min(n, i + room)
            self._enqueue([_Entry(values[k], tss[k] if tss is not None else None)
                           for k in range(i, j)])
            i = j
        self._drain()
        self._poll_later()

    def _enqueue(self, entries: List[_Entry]) -> None:
        """Put records in the queue and start their calls on the loop."""
        if not entries:
            return
        with self.lock:
            if not self.ordered:
                seg = self.segments[-1]
                for e in entries:
                    seg.pending[e] = None
                    e.segment = seg
            else:
                self.queue.extend(entries)
            self.count += len(entries)
        self.loop.call_soon_threadsafe(self._start, entries)

    def process_watermark(self, timestamp: int) -> None:
        self.current_watermark = timestamp
        self._mark(timestamp)
        self._drain()

    def _mark(self, timestamp: int) -> None:
        with self.lock:
            if self.ordered:
                self.queue.append(_Entry(None, None, mark=timestamp))
            else:
                self.segments[-1].mark = timestamp
                self.segments.append(_Segment())

    def end_input(self) -> None:
        while True:
            self._drain()
            with self.lock:
                if not self._holding():
                    return
                self._wait()

    def _holding(self) -> bool:
        return bool(self.queue) if self.ordered else (
            len(self.segments) > 1 or bool(self.segments[0].pending or self.segments[0].completed))

    def _wait_room(self) -> int:
        while True:
            self._drain()
            with self.lock:
                if self.count < self.capacity:
                    return self.capacity - self.count
                if self.failure is None:
                    self._wait()

    def _wait(self) -> None:
        """Wait (holding the lock) for a call to complete."""
        if self.cancelled:
            raise TaskCancelled()
        self.lock.wait(_WAIT_S)

    def _poll_later(self) -> None:
        if self.count and not self.polling:
            self.polling = True
            ts = self.task.time_service
            ts.schedule(ts.now_ms() + _POLL_MS, self._poll)

    def _poll(self, _deadline: int) -> None:
        self.polling = False
        self._drain()
        self._poll_later()

    def _drain(self) -> None:
        """Emit what may go out now: results, and watermarks whose records have all gone."""
        ready: List[_Entry] = []
        with self.lock:
            failed = self.failure
            if failed is None:
                if self.ordered:
                    queue = self.queue
                    while queue and queue[0].done:
                        ready.append(queue.popleft())
                else:
                    segments = self.segments
                    while True:
                        seg = segments[0]
                        if seg.completed:
                            ready.extend(seg.completed)
                            seg.completed = []
                        if seg.pending or seg.mark is None:
                            break
                        ready.append(_Entry(None, None, mark=seg.mark))
                        segments.popleft()
                self.count -= sum(1 for e in ready if e.mark is None)
        if failed is not None:
            raise self.error(failed.error, failed.value) from failed.error
        if ready:
            self._emit(ready)

    def _emit(self, ready: List[_Entry]) -> None:
        values: List[Any] = []
        tss: List[Any] = []
        output = self.output
        for e in ready:
            if e.mark is not None:
                if values:
                    output.emit(Batch(values, tss if any(t is not None for t in tss) else None))
                    values, tss = [], []
                output.emit_watermark(e.mark)
                continue
            values.extend(e.results)
            tss.extend([e.ts] * len(e.results))
        if values:
            output.emit(Batch(values, tss if any(t is not None for t in tss) else None))

    # calls (loop thread) ------------------------------------------------------------------------
    def _start(self, entries: List[_Entry]) -> None:
        loop = self.loop
        for e in entries:
            call = loop.create_task(self._call(e))
            self.calls.add(call)
            call.add_done_callback(self.calls.discard)

    async def _call(self, entry: _Entry) -> None:
        timed_out = False
        me = asyncio.current_task()

        def expire() -> None:
            nonlocal timed_out
            timed_out = True
            me.cancel()

        timer = self.loop.call_later(self.timeout_s, expire) if self.timeout_s > 0 else None
        try:
            results = await self._attempts(entry.value)
        except asyncio.CancelledError:
            if not timed_out:
                raise  # the job is stopping
            self.timeouts += 1
            try:
                results = self._checked(self.on_timeout(entry.value), "timeout")
            except Exception as exc:
                return self._complete(entry, None, exc)
        except Exception as exc:
            return self._complete(entry, None, exc)
        finally:
            if timer is not None:
                timer.cancel()
        self._complete(entry, results, None)

    async def _attempts(self, value: Any) -> List[Any]:
        attempt = 1
        while True:
            try:
                results, error = self._checked(await self.invoke(value), "async_invoke"), None
            except Exception as exc:
                results, error = None, exc
            retry = ((error is None and self.retry_on_result is not None
                      and self.retry_on_result(results))
                     or (error is not None and self.retry_on_error is not None
                         and self.retry_on_error(error)))
            if not (retry and self.retry.can_retry(attempt)):
                if error is not None:
                    raise error
                return results  # type: ignore[return-value]
            self.retries += 1
            await asyncio.sleep(self.retry.get_backoff_time_millis(attempt) / 1000.0)
            attempt += 1

    def _checked(self, results: Any, method: str) -> List[Any]:
        if results is None or isinstance(results, (str, bytes)) or not hasattr(results, "__iter__"):
            what = ("cannot be none" if results is None else "should be of list type")
            raise TypeError(f"The result of AsyncFunction {what}: {method} of {self.fn_name} "
                            f"returned {type(results).__name__} {results!r}; return a list of "
                            f"results ([] to emit nothing)")
        return list(results)

    def _complete(self, entry: _Entry, results: Optional[List[Any]],
                  error: Optional[BaseException]) -> None:
        with self.lock:
            if error is not None:
                entry.error = error
                if self.failure is None:
                    self.failure = entry
            entry.results, entry.done = results, True
            seg = entry.segment
            if seg is not None and error is None:
                del seg.pending[entry]
                seg.completed.append(entry)
            self.lock.notify_all()
