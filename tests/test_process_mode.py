"""Process mode: the warm pool, shipping functions, errors, dead workers, output
forwarding, cancellation and clean-up (processes, descriptors, shared memory)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest

from tests.conftest import collect
from nbstream import (DataFrameSink, JobFailedError, JobStatus, MapFunction, PlanError,
                      StreamExecutionEnvironment, UserFunctionError)
from nbstream.runtime.executors.pool import get_pool
from nbstream.runtime.executors.process import PROCESS_STOP_GRACE_S, RemoteTraceback

ROOT = Path(__file__).resolve().parents[1]


def process_env(parallelism: int = 1) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(
        {"python.execution-mode": "process"})
    return env.set_parallelism(parallelism)


def children() -> set:
    """Pids of this process's live children."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                out.add(int(entry))
    return out


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def shm_entries() -> set:
    """/dev/shm's entries, but other processes' pool folders (kernels of other tests)."""
    names = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    return {n for n in names if not n.startswith("nbstream-arrow-")
            or n.startswith(f"nbstream-arrow-{os.getpid()}-")}


def worker_pids() -> set:
    return {w.pid for w in get_pool().workers.values()}


def naturals():
    n = 0
    while True:
        yield n
        n += 1


def test_pool_is_spawned_and_stays_warm():
    env = process_env(2)
    first = collect(env.from_collection(list(range(20))).rebalance().map(lambda x: os.getpid()))
    pids = worker_pids()
    assert set(first) <= pids and len(set(first)) == 2 and os.getpid() not in first
    second = collect(env.from_collection(list(range(20))).rebalance().map(lambda x: os.getpid()))
    assert set(second) == set(first)  # the same workers ran the second job
    for pid in pids:  # fresh interpreters (fork + exec), not forks of this threaded process
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[0] == sys.executable.encode()
        assert b"nbstream.runtime.executors.worker" in cmdline[2]


SCRIPT = '''
import json, os
from nbstream import StreamExecutionEnvironment, MapFunction

class Point:
    def __init__(self, x):
        self.x = x

class Scale(MapFunction):
    def __init__(self, factor):
        self.factor = factor
    def open(self, runtime_context):
        self.offset = 1000
    def map(self, p):
        return Point(p.x * self.factor + self.offset)

factor = 3
env = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": "process"})
points = env.from_collection([1, 2, 3]).map(lambda x: Point(x + factor)).set_parallelism(2)
out = points.map(Scale(10)).map(lambda p: (p.x, os.getpid())).execute_and_collect()
values = sorted(out)
print(json.dumps({"values": [v for v, _ in values], "pids": sorted({p for _, p in values}),
                  "me": os.getpid()}))
'''


def test_main_module_lambdas_closures_and_classes(tmp_path):
    script = tmp_path / "cell.py"
    script.write_text(SCRIPT)  # no __main__ guard: a worker importing it would run it again
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["values"] == [1040, 1050, 1060]
    assert result["me"] not in result["pids"]


def test_unpicklable_function_fails_before_the_job_starts():
    env = process_env()
    lock = threading.Lock()
    consumed = []

    def source():
        consumed.append(1)
        yield 1

    ds = env.from_iterable(source).set_execution_mode("thread").map(
        lambda x: (x, lock.locked())).name("check lock")
    with pytest.raises(PlanError) as info:
        collect(ds)
    text = str(info.value)
    assert "'check lock'" in text and "`lock`" in text and "_thread.lock" in text
    assert "set_execution_mode('thread')" in text
    assert consumed == []  # nothing ran


def test_sources_running_user_code_stay_in_the_kernel_unless_pinned():
    env = process_env()
    gen = (x for x in range(3))  # a generator object cannot be pickled: it stays here
    got = collect(env.from_iterable(gen).map(lambda x: (x, os.getpid())))
    assert sorted(v for v, _ in got) == [0, 1, 2] and os.getpid() not in {p for _, p in got}
    assert "thread (process mode: a source running your code stays in the kernel)" in \
        env.explain()
    pinned = process_env()
    pinned.from_iterable(x for x in range(3)).set_execution_mode("process").print()
    with pytest.raises(PlanError, match="generator"):
        pinned.execute()
    builtin = process_env()  # built-in readers need nothing of the kernel: they go too
    ds = builtin.from_sequence(1, 4).map(lambda x: os.getpid())
    assert "chain 0  parallelism 1  process (the job's mode)" in builtin.explain()
    assert os.getpid() not in collect(ds)


def test_failure_carries_the_worker_traceback_step_and_record():
    env = process_env()

    def check(x):
        if x == 7:
            raise ValueError(f"bad value {x}")
        return x

    with pytest.raises(UserFunctionError) as info:
        collect(env.from_collection(list(range(10))).map(check).name("validate"))
    err = info.value
    assert err.step == "validate" and "check" in err.function and "7" in str(err)
    assert isinstance(err.__cause__, ValueError)
    frames = traceback.extract_tb(err.__cause__.__traceback__)  # as they were in the worker
    assert frames[-1].name == "check" and frames[-1].line == 'raise ValueError(f"bad value {x}")'
    remote = err.__cause__.__cause__
    assert isinstance(remote, RemoteTraceback) and remote.text.startswith("raised in worker")


class OddError(Exception):
    def __init__(self, code, detail):  # two required arguments: does not unpickle
        super().__init__(f"{code}: {detail}")


def test_an_error_that_cannot_travel_still_reports():
    env = process_env()

    def boom(x):
        raise OddError(42, "disk on fire")

    with pytest.raises(JobFailedError) as info:
        collect(env.from_collection([1]).map(boom).name("boom step"))
    assert "boom step" in str(info.value) and "disk on fire" in str(info.value)


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_a_dying_worker_fails_the_job_fast_and_is_replaced(how):
    env = process_env()

    def die(x):
        if x == 50:
            if how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    started = time.monotonic()
    job_it = env.from_collection(list(range(100))).map(die).name("fragile").execute_and_collect()
    with pytest.raises(JobFailedError) as info:
        list(job_it)
    elapsed = time.monotonic() - started
    text = str(info.value)
    assert "worker" in text and "fragile" in text
    assert ("exited with code 3" if how == "exit" else "SIGKILL") in text
    assert elapsed < 10  # a hang guard, not a benchmark
    assert collect(process_env().from_collection([1, 2]).map(lambda x: x + 1)) == [2, 3]


def test_print_and_logging_in_workers_reach_the_job_output(capsys, caplog):
    env = process_env(2)
    log = logging.getLogger("nbstream.tests.worker")

    def chatty(x):
        print(f"value {x} in {os.getpid()}")
        log.warning("warned about %s", x)
        return x

    with caplog.at_level(logging.INFO):
        collect(env.from_collection(list(range(4))).rebalance().map(chatty))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("value")]
    assert sorted(int(line.split()[1]) for line in lines) == [0, 1, 2, 3]
    assert all(int(line.split()[-1]) != os.getpid() for line in lines)
    records = [r for r in caplog.records if r.name == "nbstream.tests.worker"]
    assert sorted(r.getMessage() for r in records) == [f"warned about {i}" for i in range(4)]
    assert all(r.process != os.getpid() for r in records)


def test_workers_follow_the_kernels_logger_levels(caplog):
    chatty = logging.getLogger("nbstream.tests.chatty")
    quiet = logging.getLogger("nbstream.tests.quiet")

    def talk(x):
        chatty.debug("detail %s", x)
        quiet.info("noise %s", x)
        return x

    quiet.setLevel(logging.ERROR)
    try:  # the root stays at WARNING; one logger lets debug through, one only errors
        with caplog.at_level(logging.DEBUG, logger="nbstream.tests.chatty"):
            collect(process_env().from_collection([1, 2]).map(talk))
    finally:
        quiet.setLevel(logging.NOTSET)
    messages = sorted(r.getMessage() for r in caplog.records if r.name.startswith("nbstream.tests"))
    assert messages == ["detail 1", "detail 2"]


def _warm():
    collect(process_env(2).from_collection(list(range(10))).rebalance().map(lambda x: x))


def test_cancel_and_completion_leave_nothing_behind():
    _warm()
    kids, fds, shm = children(), open_fds(), shm_entries()
    for _ in range(3):
        assert len(collect(process_env(2).from_sequence(1, 5000).map(lambda x: x * 2))) == 5000
    auto = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": "auto"})
    running: dict = {}

    def offloaded() -> bool:
        job = running.get("job")
        return job is not None and any(v.startswith("process on worker")
                                       for v in job.placement.values())

    def numbers():  # until the step runs on workers (under load they come late), then ends
        i, deadline = 0, time.monotonic() + 60
        while i < 1000 or (not offloaded() and time.monotonic() < deadline):
            yield i
            i += 1

    it = auto.from_iterable(numbers).map(lambda x: sum(range(20_000)) + x) \
        .name("offloaded").set_parallelism(2).execute_and_collect()
    running["job"] = it.job
    got = list(it)
    assert sorted(got) == [sum(range(20_000)) + x for x in range(len(got))]
    assert offloaded()
    env = process_env(2)
    env.from_iterable(naturals).rebalance().map(lambda x: x).add_sink(lambda x: None)
    job = env.execute_async("endless")
    time.sleep(0.5)
    assert job.status is JobStatus.RUNNING
    job.cancel()
    assert job.wait(10)
    assert job.status is JobStatus.CANCELED
    assert children() == kids  # the warm workers, no more
    assert open_fds() == fds
    assert shm_entries() == shm


def test_a_stuck_function_is_stopped_after_a_cancel():
    _warm()
    before = worker_pids()
    env = process_env()
    env.from_collection([1, 2]).map(lambda x: time.sleep(600)).add_sink(lambda x: None)
    job = env.execute_async("stuck")
    time.sleep(0.3)
    job.cancel()
    assert job.wait(PROCESS_STOP_GRACE_S + 10)
    assert job.status is JobStatus.CANCELED
    assert any("was stopped" in w for w in job.warnings)
    assert collect(process_env().from_collection([5]).map(lambda x: -x)) == [-5]
    assert worker_pids() != before


def test_a_worker_killed_while_idle_is_replaced():
    _warm()
    victim = next(iter(get_pool().workers.values()))
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait(10)
    got = collect(process_env(2).from_collection(list(range(10))).rebalance()
                  .map(lambda x: (x, os.getpid())))
    assert sorted(x for x, _ in got) == list(range(10))
    assert victim.pid not in {p for _, p in got} and len(worker_pids()) == 2


def test_each_key_lives_in_one_worker():
    env = process_env(2)
    data = [(f"k{i % 20}", i) for i in range(400)]
    got = collect(env.from_collection(data).key_by(lambda t: t[0])
                  .map(lambda t: (t[0], os.getpid())))
    where = {}
    for key, pid in got:
        where.setdefault(key, set()).add(pid)
    assert all(len(pids) == 1 for pids in where.values())
    assert len({p for pids in where.values() for p in pids}) == 2


def test_backpressure_bounds_what_is_in_flight():
    env = process_env()
    env.get_config().set_batch_size(10)
    gaps = []

    def slow(_x):
        time.sleep(0.002)

    env.from_iterable(naturals).map(lambda x: x).add_sink(slow)
    job = env.execute_async("slow sink")
    try:
        for _ in range(10):
            time.sleep(0.1)
            m = job.metrics()
            produced = next((v["records_out"] for k, v in m.items() if "Map" in k), 0)
            consumed = next((v["records_in"] for k, v in m.items() if "Sink" in k), 0)
            gaps.append(produced - consumed)
    finally:
        job.cancel()
        job.wait(10)
    # credits: 8 batches of 10 in the channel, one being written and one being read
    # (the workers' counts reach the kernel every 0.25 s, so they lag, never lead)
    assert max(gaps) <= 120
    assert consumed > 100 and produced > 100


def test_a_step_can_be_pinned_to_processes_in_a_thread_job():
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection([1, 2, 3]).map(lambda x: (x, os.getpid())).set_execution_mode(
        "process").map(lambda t: (t[0], t[1], os.getpid()))
    text = env.explain()
    assert "process (set on the step)" in text and "thread (the job's mode)" in text
    got = collect(ds)
    assert sorted(x for x, _, _ in got) == [1, 2, 3]
    assert {p for _, p, _ in got} != {os.getpid()} and {k for _, _, k in got} == {os.getpid()}


def test_modes_are_validated():
    env = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(ValueError, match="'thread', 'process', 'auto'"):
        env.set_execution_mode("gpu")
    with pytest.raises(ValueError, match="valid modes"):
        env.from_collection([1]).map(str).set_execution_mode("gpu")
    assert StreamExecutionEnvironment.get_execution_environment(
        {"python.execution-mode": "process"}).get_execution_mode() == "process"
    env.from_collection([1]).add_sink(DataFrameSink()).set_execution_mode("process")
    with pytest.raises(PlanError, match="kernel"):
        env.execute()


def test_large_binary_records_travel_out_of_band():
    import numpy as np
    env = process_env()
    arrays = [np.arange(i, i + 200_000, dtype=np.int64) for i in range(3)]
    got = collect(env.from_collection(arrays).map(lambda a: a * 2))
    assert sorted(int(a[0]) for a in got) == [0, 2, 4]
    assert all(a.shape == (200_000,) for a in got)


def test_large_arrow_batches_travel_as_files_read_once(monkeypatch):
    """A large Arrow batch in a message travels as a file in the pool's private folder (on
    tmpfs): the message carries its name, the reader maps it and unlinks it; a small one
    and a pickle kept for later (a plan: ``dumps``) carry the bytes."""
    import pyarrow as pa
    from nbstream.runtime.executors import wire
    _warm()
    folder = wire.ARROW_FOLDER[0]
    assert folder and os.path.isdir(folder) and os.stat(folder).st_mode & 0o077 == 0
    big = pa.record_batch([pa.array(range(300_000))], names=["x"])  # 2.4 MB
    frames = wire.encode(big)
    assert sum(len(f) for f in frames) < 4096 and len(os.listdir(folder)) == 1
    assert wire.decode(frames[0], frames[1:]).equals(big)
    assert os.listdir(folder) == []
    small = pa.record_batch([pa.array(range(10))], names=["x"])
    assert sum(len(f) for f in wire.encode(small)) > 80 and os.listdir(folder) == []
    assert len(wire.dumps(big)) > big.nbytes and os.listdir(folder) == []
    # through a job: batches of a table to a worker (as files) and back
    written = []
    arrow_file = wire._arrow_file
    monkeypatch.setattr(wire, "_arrow_file", lambda *a: written.append(1) or arrow_file(*a))
    env = process_env()
    table = pa.table({"x": list(range(1_000_000))})
    doubled = (env.from_arrow(table, batch_rows=262_144)
               .map_batches(lambda b: b.assign(x=b["x"] * 2)).to_arrow())
    assert doubled.column("x").to_pylist() == [2 * i for i in range(1_000_000)]
    assert len(written) == 4  # the kernel's four batches of 262,144 rows
    assert os.listdir(folder) == []


def test_jobs_run_side_by_side():
    results = {}

    def run(name, n):
        env = process_env(2)
        results[name] = sorted(collect(env.from_sequence(1, n).map(lambda x: x % 7)))

    threads = [threading.Thread(target=run, args=(f"job{i}", 3000 + i)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert {k: len(v) for k, v in results.items()} == {"job0": 3000, "job1": 3001, "job2": 3002}


def test_modules_added_to_sys_path_after_the_pool_started(tmp_path, monkeypatch):
    _warm()
    (tmp_path / "late_helpers.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import late_helpers

    got = collect(process_env().from_collection([1, 2]).map(late_helpers.triple)
                  .map(lambda x: (x, os.path.exists("late_helpers.py"))))
    assert got == [(3, True), (6, True)]


def _refuse_to_load():
    raise ImportError("this object cannot be rebuilt here")


class _Unloadable:
    def __call__(self, x):
        return x

    def __reduce__(self):
        return (_refuse_to_load, ())


def test_a_step_that_cannot_be_loaded_in_the_worker_is_named():
    with pytest.raises(JobFailedError) as info:
        collect(process_env().from_collection([1]).map(_Unloadable()).name("unloadable"))
    text = str(info.value)
    assert "'unloadable' could not be loaded in a worker process" in text
    assert "cannot be rebuilt here" in text


class _Opens(MapFunction):
    def open(self, runtime_context):
        raise RuntimeError("no model file")

    def map(self, value):
        return value


def test_open_failure_names_the_step():
    with pytest.raises(UserFunctionError, match="open") as info:
        collect(process_env().from_collection([1]).map(_Opens()).name("load model"))
    assert info.value.step == "load model"


def _jobs_alive_in_workers(_: int) -> tuple:
    """In a worker: its pid and how many jobs it still holds (this one included)."""
    import gc
    from nbstream.runtime.executors.worker import WorkerJob
    gc.unfreeze()  # a job's plan is frozen while it runs: let get_objects see everything
    gc.collect()
    return os.getpid(), sum(1 for o in gc.get_objects() if isinstance(o, WorkerJob))


def test_a_worker_keeps_nothing_of_an_ended_job():
    _warm()
    records = [(f"key{i % 50}", "x" * 100) for i in range(20_000)]
    for _ in range(2):  # a keyed exchange between the two workers: their direct link carries it
        assert len(collect(process_env(2).from_collection(records).key_by(lambda r: r[0])
                           .map(lambda r: len(r[1])))) == 20_000
    time.sleep(0.6)  # the metric reporters have run since
    held = dict(collect(process_env(2).from_collection([0, 1]).rebalance()
                        .map(_jobs_alive_in_workers)))
    assert len(held) == 2
    assert set(held.values()) == {1}  # the job asking, nothing older (was 2: the last job)


def test_batches_of_objects_pickle_the_way_cloudpickle_does():
    import copyreg
    import enum
    from collections import namedtuple
    from nbstream.runtime.executors.wire import decode, encode

    Pair = namedtuple("Pair", "a b")
    Colour = enum.Enum("Colour", "RED GREEN")
    Local = type("Local", (), {"__module__": "__main__", "__eq__": lambda s, o: vars(s) == vars(o)})
    local = Local()
    local.v = [1, 2]
    batch = [Pair(1, "x"), Colour.GREEN, local, (lambda x: x + 1), Local, len, b"raw", {"k": Pair(2, 3)}]
    for _ in range(2):  # the second time from the remembered types
        frames = encode(batch)
        got = decode(frames[0], frames[1:])
        assert got[:3] == batch[:3] and got[3](1) == 2 and got[4].__name__ == "Local"
        assert got[5] is len and got[6:] == batch[6:]

    class Registered:
        def __init__(self, n):
            self.n = n

    encode([Registered(1)])  # its type is remembered as reduced the standard way ...
    copyreg.pickle(Registered, lambda r: (int, (r.n * 10,)))
    try:  # ... yet a reducer registered afterwards is used
        frames = encode([Registered(4)])
        assert decode(frames[0], frames[1:]) == [40]
    finally:
        del copyreg.dispatch_table[Registered]


def test_a_killed_kernels_private_folders_are_removed_by_the_next_pool(tmp_path):
    from nbstream.runtime.executors.pool import private_folder

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = tmp_path / f"nbstream-arrow-{gone.pid}-abc"
    orphan.mkdir()
    (orphan / "batch").write_bytes(b"x")
    mine = tmp_path / f"nbstream-arrow-{os.getpid()}-def"  # a live process's stays
    mine.mkdir()
    made = private_folder("nbstream-arrow", str(tmp_path))
    assert not orphan.exists() and mine.exists() and os.path.isdir(made)
    assert oct(os.stat(made).st_mode & 0o777) == "0o700"
