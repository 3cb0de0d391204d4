"""Kafka source and sink against a real Kafka protocol implementation on loopback:
librdkafka's mock cluster (3 brokers) shipped in the confluent-kafka wheel
(:class:`~nbstream.connectors.kafka.LocalKafkaCluster`).

Exactly once is shown end to end: a keyed event-time window between a Kafka source and
an exactly-once Kafka sink, with pool workers SIGKILLed twice while it runs; the output
topic read ``read_committed`` holds every window's result once, as a plain-Python
computation of the same windows says. Results are compared as multisets.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest

from nbstream import (JobStatus, PlanError, RestartStrategies, StreamExecutionEnvironment,
                      Time, TumblingEventTimeWindows, UserFunctionError, WatermarkStrategy,
                      Duration)
from nbstream.connectors.kafka import (DeliveryGuarantee, KafkaOffsetResetStrategy,
                                       KafkaOffsetsInitializer, KafkaRecord,
                                       KafkaRecordDeserializationSchema,
                                       KafkaRecordSerializationSchema, KafkaSink, KafkaSource,
                                       KafkaTopicPartition, LocalKafkaCluster)

BASE_TS = 1_700_000_000_000


@pytest.fixture(scope="module")
def cluster():
    with LocalKafkaCluster(brokers=3) as c:
        yield c


def topic(cluster: LocalKafkaCluster, partitions: int) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.create_topic(name, partitions)
    return name


def env_for(mode: str, parallelism: int, **config: Any) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(config or None)
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    return env


def source(cluster: LocalKafkaCluster, *topics: str, **props: Any) -> Any:
    b = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
         .set_topics(*topics).set_starting_offsets(KafkaOffsetsInitializer.earliest())
         .set_bounded(KafkaOffsetsInitializer.latest()))
    return b.set_properties(props).build() if props else b.build()


def sink(cluster: LocalKafkaCluster, out: str, guarantee: DeliveryGuarantee,
         prefix: str = "") -> KafkaSink:
    b = (KafkaSink.builder().set_bootstrap_servers(cluster.bootstrap_servers)
         .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(out).build())
         .set_delivery_guarantee(guarantee))
    return b.set_transactional_id_prefix(prefix or f"tx-{uuid.uuid4().hex[:8]}").build()


def values_of(cluster: LocalKafkaCluster, name: str) -> List[str]:
    return [r.value.decode() for r in cluster.read(name)]


# -- the source ---------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["thread", "process"])
def test_partitions_are_split_over_the_instances_and_read_once(cluster, mode):
    name = topic(cluster, 5)
    cluster.produce(name, [str(i) for i in range(3000)], keys=[str(i) for i in range(3000)])
    env = env_for(mode, 3)
    got = (env.from_source(source(cluster, name), WatermarkStrategy.no_watermarks(), "in")
           .map(lambda v: int(v)).execute_and_collect())
    assert sorted(got) == list(range(3000))
    from nbstream.connectors.kafka import _owner
    owners = Counter(_owner(name, p, 3) for p in range(5))
    assert sorted(owners) == [0, 1, 2]  # every instance has partitions, each partition one owner


def test_the_record_deserializer_sees_key_headers_partition_offset_and_timestamp(cluster):
    name = topic(cluster, 2)
    cluster.produce(name, [b"a", b"b"], keys=[b"k1", b"k2"], timestamps=[BASE_TS, BASE_TS + 5],
                    partition=1)
    src = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
           .set_topics(name).set_bounded(KafkaOffsetsInitializer.latest())
           .set_deserializer(KafkaRecordDeserializationSchema.records()).build())
    env = env_for("thread", 1)
    ds = env.from_source(src, WatermarkStrategy.no_watermarks(), "in")
    got: List[KafkaRecord] = sorted(ds.execute_and_collect(), key=lambda r: r.offset)
    assert [(r.topic, r.partition, r.offset, r.timestamp, r.key, r.value) for r in got] == \
        [(name, 1, 0, BASE_TS, b"k1", b"a"), (name, 1, 1, BASE_TS + 5, b"k2", b"b")]


def test_kafka_timestamps_are_event_time_and_watermarks_are_per_partition(cluster):
    """Partition 0 is written wholly before partition 1, each in time order. A single
    watermark over the stream would make much of one partition late; per-partition
    watermarks (the minimum over partitions) drop nothing."""
    name = topic(cluster, 2)
    n = 4000
    for p in (0, 1):
        cluster.produce(name, [f"{p}:{i}" for i in range(n)],
                        timestamps=[BASE_TS + i * 10 for i in range(n)], partition=p)
    env = env_for("thread", 1, **{"nbstream.batch-size": 100})
    env.get_config().set_auto_watermark_interval(5)  # watermarks while it reads (one
    # assign_timestamps_and_watermarks over the stream drops ~40 % here)
    counts = list(env.from_source(source(cluster, name),
                                  WatermarkStrategy.for_monotonous_timestamps(), "in")
                  .map(lambda v: (v.split(":")[0], 1))
                  .key_by(lambda t: t[0])
                  .window(TumblingEventTimeWindows.of(Time.seconds(1)))
                  .reduce(lambda a, b: (a[0], a[1] + b[1]))
                  .execute_and_collect())
    assert sum(c for _, c in counts) == 2 * n, "records were dropped as late"
    assert len(counts) == 2 * (n * 10 // 1000)


def test_an_idle_partition_does_not_hold_back_the_windows(cluster):
    """Unbounded: partition 1 has one early record then nothing, while partition 0 keeps
    receiving. Without idleness partition 1's watermark holds every window back; with
    it the windows fire as partition 0 moves on."""
    name = topic(cluster, 2)
    cluster.produce(name, ["1:0"], timestamps=[BASE_TS], partition=1)
    src = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
           .set_topics(name).set_starting_offsets(KafkaOffsetsInitializer.earliest()).build())
    env = env_for("thread", 1)
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_idleness(Duration.of_millis(300))
    windows = (env.from_source(src, strategy, "in")
               .map(lambda v: 1).key_by(lambda v: 0)
               .window(TumblingEventTimeWindows.of(Time.seconds(1)))
               .reduce(lambda a, b: a + b))
    stop = threading.Event()

    def feed() -> None:  # partition 0 stays active: 100 records per second of event time
        for second in range(40):
            cluster.produce(name, ["0"] * 100, partition=0,
                            timestamps=[BASE_TS + second * 1000 + i * 10 for i in range(100)])
            if stop.wait(0.1):
                return

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        got = windows.execute_and_collect(limit=3)  # the stream never ends: fired live
    finally:
        stop.set()
        feeder.join()
    assert got == [101, 100, 100]


def test_starting_offsets_latest_specific_and_committed(cluster, tmp_path):
    name = topic(cluster, 1)
    cluster.produce(name, [str(i) for i in range(10)])

    def read(starting: KafkaOffsetsInitializer, group: str = "") -> List[str]:
        b = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
             .set_topics(name).set_starting_offsets(starting)
             .set_bounded(KafkaOffsetsInitializer.latest()))
        if group:
            b = b.set_group_id(group)
        env = env_for("thread", 1)
        env.enable_checkpointing(50)
        env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / uuid.uuid4().hex))
        env.set_restart_strategy(RestartStrategies.no_restart())
        return list(env.from_source(b.build(), WatermarkStrategy.no_watermarks(), "in")
                    .execute_and_collect())

    assert read(KafkaOffsetsInitializer.latest()) == []
    assert read(KafkaOffsetsInitializer.offsets({KafkaTopicPartition(name, 0): 7})) == \
        ["7", "8", "9"]
    with pytest.raises(Exception, match="no committed starting offset for topic"):
        read(KafkaOffsetsInitializer.committed_offsets(), group="fresh-group")
    # a job's offsets are committed to its group when the job ends; the next one goes on
    assert len(read(KafkaOffsetsInitializer.earliest(), group="g-commit")) == 10
    cluster.produce(name, ["10", "11"])
    assert read(KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST),
                group="g-commit") == ["10", "11"]


# -- exactly once -------------------------------------------------------------------------------

def events(n: int, keys: int = 10) -> List[Tuple[int, int, int]]:
    """(key, value, timestamp) of the input: 10 ms apart, so 1 s windows fire as it goes."""
    return [(i % keys, i, BASE_TS + i * 10) for i in range(n)]


def expected_windows(evs: List[Tuple[int, int, int]]) -> Counter:
    sums: Dict[Tuple[int, int], int] = {}
    for k, v, ts in evs:
        w = ts - ts % 1000
        sums[(k, w)] = sums.get((k, w), 0) + v
    return Counter(json.dumps([k, w, s]) for (k, w), s in sums.items())


def window_job(env: StreamExecutionEnvironment, src: Any, snk: KafkaSink,
               delay_s: float = 0.0) -> None:
    def slow(e: Any) -> Any:
        if delay_s:
            time.sleep(delay_s)
        return e

    from nbstream import ProcessWindowFunction

    class Out(ProcessWindowFunction):
        def process(self, key, context, elements):
            yield json.dumps([key, context.window().start, sum(e[1] for e in elements)])

    (env.from_source(src, WatermarkStrategy.for_monotonous_timestamps(), "in")
        .map(lambda raw: tuple(json.loads(raw)))
        .map(slow)
        .key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of(Time.seconds(1)))
        .process(Out())
        .sink_to(snk))


def produce_events(cluster: LocalKafkaCluster, name: str, evs: List[Tuple[int, int, int]]) -> None:
    cluster.produce(name, [json.dumps(list(e)) for e in evs], keys=[str(e[0]) for e in evs],
                    timestamps=[e[2] for e in evs])


def test_exactly_once_through_killed_workers(cluster, tmp_path):
    """Source -> keyed window -> exactly-once sink in process mode, a pool worker
    SIGKILLed twice while results are being committed: each result once."""
    from tests.workers import kill_a_worker_of

    evs = events(24_000)
    src_topic, out = topic(cluster, 4), topic(cluster, 3)
    produce_events(cluster, src_topic, evs)
    env = env_for("process", 2, **{"nbstream.batch-size": 50})
    env.enable_checkpointing(60)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 0))
    window_job(env, source(cluster, src_topic), sink(cluster, out, DeliveryGuarantee.EXACTLY_ONCE),
               delay_s=0.0002)
    job = env.execute_async()
    kills, since = 0, 0
    deadline = time.monotonic() + 120
    while kills < 2 and not job.done and time.monotonic() < deadline:
        info = job.checkpoint_info()
        sunk = sum(m["records_in"] for k, m in job.metrics().items() if "Sink" in k)
        if info["restarts"] == kills and info.get("completed", 0) >= since + 2 and sunk:
            kill_a_worker_of(job)
            kills += 1
            since = info.get("completed", 0)
        time.sleep(0.01)
    job.result(timeout=180)
    assert kills == 2 and job.restarts == 2, (kills, job.checkpoint_info())
    assert "SIGKILL" in job.last_failure
    got = Counter(values_of(cluster, out))
    want = expected_windows(evs)
    assert got == want, (f"duplicates {sum((got - want).values())}, "
                         f"missing {sum((want - got).values())}")


def test_a_savepoint_resumes_at_its_offsets_at_another_parallelism(cluster, tmp_path):
    """An unbounded job stopped with a savepoint while it reads, more records written,
    the job resumed from the savepoint at parallelism 3 (bounded this time): the output
    holds the input once, nothing before the savepoint read twice, nothing after it lost."""
    src_topic, out = topic(cluster, 4), topic(cluster, 2)
    first = [str(i) for i in range(5000)]
    cluster.produce(src_topic, first, keys=first)
    prefix = f"sp-{uuid.uuid4().hex[:6]}"

    def job(parallelism: int, bounded: bool) -> StreamExecutionEnvironment:
        env = env_for("thread", parallelism, **{"nbstream.batch-size": 100})
        env.enable_checkpointing(40)
        env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
        def slow(raw: bytes) -> str:  # checkpoints are asked for while a batch is read
            time.sleep(0.0002)
            return raw.decode()

        b = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
             .set_topics(src_topic).set_starting_offsets(KafkaOffsetsInitializer.earliest())
             .set_value_only_deserializer(slow))
        if bounded:
            b = b.set_bounded(KafkaOffsetsInitializer.latest())
        (env.from_source(b.build(), WatermarkStrategy.no_watermarks(), "in").uid("kafka-in")
            .map(lambda v: f"x{v}").uid("map")
            .sink_to(sink(cluster, out, DeliveryGuarantee.EXACTLY_ONCE, prefix)).uid("out"))
        return env

    running = job(2, bounded=False).execute_async()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(
            m["records_in"] for k, m in running.metrics().items() if "Source" in k) < 1500:
        time.sleep(0.01)
    savepoint = running.stop_with_savepoint(str(tmp_path / "sp"))  # while it reads
    assert running.status is JobStatus.FINISHED
    assert 0 < len(values_of(cluster, out)) < len(first)
    second = [str(i) for i in range(5000, 7000)]
    cluster.produce(src_topic, second, keys=second)
    job(3, bounded=True).execute(savepoint_path=savepoint)
    assert Counter(values_of(cluster, out)) == Counter(f"x{v}" for v in first + second)


@pytest.mark.parametrize("guarantee", [DeliveryGuarantee.NONE, DeliveryGuarantee.AT_LEAST_ONCE])
def test_at_least_once_and_none_deliver_everything(cluster, tmp_path, guarantee):
    src_topic, out = topic(cluster, 2), topic(cluster, 2)
    cluster.produce(src_topic, [str(i) for i in range(2000)])
    env = env_for("process", 2)
    env.enable_checkpointing(50)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    (env.from_source(source(cluster, src_topic), WatermarkStrategy.no_watermarks(), "in")
        .sink_to(sink(cluster, out, guarantee)))
    env.execute()
    assert sorted(map(int, values_of(cluster, out))) == list(range(2000))


def test_the_serializer_picks_topic_key_and_partition(cluster):
    a, b = topic(cluster, 2), topic(cluster, 2)
    schema = (KafkaRecordSerializationSchema.builder()
              .set_topic_selector(lambda v: a if v % 2 else b)
              .set_key_serialization_schema(lambda v: f"k{v}")
              .build())
    snk = (KafkaSink.builder().set_bootstrap_servers(cluster.bootstrap_servers)
           .set_record_serializer(schema).build())
    env = env_for("thread", 1)
    env.from_collection(list(range(6))).sink_to(snk)
    env.execute()
    assert sorted((r.key, r.value) for r in cluster.read(a)) == \
        [(b"k1", b"1"), (b"k3", b"3"), (b"k5", b"5")]
    assert len(cluster.read(b)) == 3


# -- bad input -----------------------------------------------------------------------------------

def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def wait_threads_back(before: int) -> None:
    deadline = time.monotonic() + 15
    while native_threads() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert native_threads() <= before, "librdkafka clients were left running"


def test_an_unreachable_broker_fails_within_the_timeout_naming_the_address():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    before = native_threads()
    src = (KafkaSource.builder().set_bootstrap_servers(f"127.0.0.1:{port}").set_topics("x")
           .set_property("default.api.timeout.ms", 1500).build())
    env = env_for("thread", 1)
    started = time.monotonic()
    with pytest.raises(UserFunctionError,
                       match=rf"cannot reach the Kafka cluster at 127.0.0.1:{port} within 1.5 s"):
        list(env.from_source(src, WatermarkStrategy.no_watermarks(), "in").execute_and_collect())
    assert time.monotonic() - started < 10
    snk = (KafkaSink.builder().set_bootstrap_servers(f"127.0.0.1:{port}")
           .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic("x").build())
           .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE)
           .set_property("default.api.timeout.ms", 1500).build())
    env.from_collection([1]).sink_to(snk)
    with pytest.raises(Exception, match=rf"KafkaSink x: cannot reach the Kafka cluster at 127.0.0.1:{port}"):
        env.execute()
    wait_threads_back(before)


def test_a_malformed_record_names_topic_partition_and_offset(cluster):
    name = topic(cluster, 1)
    cluster.produce(name, [b'{"a": 1}', b'{"a": 2}', b"{broken"])
    src = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
           .set_topics(name).set_bounded(KafkaOffsetsInitializer.latest())
           .set_value_only_deserializer(json.loads).build())
    before = native_threads()
    env = env_for("thread", 1)
    with pytest.raises(UserFunctionError) as info:
        list(env.from_source(src, WatermarkStrategy.no_watermarks(), "in").execute_and_collect())
    text = str(info.value)
    assert f"topic '{name}', partition 0, offset 2" in text and "{broken" in text
    assert "JSONDecodeError" in text
    wait_threads_back(before)


def test_a_missing_or_deleted_topic_fails_the_job_naming_it(cluster):
    env = env_for("thread", 1)
    with pytest.raises(UserFunctionError, match="topic 'no-such-topic' does not exist"):
        list(env.from_source(source(cluster, "no-such-topic"),
                             WatermarkStrategy.no_watermarks(), "in").execute_and_collect())
    name = topic(cluster, 1)
    cluster.produce(name, ["a"])
    src = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
           .set_topics(name).set_property("partition.discovery.interval.ms", 100).build())
    it = env.from_source(src, WatermarkStrategy.no_watermarks(), "in").execute_and_collect()
    assert next(it) == "a"
    cluster.delete_topic(name)
    with pytest.raises(UserFunctionError, match=f"topic '{name}' does not exist .*deleted"):
        list(it)


def test_exactly_once_needs_checkpointing(cluster):
    env = env_for("thread", 1)
    env.from_collection([1]).sink_to(sink(cluster, "x", DeliveryGuarantee.EXACTLY_ONCE))
    with pytest.raises(PlanError, match="enable checkpointing"):
        env.execute()


def test_flink_mode_without_the_connector_jar_says_how(cluster):
    """Flink mode translates a KafkaSource to Flink's own Kafka connector; without its
    jar configured the translation says how (checked on the plan, no JVM started)."""
    from nbstream.flink.translate import Translator

    env = env_for("thread", 1)
    env.from_source(source(cluster, "x"), WatermarkStrategy.no_watermarks(), "in").print()
    plan = env._plan("job")
    node = next(n for n in plan.nodes.values() if n.is_source)
    with pytest.raises(PlanError, match=r"step 'Source: in' \(source\) cannot run in flink "
                                        r"mode: .*pipeline.jars.*flink-sql-connector-kafka"):
        Translator(plan, fenv=None)._source(node)


def test_pyflink_names(cluster):
    from nbstream.compat.pyflink.datastream.connectors import DeliveryGuarantee as D
    from nbstream.compat.pyflink.datastream.connectors.kafka import (
        KafkaOffsetsInitializer as O, KafkaSource as S)
    from nbstream.compat.pyflink.common import SimpleStringSchema, WatermarkStrategy as W
    from nbstream.compat.pyflink.datastream import StreamExecutionEnvironment as Env

    assert D is DeliveryGuarantee
    name = topic(cluster, 2)
    cluster.produce(name, ["x", "y"])
    src = (S.builder().set_bootstrap_servers(cluster.bootstrap_servers).set_topics(name)
           .set_group_id("g").set_starting_offsets(O.earliest())
           .set_value_only_deserializer(SimpleStringSchema()).set_bounded(O.latest()).build())
    env = Env.get_execution_environment()
    env.set_parallelism(2)
    assert sorted(env.from_source(src, W.for_monotonous_timestamps(), "Kafka Source")
                  .execute_and_collect()) == ["x", "y"]


# -- SQL ---------------------------------------------------------------------------------------------

def test_sql_tables_over_kafka_topics(cluster):
    from nbstream.table import EnvironmentSettings, TableEnvironment

    src, out = topic(cluster, 2), topic(cluster, 2)
    cluster.produce(src, [json.dumps({"user": f"u{i % 3}", "n": i}) for i in range(30)])
    servers = cluster.bootstrap_servers
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    t_env.execute_sql(
        f"CREATE TABLE clicks (`user` STRING, n INT) WITH ('connector' = 'kafka', "
        f"'topic' = '{src}', 'properties.bootstrap.servers' = '{servers}', "
        f"'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset', "
        f"'format' = 'json')")
    t_env.execute_sql(
        f"CREATE TABLE doubled (`user` STRING, n INT) WITH ('connector' = 'kafka', "
        f"'topic' = '{out}', 'properties.bootstrap.servers' = '{servers}', 'format' = 'csv', "
        f"'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset')")
    t_env.execute_sql("INSERT INTO doubled SELECT `user`, n * 2 FROM clicks WHERE n % 2 = 0").wait()
    want = sorted(f"u{i % 3},{2 * i}" for i in range(0, 30, 2))
    assert sorted(values_of(cluster, out)) == want
    with t_env.execute_sql("SELECT `user`, n FROM doubled").collect() as rows:
        assert sorted(f"{r[0]},{r[1]}" for r in rows) == want
    with pytest.raises(Exception, match="(?i)update"):
        t_env.execute_sql("INSERT INTO doubled SELECT `user`, COUNT(*) FROM clicks "
                          "GROUP BY `user`").wait()
