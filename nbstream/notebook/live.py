"""A live job: a running job together with the live results of the streams it shows.

:func:`start` attaches a :class:`~nbstream.notebook.results.LiveSink` to each stream,
submits the environment's job and returns a :class:`LiveJob`: the handle a notebook
keeps (``%%stream --to VAR``). It is a job handle (``status``, ``stop()``, ``wait()``,
``await job``) and a live table (``to_pandas()``, ``to_arrow()``, ``dropped``).

>>> from nbstream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> counts = (env.from_collection(["a", "b", "a"]).map(lambda w: (w, 1))
...           .key_by(lambda t: t[0]).sum(1))
>>> job = start(env, [counts], name="words")
>>> job.wait(10)
True
>>> job.status, job.to_pandas().values.tolist()
('finished', [['b', 1], ['a', 2]])

No IPython here: this module works in any Python process.
"""

from __future__ import annotations

import collections
import time
import traceback
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Sequence, Tuple

from ..errors import UserFunctionError, short_repr
from ..runtime.job import JobClient, JobStatus
from ..runtime.records import MAX_TIMESTAMP, MIN_TIMESTAMP
from .results import LiveResults, LiveSink, keyed_rolling_key

__all__ = ["LiveJob", "start", "status_word", "error_info", "format_watermark"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)

_WORDS = {JobStatus.CREATED: "running", JobStatus.RUNNING: "running",
          JobStatus.CANCELLING: "stopping", JobStatus.FINISHED: "finished",
          JobStatus.FAILED: "failed", JobStatus.CANCELED: "stopped"}


def status_word(status: JobStatus) -> str:
    """running, stopping, finished, failed or stopped."""
    return _WORDS[status]


class LiveJob:
    """A submitted job and the live results of the streams it shows."""

    def __init__(self, client: JobClient, results: Sequence[LiveResults], labels: Sequence[str],
                 sources: Sequence[int], sinks: Sequence[int]) -> None:
        self.client = client
        self.results: List[LiveResults] = list(results)
        self.labels: List[str] = list(labels)
        self._sources = {str(s) for s in sources}
        self._sinks = {str(s) for s in sinks}
        self._samples: Deque[Tuple[float, int]] = collections.deque(maxlen=64)
        self.widgets: List[Any] = []

    # -- the job -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.client.job_name

    @property
    def mode(self) -> str:
        return self.client.mode

    @property
    def status(self) -> str:
        """running, stopping, finished, failed or stopped."""
        return status_word(self.client.status)

    @property
    def done(self) -> bool:
        return self.client.done

    @property
    def error(self) -> Optional[BaseException]:
        return self.client.error

    @property
    def elapsed_s(self) -> float:
        return self.client.elapsed_s

    def metrics(self) -> Dict[str, Dict[str, Any]]:
        return self.client.metrics()

    def stop(self) -> None:
        """Stop the job (returns at once; ``wait()`` blocks until it has stopped)."""
        self.client.cancel()

    cancel = stop

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self.client.wait(timeout)

    def result(self, timeout: Optional[float] = None) -> Any:
        return self.client.result(timeout)

    def __await__(self):
        return self.client.__await__()

    # -- the results ---------------------------------------------------------------------------
    def _results(self, which: Any) -> LiveResults:
        if not self.results:
            raise LookupError(f"job '{self.name}' shows no stream: it has no live results")
        if isinstance(which, str):
            if which not in self.labels:
                raise LookupError(f"job '{self.name}' shows no stream named {which!r}; "
                                  f"it shows {', '.join(map(repr, self.labels))}")
            which = self.labels.index(which)
        return self.results[which]

    def to_pandas(self, which: Any = 0) -> Any:
        """The current rows of a shown stream (by index or label) as a pandas DataFrame."""
        return self._results(which).to_pandas()

    def to_arrow(self, which: Any = 0) -> Any:
        """The current rows of a shown stream as a pyarrow Table."""
        return self._results(which).to_arrow()

    def rows(self, which: Any = 0) -> List[Any]:
        return self._results(which).rows()

    @property
    def dropped(self) -> int:
        """Rows no longer kept (beyond the bound), over every shown stream."""
        return sum(r.dropped for r in self.results)

    # -- what the views show ---------------------------------------------------------------------
    def stats(self) -> Dict[str, Any]:
        """Records in (read by the sources) and out (reaching the sinks), records/s over
        the last second or so, the sinks' watermark, elapsed seconds, kept and dropped rows."""
        records_in = records_out = 0
        watermark: Optional[int] = None
        for key, m in self.metrics().items():
            nid = key.split(":", 1)[0]
            if nid in self._sources:
                records_in += m["records_out"]
            if nid in self._sinks:
                records_out += m["records_in"]
                wm = m.get("watermark")
                if wm is not None and wm > MIN_TIMESTAMP:
                    watermark = wm if watermark is None else min(watermark, wm)
        elapsed = self.elapsed_s
        rate = self._rate(elapsed, records_in)
        return {"records_in": records_in, "records_out": records_out, "rate": rate,
                "watermark": watermark, "elapsed_s": round(elapsed, 3),
                "kept": sum(len(r) for r in self.results), "dropped": self.dropped}

    def _rate(self, elapsed: float, records_in: int) -> float:
        if self.done:
            return records_in / elapsed if elapsed > 0 else 0.0
        now = time.monotonic()
        samples = self._samples
        samples.append((now, records_in))
        while len(samples) > 2 and now - samples[1][0] >= 1.0:
            samples.popleft()
        t0, n0 = samples[0]
        if now - t0 < 0.05:
            return records_in / elapsed if elapsed > 0 else 0.0
        return (records_in - n0) / (now - t0)

    def summary(self) -> str:
        """One line: name, mode, status, records, rate, watermark, elapsed."""
        s = self.stats()
        line = (f"nbstream job '{self.name}' [{self.mode}] {self.status}: "
                f"{s['records_in']:,} in, {s['records_out']:,} out, {s['rate']:,.0f} records/s, "
                f"watermark {format_watermark(s['watermark'])}, {s['elapsed_s']:.1f} s")
        if s["dropped"]:
            line += f" ({s['dropped']:,} older rows dropped)"
        return line

    def report(self, max_rows: int = 20) -> str:
        """The summary, the error if the job failed, and the newest rows as a text table."""
        parts = [self.summary()]
        if self.error is not None:
            info = error_info(self.error)
            parts.append(info["traceback"].rstrip() if info["traceback"] else info["summary"])
        for label, results in zip(self.labels, self.results):
            if len(self.results) > 1:
                parts.append(f"-- {label}")
            parts.append(text_table(results, max_rows))
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<LiveJob {self.summary()}>"


def text_table(results: LiveResults, max_rows: int = 20) -> str:
    rows = results.rows()
    if not rows:
        return "(no rows yet)"
    shown = rows[-max_rows:]
    from ..connectors.frames import rows_to_pandas

    frame = rows_to_pandas(shown)
    for column in ("window_start", "window_end"):  # epoch ms as readable UTC times
        if column in frame and frame[column].map(lambda v: isinstance(v, int)
                                                 and 10**11 < v < 10**14).all():
            import pandas as pd

            frame[column] = pd.to_datetime(frame[column], unit="ms")
    table = frame.to_string(index=False)
    if len(rows) > len(shown):
        table += f"\n... newest {len(shown)} of {len(rows):,} rows kept"
    return table


def format_watermark(watermark: Optional[int]) -> str:
    """An epoch-millisecond watermark as UTC time (plain number when it is no date)."""
    if watermark is None:
        return "-"
    if watermark >= MAX_TIMESTAMP:
        return "end of input"
    if 10**11 < watermark < 10**14:
        from datetime import datetime, timezone

        stamp = datetime.fromtimestamp(watermark / 1000, tz=timezone.utc)
        return stamp.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(watermark)


def error_info(error: BaseException) -> Dict[str, Any]:
    """What a view shows of a failure: summary, step, function, record and the user's
    traceback (frames inside nbstream left out)."""
    info: Dict[str, Any] = {"summary": f"{type(error).__name__}: {error}", "step": None,
                            "function": None, "record": None}
    cause = error
    if isinstance(error, UserFunctionError):
        info.update(step=error.step, function=error.function,
                    record=short_repr(error.record) if " on record " in str(error) else None)
        cause = error.__cause__ or error.cause or error
    elif error.__cause__ is not None:
        cause = error.__cause__
    frames = [f for f in traceback.extract_tb(cause.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_PACKAGE_DIR)]
    lines = traceback.format_exception_only(type(cause), cause)
    text = "".join(lines)
    if frames:
        text = ("Traceback (most recent call last):\n" + "".join(traceback.format_list(frames))
                + text)
    info["traceback"] = text
    return info


def start(env: Any, streams: Sequence[Any], name: Optional[str] = None,
          rows: int = 1000, labels: Optional[Sequence[str]] = None) -> LiveJob:
    """Attach live results to ``streams``, submit the job of ``env`` and return its
    :class:`LiveJob`. Sinks added to ``env`` before (``print()`` ...) run in the same job."""
    results: List[LiveResults] = []
    for stream in streams:
        live = LiveResults(rows, key_fn=keyed_rolling_key(stream))
        stream.add_sink(LiveSink(live)).name("Live view")
        results.append(live)
    graph = env._graph
    ancestors = graph.ancestors(graph.sinks) if graph.sinks else {}
    sources = [nid for nid, node in ancestors.items() if node.is_source]
    sinks = list(graph.sinks)
    client = env.execute_async(name)
    names = list(labels) if labels is not None else [s.get_name() for s in streams]
    return LiveJob(client, results, names, sources, sinks)


async def wait_async(job: LiveJob) -> None:
    """Wait for ``job`` in the running event loop without blocking it (its outcome is
    not raised: read it from ``job.status`` and ``job.error``)."""
    try:
        await job.client._result_async()
    except Exception:
        pass
