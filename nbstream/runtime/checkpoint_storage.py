"""Completed checkpoints and savepoints on disk.

One folder per checkpoint, ``chk-<id>``, written under a temporary name and renamed once
complete, so a folder with the final name is whole. Inside: ``_metadata.json`` (the
manifest: format version, job, checkpoint id, and per step its kind, parallelism and one
file per parallel instance with its size, SHA-256, whether it had finished and the types
of the objects it holds pickled), ``_metadata.json.sig`` (the manifest's signature under
this user's key, :mod:`nbstream.runtime.signing`) and ``<step>-<instance>.state`` files
(the instance's snapshot in :mod:`nbstream.runtime.state_format`). Folders are ``0700``,
files ``0600``.

Reading one back checks the signature first: a checkpoint or savepoint someone else wrote
(or an unsigned one, such as format 1's, which were pickles) is refused unless trusted.
Resuming from a job's folder takes its newest checkpoint that checks out; one whose
manifest or files do not is skipped with a warning naming it, and the one before is used.

Incremental state (RocksDB, see ``state_backends``) is written by the tasks into the job
folder's ``shared/`` folder; a manifest lists, per instance, the shared files its state
needs (``"shared"``). A file is removed once no kept checkpoint lists it (when older
checkpoints are pruned, and after a restart for files no completed checkpoint got), and
not while it is pinned: the files of the checkpoint an attempt restores stay until that
attempt completes a checkpoint, even if newer ones replaced it meanwhile. A
savepoint is whole on its own: the files it needs are linked or copied into its
``shared/``. A checkpoint's state is read from its own ``shared/`` if it has one, else
from its job folder's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set

from ..errors import NbstreamError
from . import state_format
from .signing import UntrustedFileError, check_file, private_dir, sign_file, write_private
from .state_backends import link_tables

__all__ = ["CheckpointStorage", "CompletedCheckpoint", "FORMAT_VERSION", "default_directory",
           "read_checkpoint", "latest_checkpoint", "find_checkpoint", "TRUST_HINT"]

FORMAT_VERSION = 2
LEGACY_VERSION = 1  # pickles, unsigned: read only when trusted
MANIFEST = "_metadata.json"
SHARED = "shared"
#: how a refusal tells to trust a savepoint (the notebook's magics say --trust)
TRUST_HINT = "trust_savepoint=True (or the setting nbstream.savepoint.trust: true)"
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
    shared_dir: Optional[str] = None  # where its instances' shared files are
    skipped: List[str] = field(default_factory=list)  # newer ones that did not check out


class CheckpointStorage:
    """Writes a job's checkpoints under ``directory/<job folder>``, keeping the last
    ``retained``."""

    def __init__(self, directory: str, job_folder: str, retained: int = 1) -> None:
        self.root = os.path.join(os.path.abspath(os.path.expanduser(directory)), job_folder)
        self.retained = max(1, retained)
        self.shared_dir = os.path.join(self.root, SHARED)
        self._lock = threading.Lock()  # pins against prune and sweep
        self._pinned: Set[str] = set()
        self.fail_next_writes = 0  # tests: the next writes crash half way (before the rename)

    def write(self, checkpoint_id: int, operators: Dict[str, Dict[str, Any]], job_name: str,
              folder: Optional[str] = None) -> CompletedCheckpoint:
        final = folder or os.path.join(self.root, f"chk-{checkpoint_id}")
        parent = private_dir(os.path.dirname(final))
        tmp = os.path.join(parent, f".{os.path.basename(final)}.{uuid.uuid4().hex[:8]}.tmp")
        os.mkdir(tmp, 0o700)
        manifest: Dict[str, Any] = {"format": FORMAT_VERSION, "job": job_name,
                                    "checkpoint_id": checkpoint_id, "created": time.time(),
                                    "operators": {}}
        size = 0
        for uid, entry in operators.items():
            files = {}
            for sub, part in sorted(entry["subtasks"].items()):
                data = part["state"]
                name = f"{_SAFE.sub('_', uid)[:60]}-{len(manifest['operators'])}-{sub}.state"
                write_private(os.path.join(tmp, name), data)
                files[str(sub)] = {"file": name, "size": len(data),
                                   "sha256": hashlib.sha256(data).hexdigest(),
                                   "finished": part["finished"],
                                   "objects": state_format.object_types(data)}
                if part.get("shared"):
                    files[str(sub)]["shared"] = list(part["shared"])
                    if folder is not None:  # a savepoint keeps its own copy
                        _copy_shared(self.shared_dir, os.path.join(tmp, SHARED), part["shared"])
                size += len(data)
            manifest["operators"][uid] = {k: v for k, v in entry.items() if k != "subtasks"}
            manifest["operators"][uid]["files"] = files
        write_private(os.path.join(tmp, MANIFEST), json.dumps(manifest, indent=1).encode())
        sign_file(os.path.join(tmp, MANIFEST))
        if self.fail_next_writes > 0:
            self.fail_next_writes -= 1
            raise OSError(f"simulated crash while writing checkpoint {checkpoint_id}")
        if os.path.exists(final):
            shutil.rmtree(final)
        os.rename(tmp, final)
        shared = os.path.join(final, SHARED) if folder is not None else self.shared_dir
        return CompletedCheckpoint(checkpoint_id, final, operators, size, shared)

    def prune(self, unpin: bool = False) -> None:
        """Keep the last ``retained`` checkpoints, and the shared files they list; with
        ``unpin``, the pinned files need not stay any more."""
        with self._lock:
            stale, self._pinned = (self._pinned, set()) if unpin else (set(), self._pinned)
            done = _checkpoint_folders(self.root)
            dropped, kept = done[:-self.retained], done[-self.retained:]
            unused = (_shared_files(dropped) | stale) - _shared_files(kept) - self._pinned
            for path in dropped:
                shutil.rmtree(path, ignore_errors=True)
            for name in unused:
                _remove(os.path.join(self.shared_dir, name))

    def pin(self, names: Set[str]) -> None:
        """Keep these shared files (a restoring checkpoint's) until ``prune(unpin=True)``."""
        with self._lock:
            self._pinned = set(names)

    def sweep_shared(self) -> None:
        """Remove the shared files no checkpoint lists nor pin keeps (written for
        checkpoints that did not complete); only while no task writes any (between two
        attempts)."""
        with self._lock:
            if not os.path.isdir(self.shared_dir):
                return
            needed = _shared_files(_checkpoint_folders(self.root)) | self._pinned
            for name in os.listdir(self.shared_dir):
                if name not in needed:
                    _remove(os.path.join(self.shared_dir, name))

    def remove_partial(self) -> None:
        """Remove folders of writes that did not end (a crash half way)."""
        if os.path.isdir(self.root):
            for name in os.listdir(self.root):
                if name.startswith(".") and name.endswith(".tmp"):
                    shutil.rmtree(os.path.join(self.root, name), ignore_errors=True)

    def discard(self) -> None:
        """Remove this job's checkpoints (a job that finished or was cancelled)."""
        shutil.rmtree(self.root, ignore_errors=True)


def _shared_files(folders: List[str]) -> Set[str]:
    """The shared files the manifests of ``folders`` list."""
    names: Set[str] = set()
    for path in folders:
        try:
            with open(os.path.join(path, MANIFEST)) as f:
                manifest = json.load(f)
        except (OSError, ValueError):
            continue
        for entry in manifest.get("operators", {}).values():
            for meta in entry.get("files", {}).values():
                names.update(meta.get("shared", ()))
    return names


def _copy_shared(src: str, dst: str, names: List[str]) -> None:
    os.makedirs(dst, mode=0o700, exist_ok=True)
    for name in names:
        target = os.path.join(dst, name)
        if os.path.exists(target):
            continue
        source = os.path.join(src, name)
        if os.path.isdir(source):
            shutil.copytree(source, target, copy_function=link_tables)
        else:
            link_tables(source, target)


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.remove(path)
        except OSError:
            pass


def _checkpoint_folders(root: str) -> List[str]:
    if not os.path.isdir(root):
        return []
    found = []
    for name in os.listdir(root):
        m = re.fullmatch(r"chk-(\d+)", name)
        if m:
            found.append((int(m.group(1)), os.path.join(root, name)))
    return [p for _, p in sorted(found)]


def read_checkpoint(path: str, trust: bool = False,
                    trust_hint: str = TRUST_HINT) -> CompletedCheckpoint:
    """Read a checkpoint or savepoint folder, checking its signature (see
    :mod:`nbstream.runtime.signing`; ``trust`` reads one that is not signed by this user's
    key), format and checksums. The states stay bytes: tasks decode them."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise NbstreamError(f"no checkpoint or savepoint at {path}")
    try:
        with open(manifest_path, "rb") as f:
            raw = f.read()
        manifest = json.loads(raw)
        version = manifest.get("format")
    except FileNotFoundError:
        raise NbstreamError(f"{path}: no {MANIFEST}: not a checkpoint or savepoint folder, nor "
                            "a job's folder of chk-<id> checkpoints") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise NbstreamError(f"{path}: unreadable manifest {MANIFEST} ({exc})") from None
    if version == LEGACY_VERSION:
        if not trust:
            raise UntrustedFileError(
                "savepoint or checkpoint", path, "it is in format version 1 (pickles, not "
                "signed), written by an nbstream from before state was data", trust_hint)
        return _read_legacy(path, manifest)
    if version != FORMAT_VERSION:
        raise NbstreamError(f"{path}: format version {version!r}; this nbstream reads version "
                            f"{FORMAT_VERSION}")
    check_file(manifest_path, raw, "savepoint or checkpoint", trust, trust_hint)
    try:
        return _read_states(path, manifest)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NbstreamError(f"{path}: bad manifest {MANIFEST} ({type(exc).__name__}: {exc})"
                            ) from None


def _read_states(path: str, manifest: Dict[str, Any]) -> CompletedCheckpoint:
    operators: Dict[str, Dict[str, Any]] = {}
    size = 0
    for uid, entry in manifest["operators"].items():
        subtasks = {}
        for sub, meta in entry["files"].items():
            data = _state_file(path, meta)
            subtasks[int(sub)] = {"finished": bool(meta["finished"]), "state": data}
            if meta.get("shared"):
                subtasks[int(sub)]["shared"] = list(meta["shared"])
            size += len(data)
        operators[uid] = {**{k: v for k, v in entry.items() if k != "files"},
                          "subtasks": subtasks}
    own = os.path.join(path, SHARED)
    shared = own if os.path.isdir(own) else os.path.join(os.path.dirname(path), SHARED)
    return CompletedCheckpoint(int(manifest["checkpoint_id"]), path, operators, size, shared)


def _state_file(path: str, meta: Dict[str, Any]) -> bytes:
    name = meta["file"]
    if os.path.basename(name) != name:
        raise NbstreamError(f"{path}: the manifest names a file outside the folder: {name!r}")
    try:
        with open(os.path.join(path, name), "rb") as f:
            data = f.read()
    except OSError as exc:
        raise NbstreamError(f"{path}: missing state file {name} ({exc})") from None
    if len(data) != meta["size"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise NbstreamError(f"{path}: state file {name} is corrupt "
                            "(size or checksum differs from the manifest)")
    return data


def _read_legacy(path: str, manifest: Dict[str, Any]) -> CompletedCheckpoint:
    """Format 1 (trusted): each file a pickle of ``{"finished", "state"}`` whose state is a
    pickle too; the states are rewritten in today's format."""
    import pickle

    operators: Dict[str, Dict[str, Any]] = {}
    size = 0
    for uid, entry in manifest["operators"].items():
        subtasks = {}
        for sub, meta in entry["files"].items():
            data = _state_file(path, meta)
            part = pickle.loads(data)
            subtasks[int(sub)] = {"finished": part["finished"],
                                  "state": state_format.dumps(pickle.loads(part["state"]))}
            size += len(data)
        operators[uid] = {**{k: v for k, v in entry.items() if k != "files"},
                          "subtasks": subtasks}
    return CompletedCheckpoint(int(manifest["checkpoint_id"]), path, operators, size)


def latest_checkpoint(root: str, trust: bool = False,
                      trust_hint: str = TRUST_HINT) -> Optional[CompletedCheckpoint]:
    """The newest readable checkpoint under ``root`` (a job's folder); broken ones (and ones
    not signed by this user's key, unless ``trust``) are skipped with a warning naming them."""
    found, skipped = _newest(root, trust, trust_hint)
    for why in skipped:
        warnings.warn(why, stacklevel=2)
    return found


def find_checkpoint(path: str, trust: bool = False,
                    trust_hint: str = TRUST_HINT) -> CompletedCheckpoint:
    """What resuming from ``path`` restores: the checkpoint or savepoint in that folder, or,
    for a job's folder of ``chk-<id>`` checkpoints, its newest one that checks out (those
    after it are skipped with a warning naming each, also listed in its ``skipped``)."""
    if os.path.isfile(os.path.join(path, MANIFEST)) or not _checkpoint_folders(path):
        return read_checkpoint(path, trust, trust_hint)
    found, skipped = _newest(path, trust, trust_hint)
    if found is None:
        raise NbstreamError(f"{path}: none of its checkpoints can be restored ("
                            + "; ".join(skipped) + ")")
    for why in skipped:
        warnings.warn(why, stacklevel=2)
    found.skipped = skipped
    return found


def _newest(root: str, trust: bool, trust_hint: str) -> "tuple[Optional[CompletedCheckpoint], List[str]]":
    skipped: List[str] = []
    for path in reversed(_checkpoint_folders(root)):
        try:
            return read_checkpoint(path, trust, trust_hint), skipped
        except NbstreamError as exc:
            skipped.append(f"skipping checkpoint {path}: {exc}")
    return None, skipped
