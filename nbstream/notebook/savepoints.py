"""Named savepoints in a notebook: where they live (a folder that outlives the kernel, see
:func:`savepoints_dir`), ``%stream_stop NAME --savepoint SP`` (:func:`stop_with_savepoint`)
and ``%stream_savepoints`` (:func:`savepoints_table`; ``--clear NAME`` deletes one).
``%%stream --resume SP`` starts a cell's pipeline from one (:func:`savepoint_path`)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List

from IPython.core.error import UsageError

from .jobs import STOP_WAIT_S, NotebookSession
from .live import LiveJob
from .options import STOP, Parser, usage

__all__ = ["savepoints_dir", "list_savepoints", "savepoint_folder", "savepoint_path",
           "stop_with_savepoint", "savepoints_table", "SAVEPOINT_COLUMNS"]

SAVEPOINT_TIMEOUT_S = 60.0
SAVEPOINT_MANIFEST = "_metadata.json"
SAVEPOINT_COLUMNS = ["name", "time", "job", "checkpoint", "bytes"]
_SAVEPOINT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def savepoints_dir() -> Path:
    """Where named savepoints live: ``$NBSTREAM_SAVEPOINT_DIR``, else
    ``./.nbstream/savepoints`` relative to the kernel's working directory (a notebook's
    kernel starts in the notebook's folder). Read at each use."""
    env = os.environ.get("NBSTREAM_SAVEPOINT_DIR")
    return Path(env).expanduser() if env else Path.cwd() / ".nbstream" / "savepoints"


def list_savepoints() -> List[Dict[str, Any]]:
    """The named savepoints, oldest first: name, created (epoch seconds), job, checkpoint
    id, bytes and path. A folder without a readable manifest is left out."""
    root = savepoints_dir()
    found = []
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        manifest = folder / SAVEPOINT_MANIFEST
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        try:
            meta = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        found.append({"name": folder.name, "created": meta.get("created") or manifest.stat().st_mtime,
                      "job": meta.get("job", ""), "checkpoint_id": meta.get("checkpoint_id"),
                      "bytes": size, "path": str(folder)})
    return sorted(found, key=lambda r: (r["created"], r["name"]))


def _known_savepoints() -> str:
    names = [r["name"] for r in list_savepoints()]
    return (f"savepoints in {savepoints_dir()}: {', '.join(names)}" if names
            else f"there is no savepoint in {savepoints_dir()} yet")


def savepoint_folder(parser: Parser, name: str) -> Path:
    """The folder of savepoint ``name`` (which must be a plain file name)."""
    if not _SAVEPOINT_NAME.fullmatch(name) or name in (".", ".."):
        raise usage(parser, f"a savepoint name is letters, digits, '_', '-' and '.', not "
                             f"{name!r}")
    return savepoints_dir() / name


def savepoint_path(parser: Parser, option: str, name: str) -> Path:
    """The folder of an existing savepoint ``name``; a UsageError naming the ones there
    are if there is none of that name."""
    folder = savepoint_folder(parser, name)
    if not (folder / SAVEPOINT_MANIFEST).is_file():
        raise usage(parser, f"{option}: there is no savepoint named {name!r} "
                             f"({_known_savepoints()})")
    return folder


def stop_with_savepoint(session: NotebookSession, job: LiveJob, savepoint: str) -> None:
    """Stop ``job`` with savepoint ``savepoint`` (``%stream_stop NAME --savepoint SP``)."""
    folder = savepoint_folder(STOP, savepoint)
    if folder.exists():
        raise usage(STOP, f"there is a savepoint named {savepoint!r} already: choose "
                          f"another name, or delete it with %stream_savepoints --clear "
                          f"{savepoint}")
    if job.done:
        raise usage(STOP, f"job '{job.name}' is not running ({job.status}): a savepoint "
                          "is taken from a running job")
    if not job.checkpointing:
        raise usage(STOP, f"job '{job.name}' does not checkpoint, so it cannot stop with "
                          "a savepoint: start it with %%stream --checkpoint MS (e.g. "
                          "--checkpoint 1000), then %stream_stop "
                          f"{job.name} --savepoint {savepoint}")
    from ..runtime.checkpoints import CheckpointError
    from ..runtime.signing import private_dir

    private_dir(str(folder.parent))  # 0700: savepoints hold the job's records
    try:
        path = job.client.stop_with_savepoint(str(folder), timeout=SAVEPOINT_TIMEOUT_S)
    except CheckpointError as exc:
        raise UsageError(f"%stream_stop: job '{job.name}': no savepoint taken: {exc}"
                         ) from None
    for pump in session.pumps.get(job.name, []):
        pump.thread.join(STOP_WAIT_S)  # the views show the final rows and status
    print(f"stopped '{job.name}' ({job.status}) with savepoint '{savepoint}' ({path}); "
          f"resume it with %%stream --resume {savepoint}")
    notes = job.client.checkpoints.uid_warnings() if job.client.checkpoints else []
    for note in notes:
        print(f"note: {note}")


def savepoints_table() -> List[Dict[str, Any]]:
    """A row per named savepoint, oldest first: name, time (UTC), job, checkpoint, bytes."""
    import pandas as pd

    return [{"name": r["name"], "time": pd.Timestamp(r["created"], unit="s").floor("s"),
             "job": r["job"], "checkpoint": r["checkpoint_id"], "bytes": r["bytes"]}
            for r in list_savepoints()]
