"""Where keyed state lives: in dicts (the hash-map backend, the default) or in RocksDB.

:func:`keyed_state_backend` makes the :class:`~nbstream.runtime.state.KeyedStateBackend`
of an operator instance from the job's :class:`~nbstream.plan.config.StateBackendSettings`.
With ``kind == "rocksdb"`` each state keeps its entries in a :class:`RocksDBMap`: the keys
under a two-byte prefix of its own in one RocksDB database per operator instance (through
the ``rocksdict`` binding, the ``rocksdb`` extra), in a temporary folder under the
configured root that is removed when the operator closes (or, at the latest, when it is
garbage collected or the interpreter exits; a later store removes the folders of
processes that are gone, such as a killed worker's).

Slots and values are pickled (protocol 5; slots without the memo, so that equal slots
give equal bytes). A small write-back cache sits in front of the database: the states
mutate what they read in place (a list state appends to its list), so entries read or
written since the last flush are written back when the cache is full and before any
iteration; only a bounded number of entries is ever held in Python.

Checkpoints of a store are full (every entry read into the snapshot) or, with
``EmbeddedRocksDBStateBackend(True)``, incremental: :meth:`RocksDBStore.checkpoint` writes
files into the checkpoint's shared folder and the snapshot only names them. The first
checkpoint writes a *base*, RocksDB's own checkpoint of the database (table files
hard-linked where the file system allows, so it costs little more than a flush); each later
one writes an *increment*, one SST file (``SstFileWriter``) of the entries written or
deleted since the checkpoint before, read back by key from the database (the write-back
cache records their keys as it writes them). A restore opens the base and ingests the
increments in order (``ingest_external_file``: later files win, deletions are tombstones).
A new base is written when the increments together outgrow the base, after
``MAX_INCREMENTS`` of them, after a ``clear()`` (a range deletion has no keys to record) or
when more than ``MAX_CHANGED`` keys changed between two checkpoints. Why not RocksDB's
own files alone (Flink's way): with keys spread over the whole key space, a compaction
into level 1 rewrites nearly every table file every few checkpoints, so those checkpoints
write the whole state again (measured: 8.5 of 9 MB at one checkpoint in three, with 1 %
of 1 M keys changed); the changed keys' own file stays at their size.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
import tempfile
import uuid
import weakref
from collections.abc import MutableMapping
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from .state import KeyedStateBackend

__all__ = ["keyed_state_backend", "RocksDBStore", "RocksDBMap", "rocksdb_available",
           "stored_entries", "STORED", "SHARED_FILES"]

#: entries a RocksDBMap holds in Python before it writes them back
CACHE_ENTRIES = 4096
#: incremental checkpoints: at most this many increments on one base
MAX_INCREMENTS = 32
#: incremental checkpoints: more keys changed between two checkpoints make a new base
MAX_CHANGED = 1_000_000
#: what an incremental snapshot holds in place of a state's entries: ``(STORED, prefix)``
STORED = "nbstream:rocksdb-entries"
#: a snapshot's files in the checkpoint's shared folder (kept while a checkpoint needs them)
SHARED_FILES = "shared_files"
#: values of these types cannot change in place: written back only when set
_IMMUTABLE = frozenset((int, float, str, bytes, bool, type(None), complex))


def rocksdb_available() -> bool:
    try:
        import rocksdict  # noqa: F401
    except ImportError:
        return False
    return True


def keyed_state_backend(op: Any, scope: str = "") -> KeyedStateBackend:
    """The keyed state backend of operator instance ``op`` (after ``op.task`` is set),
    as its job's config asks. ``scope`` keeps apart two backends of one operator (a
    window operator's user state and its window state) that share its database."""
    task = op.task
    settings = getattr(task.config, "state_backend", None)
    if settings is None or settings.kind == "hashmap":
        return KeyedStateBackend(task.time_service.now_ms)
    store = getattr(op, "_rocksdb_store", None)
    if store is None:
        store = op._rocksdb_store = RocksDBStore(settings.directory or None,
                                                 f"{task.task_name[:40]}-{task.subtask}",
                                                 incremental=settings.incremental)
        op.resources.append(store)  # disposed by the task after close(), or if open() failed
    return KeyedStateBackend(task.time_service.now_ms, store=store.scoped(scope))


def _dump_slot(slot: Any) -> bytes:
    t = type(slot)
    if t is str or t is int or t is bytes:
        return pickle.dumps(slot, 5)
    buf = io.BytesIO()
    p = pickle.Pickler(buf, 5)
    p.fast = True  # no memo: equal slots pickle to equal bytes
    p.dump(slot)
    return buf.getvalue()


def _dump_value(value: Any) -> bytes:
    try:
        return pickle.dumps(value, 5)
    except Exception:  # classes and lambdas of the notebook (in a worker process)
        import cloudpickle

        return cloudpickle.dumps(value, 5)


_loads = pickle.loads


_PREFIX = "nbstream-rocksdb-"
NATIVE_MANIFEST = "nbstream-states.json"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def link_tables(src: str, dst: str) -> None:
    """Copy a file, but hard-link RocksDB's table files (never written after they are
    made): the others (MANIFEST, CURRENT, OPTIONS) may be written by a database opened
    on them."""
    if src.endswith(".sst"):
        _link_or_copy(src, dst)
    else:
        shutil.copy2(src, dst)


def _remove_file(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _size(path: str) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    return os.path.getsize(path)


_swept: set = set()


def _remove_orphans(root: str) -> None:
    """Remove the database folders of processes that are gone (a killed worker cannot
    remove its own), once per folder and process."""
    if root in _swept:
        return
    _swept.add(root)
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        pid = name[len(_PREFIX):].partition("-")[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)
        except OSError:
            pass  # alive (or not ours)


def _rmtree(path: str, db: Any) -> None:
    try:
        db.close()
    except Exception:
        pass
    shutil.rmtree(path, ignore_errors=True)


class RocksDBStore:
    """One RocksDB database in a fresh temporary folder; a key prefix per state (column
    families cost a synced manifest write each to create). With ``incremental``, the
    keys written since the last checkpoint are recorded (see the module text)."""

    def __init__(self, root: Optional[str] = None, label: str = "",
                 source: Optional[str] = None, incremental: bool = False) -> None:
        try:
            from rocksdict import (BlockBasedOptions, Cache, Options, Rdict, WriteBatch,
                                   WriteOptions)
        except ImportError as exc:  # pragma: no cover - the extra is missing
            raise ImportError("EmbeddedRocksDBStateBackend needs the rocksdict package: "
                              "pip install 'nbstream[rocksdb]'") from exc
        if root:
            os.makedirs(root, exist_ok=True)
        _remove_orphans(root or tempfile.gettempdir())
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in label)
        self.label = safe
        self.path = tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-{safe}-", dir=root)
        states: Dict[str, str] = {}
        if source is not None:  # a native checkpoint: its files, linked where possible
            with open(os.path.join(source, NATIVE_MANIFEST)) as f:
                states = json.load(f)["states"]
            shutil.rmtree(self.path)
            shutil.copytree(source, self.path, copy_function=_link_or_copy)
        self._WriteBatch = WriteBatch
        self._options = self._make_options(Options, BlockBasedOptions, Cache)
        self._open()
        self._maps: Dict[str, RocksDBMap] = {name: RocksDBMap(self, bytes.fromhex(prefix))
                                              for name, prefix in states.items()}
        self._next_prefix = 1 + max((int(p, 16) for p in states.values()), default=-1)
        self._finalizer = weakref.finalize(self, _rmtree, self.path, self.db)
        # incremental checkpoints: the files of the last one (a base, then increments) in
        # the shared folder ``chain_dir``, and the keys written since
        self.incremental = incremental
        self.changed: Set[bytes] = set()
        self.rebase = True  # the next checkpoint writes a base
        self.stored = False  # the last checkpoint's entries are in its files
        self._chain: List[str] = []
        self._chain_dir: Optional[str] = None
        self._base_bytes = self._increment_bytes = 0

    def _open(self) -> None:
        from rocksdict import Rdict, WriteOptions

        self.db = Rdict(self.path, self._options)
        wo = WriteOptions()
        wo.disable_wal = True  # the folder is scratch space: checkpoints hold the state
        self.db.set_write_options(wo)

    @staticmethod
    def _make_options(Options: Any, BlockBasedOptions: Any, Cache: Any) -> Any:
        opt = Options(raw_mode=True)
        opt.create_if_missing(True)
        opt.set_write_buffer_size(16 << 20)
        opt.set_max_write_buffer_number(2)
        opt.set_db_write_buffer_size(64 << 20)  # all memtables of all states together
        table = BlockBasedOptions()
        table.set_block_cache(Cache(32 << 20))
        table.set_bloom_filter(10, False)  # misses (new keys) skip the files without a read
        opt.set_block_based_table_factory(table)
        return opt

    def scoped(self, scope: str) -> "_ScopedStore":
        return _ScopedStore(self, scope)

    def mapping(self, name: str) -> "RocksDBMap":
        """The entries of state ``name`` (a prefix of its own, given on first use)."""
        m = self._maps.get(name)
        if m is None:
            m = self._maps[name] = RocksDBMap(self, self._next_prefix.to_bytes(2, "big"))
            self._next_prefix += 1
        return m

    def by_prefix(self, prefix: str) -> "RocksDBMap":
        """The mapping of the state whose prefix (hex) is ``prefix``."""
        return next(m for m in self._maps.values() if m._prefix.hex() == prefix)

    # incremental checkpoints -----------------------------------------------------------------
    def checkpoint(self, shared_dir: str) -> Optional[Dict[str, Any]]:
        """Write what the last checkpoint's files lack into ``shared_dir`` (a base, or an
        increment of the keys written since) and name the files that hold the state now:
        ``{"states": {name: prefix}, "chain": [base, increment, ...]}`` (file names in
        ``shared_dir``); :meth:`load` takes it back. None if the files could not be
        written (a full disk): then the snapshot holds the entries themselves
        (:meth:`RocksDBMap.snapshot`), and the next checkpoint writes a base."""
        self.flush()
        name = ""
        try:
            os.makedirs(shared_dir, mode=0o700, exist_ok=True)
            if (self.rebase or self._chain_dir != shared_dir
                    or len(self._chain) > MAX_INCREMENTS or self._increment_bytes > self._base_bytes):
                name = f"{self.label}-{uuid.uuid4().hex[:12]}.base"
                self.native_checkpoint(os.path.join(shared_dir, name))
                self._chain, self._chain_dir, self.rebase = [name], shared_dir, False
                self._base_bytes = _size(os.path.join(shared_dir, name))
                self._increment_bytes = 0
            elif self.changed:
                name = f"{self.label}-{uuid.uuid4().hex[:12]}.sst"
                self._write_increment(os.path.join(shared_dir, name))
                self._chain.append(name)
                self._increment_bytes += _size(os.path.join(shared_dir, name))
        except Exception:  # noqa: BLE001 - rocksdict's I/O errors are plain Exceptions
            if name:
                for partial in (name, name + ".tmp"):
                    path = os.path.join(shared_dir, partial)
                    shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) \
                        else _remove_file(path)
            self.start_over()
            self.stored = False
            return None
        self.changed = set()
        self.stored = True
        return {"states": {n: m._prefix.hex() for n, m in self._maps.items()},
                "chain": list(self._chain)}

    def _write_increment(self, path: str) -> None:
        from rocksdict import SstFileWriter

        keys = sorted(self.changed)
        writer = SstFileWriter(self._options)
        writer.open(path)
        for start in range(0, len(keys), 65536):
            part = keys[start:start + 65536]
            for key, value in zip(part, self.db.get(part)):
                if value is None:
                    del writer[key]
                else:
                    writer[key] = value
        writer.finish()

    def record(self, key: bytes) -> None:
        """Entry ``key`` (prefix and slot) was written or deleted."""
        changed = self.changed
        changed.add(key)
        if len(changed) > MAX_CHANGED:  # cheaper as a new base than as a set in memory
            self.start_over()

    def start_over(self) -> None:
        """The next checkpoint writes a base (keys are no longer recorded until then)."""
        self.rebase = True
        self.changed = set()

    def is_empty(self) -> bool:
        self.flush()
        return next(iter(self.db.keys()), None) is None

    def load(self, shared_dir: str, handle: Dict[str, Any]) -> None:
        """Take the state of :meth:`checkpoint`'s ``handle`` (files in ``shared_dir``)
        into this store, which must be empty: the base's files become the database
        (table files linked), the increments are ingested in order, and the states keep
        their prefixes (a state made before the load, empty, gets a new one)."""
        from rocksdict import IngestExternalFileOptions

        chain = handle["chain"]
        files = [os.path.join(shared_dir, name) for name in chain]
        self.flush()
        self.db.close()
        shutil.rmtree(self.path)
        shutil.copytree(files[0], self.path, copy_function=link_tables)
        os.remove(os.path.join(self.path, NATIVE_MANIFEST))
        self._open()
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _rmtree, self.path, self.db)
        ingest = IngestExternalFileOptions()  # copies: the files stay as they are
        for path in files[1:]:
            self.db.ingest_external_file([path], ingest)
        prefixes = {name: bytes.fromhex(p) for name, p in handle["states"].items()}
        self._next_prefix = 1 + max((int.from_bytes(p, "big") for p in prefixes.values()),
                                    default=-1)
        for name, m in self._maps.items():
            m._db = self.db
            if name in prefixes:
                m._prefix = prefixes[name]
            else:
                m._prefix = self._next_prefix.to_bytes(2, "big")
                self._next_prefix += 1
        for name, prefix in prefixes.items():
            if name not in self._maps:
                self._maps[name] = RocksDBMap(self, prefix)
        # the chain goes on if later checkpoints go to the same shared folder
        self._chain, self._chain_dir, self.rebase = list(chain), shared_dir, False
        self.changed = set()
        self._base_bytes = _size(files[0])
        self._increment_bytes = sum(_size(f) for f in files[1:])

    def flush(self) -> None:
        for m in self._maps.values():
            m.flush()

    def native_checkpoint(self, path: str) -> Dict[str, Any]:
        """Write RocksDB's own checkpoint of every state into the new folder ``path``
        (table files hard-linked where the file system allows) with a manifest naming
        each state's prefix and the files; :meth:`from_native_checkpoint` opens it.

        The building block of incremental checkpoints: table files never change, so two
        checkpoints share every file but those written in between (compare ``files``)."""
        from rocksdict import Checkpoint

        self.flush()
        Checkpoint(self.db).create_checkpoint(path)
        manifest = {"format": 1, "states": {n: m._prefix.hex() for n, m in self._maps.items()},
                    "files": sorted(os.listdir(path))}
        with open(os.path.join(path, NATIVE_MANIFEST), "w") as f:
            json.dump(manifest, f)
        return manifest

    @classmethod
    def from_native_checkpoint(cls, path: str, root: Optional[str] = None,
                               label: str = "") -> "RocksDBStore":
        """A new store (in a temporary folder of its own) holding the state of
        :meth:`native_checkpoint`'s folder ``path``, which stays as it is."""
        return cls(root, label, source=path)

    @property
    def disposed(self) -> bool:
        return not self._finalizer.alive

    def dispose(self) -> None:
        """Close the database and remove its folder (twice is fine)."""
        self._maps.clear()
        self._finalizer()


class _ScopedStore:
    """What a :class:`KeyedStateBackend` is given: state name -> mapping, within a scope."""

    __slots__ = ("store", "scope")

    def __init__(self, store: RocksDBStore, scope: str) -> None:
        self.store = store
        self.scope = scope

    def mapping(self, name: str) -> "RocksDBMap":
        return self.store.mapping(f"{self.scope}/{name}" if self.scope else name)

    def flush(self) -> None:
        self.store.flush()

    def names(self) -> List[str]:
        """The states of this scope in the store (not an operator's own ``#`` entries)."""
        start = f"{self.scope}/" if self.scope else ""
        return [n[len(start):] for n in self.store._maps
                if n.startswith(start) and not n[len(start):].startswith("#")
                and (start or "/" not in n)]


class RocksDBMap(MutableMapping):
    """A state's ``slot -> value`` entries under one key prefix, behind a write-back cache."""

    def __init__(self, store: RocksDBStore, prefix: bytes) -> None:
        self._store = store
        self._db = store.db
        self._prefix = prefix
        self._cache: Dict[Any, Any] = {}  # slot -> value, read or written since the last flush
        self._dirty: set = set()  # slots set since the last flush

    # the cache ---------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write back what changed (and what may have changed in place) since the last flush."""
        cache, dirty = self._cache, self._dirty
        if not cache:
            return
        store = self._store
        batch = store._WriteBatch(raw_mode=True)
        prefix, n = self._prefix, 0
        record = store.record if store.incremental and not store.rebase else None
        for slot, value in cache.items():
            if slot in dirty or type(value) not in _IMMUTABLE:
                key = prefix + _dump_slot(slot)
                batch.put(key, _dump_value(value))
                if record is not None:
                    record(key)
                n += 1
        if n:
            self._db.write(batch)
        cache.clear()
        dirty.clear()

    def _remember(self, slot: Any, value: Any) -> None:
        cache = self._cache
        if len(cache) >= CACHE_ENTRIES and slot not in cache:
            self.flush()
        cache[slot] = value

    _MISSING = object()

    def _load(self, slot: Any) -> Any:
        value = self._cache.get(slot, self._MISSING)
        if value is self._MISSING:
            raw = self._db.get(self._prefix + _dump_slot(slot))
            if raw is None:
                return self._MISSING
            value = _loads(raw)
            self._remember(slot, value)
        return value

    # the mapping -------------------------------------------------------------------------------
    def get(self, slot: Any, default: Any = None) -> Any:
        value = self._load(slot)
        return default if value is self._MISSING else value

    def __getitem__(self, slot: Any) -> Any:
        value = self._load(slot)
        if value is self._MISSING:
            raise KeyError(slot)
        return value

    def __contains__(self, slot: Any) -> bool:
        return self._load(slot) is not self._MISSING

    def __setitem__(self, slot: Any, value: Any) -> None:
        self._remember(slot, value)
        self._dirty.add(slot)

    def __delitem__(self, slot: Any) -> None:
        if self._load(slot) is self._MISSING:
            raise KeyError(slot)
        self._cache.pop(slot, None)
        self._dirty.discard(slot)
        key = self._prefix + _dump_slot(slot)
        self._db.delete(key)
        store = self._store
        if store.incremental and not store.rebase:
            store.record(key)

    def pop(self, slot: Any, *default: Any) -> Any:
        value = self._load(slot)
        if value is self._MISSING:
            if default:
                return default[0]
            raise KeyError(slot)
        del self[slot]
        return value

    def setdefault(self, slot: Any, default: Any = None) -> Any:
        value = self._load(slot)
        if value is self._MISSING:
            self[slot] = value = default
        return value

    def _raw_items(self) -> Iterator[Tuple[bytes, bytes]]:
        prefix = self._prefix
        for k, v in self._db.items(from_key=prefix):
            if not k.startswith(prefix):
                return
            yield k, v

    def __iter__(self) -> Iterator[Any]:
        self.flush()
        n = len(self._prefix)
        return iter([_loads(k[n:]) for k, _ in self._raw_items()])

    def items(self) -> Iterator[Tuple[Any, Any]]:  # type: ignore[override]
        """Every entry (read from the database in key order, one at a time)."""
        self.flush()
        n = len(self._prefix)
        return ((_loads(k[n:]), _loads(v)) for k, v in self._raw_items())

    def __len__(self) -> int:
        self.flush()
        return sum(1 for _ in self._raw_items())

    def __bool__(self) -> bool:
        return bool(self._cache) or next(self._raw_items(), None) is not None

    def clear(self) -> None:
        self._cache.clear()
        self._dirty.clear()
        end = (int.from_bytes(self._prefix, "big") + 1).to_bytes(2, "big")
        self._db.delete_range(self._prefix, end)
        if self._store.incremental:
            self._store.start_over()

    def snapshot(self) -> Any:
        """The entries for a checkpoint: a dict, or ``(STORED, prefix)`` when they are in
        the files the store's :meth:`RocksDBStore.checkpoint` has just written."""
        if self._store.stored:
            return (STORED, self._prefix.hex())
        return dict(self.items())

    def __reduce__(self) -> Any:  # a snapshot of the entries: a plain dict
        return (dict, (list(self.items()),))

    def __repr__(self) -> str:
        return f"<RocksDBMap at {self._store.path}>"


# -- restoring incremental snapshots -----------------------------------------------------------

def _stored(value: Any) -> bool:
    return type(value) is tuple and len(value) == 2 and value[0] == STORED


@contextmanager
def stored_entries(op: Any, snaps: List[Dict[str, Any]], same_instance: bool,
                   shared_dir: Optional[str]) -> Iterator[None]:
    """While ``op`` restores ``snaps``: the entries of incremental RocksDB snapshots.

    The same instance with an empty store of its own loads the files into it (the
    snapshot's entries become empty dicts: they are in place). Otherwise (another
    parallelism, another backend) each snapshot's files are loaded into a temporary store
    and its entries read from there by ``op.restore_state``, which keeps the keys it owns.
    """
    if not any("rocksdb" in snap for snap in snaps):
        yield
        return
    if shared_dir is None:
        raise FileNotFoundError("the checkpoint names RocksDB files but has no shared folder")
    own: Optional[RocksDBStore] = getattr(op, "_rocksdb_store", None)
    settings = getattr(op.task.config, "state_backend", None)
    temporary: List[RocksDBStore] = []
    try:
        for snap in snaps:
            handle = snap.get("rocksdb")
            if handle is None:
                continue
            if same_instance and own is not None and own.is_empty():
                own.load(shared_dir, handle)
                source: Optional[RocksDBStore] = None
            else:
                source = RocksDBStore(getattr(settings, "directory", "") or None, "restore")
                temporary.append(source)
                source.load(shared_dir, handle)
            _resolve(snap, source)
        yield
    finally:
        for store in temporary:
            store.dispose()


def _resolve(snap: Dict[str, Any], source: Optional[RocksDBStore]) -> None:
    """Put the entries in place of the ``(STORED, prefix)`` markers of ``snap``: a
    keyed field's, or the states' of a keyed state backend's snapshot (``{name: (kind,
    entries)}``)."""
    def entries(marker: Tuple[str, str]) -> Any:
        return {} if source is None else source.by_prefix(marker[1])

    for field, value in snap.items():
        if _stored(value):
            snap[field] = entries(value)
        elif type(value) is dict and value:
            first = next(iter(value.values()))
            if type(first) is tuple and len(first) == 2 and _stored(first[1]):
                for name, (kind, data) in list(value.items()):
                    value[name] = (kind, entries(data) if _stored(data) else data)
