"""File sinks exactly once: FileSink (part files, rolling, two-phase commit) and write_as_text
give the input back exactly (no duplicate, no loss) after injected failures, in thread and
process mode at parallelism 1 and 2. Failures are injected as in test_checkpoints: a step
that raises once at a chosen record, "once" being a marker file on disk."""

from __future__ import annotations

import os
import pathlib
import time
from collections import Counter

import pytest

from nbstream import (CheckpointingMode, JobStatus, PlanError, RestartStrategies,
                      StreamExecutionEnvironment, WriteMode)
from nbstream.connectors.files import (BucketAssigner, FileSink, OutputFileConfig,
                                       RollingPolicy)
from tests.workers import kill_a_worker_of

N = 3000


class FailOnce:
    """Slow enough that checkpoints complete during the job; raises once at record ``at``."""

    def __init__(self, marker: str, at: int, delay_s: float = 0.0002) -> None:
        self.marker, self.at, self.delay_s = marker, at, delay_s

    def __call__(self, value):
        time.sleep(self.delay_s)
        if value == self.at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError(f"injected failure at record {self.at}")
        return value


def make_env(mode, parallelism, tmp_path, checkpointing=True):
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    if checkpointing:
        env.enable_checkpointing(20, CheckpointingMode.EXACTLY_ONCE)
        env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
        env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 0))
    return env


def failing_stream(env, tmp_path, at):
    marker = str(tmp_path / f"failed-{time.monotonic_ns()}")
    return env.from_collection(list(range(N))).map(FailOnce(marker, at))


def run(env):
    job = env.execute_async()
    job.result(timeout=120)
    return job


def files_under(root):
    return sorted(p for p in pathlib.Path(root).rglob("*") if p.is_file())


def lines_of(paths):
    return [int(line) for p in paths for line in p.read_text().splitlines()]


def assert_exactly_the_input(lines):
    counts = Counter(lines)
    duplicates = sorted(v for v, c in counts.items() if c > 1)
    lost = sorted(set(range(N)) - set(counts))
    assert not duplicates and not lost, f"duplicates {duplicates[:10]}, lost {lost[:10]}"


def part_files(out):
    return [p for p in files_under(out) if not p.name.startswith(".")]


def hidden_files(out):
    return [p for p in files_under(out) if p.name.startswith(".")]


# -- FileSink ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["thread", "process"])
@pytest.mark.parametrize("parallelism", [1, 2])
@pytest.mark.parametrize("at", [700, 2100])
def test_file_sink_recovers_exactly_once(tmp_path, mode, parallelism, at):
    out = tmp_path / "out"
    env = make_env(mode, parallelism, tmp_path)
    sink = (FileSink.for_row_format(str(out))
            .with_rolling_policy(RollingPolicy.default_rolling_policy(part_size=4000))
            .build())
    failing_stream(env, tmp_path, at).sink_to(sink)
    job = run(env)
    assert job.status is JobStatus.FINISHED
    assert job.restarts == 1 and "injected failure" in job.last_failure
    assert job.checkpoint_info().get("completed", 0) >= 1
    assert hidden_files(out) == []  # no in-progress or pending file left
    parts = part_files(out)
    assert len(parts) > parallelism  # rolled by size
    assert_exactly_the_input(lines_of(parts))


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_on_checkpoint_rolling_with_prefix_suffix_and_base_path_buckets(tmp_path, mode):
    out = tmp_path / "out"
    env = make_env(mode, 2, tmp_path)
    sink = (FileSink.for_row_format(str(out))
            .with_output_file_config(OutputFileConfig.builder().with_part_prefix("pre")
                                     .with_part_suffix(".txt").build())
            .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner())
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy())
            .build())
    failing_stream(env, tmp_path, 1500).sink_to(sink)
    job = run(env)
    assert job.status is JobStatus.FINISHED and job.restarts == 1
    assert hidden_files(out) == []
    parts = part_files(out)
    assert all(p.parent == out and p.name.startswith("pre-") and p.name.endswith(".txt")
               for p in parts)
    assert len(parts) > 2  # a part file per checkpoint
    assert_exactly_the_input(lines_of(parts))


def test_a_failure_before_the_first_checkpoint_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out"
    env = make_env("thread", 2, tmp_path)
    failing_stream(env, tmp_path, 3).sink_to(FileSink.for_row_format(str(out)).build())
    job = run(env)
    assert job.status is JobStatus.FINISHED and job.restarts == 1
    assert hidden_files(out) == []
    assert_exactly_the_input(lines_of(part_files(out)))


def test_pending_files_are_finished_only_when_their_checkpoint_completes(tmp_path):
    out = tmp_path / "out"
    env = make_env("thread", 1, tmp_path)
    seen = []

    def look(v):
        if v % 100 == 0:  # some files finished, the open one still hidden
            seen.append((len(part_files(out)), len(hidden_files(out))))
        time.sleep(0.0002)
        return v
    sink = (FileSink.for_row_format(str(out))
            .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy()).build())
    env.from_collection(list(range(N))).map(look).sink_to(sink)
    run(env)
    assert any(hidden for _, hidden in seen)
    assert any(finished for finished, _ in seen)  # finished while the job ran
    assert hidden_files(out) == []
    assert_exactly_the_input(lines_of(part_files(out)))


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_without_checkpointing_part_files_are_finished_at_the_end(tmp_path, mode):
    out = tmp_path / "out"
    env = make_env(mode, 2, tmp_path, checkpointing=False)
    seen = []

    def look(v):
        if v == N - 1:
            seen.append(len(part_files(out)))
        return v
    sink = FileSink.for_row_format(str(out)).build()  # default policy: no roll in this job
    env.from_collection(list(range(N))).map(look).set_parallelism(1).sink_to(sink)
    run(env)
    if mode == "thread":
        assert seen == [0]  # nothing finished before the end of the input
    parts = part_files(out)
    assert len(parts) == 2 and hidden_files(out) == []
    bucket = parts[0].parent.name  # Flink's DateTimeBucketAssigner: yyyy-MM-dd--HH
    assert len(bucket) == 14 and bucket[10:12] == "--"
    assert_exactly_the_input(lines_of(parts))


def test_without_checkpointing_rolled_part_files_are_finished_when_rolled(tmp_path):
    out = tmp_path / "out"
    env = make_env("thread", 1, tmp_path, checkpointing=False)
    sink = (FileSink.for_row_format(str(out))
            .with_rolling_policy(RollingPolicy.default_rolling_policy(part_size=1000)).build())
    env.from_collection(list(range(N))).sink_to(sink)
    run(env)
    parts = part_files(out)
    assert len(parts) >= 10 and hidden_files(out) == []
    assert all(p.stat().st_size <= 1000 + 5 for p in parts)
    names = sorted(parts, key=lambda p: int(p.name.rsplit("-", 1)[1]))
    assert lines_of(names) == list(range(N))  # in order, counter by counter


# -- write_as_text ---------------------------------------------------------------------------------

def text_lines(path, parallelism):
    if parallelism == 1:
        return lines_of([pathlib.Path(path)])
    return lines_of(files_under(path))


@pytest.mark.parametrize("mode", ["thread", "process"])
@pytest.mark.parametrize("parallelism", [1, 2])
def test_write_as_text_recovers_exactly_once(tmp_path, mode, parallelism):
    path = tmp_path / "out.txt"
    env = make_env(mode, parallelism, tmp_path)
    failing_stream(env, tmp_path, 1800).write_as_text(str(path))
    job = run(env)
    assert job.status is JobStatus.FINISHED and job.restarts == 1
    assert job.checkpoint_info().get("completed", 0) >= 1
    assert_exactly_the_input(text_lines(path, parallelism))
    leftovers = [n for n in os.listdir(tmp_path if parallelism == 1 else path)
                 if n.startswith(".")]
    assert leftovers == []  # no chunk, no commit sidecar
    if parallelism == 2:
        assert sorted(os.listdir(path)) == ["1", "2"]


def test_write_as_text_with_checkpointing_keeps_the_order_of_a_single_instance(tmp_path):
    path = tmp_path / "out.txt"
    env = make_env("thread", 1, tmp_path)
    failing_stream(env, tmp_path, 1000).write_as_text(str(path))
    run(env)
    assert text_lines(path, 1) == list(range(N))


def test_write_as_text_without_checkpointing_is_unchanged(tmp_path):
    path = tmp_path / "out.txt"
    env = make_env("thread", 1, tmp_path, checkpointing=False)
    env.from_collection(list(range(10))).write_as_text(str(path))
    run(env)
    assert path.read_text() == "".join(f"{i}\n" for i in range(10))
    env.from_collection([1]).write_as_text(str(path), WriteMode.OVERWRITE)
    run(env)
    assert path.read_text() == "1\n"
    assert sorted(os.listdir(tmp_path)) == ["out.txt"]


def test_the_commit_sidecar_makes_a_repeated_restore_idempotent(tmp_path):
    """A restore after a failure in the middle of an append: the target is cut back to the
    length the sidecar noted and the chunk appended once; earlier chunks are skipped."""
    from nbstream.connectors.files import StagedTextWriter
    from nbstream.connectors.sinks import TextFileSink

    class Task:
        subtask, parallelism = 0, 1

        class config:
            checkpoints = object()

    class Op:
        task = Task()

    class Batch:
        def __init__(self, values):
            self.values = values

    path = tmp_path / "t.txt"
    spec = TextFileSink(str(path))
    w = StagedTextWriter(spec)
    w.open(Op())
    w.write(Batch(["a", "b"]))
    w.seal(1)
    w.write(Batch(["c"]))
    state = w.seal(2)
    w.commit(1)
    assert path.read_text() == "a\nb\n"
    # the append of chunk 2 began (sidecar written), then the process died half-way
    chunk2 = state["pending"][1][1]
    with open(path, "ab") as f:
        f.write(b"c")  # a partial line
    import json
    with open(w.sidecar, "w") as f:
        json.dump({"token": spec.token, "epoch": 2, "chunk": chunk2, "before": 4}, f)
    for _ in range(2):  # restored twice (a second failure during the first restore)
        again = StagedTextWriter(spec)
        again.open(Op())
        again.restore(state)
    assert path.read_text() == "a\nb\nc\n"


# -- names -----------------------------------------------------------------------------------------

def test_pyflink_names_import_from_the_compat_layer():
    from nbstream.compat import pyflink as compat

    with compat.activated():
        from pyflink.common import Encoder
        from pyflink.datastream.connectors import FileSink as Reexported
        from pyflink.datastream.connectors.file_system import (BucketAssigner as B, FileSink as F,
                                                               OutputFileConfig as O,
                                                               RollingPolicy as R)
    assert F is FileSink and Reexported is FileSink and B is BucketAssigner
    assert O is OutputFileConfig and R is RollingPolicy
    sink = (F.for_row_format("/tmp/x", Encoder.simple_string_encoder("UTF-8"))
            .with_output_file_config(O.builder().with_part_prefix("p").with_part_suffix(".s")
                                     .build())
            .with_rolling_policy(R.default_rolling_policy(part_size=10, rollover_interval=5,
                                                          inactivity_interval=5))
            .build())
    assert sink.output_file_config.get_part_prefix() == "p"
    assert sink.rolling_policy.part_size == 10


def test_date_time_buckets_follow_javas_pattern_letters():
    ms = 1714568400000  # 2024-05-01 13:00:00 UTC
    assert BucketAssigner.date_time_bucket_assigner(timezone_id="UTC").bucket(ms) == "2024-05-01--13"
    assert BucketAssigner.date_time_bucket_assigner("yyyy/MM/dd/HHmm", "UTC").bucket(ms) \
        == "2024/05/01/1300"
    assert BucketAssigner.base_path_bucket_assigner().bucket(ms) == ""


def test_a_killed_worker_leaves_no_duplicate_or_lost_line(tmp_path):


    out = tmp_path / "out"
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode("process")
    env.set_parallelism(2)
    env.enable_checkpointing(30)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    sink = (FileSink.for_row_format(str(out))
            .with_rolling_policy(RollingPolicy.default_rolling_policy(part_size=3000)).build())
    env.from_collection(list(range(N))).map(FailOnce("/nonexistent/never", -1, 0.0006)) \
        .sink_to(sink)
    job = env.execute_async()
    deadline = time.monotonic() + 60
    while job.checkpoint_info().get("completed", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not job.done, "the job ended before two checkpoints completed"
    kill_a_worker_of(job)
    job.result(timeout=120)
    assert job.restarts == 1 and "SIGKILL" in job.last_failure
    assert hidden_files(out) == []
    assert_exactly_the_input(lines_of(part_files(out)))


def test_a_bulk_format_needs_a_writer_factory_and_rolls_on_checkpoints():
    from nbstream.connectors.files import ParquetWriterFactory

    with pytest.raises(PlanError, match="for_bulk_format needs a ParquetWriterFactory"):
        FileSink.for_bulk_format("/tmp/x", None)
    with pytest.raises(PlanError, match="roll on checkpoints only"):
        FileSink.for_bulk_format("/tmp/x", ParquetWriterFactory()).with_rolling_policy(
            RollingPolicy.default_rolling_policy())


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_parquet_part_files_are_committed_with_checkpoints_and_read_by_pandas_polars_duckdb(
        tmp_path, mode):
    import duckdb
    import pandas as pd
    import polars as pl

    from nbstream.connectors.files import ParquetWriterFactory

    out = tmp_path / "out"
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 50})
    env.set_execution_mode(mode)
    env.set_parallelism(2)
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    sink = FileSink.for_bulk_format(str(out), ParquetWriterFactory()).build()
    rows = [{"user": f"u{i % 7}", "n": i, "score": i / 10} for i in range(N)]
    env.from_collection(rows).map(FailOnce("/nonexistent/never", -1, 0.0003)).sink_to(sink)
    env.execute()
    files = part_files(out)
    assert len(files) > 2 and all(f.name.endswith(".parquet") for f in files)
    assert hidden_files(out) == []
    frame = pd.read_parquet(out)
    assert sorted(frame["n"]) == list(range(N))
    assert pl.read_parquet(str(out / "**" / "*.parquet"))["n"].sum() == sum(range(N))
    [(count, total)] = duckdb.sql(
        f"select count(*), sum(n) from read_parquet('{out}/**/*.parquet')").fetchall()
    assert (count, total) == (N, sum(range(N)))


def test_a_killed_worker_leaves_each_parquet_row_once(tmp_path):
    import pandas as pd

    from nbstream.connectors.files import ParquetWriterFactory
    from tests.workers import kill_a_worker_of

    out = tmp_path / "out"
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode("process")
    env.set_parallelism(2)
    env.enable_checkpointing(30)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    sink = (FileSink.for_bulk_format(str(out), ParquetWriterFactory())
            .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner()).build())
    env.from_collection(list(range(N))).map(FailOnce("/nonexistent/never", -1, 0.0006)) \
        .map(lambda i: (i, f"v{i}")).sink_to(sink)
    job = env.execute_async()
    deadline = time.monotonic() + 60
    while job.checkpoint_info().get("completed", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not job.done, "the job ended before two checkpoints completed"
    kill_a_worker_of(job)
    job.result(timeout=120)
    assert job.restarts == 1 and "SIGKILL" in job.last_failure
    assert hidden_files(out) == []
    frame = pd.read_parquet(out)
    assert sorted(frame["f0"]) == list(range(N)) and set(frame.columns) == {"f0", "f1"}


@pytest.mark.parametrize("before, after", [(2, 2), (2, 1), (1, 2)])
def test_stop_with_savepoint_then_resume_writes_every_line_once(tmp_path, before, after):
    """The open in-progress files at the savepoint are finished by the resumed job."""
    out = tmp_path / "out"

    def job_at(parallelism):
        env = make_env("thread", parallelism, tmp_path)
        sink = (FileSink.for_row_format(str(out))  # no roll in this job: files stay open
                .with_rolling_policy(RollingPolicy.default_rolling_policy()).build())
        env.from_collection(list(range(N))).set_parallelism(1).uid("numbers") \
            .map(FailOnce("/nonexistent/never", -1, 0.0003)).uid("slow") \
            .sink_to(sink).uid("files")
        return env

    job = job_at(before).execute_async()
    deadline = time.monotonic() + 60
    while job.checkpoint_info().get("completed", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    path = job.stop_with_savepoint(str(tmp_path / "sp"))
    assert part_files(out) == []  # nothing rolled yet: the data is in in-progress files
    assert hidden_files(out)
    resumed = job_at(after).execute_async(savepoint_path=path)
    resumed.result(timeout=120)
    assert hidden_files(out) == []
    assert_exactly_the_input(lines_of(part_files(out)))
