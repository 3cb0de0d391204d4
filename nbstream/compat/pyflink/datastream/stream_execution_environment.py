"""``pyflink.datastream.StreamExecutionEnvironment`` on nbstream.

nbstream's environment with what PyFlink scripts call besides: ``from_source`` with
PyFlink's source objects, and the settings that only matter to a JVM cluster
(``add_jars``, ``add_python_file``, ``set_python_executable``, ...), which are accepted
and have no effect here. As Flink's local environment, the default parallelism is the
number of CPU cores unless ``parallelism.default`` is configured.

>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.get_parallelism() == (os.cpu_count() or 1)
True
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Tuple

from nbstream.api.environment import RuntimeExecutionMode
from nbstream.api.environment import StreamExecutionEnvironment as _Environment
from nbstream.errors import PlanError
from ..common.execution_config import ExecutionConfig
from .._exports import not_available
from .checkpoint_config import CheckpointConfig
from .keyed_stream import KeyedStream

__all__ = ["StreamExecutionEnvironment"]


class StreamExecutionEnvironment(_Environment):
    """PyFlink's StreamExecutionEnvironment, running on nbstream.

    In BATCH runtime mode it plans as Flink 2's adaptive batch scheduler does for
    small inputs (under 16 MiB per task, the case of every program run here): a step
    without a parallelism of its own runs at 1, so its print sink writes no ``N>``
    prefix; and a keyed reduce hands out its final values in the order Flink's sorted
    batch input gives the keys (:mod:`nbstream.runtime.keyorder`).
    """

    _batch_key_order = "serialized"
    _keyed_stream_type = KeyedStream

    def __init__(self, configuration: Any = None) -> None:
        super().__init__(None)
        self._config = ExecutionConfig(self)
        self._checkpoint_config = CheckpointConfig()
        self._slot_sharing_groups: Dict[str, Any] = {}
        self._cached_files: List[Tuple[str, str]] = []
        self._changelog: Optional[bool] = None
        if configuration is not None:
            self.configure(configuration)

    @property
    def _j_stream_execution_environment(self) -> "JavaEnvironment":
        """PyFlink's handle of the Java environment. nbstream has no JVM: every Java
        method called on it raises :class:`NotAvailableError` naming it."""
        return JavaEnvironment(self)

    def configure(self, configuration: Any) -> "StreamExecutionEnvironment":
        """Apply configuration keys: a dict or a ``Configuration`` (see nbstream's
        :meth:`~nbstream.StreamExecutionEnvironment.configure`)."""
        if not isinstance(configuration, Mapping):
            configuration = configuration.to_dict()
        super().configure(configuration)
        return self

    def register_slot_sharing_group(self, slot_sharing_group: Any) -> "StreamExecutionEnvironment":
        """Declare a slot sharing group's resources for a Flink cluster (kept; see
        :mod:`nbstream.compat.pyflink.datastream.slot_sharing_group`)."""
        self._slot_sharing_groups[slot_sharing_group.get_name()] = slot_sharing_group
        return self

    def register_cached_file(self, file_path: str, name: str, executable: bool = False) -> None:
        """Flink's distributed cache: a file its workers copy locally. Here the functions
        run on this machine and read ``file_path`` where it is; the entry is kept."""
        self._cached_files.append((name, os.fspath(file_path)))

    def get_cached_files(self) -> List[Tuple[str, str]]:
        """The ``(name, path)`` of every registered cached file."""
        return list(self._cached_files)

    def enable_changelog_state_backend(self, enabled: bool) -> "StreamExecutionEnvironment":
        """Flink's changelog state backend (faster checkpoints of large state): kept and
        read back; nbstream's checkpoints are full snapshots either way."""
        self._changelog = bool(enabled)
        return self

    def is_changelog_state_backend_enabled(self) -> Optional[bool]:
        return self._changelog

    def _default_parallelism(self) -> int:
        if self.get_runtime_mode() is RuntimeExecutionMode.BATCH:
            return 1
        return self.get_parallelism()

    def _plan(self, job_name: str, all_nodes: bool = False) -> Any:
        """In BATCH mode, as Flink's adaptive batch scheduler: a broadcast-connected step
        (and the steps fused after it) keeps the environment's parallelism, so every
        instance gets every broadcast element; other steps without a parallelism of their
        own run at 1."""
        if self.get_runtime_mode() is not RuntimeExecutionMode.BATCH:
            return super()._plan(job_name, all_nodes)
        nodes = self._graph.nodes
        saved = dict(nodes)
        nodes.update(_broadcast_chains(nodes, self.get_parallelism()))
        try:
            return super()._plan(job_name, all_nodes)
        finally:
            nodes.clear()
            nodes.update(saved)

    @staticmethod
    def get_execution_environment(configuration: Any = None) -> "StreamExecutionEnvironment":
        config = {}
        if configuration is not None:
            config = dict(configuration.to_dict() if hasattr(configuration, "to_dict")
                          else configuration)
        from .. import DEFAULTS

        env = StreamExecutionEnvironment()
        env.set_parallelism(DEFAULTS.get("parallelism") or os.cpu_count() or 1)
        if DEFAULTS.get("mode"):
            env.set_execution_mode(DEFAULTS["mode"])
        env.configure(config)
        return env

    # settings for a JVM cluster: accepted, nothing to do without one ---------------------
    def add_jars(self, *jars_path: str) -> None:
        """Java libraries: nothing to load without a JVM."""

    def add_classpaths(self, *classpaths: str) -> None:
        """Java class paths: nothing to load without a JVM."""

    def add_python_file(self, file_path: str) -> None:
        """Make a Python file or directory importable by the job's functions."""
        folder = file_path if os.path.isdir(file_path) else os.path.dirname(file_path)
        if folder not in sys.path:
            sys.path.append(os.path.abspath(folder))

    def set_python_executable(self, python_exec: str) -> None:
        """The Python of Flink's workers: nbstream runs functions in this interpreter."""

    def set_python_requirements(self, requirements_file_path: str,
                                requirements_cache_dir: Optional[str] = None) -> None:
        """Requirements PyFlink installs for its workers. nbstream's functions run in this
        interpreter (and its workers): with ``requirements_cache_dir`` (PyFlink's offline
        installation) the requirements are installed from that folder, without the network,
        into a temporary folder put last on ``sys.path``, so what is installed already stays
        first; without one, nothing is installed: install them into this environment."""
        if requirements_cache_dir is None:
            return
        target = tempfile.mkdtemp(prefix="nbstream-requirements-")
        atexit.register(shutil.rmtree, target, True)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-index", "--find-links", os.fspath(requirements_cache_dir), "--target", target,
             "-r", os.fspath(requirements_file_path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise PlanError(f"set_python_requirements: pip could not install "
                            f"{requirements_file_path} from {requirements_cache_dir}:\n"
                            f"{done.stderr.strip()[-2000:]}")
        sys.path.append(target)

    def add_python_archive(self, archive_path: str, target_dir: Optional[str] = None) -> None:
        """An archive for Flink's workers: nothing to ship here."""

    def get_default_local_parallelism(self) -> int:
        return self.get_parallelism()

    def set_default_local_parallelism(self, parallelism: int) -> None:
        self.set_parallelism(parallelism)

    def close(self) -> None:
        """Release the environment (nothing is held between jobs)."""


def _broadcast_chains(nodes: Dict[int, Any], parallelism: int) -> Dict[int, Any]:
    """The broadcast-connected steps without a parallelism of their own, and the steps
    fused after them (one input, forward, none of their own), at ``parallelism``."""
    consumers: Dict[int, List[Any]] = {}
    for node in nodes.values():
        for i in node.inputs:
            consumers.setdefault(i, []).append(node)
    todo = [n for n in nodes.values() if n.kind == "broadcast_process" and n.parallelism is None]
    out: Dict[int, Any] = {}
    while todo:
        node = todo.pop()
        out[node.id] = node.replace(parallelism=parallelism)
        todo += [c for c in consumers.get(node.id, ()) if c.id not in out and not c.is_virtual
                 and c.parallelism is None and len(c.inputs) == 1 and c.chaining == "default"]
    return out


class JavaEnvironment:
    """What PyFlink code reaches as ``env._j_stream_execution_environment``: nbstream has no
    Java environment, so each Java method raises, naming it. ``environment`` is the
    nbstream environment it stands for."""

    def __init__(self, environment: StreamExecutionEnvironment) -> None:
        self.environment = environment

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise not_available(f"StreamExecutionEnvironment.{name}() of the Java environment",
                            "env._j_stream_execution_environment")
