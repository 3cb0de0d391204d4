"""Giving an operator its checkpointed state back, and refusing state that does not fit it.

A savepoint's state is found again by the step's uid, so an edited pipeline can hand a step
state it cannot use: another kind of step's (the coordinator refuses that up front when the
manifest names the kind, :func:`~nbstream.runtime.checkpoints.CheckpointCoordinator`), or
keyed state whose keys the step will never see again because the ``key_by`` before it now
gives keys of another type (``"k1"`` then, ``1`` now): restored, that state would be
orphaned silently. :func:`restore_operator` decodes and restores one operator's state and
turns both into a :class:`~nbstream.runtime.checkpoints.RestoreError` naming the step and
what differs: a field the operator needs that the state lacks, or, at the first keyed batch
after the restore, keys of none of the types the restored state holds.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable, Dict, List, Optional

from ..errors import short_repr

__all__ = ["restore_operator", "restored_key_types"]

#: keys looked at per structure to learn the restored state's key types
SAMPLE = 1000


def restore_operator(op: Any, blobs: List[bytes], owns: Optional[Callable[[Any], bool]],
                     same_instance: bool, uid: str, shared_dir: Optional[str] = None) -> None:
    """Decode ``blobs`` (the snapshots of step ``op``) and give them to the operator (with
    the entries of incremental RocksDB snapshots from ``shared_dir``); errors are
    :class:`RestoreError` naming the step."""
    from .checkpoints import RestoreError, load_state
    from .state_backends import stored_entries

    step = f"step '{op.name}'" + (f" (uid '{uid}')" if uid != op.name else "")
    try:
        snaps = [load_state(b) for b in blobs]
    except Exception as exc:
        raise RestoreError(f"{step} could not read its state from the checkpoint: "
                           f"{type(exc).__name__}: {exc}") from exc
    try:
        with stored_entries(op, snaps, same_instance, shared_dir):
            op.restore_state(snaps, owns, same_instance)
            old = restored_key_types(op, snaps)  # while stored entries can still be read
    except KeyError as exc:
        missing = exc.args[0] if exc.args else None
        fields = sorted({k for s in snaps if isinstance(s, dict) for k in s})
        if any(isinstance(s, dict) and missing not in s for s in snaps):
            raise RestoreError(
                f"{step} could not take back its state from the checkpoint: the state stored "
                f"under its uid has no {missing!r} (it has {', '.join(map(str, fields))}), so "
                f"another kind of step wrote it. Give this step a uid(...) of its own (and "
                f"allow_non_restored_state=True to drop that state)") from exc
        raise RestoreError(f"{step} could not take back its state from the checkpoint: "
                           f"KeyError: {exc}") from exc
    except RestoreError:
        raise
    except Exception as exc:
        raise RestoreError(f"{step} could not take back its state from the checkpoint: "
                           f"{type(exc).__name__}: {exc}") from exc
    if old:
        _check_first_keys(op, old, step)


def restored_key_types(op: Any, snaps: List[Any]) -> Dict[type, Any]:
    """The types of the keys in restored snapshots ``snaps`` of ``op``, each with an example
    (from a sample: its timers, its keyed fields, else its keyed state's entries)."""
    keys: List[Any] = []
    keyed_fields = getattr(op, "keyed_fields", None) or {}
    for snap in snaps:
        if not isinstance(snap, dict):
            continue
        for timers in snap.get("timers") or ():
            keys.extend(t[1] for t in islice(timers, SAMPLE))
        for name, key_of in keyed_fields.items():
            keys.extend(key_of(k) for k in islice(snap.get(name) or (), SAMPLE))
        if not keyed_fields:  # keyed state of a step without windows: entries by key
            for _kind, data in (snap.get("keyed") or {}).values():
                keys.extend(islice(data, SAMPLE))
    return {type(k): k for k in keys}


def _check_first_keys(op: Any, old: Dict[type, Any], step: str) -> None:
    """Wrap ``op.process_batch`` so that the first batch with keys is checked against the
    restored key types (one check, then a plain call per batch)."""
    from .checkpoints import RestoreError

    process = op.process_batch
    own = "process_batch" in op.__dict__  # a fused run's head's (see runtime.fused)
    pending = [True]

    def first_keys_checked(batch: Any, input_index: int = 0) -> None:
        if pending and batch.keys:
            pending.clear()
            if own:  # checked: the step runs as before (a fused run as one loop again)
                op.process_batch = process
            else:
                del op.process_batch
            new = {type(k): k for k in batch.keys}
            if new.keys().isdisjoint(old):
                raise RestoreError(
                    f"{step} cannot go on from the checkpoint: its state there is keyed by "
                    f"{_types(old)}, but its records now come keyed by {_types(new)}: the "
                    f"key_by(...) before it gives keys of another type, so none of the old "
                    f"state would be found again. Keep the key's type, or give the step a new "
                    f"uid(...) (and allow_non_restored_state=True to drop the old state)")
        process(batch, input_index)

    op.process_batch = first_keys_checked


def _types(examples: Dict[type, Any]) -> str:
    return ", ".join(f"{t.__name__} (e.g. {short_repr(k)})" for t, k in examples.items())
