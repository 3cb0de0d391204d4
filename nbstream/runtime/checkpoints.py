"""Checkpoints: Flink's asynchronous barrier snapshots on the embedded runtime.

The :class:`CheckpointCoordinator` of a job asks every running source task for a
checkpoint (a ``("barrier", id)`` in the task's mailbox). A source task snapshots its
chain between two batches and sends a :class:`~nbstream.runtime.records.Barrier` down
every channel, in order with its records. A task with inputs snapshots once the barrier
has come in on all of them (exactly-once: a channel that delivered it is held back until
then, see :class:`AligningInbox`), then sends it on. Each task acknowledges with its
operators' states, serialized on the task's own thread; a writer thread stores the
checkpoint (:mod:`nbstream.runtime.checkpoint_storage`) and, once it is on disk,
every task is told (``("complete", id)``) so sinks can commit what they held back.
A checkpoint that could not be stored (a full disk) is abandoned at once (its partial
folder removed) and, while failures are tolerated, stored again from the same states at
the next trigger time instead of a new one, so the sinks that hold results for it wait
for it, bounded (see ``max_held_records``), rather than taking more; one that expires is
aborted (``("abort", id)``).

A failed job with restarts left is restarted from the last completed checkpoint
(:class:`RestartPolicy` decides when, as Flink's restart strategies).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

from ..errors import NbstreamError
from . import state_format
from .checkpoint_storage import CheckpointStorage, CompletedCheckpoint
from .keygroups import subtask_for_key
from .records import END_OF_INPUT, Barrier

__all__ = ["CheckpointCoordinator", "CheckpointError", "RestoreError", "AligningInbox", "RestartPolicy",
           "TaskKey", "dump_state", "load_state", "LOOP_CLOSED", "FEEDBACK_LOG", "CHECKPOINT_ID", "SHARED_DIR", "operator_uid", "FINISHED", "RemoteTask", "WorkerCoordinator"]

TaskKey = Tuple[int, int]  # (chain id, subtask)
FINISHED = "finished"      # restored_state's mark of a task that had ended
LOOP_CLOSED = -2           # AligningInbox's channel for a barrier back on a feedback edge
FEEDBACK_LOG = "feedback"  # the key of a loop head's logged feedback in a task's states
CHECKPOINT_ID = "checkpoint id"  # restored_state's key: the id of the restored checkpoint
SHARED_DIR = "shared dir"  # restored_state's key: the restored checkpoint's shared folder
_SWEEP = "sweep"           # the writer's cue to remove shared files no checkpoint needs


class CheckpointError(NbstreamError):
    """A checkpoint could not be taken, stored or restored."""


class RestoreError(CheckpointError):
    """A task could not take its state back: restarting would fail the same way."""

    no_restart = True


def operator_uid(node: Any, plan: Any) -> str:
    """How checkpoints and savepoints name a step: its ``uid(...)``, or (without one) its
    name and its rank among the steps of that name in plan order, e.g. ``Map#1``."""
    if node.uid:
        return str(node.uid)
    same = [n for n in sorted(plan.nodes) if plan.nodes[n].name == node.name]
    return f"{node.name}#{same.index(node.id) + 1}"


def dump_state(state: Any, step: str) -> bytes:
    """Serialize one operator's snapshot (on the task thread: this is the copy), plain
    values as data and other objects pickled (:mod:`nbstream.runtime.state_format`)."""
    try:
        return state_format.dumps(state)
    except Exception as exc:
        raise CheckpointError(
            f"checkpoint failed: the state of step '{step}' cannot be serialized "
            f"({type(exc).__name__}: {exc}); keep picklable values in state") from exc


def load_state(blob: bytes) -> Any:
    """The inverse of :func:`dump_state` (of a checkpoint that was checked, or trusted,
    when it was read: see :func:`~nbstream.runtime.checkpoint_storage.read_checkpoint`)."""
    return state_format.loads(blob)


class AligningInbox:
    """A task's inbox as the task loop reads it when checkpoints are on.

    Barriers do not reach the loop one by one: once a checkpoint's barrier has come in
    on every open channel, ``get`` returns ``(-1, Barrier(id))`` once. With ``aligned``
    (exactly-once), messages from a channel that already delivered the barrier wait in
    a buffer until then, and keep their channel's credit meanwhile: as in Flink, such a
    channel is blocked (its sender stops after ``channel_capacity`` messages), so a fast
    input cannot fill memory while a slow one brings its barrier. Without ``aligned``
    (at-least-once) messages flow on.
    """

    def __init__(self, inbox: Any, channels: int, feedback: List[bool], aligned: bool) -> None:
        self._inbox = inbox
        self._aligned = aligned
        self._feedback = feedback
        self._open = {ch for ch in range(channels) if not feedback[ch]}
        self._seen: Set[int] = set()
        self._current: Optional[int] = None
        self._stop = False  # the current checkpoint is a stop's savepoint
        self._held: Deque[Tuple[int, Any]] = deque()
        self._replay: Deque[Tuple[int, Any]] = deque()
        self.alignment_s = 0.0
        self._align_start = 0.0

    def get(self, timeout: Optional[float] = None) -> Tuple[int, Any]:
        inbox = self._inbox
        while True:
            if self._replay:  # held messages (their credit still out) come first
                ch, msg = self._replay.popleft()
            else:
                ch, msg = inbox.take() if timeout is None else inbox.take(timeout=timeout)
            if self._current is not None and ch in self._seen and self._aligned:
                self._held.append((ch, msg))  # its credit stays out: the channel blocks
                continue
            inbox.release(ch)
            if ch < 0:
                return ch, msg
            if self._feedback[ch]:
                if type(msg) is Barrier:  # the barrier came back around the loop on ``ch``
                    return LOOP_CLOSED, (ch, msg.checkpoint_id)
                return ch, msg
            if type(msg) is Barrier:
                done = self._barrier(ch, msg)
                if done is not None:
                    return -1, done
                continue
            if msg is END_OF_INPUT:
                self._open.discard(ch)
                if self._current is not None and self._seen >= self._open:
                    self._replay.appendleft((-1, self._complete()))
            return ch, msg

    def _barrier(self, ch: int, barrier: Barrier) -> Optional[Barrier]:
        checkpoint_id = barrier.checkpoint_id
        if self._current is None:
            self._current = checkpoint_id
            self._align_start = time.monotonic()
        elif checkpoint_id != self._current:  # a newer one while aligning: the old was aborted
            self._current = checkpoint_id
            self._seen.clear()
        self._stop = barrier.stop
        self._seen.add(ch)
        if self._seen >= self._open:
            return self._complete()
        return None

    def _complete(self) -> Barrier:
        barrier = Barrier(self._current, self._stop)  # type: ignore[arg-type]
        self.alignment_s = time.monotonic() - self._align_start
        self._current = None
        self._seen.clear()
        self._replay.extend(self._held)
        self._held.clear()
        return barrier


class RestartPolicy:
    """Flink's restart strategies: whether to restart after a failure, and after how long."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.restarts = 0
        self._failures: Deque[float] = deque()
        self._delay_ms = float(settings.delay_ms)
        self._last_failure = 0.0

    def next_delay_s(self) -> Optional[float]:
        """Called on a failure: the delay before restarting, or None to give up."""
        s, now = self.settings, time.monotonic()
        if s.kind == "fixed-delay":
            if self.restarts >= s.attempts:
                return None
            delay = s.delay_ms
        elif s.kind == "failure-rate":
            self._failures.append(now)
            while self._failures and now - self._failures[0] > s.failure_interval_ms / 1000:
                self._failures.popleft()
            if len(self._failures) > s.attempts:
                return None
            delay = s.delay_ms
        elif s.kind == "exponential-delay":
            if self._last_failure and now - self._last_failure > s.reset_after_ms / 1000:
                self._delay_ms = float(s.delay_ms)
            delay = self._delay_ms
            self._delay_ms = min(self._delay_ms * s.multiplier, float(s.max_delay_ms))
        else:
            return None
        self._last_failure = now
        self.restarts += 1
        return delay / 1000.0


class _Savepoint:
    def __init__(self, path: str, stop: bool = False) -> None:
        self.path, self.stop = path, stop
        self.done = threading.Event()
        self.error: Optional[BaseException] = None
        self.result: Optional[CompletedCheckpoint] = None


class _Pending:
    def __init__(self, checkpoint_id: int, expected: Set[TaskKey], attempt: int) -> None:
        self.id = checkpoint_id
        self.attempt = attempt
        self.expected = set(expected)
        self.states: Dict[TaskKey, Dict[str, Any]] = {}
        self.started = time.monotonic()
        self.alignment_s = 0.0
        self.queued = False  # a failed write queued to be written again


class CheckpointCoordinator:
    """Triggers, collects and completes the checkpoints of one job (across restarts).

    Tasks call :meth:`attach` when they are made, :meth:`acknowledge` with their chain's
    states, :meth:`finished` when their input has ended; the executor calls
    :meth:`begin_attempt` before it starts the tasks of an attempt.
    """

    def __init__(self, plan: Any, settings: Any, storage: CheckpointStorage,
                 restore: Optional[CompletedCheckpoint] = None,
                 allow_non_restored: bool = False) -> None:
        self.plan = plan
        self.settings = settings
        self.storage = storage
        self.latest: Optional[CompletedCheckpoint] = restore
        # what the tasks of the current attempt restore: fixed when the attempt begins, so
        # a checkpoint the writer completes while they are being made cannot mix in
        self._restoring: Optional[CompletedCheckpoint] = restore
        self.resumed_from = restore.path if restore is not None else None
        self.allow_non_restored = allow_non_restored
        self.uids = {nid: operator_uid(node, plan) for nid, node in plan.nodes.items()}
        self._task_count = sum(chain.parallelism for chain in plan.chains)
        self._lock = threading.Lock()
        self._tasks: Dict[TaskKey, Any] = {}
        self._finished: Dict[TaskKey, Dict[str, Any]] = {}
        self._pending: Optional[_Pending] = None
        self._unwritten: Optional[_Pending] = None  # acknowledged by all, not yet stored
        self._next_id = (restore.checkpoint_id + 1) if restore is not None else 1
        self._last_end = 0.0
        self._writes: "queue.Queue[Any]" = queue.Queue()
        self._storing = threading.Lock()  # held while a checkpoint is written
        self._stopped = threading.Event()
        self._attempt = 0
        self.failures = 0
        self.completed = 0
        self.last: Dict[str, Any] = {}
        self.job: Any = None
        self._attempt_restarts = 0  # the job's restarts when the current attempt began
        self._threads: List[threading.Thread] = []
        self._savepoints: Dict[int, "_Savepoint"] = {}
        if restore is not None:
            self._check_restorable(restore)

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self, job: Any) -> None:
        self.job = job
        for target, name in ((self._trigger_loop, "checkpoint timer"),
                             (self._write_loop, "checkpoint writer")):
            t = threading.Thread(target=target, daemon=True,
                                 name=f"nbstream[{job.job_name}] {name}")
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        """Stop triggering; let a write under way end (its folder is whole or removed)."""
        self._stopped.set()
        self._writes.put(None)
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(30)
        self.storage.remove_partial()

    @property
    def shared_dir(self) -> str:
        """Where tasks write the files of incremental state (see ``state_backends``)."""
        return self.storage.shared_dir

    def begin_attempt(self) -> None:
        """A new set of tasks is about to start (the first run, or a restart). A write
        under way ends first (the new tasks restore it); one of the attempt before that
        had not begun is dropped."""
        with self._storing, self._lock:
            self._attempt += 1
            self._attempt_restarts = getattr(self.job, "restarts", 0)
            self._restoring = self.latest
            self._tasks.clear()
            self._finished.clear()
            self._pending = self._unwritten = None
            if self.latest is not None:  # its shared files stay while the tasks restore
                self.storage.pin(_shared_files_of(self.latest))
        # after the checkpoints the last attempt completed: files it wrote for none go
        self._writes.put(_SWEEP)

    # -- tasks ------------------------------------------------------------------------------------
    def attach(self, key: TaskKey, task: Any) -> None:
        with self._lock:
            self._tasks[key] = task

    def restored_state(self, chain_id: int, subtask: int) -> Optional[Dict[int, Any]]:
        """The states to restore for the operators of a task, by node id (each a list of
        snapshots with a key filter), or None to start afresh; FINISHED if it had ended."""
        cp = self._restoring
        if cp is None:
            return None
        chain = self.plan.chain(chain_id)
        out: Dict[Any, Any] = {CHECKPOINT_ID: cp.checkpoint_id, SHARED_DIR: cp.shared_dir}
        finished = []
        for nid in chain.nodes:
            entry = cp.operators.get(self.uids[nid])
            if entry is None:
                continue
            parts = entry["subtasks"]
            if entry["parallelism"] == chain.parallelism:
                snaps = [parts[subtask]]
                owns = None
            else:  # rescaled: every old instance's state in instance order, keyed state
                snaps = [parts[sub] for sub in sorted(parts)]  # filtered by key group
                owns = _key_filter(chain.max_parallelism, chain.parallelism, subtask)
            finished.append(all(s["finished"] for s in snaps))
            out[nid] = ([s["state"] for s in snaps], owns,  # bytes: the task decodes
                        entry["parallelism"] == chain.parallelism)
        if finished and all(finished) and len(finished) == len(chain.nodes):
            out[FINISHED] = True
        log = cp.operators.get(f"{self.uids[chain.head]}/{FEEDBACK_LOG}")
        if log is not None:  # records that were going around the loop
            out[FEEDBACK_LOG] = [p["state"] for p in log["subtasks"].values()
                                 if not p["finished"]] if log["parallelism"] != chain.parallelism \
                else [log["subtasks"][subtask]["state"]]
        return out

    def acknowledge(self, key: TaskKey, checkpoint_id: int, states: Dict[str, Any],
                    alignment_s: float = 0.0) -> None:
        complete = None
        with self._lock:
            p = self._pending
            if p is None or p.id != checkpoint_id or key not in p.expected:
                return  # aborted, or from an attempt that is over
            p.states[key] = states
            p.alignment_s = max(p.alignment_s, alignment_s)
            if len(p.states) == len(p.expected):
                complete, self._pending = p, None
        if complete is not None:
            self._writes.put(complete)

    def finished(self, key: TaskKey, states: Dict[str, Any]) -> None:
        """A task's input has ended (``states``: its chain's last states); it stays to
        hear of completed checkpoints until every task has ended."""
        complete = None
        with self._lock:
            self._finished[key] = states
            p = self._pending
            if p is not None and key in p.expected and key not in p.states:
                p.states[key] = states
                if len(p.states) == len(p.expected):
                    complete, self._pending = p, None
            everything = bool(self._tasks) and set(self._finished) >= set(self._tasks)
        if complete is not None:
            self._writes.put(complete)
        if everything:
            self._post_all(("final", None))

    # -- triggering -------------------------------------------------------------------------------
    def _trigger_loop(self) -> None:
        s = self.settings
        if s is None:  # restored without checkpointing: savepoints only
            return
        interval = s.interval_ms / 1000.0
        next_at = time.monotonic() + interval
        while not self._stopped.wait(max(0.0, next_at - time.monotonic())):
            now = time.monotonic()
            pause_until = self._last_end + s.min_pause_ms / 1000.0
            if now < pause_until:
                next_at = pause_until
                continue
            self._expire(now)
            if not self._write_again():
                self.trigger()
            next_at = max(now + interval, time.monotonic())

    def _write_again(self) -> bool:
        """Queue the checkpoint whose write failed for another write; False if none."""
        with self._lock:
            p = self._unwritten
            if p is None:
                return False
            if p.queued:
                return True
            p.queued = True
        self._writes.put(p)
        return True

    def trigger(self, savepoint: Optional["_Savepoint"] = None) -> Optional[int]:
        """Start a checkpoint now (None if one is running, one is to be written again,
        or no task runs); with ``savepoint``, the checkpoint is written to its folder
        and kept."""
        with self._lock:
            # not before every task of the attempt is there: one that attaches later would
            # not be expected, and its state would be missing from the checkpoint
            if self._pending is not None or self._unwritten is not None or not self._tasks \
                    or len(self._tasks) < self._task_count or self.job is None \
                    or self.job.cancelled or self.job.done:
                return None
            cid = self._next_id
            self._next_id += 1
            p = self._pending = _Pending(cid, set(self._tasks), self._attempt)
            if savepoint is not None:
                self._savepoints[cid] = savepoint
            # tasks that have ended count with their last state; a task whose inputs have
            # all ended acknowledges when it ends too (their end of input aligns it)
            p.states.update(self._finished)
            sources = [t for k, t in self._tasks.items()
                       if k not in self._finished and t.is_source]
            complete = None
            if len(p.states) == len(p.expected):
                complete, self._pending = p, None
        if complete is not None:
            self._writes.put(complete)
            return cid
        kind = "stop-barrier" if savepoint is not None and savepoint.stop else "barrier"
        for task in sources:
            task.post((kind, cid))
        return cid

    def savepoint(self, path: str, timeout_s: float = 60.0, stop: bool = False) -> CompletedCheckpoint:
        """Take a savepoint into ``path`` as soon as no checkpoint is running; wait for it.
        With ``stop``, every task holds still once it took its snapshot for it (sources
        emit nothing more, no timer fires); if the savepoint fails, they go on."""
        sp = _Savepoint(path, stop)
        deadline = time.monotonic() + timeout_s
        while True:
            cid = self.trigger(sp)
            if cid is not None:
                break
            if self.job is None or self.job.cancelled or self.job.done:
                raise CheckpointError("no savepoint: the job is not running")
            if time.monotonic() > deadline:
                raise CheckpointError(f"no savepoint within {timeout_s} s: a checkpoint "
                                      "before it did not end")
            time.sleep(0.005)
        try:
            if not sp.done.wait(max(0.0, deadline - time.monotonic())):
                raise CheckpointError(f"the savepoint to {path} did not complete within "
                                      f"{timeout_s} s")
            if sp.error is not None:
                raise CheckpointError(f"the savepoint to {path} failed: {sp.error}")
        except CheckpointError:
            if stop:  # abandon it: the tasks held still for it go on
                with self._lock:
                    if self._pending is not None and self._pending.id == cid:
                        self._pending = None
                    self._savepoints.pop(cid, None)
                self._post_all(("resume", cid))
            raise
        assert sp.result is not None
        return sp.result

    def _expire(self, now: float) -> None:
        with self._lock:
            p = self._pending
            if p is None or now - p.started < self.settings.timeout_ms / 1000.0:
                return
            self._pending = None
        self._post_all(("abort", p.id))  # sinks holding results for it stop waiting
        self._failed(f"checkpoint {p.id} expired after {self.settings.timeout_ms} ms "
                     f"before every task acknowledged it")

    def _failed(self, why: str) -> None:
        self.failures += 1
        if self.failures > 1:
            why += f" ({self.failures} failures in a row)"
        self.last["failure"] = why
        if self.job is not None:
            if self.failures <= 10 or self.failures % 100 == 0:  # a long outage: a few lines
                self.job.warnings.append(why)
            if self.failures > self.settings.tolerable_failures:
                self.failures = 0
                # dropped if the attempt this checkpoint belonged to is over (the job
                # restarts already): failing the next one would cost a restart for nothing
                self.job.fail(CheckpointError(
                    f"{why}; more checkpoint failures than tolerated "
                    f"({self.settings.tolerable_failures})"), attempt=self._attempt_restarts)

    # -- completing -------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            p = self._writes.get()
            if p is None:
                return
            if p is _SWEEP:
                self.storage.sweep_shared()
                continue
            with self._storing:  # an attempt that begins waits for a write under way
                self._store(p, self._savepoints.pop(p.id, None))

    def _store(self, p: _Pending, sp: Optional["_Savepoint"]) -> None:
        latest = self.latest
        if p.attempt != self._attempt or (latest is not None and p.id <= latest.checkpoint_id):
            # its tasks are gone, and the attempt after them may have removed what it lists
            # (a FileSink's hidden files of failed attempts): it must never be restored.
            # Or a newer one is stored already (it holds what this one's sinks held)
            if sp is not None:
                sp.error = CheckpointError("the job restarted before the savepoint was stored")
                sp.done.set()
            return
        try:
            cp = self.storage.write(p.id, self._by_operator(p), self.plan.job_name,
                                    folder=sp.path if sp is not None else None)
        except Exception as exc:  # noqa: BLE001 - a failed write is a failed checkpoint
            self.storage.remove_partial_of(p.id, sp.path if sp is not None else None)
            self._last_end = time.monotonic()
            if sp is not None:
                sp.error = exc
                sp.done.set()
                return
            with self._lock:  # the newest failed one is written again at the next trigger time
                p.queued = False
                if self._unwritten is None or self._unwritten.id <= p.id:
                    self._unwritten = p
            self._failed(f"checkpoint {p.id} could not be written: {exc}")
            return
        self._last_end = time.monotonic()
        with self._lock:
            if self._unwritten is not None and self._unwritten.id <= p.id:
                self._unwritten = None
            self.latest = cp
            self.completed += 1
            self.failures = 0
            self.last.update(id=p.id, size=cp.size, path=cp.path,
                             duration_s=self._last_end - p.started,
                             alignment_s=p.alignment_s)
        if sp is None:  # after `latest` moved on: a restart restores what is kept
            self.storage.prune(unpin=True)  # this attempt's tasks have restored
        self._post_all(("complete", p.id))
        if sp is not None:
            sp.result = cp
            sp.done.set()

    def _by_operator(self, p: _Pending) -> Dict[str, Dict[str, Any]]:
        ops: Dict[str, Dict[str, Any]] = {}
        for (chain_id, sub), states in p.states.items():
            chain = self.plan.chain(chain_id)
            if FEEDBACK_LOG in states:
                uid = f"{self.uids[chain.head]}/{FEEDBACK_LOG}"
                ops.setdefault(uid, {"parallelism": chain.parallelism,
                                     "max_parallelism": chain.max_parallelism,
                                     "name": "feedback in flight", "kind": FEEDBACK_LOG,
                                     "subtasks": {}})
                ops[uid]["subtasks"][sub] = states[FEEDBACK_LOG]
            for nid in chain.nodes:
                uid = self.uids[nid]
                node = self.plan.nodes[nid]
                entry = ops.setdefault(uid, {"parallelism": chain.parallelism,
                                             "max_parallelism": chain.max_parallelism,
                                             "name": node.name, "kind": node.kind,
                                             "subtasks": {}})
                entry["subtasks"][sub] = states[uid]
        return ops

    def stop_tasks(self) -> None:
        """Stop every task once it has heard of the completed checkpoints (stop with a
        savepoint: sinks commit what the savepoint covers, then stop)."""
        self._post_all(("stop", None))

    def _post_all(self, message: Tuple[str, Any]) -> None:
        with self._lock:
            tasks = list(self._tasks.values())
        for task in tasks:
            task.post(message)

    def _check_restorable(self, cp: CompletedCheckpoint) -> None:
        for nid, node in self.plan.nodes.items():
            entry = cp.operators.get(self.uids[nid])
            if entry is not None:
                _check_kind(cp.path, node, self.uids[nid], entry)
            rescalable = getattr(node.params.get("source"), "rescalable", False)  # splits
            if node.is_source and entry is not None and not rescalable \
                    and entry["parallelism"] != self.plan.parallelism[nid]:
                raise CheckpointError(
                    f"{cp.path}: source '{node.name}' ran at parallelism {entry['parallelism']}, "
                    f"this job runs it at {self.plan.parallelism[nid]}: a source's position "
                    "belongs to its instances, so keep its parallelism (set_parallelism on it)")
        known = set(self.uids.values())
        known |= {f"{uid}/{FEEDBACK_LOG}" for uid in self.uids.values()}
        unknown = sorted(uid for uid in cp.operators if uid not in known)
        if unknown and not self.allow_non_restored:
            raise CheckpointError(
                f"{cp.path}: holds state for steps this job does not have: {unknown} "
                f"(steps of this job: {sorted(known)}); give the steps the same uid(...) as "
                "before, or allow_non_restored_state=True to drop that state")

    def uid_warnings(self) -> List[str]:
        """Stateful steps without ``uid(...)``: their state is found again only if the
        pipeline keeps their names and order (see :func:`operator_uid`)."""
        stateful = ("reduce", "window", "process", "co_process", "timestamps_watermarks")
        return [f"step '{node.name}' has no uid(...): a savepoint names its state "
                f"'{self.uids[nid]}'; give it a uid so that edits of the pipeline keep it"
                for nid, node in sorted(self.plan.nodes.items())
                if node.kind in stateful and not node.uid]

    def report(self, key: TaskKey, report: Tuple[Any, ...]) -> None:
        """An acknowledgement that came over the wire (see :class:`WorkerCoordinator`)."""
        kind, checkpoint_id, states, alignment_s = report
        if kind == "ack":
            self.acknowledge(key, checkpoint_id, states, alignment_s)
        else:
            self.finished(key, states)

    def metrics(self) -> Dict[str, Any]:
        sources = {node.name: getattr(node.params.get("source"), "after_restore", "")
                   for node in self.plan.nodes.values() if node.is_source}
        return {"completed": self.completed, "restored_from": self.resumed_from,
                "sources_after_restore": sources, **self.last}


def _shared_files_of(cp: CompletedCheckpoint) -> Set[str]:
    """The shared files the instances of checkpoint ``cp`` need."""
    return {name for entry in cp.operators.values() for part in entry["subtasks"].values()
            for name in part.get("shared", ())}


#: steps that keep no state but their watermark: one may take another's place under a uid
_INTERCHANGEABLE = frozenset({"map", "flat_map", "filter"})


def _check_kind(path: str, node: Any, uid: str, entry: Dict[str, Any]) -> None:
    """A step restores only state of its own kind (a window's state under a reduce's uid
    would fail, or be lost, on restore): else an error naming both."""
    was = entry.get("kind")  # None: written before kinds were recorded
    if was is None or was == node.kind or {was, node.kind} <= _INTERCHANGEABLE:
        return
    raise RestoreError(
        f"{path}: step '{node.name}' is a {node.kind} step, but the state stored under its uid "
        f"'{uid}' is a {was} step's ('{entry.get('name', uid)}'): a step takes back only "
        f"state of its own kind. Give the {node.kind} step a uid(...) of its own (and "
        f"allow_non_restored_state=True to drop the {was} state), or restore the {was} step")


class _KeyFilter:
    """Which keys a parallel instance owns after a rescale (picklable, for workers)."""

    __slots__ = ("max_parallelism", "parallelism", "subtask")

    def __init__(self, max_parallelism: int, parallelism: int, subtask: int) -> None:
        self.max_parallelism, self.parallelism, self.subtask = max_parallelism, parallelism, subtask

    def __call__(self, key: Any) -> bool:
        return subtask_for_key(key, self.max_parallelism, self.parallelism) == self.subtask

    def __reduce__(self):
        return (_KeyFilter, (self.max_parallelism, self.parallelism, self.subtask))


def _key_filter(max_parallelism: int, parallelism: int, subtask: int) -> Callable[[Any], bool]:
    return _KeyFilter(max_parallelism, parallelism, subtask)


class RemoteTask:
    """The coordinator's handle on a task in a worker process: messages for its mailbox
    travel there (``send(message)`` is the executor's)."""

    __slots__ = ("is_source", "send")

    def __init__(self, is_source: bool, send: Callable[[Tuple[str, Any]], None]) -> None:
        self.is_source = is_source
        self.send = send

    def post(self, message: Tuple[str, Any]) -> None:
        self.send(message)


class WorkerCoordinator:
    """A worker's stand-in for the kernel's coordinator: the states to restore came with
    the job; acknowledgements go back over the wire (``send(tid, report)``)."""

    def __init__(self, uids: Dict[int, str], restore: Dict[TaskKey, Any], tid_of: Dict[TaskKey, int],
                 send: Callable[[int, Tuple[Any, ...]], None],
                 shared_dir: Optional[str] = None) -> None:
        self.uids = uids
        self.shared_dir = shared_dir
        self._restore = restore
        self._tid_of = tid_of
        self._send = send

    def attach(self, key: TaskKey, task: Any) -> None:
        pass

    def restored_state(self, chain_id: int, subtask: int) -> Optional[Dict[Any, Any]]:
        return self._restore.get((chain_id, subtask))

    def acknowledge(self, key: TaskKey, checkpoint_id: int, states: Dict[str, Any],
                    alignment_s: float = 0.0) -> None:
        self._send(self._tid_of[key], ("ack", checkpoint_id, states, alignment_s))

    def finished(self, key: TaskKey, states: Dict[str, Any]) -> None:
        self._send(self._tid_of[key], ("finished", None, states, 0.0))
