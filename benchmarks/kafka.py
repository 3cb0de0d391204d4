"""Kafka end to end: throughput, and exactly once through killed workers and a savepoint.

    python benchmarks/kafka.py                    # 1,000,000 records, 3 runs per figure
    python benchmarks/kafka.py --records 200000 --runs 1 --kills 2   # quick (< 1 min)

Everything runs against :class:`nbstream.connectors.kafka.LocalKafkaCluster` (librdkafka's
mock cluster, 3 brokers on loopback, in this process). The input topic (8 partitions)
holds ``--records`` records ``"<key>,<value>"`` (100 keys), their Kafka timestamps 10
records per millisecond.

* T   throughput at parallelism 2, thread and process mode, checkpoints every second:
      W = source -> key_by -> 1 s tumbling event-time window (sum) -> exactly-once sink
      (records/s in; results out), and P = source -> map -> exactly-once sink (every
      record out, so records/s out is the sink's). Median of --runs.
* K   the windowed job in process mode, every pool worker SIGKILLed --kills times while
      it runs (after 2 more completed checkpoints each time): the output topic read
      read_committed must hold each window's result exactly once (checked against a
      plain-Python computation), and how long the job took.
* S   the windowed job stopped with a savepoint half-way (unbounded source), resumed from
      it (bounded): the output must again hold each result once, so the resumed job
      started at the savepoint's offsets.

Nothing is asserted by pytest; the script exits non-zero if K or S finds a duplicate or a
missing result.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from typing import Any, Dict, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine  # noqa: E402
from nbstream import (RestartStrategies, StreamExecutionEnvironment, Time,  # noqa: E402
                      TumblingEventTimeWindows, WatermarkStrategy)
from nbstream.connectors.kafka import (DeliveryGuarantee, KafkaOffsetsInitializer,  # noqa: E402
                                       KafkaRecordSerializationSchema, KafkaSink, KafkaSource,
                                       LocalKafkaCluster)

BASE_TS = 1_700_000_000_000
KEYS = 100
# the mock cluster keeps about 5 MB per partition (older records are dropped): 8 partitions
# keep a million input records whole, 32 the output (each record with its marker header)
PARTITIONS = 8
OUT_PARTITIONS = 32


def load(cluster: LocalKafkaCluster, topic: str, n: int) -> None:
    cluster.create_topic(topic, PARTITIONS)
    chunk = 100_000
    for start in range(0, n, chunk):
        idx = range(start, min(n, start + chunk))
        cluster.produce(topic, [f"{i % KEYS},{i}" for i in idx], keys=[str(i % KEYS) for i in idx],
                        timestamps=[BASE_TS + i // 10 for i in idx])


def expected(n: int) -> Counter:
    sums: Dict[Tuple[int, int], int] = {}
    for i in range(n):
        ts = BASE_TS + i // 10
        key = (i % KEYS, ts - ts % 1000)
        sums[key] = sums.get(key, 0) + i
    return Counter(f"{k},{w},{s}" for (k, w), s in sums.items())


def parse(line: str) -> Tuple[int, int]:
    k, v = line.split(",")
    return int(k), int(v)


def build(env: StreamExecutionEnvironment, cluster: LocalKafkaCluster, src: str, out: str,
          windowed: bool, bounded: bool = True, prefix: str = "") -> None:
    b = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers).set_topics(src)
         .set_starting_offsets(KafkaOffsetsInitializer.earliest()))
    if bounded:
        b = b.set_bounded(KafkaOffsetsInitializer.latest())
    sink = (KafkaSink.builder().set_bootstrap_servers(cluster.bootstrap_servers)
            .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(out).build())
            .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
            .set_transactional_id_prefix(prefix or f"bench-{uuid.uuid4().hex[:8]}").build())
    ds = env.from_source(b.build(), WatermarkStrategy.for_monotonous_timestamps(), "in").uid("in")
    if windowed:
        from nbstream import ProcessWindowFunction

        class Sum(ProcessWindowFunction):
            def process(self, key, context, elements):
                yield f"{key},{context.window().start},{sum(v for _, v in elements)}"

        (ds.map(parse).uid("parse").key_by(lambda t: t[0])
           .window(TumblingEventTimeWindows.of(Time.seconds(1))).process(Sum()).uid("window")
           .sink_to(sink).uid("out"))
    else:
        ds.map(lambda line: line.upper()).uid("upper").sink_to(sink).uid("out")


def environment(mode: str, folder: str, interval_ms: int = 1000) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.set_parallelism(2)
    env.enable_checkpointing(interval_ms)
    env.get_checkpoint_config().set_checkpoint_storage_dir(folder)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(10, 0))
    return env


def throughput(cluster: LocalKafkaCluster, src: str, n: int, mode: str, windowed: bool,
               runs: int, folder: str) -> Tuple[float, float, int]:
    """(records/s in, records/s out, records out): medians over ``runs``."""
    rates_in, rates_out, outs = [], [], []
    for _ in range(runs):
        out = f"out-{uuid.uuid4().hex[:8]}"
        cluster.create_topic(out, OUT_PARTITIONS)
        env = environment(mode, os.path.join(folder, uuid.uuid4().hex))
        build(env, cluster, src, out, windowed)
        started = time.perf_counter()
        job = env.execute_async()
        job.result(timeout=1800)
        seconds = time.perf_counter() - started
        produced = len(cluster.read(out, timeout_s=120))
        if job.restarts or produced != (n if not windowed else produced):
            print(f"  {mode} {'W' if windowed else 'P'}: {produced:,} out, {job.restarts} "
                  f"restart(s): {job.last_failure}")
        rates_in.append(n / seconds)
        rates_out.append(produced / seconds)
        outs.append(produced)
    return statistics.median(rates_in), statistics.median(rates_out), outs[0]


def kills(cluster: LocalKafkaCluster, src: str, n: int, count: int, folder: str) -> Dict[str, Any]:
    from nbstream.runtime.executors.pool import get_pool

    out = f"out-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(out, OUT_PARTITIONS)
    env = environment("process", os.path.join(folder, "kills"), interval_ms=200)
    build(env, cluster, src, out, windowed=True)
    started = time.perf_counter()
    job = env.execute_async()
    done, since, sent = 0, 0, 0
    while job.restarts < count and not job.done:
        info = job.checkpoint_info()
        if info["restarts"] == sent and info.get("completed", 0) >= since + 2:
            for worker in list(get_pool().workers.values()):  # whichever runs the job's tasks
                os.kill(worker.pid, signal.SIGKILL)
                done += 1
            sent += 1
            since = info.get("completed", 0)
        time.sleep(0.02)
    job.result(timeout=1800)
    seconds = time.perf_counter() - started
    got = Counter(r.value.decode() for r in cluster.read(out, timeout_s=120))
    want = expected(n)
    return {"kills": done, "restarts": job.restarts, "seconds": seconds,
            "results": sum(got.values()), "duplicates": sum((got - want).values()),
            "missing": sum((want - got).values())}


def savepoint(cluster: LocalKafkaCluster, src: str, n: int, folder: str) -> Dict[str, Any]:
    out = f"out-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(out, OUT_PARTITIONS)
    prefix = f"sp-{uuid.uuid4().hex[:6]}"
    env = environment("process", os.path.join(folder, "sp-run"), interval_ms=200)
    build(env, cluster, src, out, windowed=True, bounded=False, prefix=prefix)
    job = env.execute_async()
    while job.metrics() == {} or sum(m["records_in"] for k, m in job.metrics().items()
                                     if "Source" in k) < n // 2:
        time.sleep(0.05)
    path = job.stop_with_savepoint(os.path.join(folder, "savepoint"))
    before = sum(m["records_in"] for k, m in job.metrics().items() if "Source" in k)
    env = environment("process", os.path.join(folder, "sp-resume"), interval_ms=200)
    build(env, cluster, src, out, windowed=True, bounded=True, prefix=prefix)
    env.execute(savepoint_path=path)
    got = Counter(r.value.decode() for r in cluster.read(out, timeout_s=120))
    want = expected(n)
    # the windows open at the savepoint are completed by the resumed job: each result once
    return {"read_before_savepoint": before, "results": sum(got.values()),
            "duplicates": sum((got - want).values()), "missing": sum((want - got).values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--modes", default="thread,process")
    args = parser.parse_args()
    print(machine())
    folder = tempfile.mkdtemp(prefix="nbstream-kafka-bench-")
    try:
        with LocalKafkaCluster(brokers=3) as cluster:
            t = time.perf_counter()
            load(cluster, "input", args.records)
            print(f"loaded {args.records:,} records in {time.perf_counter() - t:.1f} s")
            rows = []
            for mode in args.modes.split(","):
                for windowed in (True, False):
                    rin, rout, nout = throughput(cluster, "input", args.records, mode, windowed,
                                                 args.runs, folder)
                    rows.append([f"T {'W window' if windowed else 'P pass-through'}", mode,
                                 f"{rin:,.0f}", f"{rout:,.0f}", f"{nout:,}"])
            head = ["job", "mode", "records/s in", "records/s out", "records out"]
            widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
            for r in [head] + rows:
                print("  ".join(str(c).rjust(w) if i > 1 else str(c).ljust(w)
                                for i, (c, w) in enumerate(zip(r, widths))))
            k = kills(cluster, "input", args.records, args.kills, folder)
            print(f"K  {k['kills']} workers SIGKILLed, {k['restarts']} restarts, "
                  f"{k['seconds']:.1f} s: {k['results']:,} results read_committed, "
                  f"{k['duplicates']} duplicates, {k['missing']} missing")
            s = savepoint(cluster, "input", args.records, folder)
            print(f"S  savepoint after {s['read_before_savepoint']:,} records, resumed: "
                  f"{s['results']:,} results, {s['duplicates']} duplicates, {s['missing']} missing")
            bad = k["duplicates"] + k["missing"] + s["duplicates"] + s["missing"]
            return 1 if bad else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
