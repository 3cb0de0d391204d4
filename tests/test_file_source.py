"""FileSource: static files and watched folders (``monitor_continuously``) in text,
CSV, JSON-lines and Parquet formats, read once each, exactly once across a SIGKILLed
worker; and the bad cases: a file deleted while it is read, one gone before it is read,
one gone that a restore should resume."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, List

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nbstream import Duration, RestartStrategies, StreamExecutionEnvironment, WatermarkStrategy
from nbstream.connectors.files import BulkFormat, FileSource, StreamFormat

NONE = WatermarkStrategy.no_watermarks()


def env_for(mode: str = "thread", **config: Any) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(config or None)
    env.set_execution_mode(mode)
    return env


def drop(folder: Path, name: str, text: str) -> None:
    """A file arrives whole: written under a hidden name, then renamed in."""
    hidden = folder / f".{name}.tmp"
    hidden.write_text(text)
    os.replace(hidden, folder / name)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_static_folder_in_every_format(tmp_path, mode):
    (tmp_path / "a.csv").write_text("user,n\nann,1\nbob,2\n")
    (tmp_path / "b.jsonl").write_text('{"user": "cy", "n": 3}\n\n{"user": "di", "n": 4}\n')
    (tmp_path / "c.txt").write_text("one\ntwo\n")
    pq.write_table(pa.table({"user": ["ed", "fay"], "n": [5, 6]}), tmp_path / "d.parquet")

    def read(fmt: Any, name: str, bulk: bool = False) -> List[Any]:
        make = FileSource.for_bulk_file_format if bulk else FileSource.for_record_stream_format
        source = make(fmt, str(tmp_path / name)).build()
        return list(env_for(mode).from_source(source, NONE, name).execute_and_collect())

    assert read(StreamFormat.csv(), "a.csv") == [{"user": "ann", "n": "1"}, {"user": "bob", "n": "2"}]
    assert read(StreamFormat.json_lines(), "b.jsonl") == [{"user": "cy", "n": 3},
                                                           {"user": "di", "n": 4}]
    assert read(StreamFormat.text_line_format(), "c.txt") == ["one", "two"]
    assert read(BulkFormat.parquet(), "d.parquet", bulk=True) == [{"user": "ed", "n": 5},
                                                                  {"user": "fay", "n": 6}]


def test_a_watched_folder_reads_files_as_they_arrive(tmp_path):
    source = (FileSource.for_record_stream_format(StreamFormat.json_lines(), str(tmp_path))
              .monitor_continuously(Duration.of_millis(20)).build())
    it = env_for().from_source(source, NONE, "folder").execute_and_collect()
    got: List[Any] = []
    for batch in range(5):  # a file arrives only once the last one's records came out
        drop(tmp_path, f"f{batch}.jsonl", "".join(json.dumps({"b": batch, "i": i}) + "\n"
                                                  for i in range(20)))
        while len(got) < 20 * (batch + 1):
            got.append(next(it))
    it.close()
    assert [(r["b"], r["i"]) for r in got] == [(b, i) for b in range(5) for i in range(20)]


def test_a_watched_folder_is_read_exactly_once_through_a_killed_worker(tmp_path):
    from tests.workers import kill_a_worker_of

    folder = tmp_path / "in"
    folder.mkdir()
    files, lines = 40, 100
    env = env_for("process", **{"nbstream.batch-size": 25})
    env.enable_checkpointing(30)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    source = (FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(folder))
              .monitor_continuously(Duration.of_millis(20)).build())

    def slow(line: str) -> str:
        time.sleep(0.0005)
        return line

    it = env.from_source(source, NONE, "folder").map(slow).execute_and_collect()
    stop = threading.Event()

    def arrive() -> None:
        for f in range(files):
            drop(folder, f"part-{f:03d}.txt", "".join(f"{f}-{i}\n" for i in range(lines)))
            if stop.wait(0.03):
                return

    writer = threading.Thread(target=arrive)
    writer.start()
    got: List[str] = []
    killed = False
    seen: dict = {}

    def give_up() -> None:  # a lost record must fail the test, not hang it
        seen.update(checkpoints=it.job.checkpoint_info(), restarts=it.job.restarts,
                    status=it.job.status, received=len(got))
        it.job.cancel()

    watchdog = threading.Timer(150, give_up)
    watchdog.start()
    try:
        for line in it:
            got.append(line)
            if not killed and it.job.checkpoint_info().get("completed", 0) >= 3:
                kill_a_worker_of(it.job)
                killed = True
            if len(got) == files * lines:
                break
    finally:
        watchdog.cancel()
        stop.set()
        writer.join()
        it.close()
    assert not seen, f"gave up after 150 s: {seen}"
    assert killed and it.job.restarts == 1
    counts = Counter(got)
    assert counts == Counter(f"{f}-{i}" for f in range(files) for i in range(lines)), \
        f"duplicates: {sum(c - 1 for c in counts.values() if c > 1)}"


def test_a_file_deleted_while_it_is_read_is_read_to_its_end(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("".join(f"{i}\n" for i in range(20_000)))
    env = env_for(**{"nbstream.batch-size": 100})
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(path)).build()

    def slow(line: str) -> int:
        time.sleep(0.00002)
        return int(line)

    it = env.from_source(source, NONE, "big").map(slow).execute_and_collect()
    got = [next(it)]
    os.remove(path)  # the reader has it open: it reads on
    got += list(it)
    assert got == list(range(20_000))


def test_a_file_gone_before_it_is_read_is_skipped_and_counted(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).write_text(f"{name}\n")
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(tmp_path)).build()
    from nbstream.connectors.files import FolderReader

    reader = FolderReader(source)
    listing = reader._listing
    reader._listing = lambda: _vanishing(listing, tmp_path / "b")  # type: ignore[method-assign]
    out: List[Any] = []
    reader.run(_Collect(out))
    assert out == ["a"] and reader.metrics()["files_vanished"] == 1


def _vanishing(listing: Any, victim: Path) -> List[str]:
    paths = listing()
    victim.unlink()  # listed, then gone before it is opened
    return paths


class _Collect:
    batch_size = 10

    def __init__(self, out: List[Any]) -> None:
        self.out = out

    def emit_batch(self, values: List[Any], timestamps: Any = None) -> None:
        self.out += values

    def flush(self) -> None:
        pass


def test_a_restore_whose_file_is_gone_says_so(tmp_path):
    from nbstream.connectors.files import FolderReader

    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(), str(tmp_path)).build()
    reader = FolderReader(source)
    reader.restore_splits([{"done": [], "current": [str(tmp_path / "gone.txt"), 120]}])
    with pytest.raises(FileNotFoundError, match=r"gone.txt was being read \(at 120 of it\) when "
                                                r"the checkpoint was taken and is gone now"):
        reader.run(_Collect([]))


def test_a_missing_path_is_refused_before_the_job_starts(tmp_path):
    source = FileSource.for_record_stream_format(StreamFormat.text_line_format(),
                                                 str(tmp_path / "nope")).build()
    from nbstream import PlanError

    with pytest.raises(PlanError, match="no such file or folder: .*nope"):
        env_for().from_source(source, NONE, "x").execute_and_collect()


def test_pyflink_names(tmp_path):
    from nbstream.compat.pyflink.datastream.connectors.file_system import (
        FileSource as F, StreamFormat as S)

    assert F is FileSource and S is StreamFormat
    (tmp_path / "x.txt").write_text("a\n")
    source = F.for_record_stream_format(S.text_line_format(), str(tmp_path)) \
        .monitor_continuously(Duration.of_seconds(1)).build()
    it = env_for().from_source(source, NONE, "x").execute_and_collect()
    assert next(it) == "a"
    it.close()
