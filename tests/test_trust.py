"""Files nbstream reads back are data, private and signed: a crafted savepoint or recording
does not run its code, one written by someone else (another signing key) or an unsigned one
is refused naming the file unless trusted, folders are 0700 and files 0600. And restores
that cannot work say why: a broken newest checkpoint is skipped for the one before, a
step's state of another kind or of another key type is refused naming the step."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import stat
import time
from collections import Counter
from pathlib import Path

import pytest

from nbstream import (Duration, ExternalizedCheckpointRetention, JobStatus,
                      StreamExecutionEnvironment, TumblingEventTimeWindows)
from nbstream.runtime import signing, state_format
from nbstream.runtime.checkpoint_storage import MANIFEST

DATA = [(f"k{i % 5}", 1) for i in range(2000)]


class Slow:
    """A map that takes a little time per record, so that checkpoints fall mid-job."""

    def __call__(self, value):
        time.sleep(0.0003)
        return value


class Boom:
    """What an attacker pickles: unpickling it runs code (here: makes a marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.fixture
def other_key(tmp_path, monkeypatch):
    """``with other_key():`` signs (and checks) with another user's key inside the block."""
    import contextlib

    @contextlib.contextmanager
    def use() -> None:
        mine = os.environ["NBSTREAM_KEY_FILE"]
        monkeypatch.setenv("NBSTREAM_KEY_FILE", str(tmp_path / "someone-else" / "signing.key"))
        try:
            yield
        finally:
            monkeypatch.setenv("NBSTREAM_KEY_FILE", mine)
    return use


def env_for(tmp_path, batch_size: int = 20) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": batch_size})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    return env


def counts(env, data=DATA, key=lambda e: e[0]):
    return env.from_collection(data).map(Slow()).uid("slow").key_by(key) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts")


def savepoint_mid_job(tmp_path, name="sp"):
    """Run ``counts`` until a checkpoint completed, stop with a savepoint: (its path, the
    records delivered before the stop)."""
    it = counts(env_for(tmp_path)).execute_and_collect()
    first, path = [], None
    for record in it:
        first.append(record)
        if path is None and it.job.checkpoint_info().get("completed", 0) >= 1:
            path = it.job.stop_with_savepoint(str(tmp_path / name))
            break
    first.extend(it)
    assert path is not None
    return path, first


def whole_run():
    env = StreamExecutionEnvironment.get_execution_environment()
    return Counter(counts(env).execute_and_collect())


def legacy_savepoint(folder: Path, payload: bytes) -> Path:
    """A savepoint in format 1 (a pickle per state file), as an attacker would make it."""
    folder.mkdir()
    (folder / "counts-0-0.state").write_bytes(payload)
    (folder / MANIFEST).write_text(json.dumps({
        "format": 1, "job": "j", "checkpoint_id": 1, "created": time.time(),
        "operators": {"counts": {"parallelism": 1, "max_parallelism": 128, "name": "Reduce",
                                 "files": {"0": {"file": "counts-0-0.state", "size": len(payload),
                                                 "sha256": hashlib.sha256(payload).hexdigest()}}}}}))
    return folder


# -- savepoints ------------------------------------------------------------------------------------

def test_a_crafted_savepoint_does_not_run_its_code(tmp_path):
    marker = tmp_path / "code-ran"
    crafted = legacy_savepoint(tmp_path / "crafted", pickle.dumps(Boom(marker)))
    env = env_for(tmp_path)
    counts(env).add_sink(lambda v: None)
    with pytest.raises(Exception) as refused:
        env.execute(savepoint_path=str(crafted))
    assert not marker.exists(), "restoring the crafted savepoint ran its code"
    assert isinstance(refused.value, signing.UntrustedFileError)
    assert str(refused.value).startswith(f"savepoint or checkpoint {crafted} is not trusted: it "
                                         "is in format version 1 (pickles, not signed)")
    assert "pass trust_savepoint=True" in str(refused.value)


def test_a_crafted_savepoint_signed_by_someone_else_is_refused(tmp_path, other_key):
    marker = tmp_path / "code-ran"
    with other_key():  # the attacker's nbstream writes a savepoint holding a pickled object
        from nbstream.runtime.checkpoint_storage import CheckpointStorage

        blob = state_format.dumps({"watermark": 0, "acc": {"k0": Boom(marker)}})
        CheckpointStorage(str(tmp_path), "x").write(
            1, {"counts": {"parallelism": 1, "max_parallelism": 128, "name": "Reduce",
                           "kind": "reduce", "subtasks": {0: {"finished": False, "state": blob}}}},
            "evil", folder=str(tmp_path / "crafted"))
    assert json.loads((tmp_path / "crafted" / MANIFEST).read_text())["operators"]["counts"][
        "files"]["0"]["objects"] == [f"{__name__}.Boom"]
    env = env_for(tmp_path)
    counts(env).add_sink(lambda v: None)
    with pytest.raises(signing.UntrustedFileError,
                       match=f"savepoint or checkpoint {tmp_path / 'crafted' / MANIFEST} is not "
                             "trusted: it is signed with another key"):
        env.execute(savepoint_path=str(tmp_path / "crafted"))
    assert not marker.exists()


def test_someone_elses_savepoint_is_refused_unless_trusted_then_restores(tmp_path, other_key):
    with other_key():
        path, first = savepoint_mid_job(tmp_path)
    env = env_for(tmp_path)
    counts(env).add_sink(lambda v: None)
    with pytest.raises(signing.UntrustedFileError, match="signed with another key .*someone else "
                                                         "wrote it.*pass trust_savepoint=True"):
        env.execute(savepoint_path=path)
    env2 = env_for(tmp_path)
    env2.configure({"execution.savepoint.path": path, "nbstream.savepoint.trust": "true"})
    second = list(counts(env2).execute_and_collect())
    assert first and second
    assert Counter(first) + Counter(second) == whole_run()


def test_an_unsigned_or_edited_savepoint_is_refused_saying_how_to_trust_it(tmp_path):
    path, _ = savepoint_mid_job(tmp_path)
    manifest = Path(path) / MANIFEST
    signature = manifest.with_name(MANIFEST + ".sig")
    env = env_for(tmp_path)
    saved = signature.read_bytes()
    signature.unlink()
    counts(env).add_sink(lambda v: None)
    with pytest.raises(signing.UntrustedFileError, match="is not trusted: it is not signed"):
        env.execute(savepoint_path=path)
    signature.write_bytes(saved)
    manifest.write_text(manifest.read_text().replace('"Reduce"', '"Edited"'))
    counts(env).add_sink(lambda v: None)
    with pytest.raises(signing.UntrustedFileError, match="it was changed after nbstream signed it"):
        env.execute(savepoint_path=path)
    counts(env).add_sink(lambda v: None)  # the owner may still say it is fine
    assert env.execute(savepoint_path=path, trust_savepoint=True,
                       allow_non_restored_state=True) is not None


def test_a_legacy_savepoint_restores_when_trusted(tmp_path):
    # format 1 as nbstream wrote it: a pickle of {"finished", "state": pickle of the state}
    state = {"watermark": -2 ** 63, "keyed": {}, "timers": ([], []), "acc": {"k0": ("k0", 1000)}}
    payload = pickle.dumps({"finished": False, "state": pickle.dumps(state)})
    old = legacy_savepoint(tmp_path / "old", payload)
    env = env_for(tmp_path)
    env.configure({"execution.savepoint.path": str(old), "nbstream.savepoint.trust": "true",
                   "execution.savepoint.ignore-unclaimed-state": "true"})
    got = list(counts(env, data=[("k0", 1)]).execute_and_collect())
    assert got == [("k0", 1001)]


# -- recordings ------------------------------------------------------------------------------------

@pytest.fixture
def recordings(tmp_path, monkeypatch):
    monkeypatch.setenv("NBSTREAM_RECORDINGS", str(tmp_path / "recordings"))
    return tmp_path / "recordings"


def legacy_recording(folder: Path, values) -> None:
    """A recording as nbstream wrote it before they were signed: pickled values, no .sig."""
    import pyarrow as pa

    folder.mkdir(parents=True)
    (folder / "recording.json").write_text(json.dumps({"name": folder.name, "sources": ["s"],
                                                        "created_ms": 0}))
    column = pa.array([pickle.dumps(v) for v in values], pa.binary())
    schema = pa.schema([("value", pa.binary()), ("timestamp", pa.int64()),
                        ("arrival_ms", pa.int64())], metadata={"encoding": "pickle"})
    with pa.ipc.new_file(str(folder / "s.0.0.arrow"), schema) as writer:
        writer.write_batch(pa.record_batch([column, pa.array([None] * len(values), pa.int64()),
                                            pa.array([0] * len(values), pa.int64())], schema=schema))


def test_a_crafted_recording_does_not_run_its_code(tmp_path, recordings):
    marker = tmp_path / "code-ran"
    legacy_recording(recordings / "crafted", [Boom(marker)])
    env = StreamExecutionEnvironment.get_execution_environment()
    env.replay("crafted", speed="max")
    with pytest.raises(Exception) as refused:
        list(env.from_collection([1]).uid("s").execute_and_collect())
    assert not marker.exists(), "replaying the crafted recording ran its code"
    assert isinstance(refused.value, signing.UntrustedFileError)
    assert "recording 'crafted': file" in str(refused.value) and "it is not signed" in str(refused.value)
    assert "trust=True" in str(refused.value)


def test_someone_elses_recording_is_refused_unless_trusted(recordings, other_key):
    values = [{"user": "a", "n": 1}, ("b", 2.5), 3]
    with other_key():
        env = StreamExecutionEnvironment.get_execution_environment()
        env.record("theirs")
        list(env.from_collection(values).uid("s").execute_and_collect())
    env = StreamExecutionEnvironment.get_execution_environment()
    env.replay("theirs", speed="max")
    with pytest.raises(signing.UntrustedFileError,
                       match=f"recording 'theirs': file {recordings / 'theirs'}/.* is not trusted: "
                             "it is signed with another key"):
        list(env.from_collection([0]).uid("s").execute_and_collect())
    env.replay("theirs", speed="max", trust=True)
    assert list(env.from_collection([0]).uid("s").execute_and_collect()) == values


def test_a_legacy_recording_replays_when_trusted(recordings):
    legacy_recording(recordings / "old", [{"a": 1}, (2, "b")])
    env = StreamExecutionEnvironment.get_execution_environment()
    env.replay("old", speed="max", trust=True)
    assert list(env.from_collection([0]).uid("s").execute_and_collect()) == [{"a": 1}, (2, "b")]


def test_recorded_plain_values_are_data(recordings):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("plain")
    list(env.from_collection([{"a": 1}, ("x", [2.5])]).uid("s").execute_and_collect())
    import pyarrow as pa

    [path] = (recordings / "plain").glob("*.arrow")
    reader = pa.ipc.open_file(str(path))
    assert reader.schema.metadata[b"encoding"] == b"nbstate"
    blob = reader.get_batch_with_custom_metadata(0)[1][b"values"]
    assert state_format.loads(blob, objects=False) == [{"a": 1}, ("x", [2.5])]


# -- who may read them -----------------------------------------------------------------------------

def modes(root: Path):
    found = {}
    for folder, dirs, files in os.walk(root):
        found[folder] = stat.S_IMODE(os.stat(folder).st_mode)
        for name in files:
            found[os.path.join(folder, name)] = stat.S_IMODE(os.stat(os.path.join(folder, name)).st_mode)
    return found


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_checkpoints_savepoints_and_recordings_are_private(tmp_path, recordings, monkeypatch, mode):
    previous = os.umask(0o022)  # a usual umask: 0755 folders, 0644 files by default
    try:
        env = env_for(tmp_path)
        env.set_execution_mode(mode)
        env.get_checkpoint_config().set_externalized_checkpoint_retention(
            ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
        env.record("private")
        it = counts(env).execute_and_collect()
        next(it)
        while it.job.checkpoint_info().get("completed", 0) < 1:
            time.sleep(0.01)
        it.job.trigger_savepoint(str(tmp_path / "savepoints" / "sp"))
        it.job.cancel()
        it.job.wait(30)
    finally:
        os.umask(previous)
    found = {**modes(tmp_path / "checkpoints"), **modes(tmp_path / "savepoints"),
             **modes(recordings)}
    kinds = {Path(p).suffix for p in found if os.path.isfile(p)}
    assert {".state", ".json", ".sig", ".arrow"} <= kinds, kinds
    wrong = {p: oct(m) for p, m in found.items()
             if m != (0o700 if os.path.isdir(p) else 0o600)}
    assert not wrong
    key = Path(signing.key_file())
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_key_file_others_can_read_is_refused(tmp_path, monkeypatch):
    key = tmp_path / "cfg" / "signing.key"
    monkeypatch.setenv("NBSTREAM_KEY_FILE", str(key))
    assert len(signing.key_id()) == 16  # made on first use
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    key.chmod(0o644)
    with pytest.raises(Exception, match=f"the signing key file {key} can be read by other users "
                                        f"\\(mode 0o644\\).*chmod 600"):
        signing.signing_key()


# -- broken and incompatible checkpoints ---------------------------------------------------------

@pytest.fixture(scope="module")
def job_folder(tmp_path_factory):
    """A job's checkpoint folder with three retained checkpoints of ``counts``."""
    root = tmp_path_factory.mktemp("retained")
    env = env_for(root)
    cfg = env.get_checkpoint_config().set_num_retained_checkpoints(3)
    cfg.set_externalized_checkpoint_retention(ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
    it = counts(env, data=DATA * 5).execute_and_collect()
    next(it)
    while it.job.checkpoint_info().get("completed", 0) < 3:
        time.sleep(0.01)
    it.job.cancel()
    it.job.wait(30)
    [folder] = (root / "checkpoints").iterdir()
    return folder


def by_id(folder: Path):
    return sorted((p for p in folder.iterdir() if p.name.startswith("chk-")),
                  key=lambda p: int(p.name.split("-")[1]))


def truncate(chk: Path) -> None:
    victim = next(chk.glob("*.state"))
    victim.write_bytes(victim.read_bytes()[:-3])


def flip(chk: Path) -> None:
    victim = max(chk.glob("*.state"), key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40
    victim.write_bytes(bytes(data))


def bad_manifest(chk: Path) -> None:
    (chk / MANIFEST).write_text('{"format": 2, "operators": ')


def edited_manifest(chk: Path) -> None:  # valid JSON, not what nbstream signed
    body = json.loads((chk / MANIFEST).read_text())
    body["checkpoint_id"] += 100
    (chk / MANIFEST).write_text(json.dumps(body))


@pytest.mark.parametrize("corrupt, why", [(truncate, "is corrupt"), (flip, "is corrupt"),
                                          (bad_manifest, "unreadable manifest"),
                                          (edited_manifest, "changed after nbstream signed it")])
def test_a_broken_newest_checkpoint_is_skipped_for_the_one_before(tmp_path, job_folder, corrupt, why):
    folder = tmp_path / job_folder.name
    shutil.copytree(job_folder, folder)
    newest, previous = by_id(folder)[-1], by_id(folder)[-2]
    corrupt(newest)
    env = env_for(tmp_path)
    counts(env, data=DATA * 5).add_sink(lambda v: None)
    with pytest.warns(UserWarning, match=f"skipping checkpoint {newest}: .*{why}"):
        job = env.execute_async(savepoint_path=str(folder), allow_non_restored_state=True)
    assert job.wait(60) and job.status is JobStatus.FINISHED
    assert job.checkpoint_info()["restored_from"] == str(previous)
    assert any(str(newest) in w for w in job.warnings)


def test_resuming_from_a_job_folder_takes_its_newest_checkpoint(tmp_path, job_folder):
    env = env_for(tmp_path)
    counts(env, data=DATA * 5).add_sink(lambda v: None)
    job = env.execute_async(savepoint_path=str(job_folder), allow_non_restored_state=True)
    assert job.wait(60) and job.status is JobStatus.FINISHED
    assert job.checkpoint_info()["restored_from"] == str(by_id(job_folder)[-1])


def test_a_job_folder_without_a_usable_checkpoint_names_each(tmp_path, job_folder):
    folder = tmp_path / job_folder.name
    shutil.copytree(job_folder, folder)
    for chk in by_id(folder):
        truncate(chk)
    env = env_for(tmp_path)
    counts(env).add_sink(lambda v: None)
    with pytest.raises(Exception, match=f"{folder}: none of its checkpoints can be restored "
                                        f"\\(skipping checkpoint {by_id(folder)[-1]}: "):
        env.execute(savepoint_path=str(folder))


def test_state_without_its_kind_that_does_not_fit_names_what_is_missing(tmp_path):
    # a savepoint from before manifests named each step's kind: the restore itself says it
    path, _ = savepoint_mid_job(tmp_path)
    manifest = Path(path) / MANIFEST
    body = json.loads(manifest.read_text())
    for entry in body["operators"].values():
        del entry["kind"]
    manifest.write_text(json.dumps(body))
    signing.sign_file(str(manifest))
    env = env_for(tmp_path)
    env.from_collection(DATA).map(Slow()).uid("slow").key_by(lambda e: e[0]) \
        .window(TumblingEventTimeWindows.of(Duration.of_millis(5))) \
        .reduce(lambda a, b: a).uid("counts").add_sink(lambda v: None)
    job = env.execute_async(savepoint_path=path, allow_non_restored_state=True)
    assert job.wait(30) and job.status is JobStatus.FAILED and job.restarts == 0
    assert "step 'Window" in str(job.error) and "(uid 'counts') could not take back its state" \
        in str(job.error)
    assert "has no 'contents' (it has acc, keyed, timers, watermark), so another kind of step " \
           "wrote it" in str(job.error)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_changed_key_type_is_refused_naming_the_step_and_both_types(tmp_path, mode):
    path, _ = savepoint_mid_job(tmp_path)
    env = env_for(tmp_path)
    env.set_execution_mode(mode)
    counts(env, key=lambda e: int(e[0][1:])).add_sink(lambda v: None)  # "k3" then, 3 now
    job = env.execute_async(savepoint_path=path, allow_non_restored_state=True)
    assert job.wait(60) and job.status is JobStatus.FAILED and job.restarts == 0
    text = str(job.error)
    assert "step 'Reduce' (uid 'counts') cannot go on from the checkpoint: its state there is " \
           "keyed by str (e.g. 'k" in text
    assert "but its records now come keyed by int (e.g. " in text
    # the same key type goes on (the restore check costs one look at the first batch)
    env = env_for(tmp_path)
    env.set_execution_mode(mode)
    counts(env, key=lambda e: e[0]).add_sink(lambda v: None)
    job = env.execute_async(savepoint_path=path, allow_non_restored_state=True)
    assert job.wait(60) and job.status is JobStatus.FINISHED
