"""Replay speed: a recording of N records replayed at ``--speed max`` vs ``from_collection``.

    python benchmarks/replay.py                  # 1,000,000 records, 3 rounds

Both run the same pipeline (a cheap filter into a counting sink) in thread mode, on the
same integers; the recording is made once by ``env.record`` in a temporary directory.
Nothing is asserted; the issue's goal is a ratio of at least 0.8.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["NBSTREAM_RECORDINGS"] = tempfile.mkdtemp(prefix="nbstream-replay-")
    from nbstream import StreamExecutionEnvironment

    data = list(range(args.records))
    counted = []

    def pipeline(replay: bool) -> int:
        env = StreamExecutionEnvironment.get_execution_environment()
        if replay:
            env.replay("bench", speed="max")
        n = [0]
        env.from_collection(data).uid("numbers").filter(lambda x: x >= 0).add_sink(
            lambda v: n.__setitem__(0, n[0] + 1))
        env.execute()
        return n[0]

    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("bench", max_bytes=1 << 40)
    t = time.perf_counter()
    env.from_collection(data).uid("numbers").add_sink(lambda v: None)
    env.execute()
    print(f"replay: {args.records:,} records; {machine()}")
    print(f"recording them took {time.perf_counter() - t:.2f} s")
    times = {"from_collection": [], "replay --speed max": []}
    for _ in range(args.runs + 1):  # the first round warms up
        for name, replay in (("from_collection", False), ("replay --speed max", True)):
            t = time.perf_counter()
            counted.append(pipeline(replay))
            times[name].append(time.perf_counter() - t)
    if set(counted) != {args.records}:
        raise AssertionError(f"wrong counts: {set(counted)}")
    rows = [{"name": name, "records": args.records, "seconds": statistics.median(ts[1:])}
            for name, ts in times.items()]
    print(table(rows, "from_collection"))


if __name__ == "__main__":
    main()
