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
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Deque, Dict, List, Optional, Sequence, Set, Tuple

from ..errors import UserFunctionError, short_repr
from ..runtime.job import JobClient, JobStatus
from ..runtime.records import MAX_TIMESTAMP, MIN_TIMESTAMP
from .results import LiveResults, LiveSink, keyed_rolling_key, tuple_names

__all__ = ["LiveJob", "start", "status_word", "error_info", "format_watermark", "format_bytes"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)

_WORDS = {JobStatus.CREATED: "running", JobStatus.RUNNING: "running",
          JobStatus.RESTARTING: "restarting", JobStatus.CANCELLING: "stopping",
          JobStatus.FINISHED: "finished", JobStatus.FAILED: "failed",
          JobStatus.CANCELED: "stopped"}


def status_word(status: JobStatus) -> str:
    """running, restarting, stopping, finished, failed or stopped (a status added to the
    runtime later shows as its own name, lower case)."""
    word = _WORDS.get(status)
    return word if word is not None else str(getattr(status, "value", status)).lower()


class LiveJob:
    """A submitted job and the live results of the streams it shows."""

    def __init__(self, client: JobClient, results: Sequence[LiveResults], labels: Sequence[str],
                 sources: Sequence[int], sinks: Sequence[int],
                 resumed_from: Optional[str] = None,
                 totals: Optional[Dict[int, Optional[int]]] = None) -> None:
        self.client = client
        self.resumed_from = resumed_from  # the savepoint's name, if it started from one
        self.results: List[LiveResults] = list(results)
        self.labels: List[str] = list(labels)
        self._sources = {str(s) for s in sources}
        self._sinks = {str(s) for s in sinks}
        # records each source emits in all, where known before it runs (bounded sources)
        self._totals = {str(k): v for k, v in (totals or {}).items()}
        self._samples: Deque[Tuple[float, int]] = collections.deque(maxlen=64)
        self.widgets: List[Any] = []
        self.cell: Dict[str, Any] = {}  # the notebook cell that owns the job (set by the magics)
        self.started_at = time.time()

    # -- the job -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.client.job_name

    @property
    def mode(self) -> str:
        return self.client.mode

    @property
    def status(self) -> str:
        """running, restarting, stopping, finished, failed or stopped."""
        return status_word(self.client.status)

    @property
    def status_text(self) -> str:
        """The status word and, for a stopped job whose function has not returned (thread
        mode cannot stop it), what still runs: ``stopped; still running: step 'parse'
        (1/1): function parse (cell.py:3) has not returned (now at cell.py:5)``."""
        still = self.client.still_running
        return self.status + (f"; still running: {'; '.join(still)}" if still else "")

    @property
    def checkpointing(self) -> bool:
        """True if the job takes checkpoints (so it can stop with a savepoint)."""
        coordinator = getattr(self.client, "checkpoints", None)
        return coordinator is not None and getattr(coordinator, "settings", None) is not None

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
        the last second or so, the sinks' watermark, elapsed seconds, kept and dropped rows;
        ``progress`` ({"done", "total"}) when every source says how many records it has;
        ``restoring`` ({"done", "total"}) while a source run again after a restore drops
        the records before its checkpointed position; ``lag_ms``, how far the watermark is
        behind the wall clock when it follows it (None for older event time)."""
        records_in = records_out = 0
        watermark: Optional[int] = None
        replay_to = replay_left = 0
        for key, m in self.metrics().items():
            nid = key.split(":", 1)[0]
            if nid in self._sources:
                records_in += m["records_out"]
                replay_to += m.get("replay_to", 0)
                replay_left += m.get("replay_left", 0)
            if nid in self._sinks:
                records_out += m["records_in"]
                wm = m.get("watermark")
                if wm is not None and wm > MIN_TIMESTAMP:
                    watermark = wm if watermark is None else min(watermark, wm)
        elapsed = self.elapsed_s
        rate = self._rate(elapsed, records_in)
        total = self.total_records()
        lag = None
        if watermark is not None and watermark < MAX_TIMESTAMP:
            behind = int(time.time() * 1000) - watermark
            lag = behind if 0 <= behind < 86_400_000 else None
        out = {"records_in": records_in, "records_out": records_out, "rate": rate,
               "watermark": watermark, "elapsed_s": round(elapsed, 3),
               "kept": sum(len(r) for r in self.results), "dropped": self.dropped,
               "progress": ({"done": min(records_in, total), "total": total}
                            if total is not None else None),
               "restoring": ({"done": replay_to - replay_left, "total": replay_to}
                             if replay_left and not self.done else None),
               "lag_ms": lag}
        changelogs = [r.kinds for r in self.results if r.mode == "changelog"]
        if changelogs:  # a table's changelog: how many changes of each kind
            out["changelog"] = {k: sum(c[k] for c in changelogs) for k in ("+I", "-U", "+U", "-D")}
        return out

    def total_records(self) -> Optional[int]:
        """Records the sources emit in all, if every one of them knows (else None)."""
        if not self._sources or any(self._totals.get(s) is None for s in self._sources):
            return None
        return sum(self._totals[s] for s in self._sources)  # type: ignore[misc]

    def graph(self) -> List[Dict[str, Any]]:
        """The job's steps, as Flink's web UI lists them: ``id``, ``name``, ``chain`` (steps
        of one chain run fused in one task), ``parallelism``, ``mode``, ``records_in``,
        ``records_out``, and ``backpressure`` for a step that sends to another task: how
        full the channels to it are (0..1, estimated from the records in flight against
        the channels' capacity; near 1, the step waits for the next one)."""
        plan = getattr(self.client, "plan", None)
        if plan is None:
            return []
        metrics = {int(k.split(":", 1)[0]): m for k, m in self.metrics().items()}
        capacity = plan.config.channel_capacity * plan.config.batch_size
        steps = []
        for chain in plan.chains:
            for nid in chain.nodes:
                node, m = plan.nodes[nid], metrics.get(nid, {})
                steps.append({"id": nid, "name": node.name, "chain": chain.id,
                              "parallelism": plan.parallelism[nid],
                              "mode": m.get("mode") or plan.chain_mode(chain.id),
                              "records_in": m.get("records_in", 0),
                              "records_out": m.get("records_out", 0),
                              "backpressure": None})
        by_id = {s["id"]: s for s in steps}
        for edge in plan.edges:
            if edge.feedback or plan.is_chained(edge) or edge.target not in by_id:
                continue
            sender, receiver = by_id[edge.source], by_id[edge.target]
            in_flight = max(0, sender["records_out"] - receiver["records_in"])
            fanout = 1 if edge.partitioning.kind == "forward" else receiver["parallelism"]
            fill = min(1.0, in_flight / (capacity * sender["parallelism"] * fanout))
            if sender["backpressure"] is None or fill > sender["backpressure"]:
                sender["backpressure"] = round(fill, 3)
        return steps

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

    def statefun_state(self, typename: str, id: str, timeout: float = 10.0) -> Dict[str, Any]:
        """The persisted values of a stateful function instance, read while the job runs
        (``JobClient.statefun_state``)."""
        return self.client.statefun_state(typename, id, timeout)

    def function_stats(self) -> Dict[str, Dict[str, Any]]:
        """Per stateful function type of the job (see :mod:`nbstream.statefun`): its
        counters and invocation latency from ``metrics()``, e.g. ``{"example/person":
        {"messages in": 3, "invocations": 3, ..., "latency p50 ms": 0.03}}``."""
        out: Dict[str, Dict[str, Any]] = {}
        for m in self.metrics().values():
            for name, value in m.items():
                typename, sep, what = name.partition(": ")
                if sep and "/" in typename:
                    out.setdefault(typename, {})[what] = value
        return out

    def user_metrics(self) -> Dict[str, Dict[str, Any]]:
        """The metrics user functions registered (``runtime_context.get_metrics_group()``),
        per step: ``{"2:Map": {"my_counter": 12, ...}}``."""
        return {step: dict(m["user_metrics"]) for step, m in self.metrics().items()
                if m.get("user_metrics")}

    def python_steps(self) -> List[str]:
        """Where each step calling the Table API's Python functions runs, one line each:
        ``PythonCalc(...): thread (the job's mode)`` (from ``job.placement``; auto mode
        fills it in as it decides)."""
        lines = []
        for label, where in dict(getattr(self.client, "placement", {}) or {}).items():
            steps = label.split(": ", 1)[-1].split(" -> ")
            lines.extend(f"{s}: {where}" for s in steps if s.startswith("Python"))
        return lines

    def fault_tolerance(self) -> Dict[str, Any]:
        """What the views show of checkpoints and restarts, JSON-ready: ``checkpointing``,
        ``restarts``, ``last_failure``, ``completed`` checkpoints, the last one's ``id``,
        ``size`` (bytes) and ``duration_s``, and ``resumed_from`` (the savepoint's name).
        Empty for a job that neither checkpoints nor started from a savepoint and never
        restarted."""
        info = getattr(self.client, "checkpoint_info", dict)()
        restarts = int(info.get("restarts") or 0)
        restored = info.get("restored_from")
        resumed = self.resumed_from or (Path(restored).name if restored else None)
        checkpointing = self.checkpointing
        if not checkpointing and not restarts and resumed is None:
            return {}
        duration = info.get("duration_s")
        return {"checkpointing": checkpointing, "restarts": restarts,
                "last_failure": info.get("last_failure"),
                "completed": int(info.get("completed") or 0), "id": info.get("id"),
                "size": info.get("size"),
                "duration_s": round(duration, 4) if isinstance(duration, (int, float)) else None,
                "resumed_from": resumed}

    def summary(self) -> str:
        """One line: name, mode, status, records, rate, watermark, elapsed (for a table's
        changelog, the changes of each kind: ``changes +I 3 -U 40 +U 40 -D 0``; and, for a
        job that checkpoints, restarts or resumed, :meth:`fault_summary`)."""
        s = self.stats()
        line = (f"nbstream job '{self.name}' [{self.mode}] {self.status_text}: "
                f"{s['records_in']:,} in, {s['records_out']:,} out, {s['rate']:,.0f} records/s, "
                f"watermark {format_watermark(s['watermark'])}, {s['elapsed_s']:.1f} s")
        if s.get("changelog"):
            line += ", changes " + " ".join(f"{k} {n:,}" for k, n in s["changelog"].items())
        if s["dropped"]:
            line += f" ({s['dropped']:,} older rows dropped)"
        fault = self.fault_summary()
        if fault:
            line += f"; {fault}"
        return line

    def fault_summary(self) -> str:
        """Checkpoints, restarts and the savepoint resumed from, in a few words."""
        return fault_text(self.fault_tolerance())

    def report(self, max_rows: int = 20) -> str:
        """The summary, the error if the job failed, and the newest rows as a text table."""
        parts = [self.summary()]
        if self.error is not None:
            info = error_info(self.error)
            parts.append(info["traceback"].rstrip() if info["traceback"] else info["summary"])
        fault = self.fault_tolerance()
        if fault.get("restarts") and fault.get("last_failure"):
            parts.append(f"last failure (restarted from a checkpoint): {fault['last_failure']}")
        parts.extend(self.python_steps())
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


def function_lines(stats: Dict[str, Dict[str, Any]]) -> List[str]:
    """One line per function type: ``example/person: 12 in, 12 calls, 3 egress, p50 0.04 ms,
    p99 0.2 ms`` (what the live view shows under its header)."""
    lines = []
    for typename, m in sorted(stats.items()):
        parts = [f"{m.get('messages in', 0):,} in", f"{m.get('invocations', 0):,} calls"]
        for what, label in (("messages out", "out"), ("egress", "egress"), ("delayed", "delayed")):
            if m.get(what):
                parts.append(f"{m[what]:,} {label}")
        for q in ("p50", "p99"):
            if f"latency {q} ms" in m:
                parts.append(f"{q} {m[f'latency {q} ms']:g} ms")
        lines.append(f"{typename}: {', '.join(parts)}")
    return lines


def metric_lines(metrics: Dict[str, Dict[str, Any]]) -> List[str]:
    """One line per step with user metrics: ``Map: hits 12, sizes n=4 mean 2.5, rate 0.2/s``."""
    lines = []
    for step, values in sorted(metrics.items()):
        parts = []
        for name, value in sorted(values.items()):
            if name.endswith(" rate"):
                parts.append(f"{name} {value:.3g}/s")
            elif isinstance(value, dict):  # a distribution
                mean = value.get("mean")
                parts.append(f"{name} n={value.get('count', 0):,}"
                             + (f" mean {mean:.4g}" if mean is not None else ""))
            else:
                parts.append(f"{name} {value:,}" if isinstance(value, int) else f"{name} {value}")
        lines.append(f"{step.split(':', 1)[-1]}: {', '.join(parts)}")
    return lines


def fault_text(info: Dict[str, Any]) -> str:
    """``checkpoint 7 (3.2 KiB, 12 ms), 1 restart, resumed from s1`` (empty if ``info`` is)."""
    if not info:
        return ""
    parts = []
    if info.get("checkpointing"):
        if info.get("id") is not None:
            took = info.get("duration_s")
            took_text = f", {took * 1000:,.0f} ms" if isinstance(took, (int, float)) else ""
            parts.append(f"checkpoint {info['id']} ({format_bytes(info.get('size') or 0)}"
                         f"{took_text})")
        else:
            parts.append("no checkpoint yet")
    restarts = info.get("restarts") or 0
    if restarts:
        parts.append(f"{restarts} restart{'s' if restarts != 1 else ''}")
    if info.get("resumed_from"):
        parts.append(f"resumed from {info['resumed_from']}")
    return ", ".join(parts)


def format_bytes(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} B"


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
    """What a view shows of a failure: ``summary`` (the user's exception, once), ``where``
    (step, function and record in one line, for a user function's error), ``step``,
    ``function``, ``record`` and the user's ``traceback`` (frames inside nbstream left
    out)."""
    info: Dict[str, Any] = {"summary": f"{type(error).__name__}: {error}", "where": "",
                            "step": None, "function": None, "record": None}
    cause = error
    if isinstance(error, UserFunctionError):
        cause = error.__cause__ or error.cause or error
        record = short_repr(error.record) if " on record " in str(error) else None
        info.update(step=error.step, function=error.function, record=record,
                    summary=f"{type(cause).__name__}: {cause}")
        where = [f"step '{error.step}'"]
        if error.function:
            where.append(f"function {error.function}")
        if record is not None:
            where.append(f"record {record}")
        info["where"] = "in " + ", ".join(where)
    elif error.__cause__ is not None:
        cause = error.__cause__
    frames = [f for f in traceback.extract_tb(cause.__traceback__)
              if not str(Path(f.filename).resolve()).startswith(_PACKAGE_DIR)]
    if info["function"]:  # "parse (ipykernel_1/123.py:2)" -> "parse (Cell In[5], line 2)"
        info["function"] = _cell_place(info["function"], {f.filename for f in frames})
        info["where"] = info["where"] and _cell_place(info["where"], {f.filename for f in frames})
    lines = traceback.format_exception_only(type(cause), cause)
    text = "".join(lines)
    if frames:
        listed = "".join(traceback.format_list(frames))
        for name in {f.filename for f in frames}:
            cell = _cell_name(name)
            if cell is not None:  # a notebook cell, named as IPython and the editor do
                listed = listed.replace(f'File "{name}", line', f"{cell}, line")
        text = "Traceback (most recent call last):\n" + listed + text
    info["traceback"] = text
    return info


def _cell_place(text: str, filenames: Set[str]) -> str:
    """``(dir/file.py:2)`` in ``text`` as ``(Cell In[5], line 2)`` where that file is a cell."""
    def name(match: "re.Match[str]") -> str:
        for filename in filenames:
            if filename.endswith(match.group(1)):
                cell = _cell_name(filename)
                if cell is not None:
                    return f"({cell}, line {match.group(2)})"
        return match.group(0)
    return re.sub(r"\(([^()]+\.py):(\d+)\)", name, text)


def _cell_name(filename: str) -> Optional[str]:
    """``Cell In[5]`` for the file IPython compiled cell 5 as, if IPython runs here."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    name_of = getattr(getattr(shell, "compile", None), "format_code_name", None)
    try:
        named = name_of(filename) if name_of is not None else None
    except Exception:
        return None
    return f"{named[0]} {named[1]}" if named else None


def start(env: Any, streams: Sequence[Any], name: Optional[str] = None,
          rows: int = 1000, labels: Optional[Sequence[str]] = None,
          savepoint_path: Optional[str] = None, resumed_from: Optional[str] = None,
          allow_non_restored_state: bool = False, trust_savepoint: bool = False,
          results_for: Optional[Sequence[Optional[LiveResults]]] = None) -> LiveJob:
    """Attach live results to ``streams``, submit the job of ``env`` and return its
    :class:`LiveJob`. Sinks added to ``env`` before (``print()`` ...) run in the same job.
    ``savepoint_path``: start from that savepoint (``resumed_from``: the name to show;
    ``allow_non_restored_state``: drop its state of steps the job does not have;
    ``trust_savepoint``: restore it even if it is not signed by this user's key).
    ``results_for``: per stream, the :class:`LiveResults` to fill (None: one made for it,
    which upserts window rows and keyed rolling values); a changelog stream (a table's,
    ``%%sql``'s) passes ``LiveResults(rows, key_fn=upsert_key, mode="changelog")``."""
    results: List[LiveResults] = []
    for index, stream in enumerate(streams):
        given = results_for[index] if results_for is not None else None
        live = given if given is not None else LiveResults(
            rows, key_fn=keyed_rolling_key(stream), names=tuple_names(stream))
        stream.add_sink(LiveSink(live)).name("Live view")
        results.append(live)
    graph = env._graph
    ancestors = graph.ancestors(graph.sinks) if graph.sinks else {}
    sources = [nid for nid, node in ancestors.items() if node.is_source]
    totals = {nid: _size_hint(ancestors[nid]) for nid in sources}
    sinks = list(graph.sinks)
    client = env.execute_async(name, savepoint_path=savepoint_path,
                               allow_non_restored_state=allow_non_restored_state,
                               trust_savepoint=trust_savepoint)
    names = list(labels) if labels is not None else [s.get_name() for s in streams]
    return LiveJob(client, results, names, sources, sinks, resumed_from=resumed_from,
                   totals=totals)


def _size_hint(node: Any) -> Optional[int]:
    hint = getattr(node.params.get("source"), "size_hint", None)
    try:
        return hint() if hint is not None else None
    except Exception:  # a source that cannot tell: no progress shown
        return None


async def wait_async(job: LiveJob) -> None:
    """Wait for ``job`` in the running event loop without blocking it (its outcome is
    not raised: read it from ``job.status`` and ``job.error``)."""
    try:
        await job.client._result_async()
    except Exception:
        pass
