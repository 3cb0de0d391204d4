"""The ``flink`` execution mode: run the plan as an Apache Flink job, results back here.

The plan is translated into a PyFlink job (:mod:`nbstream.flink.translate`) and
submitted to a Flink mini-cluster that the jobs of this process share (started with the
first job, in PyFlink's JVM), or to a remote cluster when the environment's configuration
names one (``rest.address`` and ``rest.port``; every other key of the configuration is
handed to Flink as well). ``nbstream.flink.shared-cluster: false`` gives each job a
mini-cluster of its own, configured with the job's configuration. A local mini-cluster
binds its servers to loopback and turns the web UI's job submission and cancelling off
(:data:`LOCAL_CLUSTER`). The records of every sink are collected
back through Flink's collect sink, and nbstream's sink writers run in this process:
``print()`` writes into the notebook cell, a DataFrameSink fills the live DataFrame,
``execute_and_collect()`` iterates, exactly as in the embedded modes.

Needs the ``flink`` extra (``pip install 'nbstream[flink]'``: apache-flink 2.x and a
Java 17 runtime). The first job of a process starts the JVM (several seconds).
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import re
import socket
import sys
import threading
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..errors import JobFailedError, NbstreamError, PlanError
from ..runtime.executors import Executor

__all__ = ["FlinkExecutor", "INSTALL_HINT", "flink_configuration", "check_available"]

INSTALL_HINT = ("the flink execution mode needs Apache Flink's Python API: "
                "pip install 'nbstream[flink]' (apache-flink 2.x; it needs Java 17)")

#: nbstream's own keys, which are not Flink's (or mean something else to Flink).
_OWN_KEYS = ("nbstream.",)
#: task slots of the shared mini-cluster; a job needing more gets a mini-cluster of its own
SHARED_SLOTS = max(16, 2 * (os.cpu_count() or 1))
#: a local mini-cluster's REST, RPC, blob and data servers listen on loopback only, and its
#: web UI neither submits nor cancels jobs (a setting of the environment wins)
LOCAL_CLUSTER = {"rest.bind-address": "127.0.0.1", "jobmanager.bind-host": "127.0.0.1",
                 "jobmanager.rpc.address": "127.0.0.1", "taskmanager.bind-host": "127.0.0.1",
                 "taskmanager.host": "127.0.0.1", "web.submit.enable": "false",
                 "web.cancel.enable": "false"}


def flink_configuration(settings: Mapping[str, Any]) -> Dict[str, str]:
    """The Flink configuration of a job whose environment was configured with ``settings``.

    >>> conf = flink_configuration({"rest.address": "jm", "rest.port": 8081,
    ...                             "nbstream.batch-size": 9, "python.execution-mode": "thread"})
    >>> {k: v for k, v in conf.items() if not k.endswith("executable")}
    {'python.execution-mode': 'process', 'rest.address': 'jm', 'rest.port': '8081'}

    Without a cluster of the user's, the local mini-cluster listens on loopback only and its
    web UI cannot submit or cancel jobs (:data:`LOCAL_CLUSTER`; a setting of the user wins):

    >>> local = flink_configuration({})
    >>> local["rest.bind-address"], local["taskmanager.bind-host"], local["web.submit.enable"]
    ('127.0.0.1', '127.0.0.1', 'false')
    """
    # thread mode runs Python inside Flink's JVM (fastest); on a standalone cluster it
    # needs flink-python in the cluster's lib/, so remote jobs use Flink's default, process
    # (python.execution-mode is nbstream's own mode; Flink's is nbstream.flink.python-mode)
    default = "process" if "rest.address" in settings else "thread"
    conf = {"python.execution-mode": str(settings.get("nbstream.flink.python-mode", default))}
    for key, value in settings.items():
        if key.startswith(_OWN_KEYS) or key == "python.execution-mode":
            continue
        conf[key] = str(value).lower() if isinstance(value, bool) else str(value)
    conf.setdefault("python.executable", sys.executable)
    conf.setdefault("python.client.executable", conf["python.executable"])
    if "rest.address" not in settings:
        for key, value in LOCAL_CLUSTER.items():
            conf.setdefault(key, value)
    return conf


def check_available() -> None:
    """Raise, saying how to install it, unless PyFlink can be imported (does not import it)."""
    try:
        found = importlib.util.find_spec("pyflink") is not None
    except (ImportError, ValueError):
        found = False
    if not found:  # a PlanError (a ValueError too): the mode cannot be chosen here
        raise PlanError(INSTALL_HINT)


class FlinkExecutor(Executor):
    name = "flink"

    def __init__(self) -> None:
        check_available()
        self._lock = threading.Lock()
        self._cluster: Optional[Tuple[Any, int]] = None

    def start(self, plan: Any, job: Any, clock: Any) -> None:
        from .translate import Translator

        fenv, conf = self._environment(plan)
        ship_user_modules(plan)
        translator = Translator(plan, fenv, driver_address(conf))
        try:
            collected = translator.translate()  # PlanError: nothing was submitted
            results = collected._j_data_stream.collectAsync()
            try:
                fjob = fenv.execute_async(plan.job_name)
            except Exception as exc:
                raise JobFailedError(f"Apache Flink refused job '{plan.job_name}': "
                                     f"{_flink_reason(exc)}") from exc
        except BaseException:
            for feed in translator.feeds:
                feed.stop()
                feed.server.close()
            raise
        sinks = _DriverSinks(plan, job, clock)
        job._start(sinks.metrics)
        for feed in translator.feeds:
            feed.start(job)
        job.add_waker(lambda: _cancel(fjob, results, translator.feeds))
        threading.Thread(target=self._drain, args=(results, fjob, sinks, job), daemon=True,
                         name=f"nbstream[{job.job_name}] flink results").start()

    def _environment(self, plan: Any) -> Tuple[Any, Dict[str, str]]:
        """A PyFlink environment for ``plan``: on the remote cluster the configuration
        names, else on this process's shared mini-cluster (or, when that cannot run the
        job, a mini-cluster of its own)."""
        from pyflink.common import Configuration
        from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

        settings = dict(getattr(plan.config, "settings", {}) or {})
        conf = flink_configuration(settings)
        own = {k: str(v) for k, v in settings.items() if k.startswith(_OWN_KEYS)}
        if "nbstream.flink.python-mode" not in settings and needs_process_mode(plan):
            conf["python.execution-mode"] = "process"
        # PyFlink's thread mode embeds the interpreter found on PATH: make it this one; and
        # let the JVM's Python workers import what this process can (modules beside the
        # notebook), as they inherit the JVM's environment when it starts
        bindir = os.path.dirname(conf["python.executable"])
        if bindir and bindir not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
        paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
        extra = [p for p in (os.path.abspath(p or ".") for p in sys.path)
                 if os.path.isdir(p) and p not in paths]
        os.environ["PYTHONPATH"] = os.pathsep.join([p for p in paths if p] + extra)
        config = Configuration()
        for key, value in conf.items():
            config.set_string(key, value)
        shared = (own.get("nbstream.flink.shared-cluster", "true").lower() != "false"
                  and max(plan.parallelism.values()) <= SHARED_SLOTS)
        if "rest.address" in conf:
            fenv = _remote(config, conf["rest.address"], int(conf.get("rest.port", 8081)),
                           python_jars())
            fenv.add_python_file(nbstream_archive())
        elif shared:
            fenv = _remote(config, "localhost", self._shared_cluster(conf))
        else:
            fenv = StreamExecutionEnvironment.get_execution_environment(config)
        if plan.config.batch_mode:
            fenv.set_runtime_mode(RuntimeExecutionMode.BATCH)
        fenv.get_config().set_auto_watermark_interval(plan.config.auto_watermark_interval_ms)
        fenv.set_buffer_timeout(plan.config.buffer_timeout_ms)
        return fenv, {**conf, **own}

    def _shared_cluster(self, conf: Mapping[str, str]) -> int:
        """The REST port of the mini-cluster this process's jobs share (started once, in
        PyFlink's JVM, with the first job's configuration): a job then costs a fraction
        of a second instead of a mini-cluster start of its own."""
        from pyflink.java_gateway import get_gateway

        with self._lock:
            if self._cluster is None:
                jvm = get_gateway().jvm
                j_conf = jvm.org.apache.flink.configuration.Configuration()
                for key, value in conf.items():
                    j_conf.setString(key, value)
                j_conf.setString("rest.bind-port", "0")
                builder = jvm.org.apache.flink.runtime.minicluster.MiniClusterConfiguration.Builder()
                cluster = jvm.org.apache.flink.runtime.minicluster.MiniCluster(
                    builder.setConfiguration(j_conf).setNumTaskManagers(1)
                    .setNumSlotsPerTaskManager(SHARED_SLOTS).build())
                cluster.start()
                self._cluster = (cluster, cluster.getRestAddress().get().getPort())
            return self._cluster[1]

    @staticmethod
    def _drain(results: Any, fjob: Any, sinks: "_DriverSinks", job: Any) -> None:
        try:
            try:
                while results.hasNext():
                    sinks.write(*pickle.loads(bytes(results.next())))
            except Exception as exc:
                if not job.cancelled:
                    job.fail(_job_error(job, exc))
            try:
                fjob.get_job_execution_result().result()
            except Exception as exc:
                if not job.cancelled:
                    job.fail(_job_error(job, exc))
            sinks.close(ok=not job.cancelled)
        except BaseException as exc:  # noqa: BLE001 - a driver sink failed: report it
            job.fail(exc if isinstance(exc, NbstreamError) else JobFailedError(repr(exc)))
            sinks.close(ok=False)
        finally:
            try:
                results.close()
            except Exception:
                pass
            job._finish()


class _DriverSinks:
    """nbstream's sink operators, one per sink and subtask, fed with collected records."""

    def __init__(self, plan: Any, job: Any, clock: Any) -> None:
        from ..runtime.registry import build_operator
        from ..runtime.clock import TimeService
        from ..runtime.context import TaskInfo

        self.ops: Dict[Tuple[int, int], Any] = {}
        for nid, node in plan.nodes.items():
            if not node.is_sink:
                continue
            par = plan.parallelism[nid]
            for sub in range(par):
                op = build_operator(node)
                op.setup(TaskInfo(node.name, sub, par, plan.max_parallelism[nid], plan.config,
                                  TimeService(clock), plan.job_name, {"stdout": job.stdout}),
                         keyed=False)
                op.open()
                self.ops[(nid, sub)] = op

    def write(self, sink_id: int, subtask: int, value: Any, timestamp: Any) -> None:
        from ..runtime.records import Batch

        op = self.ops[(sink_id, subtask)]
        op.records_in += 1
        op.process_batch(Batch([value], None if timestamp is None else [timestamp]))

    def close(self, ok: bool) -> None:
        for op in self.ops.values():
            if ok:
                op.end_input()
            op.close()
        self.ops_closed = True

    def metrics(self) -> List[Dict[str, Any]]:
        return [{"id": nid, "name": op.name, "records_in": op.records_in, "records_out": 0,
                 "watermark": None} for (nid, _sub), op in self.ops.items()]


def _remote(config: Any, host: str, port: int, jars: List[str] = ()) -> Any:  # type: ignore[assignment]
    """A PyFlink environment submitting to the cluster at ``host``:``port`` with ``jars``."""
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.java_gateway import get_gateway

    gateway = get_gateway()
    j_jars = gateway.new_array(gateway.jvm.String, len(jars))
    for i, jar in enumerate(jars):
        j_jars[i] = jar
    j_env = gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment
    return StreamExecutionEnvironment(j_env.createRemoteEnvironment(
        host, port, config._j_configuration, j_jars))


_ARCHIVE: List[str] = []


def nbstream_archive() -> str:
    """A zip of the nbstream package (built once per process), for a cluster's Python
    workers: on their PYTHONPATH, ``import nbstream`` works there too."""
    if not _ARCHIVE:
        import tempfile
        import zipfile

        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        path = os.path.join(tempfile.mkdtemp(prefix="nbstream-flink-"), "nbstream.zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for folder, dirs, files in os.walk(package):
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                for name in files:
                    full = os.path.join(folder, name)
                    zf.write(full, os.path.relpath(full, os.path.dirname(package)))
        _ARCHIVE.append(path)
    return _ARCHIVE[0]


def python_jars() -> List[str]:
    """Flink's Python runtime (``opt/flink-python-*.jar`` of PyFlink): a standalone cluster
    keeps it out of its class path, so jobs sent to a remote cluster bring it along."""
    import glob

    import pyflink

    return sorted(glob.glob(os.path.join(os.path.dirname(pyflink.__file__), "opt",
                                         "flink-python*.jar")))


def needs_process_mode(plan: Any) -> bool:
    """Whether the plan uses what PyFlink 2.3's thread mode gets wrong, so that it must
    run in Flink's process mode: broadcast state (written in process_broadcast_element,
    lost for the process_element calls after it) and timers (what on_timer emits carries
    the last record's timestamp instead of the timer's)."""
    from ..api import functions as F

    for node in plan.nodes.values():
        if node.kind == "broadcast_process":
            return True
        owner = getattr(node.fn, "owner", None)
        on_timer = getattr(type(owner), "on_timer", None)
        if node.kind in ("process", "co_process") and on_timer is not None and on_timer not in (
                F.KeyedProcessFunction.on_timer, F.KeyedCoProcessFunction.on_timer):
            return True
    return False


def _functions_of(value: Any, depth: int = 0) -> List[Any]:
    """The objects in a step's function and parameters whose classes or code a worker
    must load (user functions, Function instances, assigners, window function specs)."""
    if value is None or depth > 3 or isinstance(value, (str, bytes, int, float, bool)):
        return []
    if isinstance(value, (list, tuple, set, frozenset)):
        return [f for v in value for f in _functions_of(v, depth + 1)]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _functions_of(v, depth + 1)]
    found = [value]
    if not callable(value) or hasattr(value, "__dict__"):
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict) and not isinstance(value, type):
            found += [f for v in attrs.values() for f in _functions_of(v, depth + 1)]
    return found


def ship_user_modules(plan: Any) -> None:
    """Let the job's functions travel by value when they come from the user's own modules
    (a test module, a ``helpers.py`` beside the notebook): Flink's Python workers import
    only what is installed or on their PYTHONPATH. Functions of ``__main__`` (a notebook)
    already travel by value."""
    import sysconfig

    import cloudpickle

    installed = {os.path.realpath(p) for key in ("stdlib", "platstdlib", "purelib", "platlib")
                 if (p := sysconfig.get_paths().get(key))}
    names = set()
    for node in plan.nodes.values():
        spec = node.params.get("source")
        values = list(getattr(spec, "values", ())[:100])  # the classes of records too
        for obj in _functions_of([node.fn, dict(node.params), values]):
            for holder in (obj, type(obj)):
                module = getattr(holder, "__module__", None)
                if isinstance(module, str):
                    names.add(module)
    for name in names:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if (module is None or path is None or name == "__main__"
                or name.split(".")[0] in ("nbstream", "pyflink", "cloudpickle")):
            continue
        real = os.path.realpath(path)
        if not any(real.startswith(root + os.sep) for root in installed):
            cloudpickle.register_pickle_by_value(module)


def driver_address(conf: Mapping[str, str]) -> str:
    """Where a job reaches this process (for sources that run here): the configured
    ``nbstream.flink.driver-address``, loopback for a local mini-cluster, else this host."""
    if "nbstream.flink.driver-address" in conf:
        return conf["nbstream.flink.driver-address"]
    if "rest.address" not in conf:
        return "127.0.0.1"
    return socket.gethostbyname(socket.gethostname())


def _cancel(fjob: Any, results: Any, feeds: List[Any]) -> None:
    for feed in feeds:
        feed.stop()
    try:
        fjob.cancel()
    except Exception:
        pass
    try:
        results.close()
    except Exception:
        pass


_USER_ERROR = re.compile(r"UserFunctionError: (.+)")
_PY_ERROR = re.compile(r"^\s*(\w+(?:Error|Exception)): (.+)$", re.M)


def _flink_reason(exc: BaseException) -> str:
    """The most telling line of a Flink failure: a step's error if a user function failed."""
    text = str(exc)
    found = _USER_ERROR.search(text)
    if found:
        return found.group(1).strip()
    errors = [m for m in _PY_ERROR.finditer(text) if "java." not in m.group(1)]
    if errors:
        return f"{errors[-1].group(1)}: {errors[-1].group(2).strip()}"
    causes = re.findall(r"Caused by: (.+)", text)
    return (causes[-1] if causes else text.strip().splitlines()[0] if text.strip() else repr(exc))


def _job_error(job: Any, exc: BaseException) -> JobFailedError:
    reason = _flink_reason(exc)
    if "on __main__ failed" in str(exc) or "on <module '__main__'" in str(exc):
        reason += (" (Flink's workers pickle records and state by class name: define the classes "
                   "of your records in a module, e.g. a .py file beside the notebook, not in "
                   "the notebook itself)")
    err = JobFailedError(f"job '{job.job_name}' failed on Apache Flink: {reason}")
    err.flink_error = str(exc)  # type: ignore[attr-defined]
    return err
