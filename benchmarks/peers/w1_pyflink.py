"""W1 on PyFlink (thread mode, parallelism 1): map -> key_by -> reduce -> filter -> collect.

Startup of the JVM mini-cluster is excluded: the median covers job execution only."""

import json
import os
import statistics
import sys
import time

from pyflink.common import Configuration, Types, WatermarkStrategy
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.number_seq import NumberSequenceSource

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def run(env, n):
    final = n // 5
    ds = env.from_source(NumberSequenceSource(0, n - 1), WatermarkStrategy.no_watermarks(), "seq")
    out = (ds.map(lambda i: (WORDS[i % 5], 1), Types.TUPLE([Types.STRING(), Types.INT()]))
             .key_by(lambda t: t[0])
             .reduce(lambda a, b: (a[0], a[1] + b[1]))
             .filter(lambda t: t[1] == final))
    got = sorted(tuple(r) for r in out.execute_and_collect())
    assert got == sorted((w, final) for w in WORDS), got


if __name__ == "__main__":
    n, runs = int(sys.argv[1]), int(sys.argv[2])
    config = Configuration()
    config.set_string("python.execution-mode", os.environ.get("PYFLINK_MODE", "thread"))
    config.set_string("python.executable", sys.executable)
    config.set_string("python.client.executable", sys.executable)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(1)
    run(env, 1000)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        run(env, n)
        times.append(time.perf_counter() - t)
    print(json.dumps({"seconds": statistics.median(times)}))
