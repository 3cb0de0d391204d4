"""Savepoints in the notebook: ``%%stream --checkpoint MS``, ``%stream_stop NAME --savepoint
SP``, ``%%stream --resume SP``, ``%stream_savepoints``; the live view's restarts, last
checkpoint and "resumed from"; the live results exactly once when the job checkpoints.

The kernel tests run a real Jupyter kernel (jupyter_client, see ``kernel.py``) and restart
it between the stop and the resume: a savepoint outlives the kernel."""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
from IPython.core.interactiveshell import InteractiveShell

from kernel import Kernel
from nbstream import RestartStrategies, StreamExecutionEnvironment
from nbstream.notebook.live import start, status_word
from nbstream.notebook.magics import list_savepoints, savepoints_dir
from nbstream.runtime.job import JobStatus

N = 3000

SLOW = '''
import time, json
def slow(x):
    time.sleep(0.002)
    return x
'''

# the same pipeline before and after the kernel restart: a keyed count shown live, and
# the values themselves (an append stream: a duplicate or a loss would show there)
PIPELINE = f'''
env.get_config().set_batch_size(50)  # a checkpoint barrier comes between two batches
# (a sequence source keeps its parallelism across a resume: the edited cell runs at 2)
values = env.from_sequence(1, {N}).set_parallelism(1).map(slow).name("slow").uid("slow")
counts = (values.map(lambda x: (x % 3, 1)).key_by(lambda t: t[0]).sum(1)
          .name("counts").uid("counts"))
show(values, label="values", chart="none")
show(counts, label="counts")
'''

# the cell edited before the resume: a step added, another parallelism
EDITED = PIPELINE.replace(".map(lambda x: (x % 3, 1))",
                          ".filter(lambda x: x > 0).name('edit').map(lambda x: (x % 3, 1))")


# -- terminal IPython: the errors --------------------------------------------------------------

@pytest.fixture()
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("NBSTREAM_SAVEPOINT_DIR", str(tmp_path / "savepoints"))
    monkeypatch.setenv("NBSTREAM_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    return tmp_path


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext nbstream")
    sh.run_cell(SLOW)
    yield sh
    sh.run_cell("%stream_stop --all")
    sh.run_cell("%unload_ext nbstream")


def usage_error(shell, code):
    result = shell.run_cell(code)
    assert type(result.error_in_exec).__name__ == "UsageError", result.error_in_exec
    return str(result.error_in_exec)


def test_resuming_an_unknown_savepoint_names_the_ones_there_are(shell, dirs):
    text = usage_error(shell, "%%stream --resume nope\nenv.from_sequence(1, 3)")
    assert text.splitlines()[0] == (
        f"%%stream: --resume: there is no savepoint named 'nope' "
        f"(there is no savepoint in {dirs / 'savepoints'} yet)")
    for name in ("first", "second"):
        (dirs / "savepoints" / name).mkdir(parents=True)
        (dirs / "savepoints" / name / "_metadata.json").write_text(
            json.dumps({"format": 1, "job": "j", "checkpoint_id": 1, "created": time.time()}))
    text = usage_error(shell, "%%stream --resume nope --checkpoint 100\nenv.from_sequence(1, 3)")
    assert "there is no savepoint named 'nope' (savepoints in " in text
    assert text.splitlines()[0].endswith(": first, second)")
    text = usage_error(shell, "%stream_savepoints --clear nope")
    assert "%stream_savepoints: --clear: there is no savepoint named 'nope'" in text
    assert "first, second" in text
    assert usage_error(shell, "%%stream --resume ../etc\nenv.from_sequence(1, 3)").startswith(
        "%%stream: a savepoint name is letters, digits, '_', '-' and '.', not '../etc'")


def test_a_savepoint_of_a_job_without_checkpoints_says_to_use_checkpoint(shell, dirs, capsys):
    assert shell.run_cell("%%stream --name plain\nenv.from_sequence(1, 10**6).map(slow)").success
    text = usage_error(shell, "%stream_stop plain --savepoint sp")
    assert text.splitlines()[0] == (
        "%stream_stop: job 'plain' does not checkpoint, so it cannot stop with a savepoint: "
        "start it with %%stream --checkpoint MS (e.g. --checkpoint 1000), then "
        "%stream_stop plain --savepoint sp")
    assert not (dirs / "savepoints" / "sp").exists()
    assert shell.run_cell("%stream_stop plain").success  # it was left running
    assert "stopped 'plain' (stopped)" in capsys.readouterr().out
    text = usage_error(shell, "%stream_stop plain --savepoint sp")
    assert "job 'plain' is not running (stopped)" in text
    assert usage_error(shell, "%stream_stop --all --savepoint sp").startswith(
        "%stream_stop: --savepoint stops one job: give its name instead of --all")


def test_checkpoint_option_errors(shell, dirs):
    assert usage_error(shell, "%%stream --checkpoint 5\nenv.from_sequence(1, 3)").startswith(
        "%%stream: --checkpoint: checkpoint interval must be at least 10 ms, not 5")
    assert "must be a positive integer" in usage_error(
        shell, "%%stream --checkpoint soon\nenv.from_sequence(1, 3)")
    assert usage_error(shell, "%%stream --pyflink --checkpoint 100\nx = 1").startswith(
        "%%stream: --checkpoint and --resume are for nbstream pipelines, not --pyflink programs")


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_stop_with_a_savepoint_then_resume_in_the_same_shell(shell, dirs, capsys, mode):
    cell = f"%%stream --checkpoint 50 --rows 5000 --name counts --mode {mode} --to first\n" \
        + PIPELINE
    assert shell.run_cell(cell).success
    first = shell.user_ns["first"]
    deadline = time.monotonic() + 30
    while first.fault_tolerance().get("completed", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shell.run_cell("%stream_stop counts --savepoint s1").success
    out = capsys.readouterr().out
    assert "stopped 'counts' (finished) with savepoint 's1'" in out
    assert "resume it with %%stream --resume s1" in out
    # a second savepoint of that name would replace the first: refused
    text = usage_error(shell, "%stream_stop counts --savepoint s1")
    assert "there is a savepoint named 's1' already" in text
    before = first.rows("values")
    assert 0 < len(before) < N
    # a pipeline without the counts' uid: refused, naming the step, unless told to drop it
    renamed = EDITED.replace('uid("counts")', 'uid("totals")')
    text = usage_error(shell, "%%stream --resume s1 --name counts\n" + renamed)
    assert text.startswith("%%stream --resume s1: ") and "'counts'" in text
    assert "add --allow-non-restored-state to drop that state" in text
    assert usage_error(shell, "%%stream --allow-non-restored-state\nenv.from_sequence(1, 3)"
                       ).startswith("%%stream: --allow-non-restored-state goes with --resume")
    assert shell.run_cell(f"%%stream --resume s1 --checkpoint 50 --rows 5000 --name counts "
                          f"--mode {mode} --parallelism 2 --to second --blocking\n"
                          + EDITED).success
    second = shell.user_ns["second"]
    assert second.fault_tolerance()["resumed_from"] == "s1"
    assert "resumed from s1" in second.summary()
    assert sorted(before + second.rows("values")) == list(range(1, N + 1))
    assert dict(second.rows("counts")) == {0: N // 3, 1: N // 3, 2: N // 3}
    [row] = list_savepoints()
    assert (row["name"], row["job"]) == ("s1", "counts") and row["bytes"] > 0


def test_someone_elses_savepoint_resumes_only_with_trust(shell, dirs, monkeypatch, capsys):
    mine = os.environ["NBSTREAM_KEY_FILE"]
    monkeypatch.setenv("NBSTREAM_KEY_FILE", str(dirs / "someone-else.key"))
    cell = "%%stream --checkpoint 50 --name theirs --mode thread --to theirs\n" + PIPELINE
    assert shell.run_cell(cell).success
    theirs = shell.user_ns["theirs"]
    deadline = time.monotonic() + 30
    while theirs.fault_tolerance().get("completed", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shell.run_cell("%stream_stop theirs --savepoint given").success
    assert oct(os.stat(dirs / "savepoints").st_mode & 0o777) == "0o700"
    monkeypatch.setenv("NBSTREAM_KEY_FILE", mine)
    text = usage_error(shell, "%%stream --resume given --mode thread --name mine\n" + PIPELINE)
    assert text.startswith(f"%%stream: savepoint or checkpoint {dirs / 'savepoints' / 'given'}")
    assert "signed with another key" in text and text.rstrip().endswith("pass --trust")
    assert usage_error(shell, "%%stream --trust\nenv.from_sequence(1, 3)").startswith(
        "%%stream: --trust goes with --resume SAVEPOINT or --replay NAME")
    cell = "%%stream --resume given --trust --mode thread --name mine --to mine\n" + PIPELINE
    assert shell.run_cell(cell).success
    mine_job = shell.user_ns["mine"]
    mine_job.wait(60)
    assert mine_job.fault_tolerance()["resumed_from"] == "given"
    assert dict(mine_job.rows("counts")) == {0: N // 3, 1: N // 3, 2: N // 3}


def test_savepoints_default_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("NBSTREAM_SAVEPOINT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert savepoints_dir() == tmp_path / ".nbstream" / "savepoints"
    assert list_savepoints() == []


# -- the live results and status without IPython ------------------------------------------------

def test_restarting_has_a_status_word():
    assert status_word(JobStatus.RESTARTING) == "restarting"
    assert {status_word(s) for s in JobStatus} >= {"running", "restarting", "stopping",
                                                   "finished", "failed", "stopped"}


def test_live_results_are_exactly_once_across_a_restart(dirs):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(50)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 300))
    failed = []

    def once(x):
        time.sleep(0.0003)
        if x == 1500 and not failed:
            failed.append(x)
            raise ValueError("once")
        return x

    values = env.from_sequence(1, N).map(once)
    job = start(env, [values], name="once", rows=2 * N)
    seen = set()
    while not job.wait(0.01):
        seen.add(job.status)
        if job.status == "restarting":
            seen.add(job.summary())
    assert job.status == "finished", job.error
    assert "restarting" in seen
    assert any("1 restart" in s for s in seen if s.startswith("nbstream job"))
    assert Counter(job.rows()) == Counter(range(1, N + 1))  # no duplicate, no loss
    info = job.fault_tolerance()
    assert info["restarts"] == 1 and "ValueError: once" in info["last_failure"]
    assert info["checkpointing"] and info["id"] >= 1 and info["size"] > 0
    assert "last failure (restarted from a checkpoint): " in job.report()


def test_without_checkpoints_nothing_is_held_and_nothing_is_shown(dirs):
    env = StreamExecutionEnvironment.get_execution_environment()
    job = start(env, [env.from_sequence(1, 100)], name="plain")
    assert job.wait(30) and job.rows() == list(range(1, 101))
    assert job.fault_tolerance() == {} and ";" not in job.summary()


# -- a real kernel, restarted between the stop and the resume ------------------------------------

@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbsave")
    k = Kernel({"NBSTREAM_SAVEPOINT_DIR": str(root / "savepoints"),
                "NBSTREAM_CHECKPOINT_DIR": str(root / "checkpoints")})
    k.root = root
    yield k
    k.execute("%stream_stop --all")
    k.close()


def setup_kernel(kernel):
    assert kernel.execute("%load_ext nbstream").ok
    assert kernel.execute(SLOW).ok


def widget_when(kernel, comm_id, predicate, timeout=60):
    deadline = time.monotonic() + timeout
    state = {}
    while time.monotonic() < deadline:
        state = kernel.widget_state(comm_id)
        if state and predicate(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"widget state never matched; last: "
                         f"{ {k: state.get(k) for k in ('status', 'stats', 'checkpoints')} }")


def printed(kernel, code):
    cell = kernel.execute(code)
    assert cell.ok, cell.error
    return json.loads(cell.stdout)


def test_a_savepoint_outlives_a_kernel_restart_and_the_totals_continue(kernel):
    setup_kernel(kernel)
    cell = kernel.execute("%%stream --checkpoint 100 --rows 5000 --name counts --to c\n"
                          + PIPELINE)
    assert cell.ok, cell.error
    values_view, counts_view = cell.widget_ids()
    state = widget_when(kernel, counts_view,
                        lambda s: (s.get("checkpoints") or {}).get("id") is not None)
    assert state["status"] == "running"
    assert state["checkpoints"]["text"].startswith(f"checkpoint {state['checkpoints']['id']} (")
    stop = kernel.execute("%stream_stop counts --savepoint s1")
    assert stop.ok, stop.error
    assert "stopped 'counts' (finished) with savepoint 's1'" in stop.stdout
    widget_when(kernel, counts_view, lambda s: s["status"] == "finished")
    before = printed(kernel, "print(json.dumps({'values': c.rows('values'), "
                             "'counts': c.rows('counts')}))")
    assert 0 < len(before["values"]) < N, "the savepoint fell at an end"
    counted = {k: v for k, v in before["counts"]}
    assert sum(counted.values()) == len(before["values"])  # both committed at the savepoint
    assert (kernel.root / "savepoints" / "s1" / "_metadata.json").is_file()

    kernel.restart()
    assert kernel.execute("print(len(globals().get('c', '')))").stdout.strip() == "0"
    setup_kernel(kernel)
    listing = kernel.execute("%stream_savepoints")
    assert listing.ok, listing.error
    [table] = [d["data"]["text/plain"] for d in listing.displays]
    header, row = table.splitlines()
    assert header.split() == ["name", "time", "job", "checkpoint", "bytes"]
    assert row.split()[1:2] == ["s1"] and row.split()[4] == "counts"

    cell = kernel.execute("%%stream --resume s1 --checkpoint 100 --rows 5000 --name counts "
                          "--to c\n" + PIPELINE)
    assert cell.ok, cell.error
    values_view, counts_view = cell.widget_ids()
    first = widget_when(kernel, counts_view, lambda s: s["delta"]["rows"])
    # the totals continue: no count starts again below where the savepoint left it
    for _rid, (key, total), _label, _time in first["delta"]["rows"]:
        assert total >= counted[key] > 0
    final = widget_when(kernel, counts_view, lambda s: s["status"] == "finished", timeout=90)
    assert final["checkpoints"]["resumed_from"] == "s1"
    assert "resumed from s1" in final["checkpoints"]["text"]
    after = printed(kernel, "print(json.dumps({'values': c.rows('values'), "
                            "'counts': c.rows('counts')}))")
    # as one uninterrupted run: every value once, the final counts as without the stop
    assert sorted(before["values"] + after["values"]) == list(range(1, N + 1))
    assert {k: v for k, v in after["counts"]} == {0: N // 3, 1: N // 3, 2: N // 3}


def test_the_live_view_shows_restarting_and_the_restarts(kernel):
    setup_kernel(kernel)
    code = ("failed = []\n"
            "def once(x):\n"
            "    time.sleep(0.001)\n"
            "    if x == 300 and not failed:\n"
            "        failed.append(x)\n"
            "        raise ValueError('once')\n"
            "    return x\n")
    assert kernel.execute(code).ok
    cell = kernel.execute("%%stream --checkpoint 50 --name flaky\n"
                          "env.from_sequence(1, 1000).map(once)")
    assert cell.ok, cell.error
    [view] = cell.widget_ids()
    widget_when(kernel, view, lambda s: s["status"] == "restarting")
    final = widget_when(kernel, view, lambda s: s["status"] == "finished")
    assert final["checkpoints"]["restarts"] == 1
    assert "ValueError: once" in final["checkpoints"]["last_failure"]
    assert "1 restart" in final["checkpoints"]["text"]
    jobs = kernel.execute("_t = %stream_jobs\n_r = _t.set_index('name').loc['flaky']\n"
                          "print(_r['status'], int(_r['restarts']), int(_r['checkpoint']) >= 1)")
    assert jobs.ok, jobs.error
    assert jobs.stdout.split() == ["finished", "1", "True"]


def test_the_view_says_restoring_while_a_rerun_generator_replays_to_its_position(dirs):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.enable_checkpointing(50)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 100))
    env.get_config().set_batch_size(50)
    failed = []

    def readings():  # no start parameter: run again after a restore, its first records dropped
        for i in range(1500):
            time.sleep(0.001)
            yield i

    def once(x):
        if x == 1000 and not failed:
            failed.append(x)
            raise ValueError("once")
        return x

    job = start(env, [env.from_iterable(readings).map(once)], name="replay", rows=2000)
    restoring = []
    while not job.wait(0.01):
        state = job.stats()["restoring"]
        if state:
            restoring.append(state)
    assert job.status == "finished", job.error
    assert Counter(job.rows()) == Counter(range(1500))  # exactly once across the restart
    assert restoring, "the view never said it was restoring the source's position"
    total = restoring[0]["total"]
    assert 0 < total <= 1000 and all(r["total"] == total for r in restoring)
    assert all(0 <= r["done"] < total for r in restoring)
    assert job.stats()["restoring"] is None  # over once the job ended
