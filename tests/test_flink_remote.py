"""The flink mode on a remote cluster: a standalone Flink cluster (a JobManager and a
TaskManager, separate JVMs from PyFlink's own distribution, on loopback) is named by
``rest.address``/``rest.port``; nbstream ships itself and Flink's Python runtime with the
job, and the results stream back as with the local mini-cluster."""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from nbstream import StreamExecutionEnvironment

pytestmark = [pytest.mark.slow, pytest.mark.flink]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import pyflink

    home = os.path.dirname(pyflink.__file__)
    rest, rpc = _free_port(), _free_port()
    logs = tmp_path_factory.mktemp("flink-logs")
    env = dict(os.environ, FLINK_HOME=home, FLINK_LOG_DIR=str(logs),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    props = ["-D", f"rest.port={rest}", "-D", f"jobmanager.rpc.port={rpc}",
             "-D", "taskmanager.numberOfTaskSlots=4", "-D", "rest.address=localhost"]
    procs = [subprocess.Popen(["bash", os.path.join(home, "bin", script), "start-foreground",
                               *props], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
             for script in ("jobmanager.sh", "taskmanager.sh")]
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://localhost:{rest}/overview", timeout=2) as r:
                    if json.load(r).get("taskmanagers", 0) >= 1:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"the cluster did not start (logs in {logs})"
            assert all(p.poll() is None for p in procs), f"a cluster process died (logs in {logs})"
            time.sleep(0.5)
        yield {"rest.address": "localhost", "rest.port": rest}
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_a_pipeline_runs_on_a_remote_cluster(cluster):
    def run(mode, config):
        env = StreamExecutionEnvironment.get_execution_environment(config)
        env.set_execution_mode(mode).set_parallelism(2)
        # one instance before key_by, so each key's rolling values come in one order
        pairs = env.from_collection(list(range(1, 201))).map(lambda x: (x % 7, x))
        out = (pairs.set_parallelism(1).key_by(lambda t: t[0])
                    .reduce(lambda a, b: (a[0], a[1] + b[1])).execute_and_collect())
        return collections.Counter(out)

    remote = run("flink", cluster)
    assert remote == run("thread", None)
    assert max(v for k, v in remote if k == 0) == sum(x for x in range(1, 201) if x % 7 == 0)
