"""Completed checkpoints and savepoints on disk.

One folder per checkpoint, ``chk-<id>``, written under a temporary name and renamed once
complete, so a folder with the final name is whole. Inside: ``_metadata.json`` (the
manifest: format version, job, checkpoint id, and per step its parallelism and one file
per parallel instance with its size and SHA-256) and ``<step>-<instance>.state`` files
(the instance's serialized snapshot). A folder whose manifest or files do not check out
is skipped with a warning naming it, and the one before is used.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ..errors import NbstreamError

__all__ = ["CheckpointStorage", "CompletedCheckpoint", "FORMAT_VERSION", "default_directory",
           "read_checkpoint", "latest_checkpoint"]

FORMAT_VERSION = 1
MANIFEST = "_metadata.json"
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def default_directory() -> str:
    """Where checkpoints go when no directory is set: ``$NBSTREAM_CHECKPOINT_DIR``, else
    ``~/.cache/nbstream/checkpoints`` (``$XDG_CACHE_HOME`` respected)."""
    env = os.environ.get("NBSTREAM_CHECKPOINT_DIR")
    if env:
        return env
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "nbstream", "checkpoints")


@dataclass
class CompletedCheckpoint:
    """A checkpoint in memory: per step uid, its parallelism and the instances' states."""

    checkpoint_id: int
    path: str
    operators: Dict[str, Dict[str, Any]]
    size: int = 0


class CheckpointStorage:
    """Writes a job's checkpoints under ``directory/<job folder>``, keeping the last
    ``retained``."""

    def __init__(self, directory: str, job_folder: str, retained: int = 1) -> None:
        self.root = os.path.join(os.path.abspath(os.path.expanduser(directory)), job_folder)
        self.retained = max(1, retained)
        self.fail_next_writes = 0  # tests: the next writes crash half way (before the rename)

    def write(self, checkpoint_id: int, operators: Dict[str, Dict[str, Any]], job_name: str,
              folder: Optional[str] = None) -> CompletedCheckpoint:
        final = folder or os.path.join(self.root, f"chk-{checkpoint_id}")
        parent = os.path.dirname(final)
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, f".{os.path.basename(final)}.{uuid.uuid4().hex[:8]}.tmp")
        os.makedirs(tmp)
        manifest: Dict[str, Any] = {"format": FORMAT_VERSION, "job": job_name,
                                    "checkpoint_id": checkpoint_id, "created": time.time(),
                                    "operators": {}}
        size = 0
        for uid, entry in operators.items():
            files = {}
            for sub, state in sorted(entry["subtasks"].items()):
                data = pickle.dumps(state, protocol=5)
                name = f"{_SAFE.sub('_', uid)[:60]}-{len(manifest['operators'])}-{sub}.state"
                with open(os.path.join(tmp, name), "wb") as f:
                    f.write(data)
                files[str(sub)] = {"file": name, "size": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest()}
                size += len(data)
            manifest["operators"][uid] = {k: v for k, v in entry.items() if k != "subtasks"}
            manifest["operators"][uid]["files"] = files
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=1)
        if self.fail_next_writes > 0:
            self.fail_next_writes -= 1
            raise OSError(f"simulated crash while writing checkpoint {checkpoint_id}")
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
        if folder is None:
            self._prune()
        return CompletedCheckpoint(checkpoint_id, final, operators, size)

    def _prune(self) -> None:
        done = _checkpoint_folders(self.root)
        for path in done[:-self.retained]:
            shutil.rmtree(path, ignore_errors=True)

    def remove_partial(self) -> None:
        """Remove folders of writes that did not end (a crash half way)."""
        if os.path.isdir(self.root):
            for name in os.listdir(self.root):
                if name.startswith(".") and name.endswith(".tmp"):
                    shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def remove_partial_of(self, checkpoint_id: int, folder: Optional[str] = None) -> None:
        """Remove what a failed :meth:`write` of this checkpoint (or savepoint ``folder``)
        left: its temporary folder, at once (a full disk must not fill up with them)."""
        final = folder or os.path.join(self.root, f"chk-{checkpoint_id}")
        parent, prefix = os.path.dirname(final), f".{os.path.basename(final)}."
        if os.path.isdir(parent):
            for name in os.listdir(parent):
                if name.startswith(prefix) and name.endswith(".tmp"):
                    shutil.rmtree(os.path.join(parent, name), ignore_errors=True)

    def discard(self) -> None:
        """Remove this job's checkpoints (a job that finished or was cancelled)."""
        shutil.rmtree(self.root, ignore_errors=True)


def _checkpoint_folders(root: str) -> List[str]:
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        m = re.fullmatch(r"chk-(\d+)", name)
        if m:
            found.append((int(m.group(1)), os.path.join(root, name)))
    return [p for _, p in sorted(found)]


def read_checkpoint(path: str) -> CompletedCheckpoint:
    """Read a checkpoint or savepoint folder, checking its format and checksums."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise NbstreamError(f"no checkpoint or savepoint at {path}")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise NbstreamError(f"{path}: unreadable manifest {MANIFEST} ({exc})") from None
    version = manifest.get("format")
    if version != FORMAT_VERSION:
        raise NbstreamError(f"{path}: format version {version!r}; this nbstream reads version "
                            f"{FORMAT_VERSION}")
    operators: Dict[str, Dict[str, Any]] = {}
    size = 0
    for uid, entry in manifest["operators"].items():
        subtasks = {}
        for sub, meta in entry["files"].items():
            file = os.path.join(path, meta["file"])
            try:
                with open(file, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise NbstreamError(f"{path}: missing state file {meta['file']} ({exc})") from None
            if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise NbstreamError(f"{path}: state file {meta['file']} is corrupt "
                                    "(size or checksum differs from the manifest)")
            subtasks[int(sub)] = pickle.loads(data)
            size += len(data)
        operators[uid] = {**{k: v for k, v in entry.items() if k != "files"},
                          "subtasks": subtasks}
    return CompletedCheckpoint(int(manifest["checkpoint_id"]), path, operators, size)


def latest_checkpoint(root: str) -> Optional[CompletedCheckpoint]:
    """The newest readable checkpoint under ``root`` (a job's folder); broken ones are
    skipped with a warning that names them."""
    for path in reversed(_checkpoint_folders(root)):
        try:
            return read_checkpoint(path)
        except NbstreamError as exc:
            warnings.warn(f"skipping checkpoint {path}: {exc}", stacklevel=2)
    return None
