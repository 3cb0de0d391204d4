"""State backends as PyFlink's: where a job's keyed state lives while it runs.

* :class:`HashMapStateBackend` (the default): state in dicts in memory, fastest while it fits.
* :class:`EmbeddedRocksDBStateBackend`: state in an embedded RocksDB per operator instance
  (the ``rocksdb`` extra: ``pip install 'nbstream[rocksdb]'``, the ``rocksdict``
  binding), for keyed state larger than memory. Each operator instance keeps its
  database in a temporary folder (under ``set_db_storage_paths``, else the system's
  temporary folder) that is removed when the operator closes.

>>> from nbstream import StreamExecutionEnvironment, HashMapStateBackend
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.set_state_backend(HashMapStateBackend())
<nbstream StreamExecutionEnvironment mode=thread parallelism=1>
>>> env.get_state_backend()
HashMapStateBackend()

The configuration keys ``state.backend.type`` (``hashmap`` or ``rocksdb``; also
``state.backend``), ``state.backend.incremental`` and ``state.backend.rocksdb.localdir``
choose the same.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any, List, Mapping, Optional

from ..errors import PlanError
from ..plan.config import StateBackendSettings

__all__ = ["StateBackend", "HashMapStateBackend", "EmbeddedRocksDBStateBackend"]


class StateBackend:
    """What ``env.set_state_backend`` takes."""

    def _settings(self) -> StateBackendSettings:
        raise NotImplementedError


class HashMapStateBackend(StateBackend):
    """Keyed state as Python objects in dicts (the default)."""

    def _settings(self) -> StateBackendSettings:
        return StateBackendSettings("hashmap")

    def __repr__(self) -> str:
        return "HashMapStateBackend()"

    def __eq__(self, other: Any) -> bool:
        return type(other) is HashMapStateBackend

    def __hash__(self) -> int:
        return hash(HashMapStateBackend)


class EmbeddedRocksDBStateBackend(StateBackend):
    """Keyed state in an embedded RocksDB per operator instance: slots and values are
    pickled (protocol 5), so state can outgrow memory; each access costs a lookup and
    (un)pickling, so it is slower than the hash-map backend while state fits in memory.

    With ``enable_incremental_checkpointing``, a checkpoint writes only what changed since
    the one before: a base (RocksDB's own checkpoint), then one SST file per checkpoint of
    the keys written or deleted since, in the checkpoint folder's ``shared/`` (see
    :mod:`nbstream.runtime.state_backends`); otherwise each checkpoint is a full copy."""

    def __init__(self, enable_incremental_checkpointing: Optional[bool] = None) -> None:
        self._incremental = bool(enable_incremental_checkpointing)
        self._paths: List[str] = []

    def is_incremental_checkpoints_enabled(self) -> bool:
        return self._incremental

    def set_db_storage_paths(self, *paths: str) -> None:
        """Where operator instances make their database folders (the first path is used):
        local paths, or ``file:`` URIs (``file:///var/state/`` is ``/var/state``)."""
        self._paths = [local_path(p) for p in paths if p is not None]

    def set_db_storage_path(self, path: Optional[str]) -> None:
        self.set_db_storage_paths(*([path] if path is not None else []))

    def get_db_storage_paths(self) -> List[str]:
        return list(self._paths)

    def _settings(self) -> StateBackendSettings:
        from ..runtime.state_backends import rocksdb_available

        if not rocksdb_available():
            raise PlanError("EmbeddedRocksDBStateBackend needs the rocksdict package: "
                            "pip install 'nbstream[rocksdb]' (or pip install rocksdict)")
        return StateBackendSettings("rocksdb", self._paths[0] if self._paths else "",
                                    self._incremental)

    def __repr__(self) -> str:
        return (f"EmbeddedRocksDBStateBackend(enable_incremental_checkpointing="
                f"{self._incremental})")

    def __eq__(self, other: Any) -> bool:
        return (type(other) is EmbeddedRocksDBStateBackend
                and (other._incremental, other._paths) == (self._incremental, self._paths))

    __hash__ = None  # type: ignore[assignment]


def local_path(path: Any) -> str:
    """The local folder a path or ``file:`` URI names, as Flink reads it (the URI's
    path, without a trailing slash).

    >>> local_path("file:///var/state/"), local_path("file://host/state"), local_path("/tmp/x/")
    ('/var/state', '/state', '/tmp/x')
    """
    text = os.fspath(path)
    if text.startswith("file:"):
        text = urllib.parse.urlparse(text).path
    return text.rstrip("/") or text


def check_state_backend(backend: Any) -> StateBackend:
    if not isinstance(backend, StateBackend):
        raise PlanError(f"set_state_backend takes HashMapStateBackend() or "
                        f"EmbeddedRocksDBStateBackend(), not {backend!r}")
    return backend


def configure_state_backend(env: Any, configuration: Mapping[str, Any]) -> None:
    """Flink's configuration keys for the state backend."""
    kind = configuration.get("state.backend.type", configuration.get("state.backend"))
    incremental = configuration.get("state.backend.incremental")
    localdir = configuration.get("state.backend.rocksdb.localdir")
    if kind is None and incremental is None and localdir is None:
        return
    if kind is not None:
        name = str(kind).strip().lower()
        if name in ("hashmap", "heap", "filesystem", "jobmanager"):
            env._state_backend = HashMapStateBackend()
        elif name == "rocksdb":
            env._state_backend = EmbeddedRocksDBStateBackend()
        else:
            raise PlanError(f"configuration key 'state.backend.type': unknown state backend "
                            f"{kind!r} (hashmap or rocksdb)")
    backend = env._state_backend
    if isinstance(backend, EmbeddedRocksDBStateBackend):
        if incremental is not None:
            backend._incremental = str(incremental).strip().lower() == "true"
        if localdir is not None:
            backend.set_db_storage_paths(*str(localdir).split(","))
