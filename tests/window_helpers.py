"""Helpers shared by the event-time, window, state and join tests."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Callable, Iterable, List

from nbstream import DataFrameSink, TimestampAssigner, WatermarkStrategy


def run_all(env: Any, *streams: Any) -> List[List[Any]]:
    """Run one job writing every stream to its own sink; return each stream's records."""
    return run_job(env, *streams)[0]


def run_job(env: Any, *streams: Any) -> Any:
    """As run_all, and the job's result (with its metrics): ``(rows, result)``."""
    sinks = [DataFrameSink() for _ in streams]
    for stream, sink in zip(streams, sinks):
        stream.add_sink(sink)
    result = env.execute()
    return [sink.rows() for sink in sinks], result


def result_metric(result: Any, name_part: str, key: str) -> int:
    return sum(m.get(key, 0) for k, m in result.metrics.items() if name_part in k)


def multiset(items: Iterable[Any]) -> Counter:
    return Counter(items)


class SecondField(TimestampAssigner):
    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        return int(value[1])


def monotonous_on_second_field() -> WatermarkStrategy:
    return WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(SecondField())


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``condition`` (a real job's progress) until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.005)


def metric(job: Any, name_part: str, key: str) -> int:
    """Sum of metric ``key`` over the operators whose name contains ``name_part``."""
    return sum(m.get(key, 0) for k, m in job.metrics().items() if name_part in k)


END = object()


class QueueSource:
    """A source the test feeds: ``push(value, ts=None)``, ``end()``. It flushes after
    every record and polls often, so periodic work (watermarks) keeps running while
    it waits, as a socket source does."""

    def __init__(self) -> None:
        import queue

        self.queue: "queue.Queue[Any]" = queue.Queue()

    def push(self, value: Any, ts: Any = None) -> None:
        self.queue.put((value, ts))

    def end(self) -> None:
        self.queue.put(END)

    def run(self, ctx: Any) -> None:
        import queue

        while True:
            try:
                item = self.queue.get(timeout=0.01)
            except queue.Empty:
                ctx.flush()
                continue
            if item is END:
                return
            value, ts = item
            if ts is None:
                ctx.collect(value)
            else:
                ctx.collect_with_timestamp(value, ts)
            ctx.flush()

    def cancel(self) -> None:
        pass
