"""Checkpoint files: what it costs to serialize, store, read back and deserialize the state of
a keyed job with many keys.

    python benchmarks/state_files.py                 # 100,000 keys, 5 runs
    python benchmarks/state_files.py --keys 1000000 --runs 3

A job in thread mode reads --keys records (one per key: ``(f"k{i}", i, i)``) and keeps each key
in three stateful steps: a keyed ``reduce`` (a tuple per key), a keyed process function with a
``ValueState`` (an int per key) and a tumbling event-time window that stays open (a tuple per
key and window, and a cleanup timer per key). Once every record is in, the states the tasks
serialize at a checkpoint are caught (through ``checkpoints.dump_state``), the job is
cancelled, and on those states this measures (median of --runs):

* snapshot: ``dump_state`` of every step (the task thread's cost at each checkpoint),
* write: ``CheckpointStorage.write`` of the checkpoint (files, checksums, manifest),
* read: ``read_checkpoint`` of the folder (checks included),
* restore: ``load_state`` of every step's bytes (the task thread's cost at a restore),

and the bytes on disk. Times are CPU time of this process (``time.process_time``; nothing
else runs in it then), which other programs on a busy machine disturb far less than wall
time. Run it on two versions of nbstream (``PYTHONPATH=...``) to compare them; nothing is
asserted and the test suite does not run this file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from typing import Any, Dict, List

sys.path.insert(0, os.environ.get("PYTHONPATH", "").split(os.pathsep)[0]
                or os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def caught_states(keys: int) -> Dict[str, Any]:
    """The snapshots of the job's steps at a checkpoint taken once all ``keys`` records are in."""
    from nbstream import (Duration, KeyedProcessFunction, StreamExecutionEnvironment,
                          TumblingEventTimeWindows, ValueStateDescriptor, WatermarkStrategy)
    from nbstream.runtime import checkpoints, task

    caught: Dict[str, Any] = {}
    fed = threading.Event()
    original = checkpoints.dump_state

    def spy(state: Any, step: str) -> bytes:
        if fed.is_set():
            caught[step] = state
        return original(state, step)

    class Count(KeyedProcessFunction):
        def open(self, ctx: Any) -> None:
            self.n = ctx.get_state(ValueStateDescriptor("n", None))

        def process_element(self, value: Any, ctx: Any) -> Any:
            self.n.update((self.n.value() or 0) + 1)
            return []

    def records() -> Any:
        for i in range(keys):
            yield (f"k{i}", i, i)
        fed.set()
        while True:
            time.sleep(0.05)
            yield ("k0", 0, 0)

    task.dump_state = spy
    try:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.enable_checkpointing(300)
        directory = tempfile.mkdtemp()
        env.get_checkpoint_config().set_checkpoint_storage_dir(directory)
        ds = env.from_iterable(records).assign_timestamps_and_watermarks(
            WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda e, t: 0))
        keyed = ds.key_by(lambda r: r[0])
        keyed.reduce(lambda a, b: (a[0], a[1] + b[1], b[2])).uid("reduce").add_sink(lambda v: None)
        keyed.process(Count()).uid("process").add_sink(lambda v: None)
        keyed.window(TumblingEventTimeWindows.of(Duration.of_hours(1))) \
            .reduce(lambda a, b: (a[0], a[1] + b[1], b[2])).uid("window").add_sink(lambda v: None)
        job = env.execute_async("state files")
        deadline = time.monotonic() + 600
        while len(caught) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        job.cancel()
        job.wait(30)
        shutil.rmtree(directory, ignore_errors=True)
    finally:
        task.dump_state = original
    return caught


def median(fn: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from nbstream.runtime.checkpoint_storage import CheckpointStorage, read_checkpoint
    from nbstream.runtime.checkpoints import dump_state, load_state

    states = caught_states(args.keys)
    blobs: Dict[str, bytes] = {}

    def snapshot() -> None:
        for step, state in states.items():
            blobs[step] = dump_state(state, step)

    snapshot()
    operators = {step: {"parallelism": 1, "max_parallelism": 128, "name": step,
                        "subtasks": {0: {"finished": False, "state": blob}}}
                 for step, blob in blobs.items()}
    root = tempfile.mkdtemp()
    storage = CheckpointStorage(root, "job")
    written: List[Any] = []
    counter = iter(range(1, 10 ** 6))
    read: List[Any] = []

    def write() -> None:
        written.append(storage.write(next(counter), operators, "state files"))

    def read_back() -> None:
        read.append(read_checkpoint(written[-1].path))

    def restore() -> None:
        for entry in read[-1].operators.values():
            for part in entry["subtasks"].values():
                load_state(part["state"])

    figures = {"snapshot": median(snapshot, args.runs), "write": median(write, args.runs),
               "read": median(read_back, args.runs), "restore": median(restore, args.runs)}
    size = sum(os.path.getsize(os.path.join(written[-1].path, f))
               for f in os.listdir(written[-1].path))
    shutil.rmtree(root, ignore_errors=True)
    print(f"{args.keys:,} keys, 3 stateful steps, median of {args.runs} runs, thread-mode states")
    for phase, seconds in figures.items():
        print(f"  {phase:9s} {seconds * 1000:8.1f} ms CPU")
    print(f"  on disk   {size / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()
