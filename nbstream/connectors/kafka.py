"""Apache Kafka: ``KafkaSource`` and ``KafkaSink`` with PyFlink's builders and Flink's
guarantees, on confluent-kafka (librdkafka), the ``nbstream[kafka]`` extra.

Why that client: librdkafka is the C client Confluent maintains alongside the Java one,
with transactions, ``read_committed`` reads, idempotent producers and wheels for every
platform; its Python binding moves records at C speed and, its wheel ships librdkafka's
mock cluster, a Kafka protocol implementation the tests (and :class:`LocalKafkaCluster`)
run on loopback. The pure-Python clients are slower and lack transactions or are not
maintained.

Source. A source's parallel instances split the topics' partitions between them (as
Flink's ``KafkaTopicPartitionAssigner``); each instance reads its partitions with
``assign`` (no consumer-group rebalancing) and keeps the offset of the next record of
each partition. Those offsets are its checkpointed state (plain data), a restore seeks to
them at any parallelism, and once a checkpoint completes they are committed to the
group (``group.id``), for monitoring only, as Flink does. Records carry their Kafka
timestamps as event time; the watermark strategy given to ``from_source`` runs per
partition and the source's watermark is the minimum over its partitions that are not
idle (``with_idleness``).

Sink. ``DeliveryGuarantee.NONE`` produces and never waits; ``AT_LEAST_ONCE`` waits at
every checkpoint until the broker acknowledged what came before it; ``EXACTLY_ONCE``
is a two-phase commit whose prepare log is the checkpoint itself: the serialized records
of one checkpoint interval are part of that checkpoint's state, and when it completes
they are written in one Kafka transaction (``transactional.id`` ``<prefix>-<subtask>``)
that is committed at once. librdkafka cannot resume another process's open transaction
(Flink's Java sink does so by reflection), so the records stay in the checkpoint until
their transaction committed: a restore first fences the transactional ids of earlier
attempts (which aborts a transaction they left open), then looks in the output topics
for the header every record of a transaction carries (``nbstream-txn:
<prefix>-<subtask>:<n>:<index>``), and writes again only the records not there (with a
broker, all of a transaction that did not commit). A ``read_committed`` consumer so sees every result
once. The cost: a checkpoint holds the output of one interval (keep intervals short for
large outputs).

>>> cluster = LocalKafkaCluster(brokers=1)
>>> cluster.create_topic("words", partitions=2)
>>> cluster.produce("words", [b"to", b"be"])
>>> from nbstream import StreamExecutionEnvironment, WatermarkStrategy
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> source = (KafkaSource.builder().set_bootstrap_servers(cluster.bootstrap_servers)
...           .set_topics("words").set_starting_offsets(KafkaOffsetsInitializer.earliest())
...           .set_bounded(KafkaOffsetsInitializer.latest()).build())
>>> sorted(env.from_source(source, WatermarkStrategy.no_watermarks(), "words")
...        .execute_and_collect())
['be', 'to']
>>> cluster.close()
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import re
import threading
import time
import uuid
import zlib
from enum import Enum
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ..errors import NotAvailableError, PlanError, short_repr
from ..runtime.watermarks import as_millis
from .sinks import SinkSpec, _Writer
from .sources import SourceSpec, _Reader

__all__ = ["KafkaSource", "KafkaSourceBuilder", "KafkaSink", "KafkaSinkBuilder",
           "KafkaOffsetsInitializer", "KafkaOffsetResetStrategy", "KafkaTopicPartition",
           "KafkaRecord", "KafkaRecordDeserializationSchema", "KafkaRecordSerializationSchema",
           "DeliveryGuarantee", "DeserializationError", "LocalKafkaCluster"]

_LOG = logging.getLogger("nbstream.kafka")
MARKER_HEADER = "nbstream-txn"
#: nbstream's own settings (never handed to librdkafka)
_TIMEOUT_KEY = "default.api.timeout.ms"  # as Kafka's Java clients: how long a call may wait
_DISCOVERY_KEY = "partition.discovery.interval.ms"
_COMMIT_KEY = "commit.offsets.on.checkpoint"
_OWN_KEYS = (_TIMEOUT_KEY, _DISCOVERY_KEY, _COMMIT_KEY, "client.id.prefix")
_DEFAULT_TIMEOUT_MS = 15_000
_DEFAULT_DISCOVERY_MS = 30_000


def _kafka() -> Any:
    try:
        import confluent_kafka
    except ImportError:
        raise NotAvailableError("Kafka needs confluent-kafka: pip install 'nbstream[kafka]'") from None
    return confluent_kafka


# -- small values -----------------------------------------------------------------------------

class KafkaTopicPartition:
    """A topic's partition (hashable)."""

    __slots__ = ("topic", "partition")

    def __init__(self, topic: str, partition: int) -> None:
        self.topic, self.partition = topic, int(partition)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, KafkaTopicPartition) and \
            (self.topic, self.partition) == (other.topic, other.partition)

    def __hash__(self) -> int:
        return hash((self.topic, self.partition))

    def __repr__(self) -> str:
        return f"KafkaTopicPartition({self.topic!r}, {self.partition})"


class KafkaRecord:
    """A Kafka record as a deserializer sees it (and as a serializer may make it):
    topic, partition, offset, timestamp (epoch ms), key and value (bytes), headers
    (a list of ``(name, bytes)``)."""

    __slots__ = ("topic", "partition", "offset", "timestamp", "key", "value", "headers")

    def __init__(self, topic: Optional[str] = None, value: Any = None, key: Any = None,
                 partition: Optional[int] = None, offset: Optional[int] = None,
                 timestamp: Optional[int] = None,
                 headers: Optional[List[Tuple[str, bytes]]] = None) -> None:
        self.topic, self.value, self.key = topic, value, key
        self.partition, self.offset, self.timestamp = partition, offset, timestamp
        self.headers = headers or []

    def __repr__(self) -> str:
        return (f"KafkaRecord(topic={self.topic!r}, partition={self.partition}, "
                f"offset={self.offset}, timestamp={self.timestamp}, key={self.key!r}, "
                f"value={short_repr(self.value, 80)}, headers={self.headers!r})")


class DeserializationError(ValueError):
    """A Kafka record that the source's deserializer could not read."""


class KafkaOffsetResetStrategy(Enum):
    """Where to start when no committed (or given) offset exists."""

    LATEST = "latest"
    EARLIEST = "earliest"
    NONE = "none"


class KafkaOffsetsInitializer:
    """Where a source starts, or stops when bounded: ``earliest()``, ``latest()``,
    ``committed_offsets(reset)``, ``timestamp(ms)`` (the first record at or after it) or
    ``offsets({KafkaTopicPartition: offset}, reset)``."""

    def __init__(self, kind: str, value: Any = None,
                 reset: KafkaOffsetResetStrategy = KafkaOffsetResetStrategy.NONE) -> None:
        self.kind, self.value, self.reset = kind, value, reset

    @staticmethod
    def earliest() -> "KafkaOffsetsInitializer":
        return KafkaOffsetsInitializer("earliest")

    @staticmethod
    def latest() -> "KafkaOffsetsInitializer":
        return KafkaOffsetsInitializer("latest")

    @staticmethod
    def committed_offsets(offset_reset_strategy: KafkaOffsetResetStrategy =
                          KafkaOffsetResetStrategy.NONE) -> "KafkaOffsetsInitializer":
        return KafkaOffsetsInitializer("committed", None, offset_reset_strategy)

    @staticmethod
    def timestamp(timestamp: int) -> "KafkaOffsetsInitializer":
        return KafkaOffsetsInitializer("timestamp", int(timestamp))

    @staticmethod
    def offsets(offsets: Dict[KafkaTopicPartition, int],
                offset_reset_strategy: KafkaOffsetResetStrategy =
                KafkaOffsetResetStrategy.EARLIEST) -> "KafkaOffsetsInitializer":
        return KafkaOffsetsInitializer(
            "specific", {(tp.topic, tp.partition): int(o) for tp, o in offsets.items()},
            offset_reset_strategy)

    def __repr__(self) -> str:
        return f"KafkaOffsetsInitializer.{self.kind}({'' if self.value is None else self.value})"


# -- deserialization ----------------------------------------------------------------------------

def _value_reader(schema: Any) -> Callable[[bytes], Any]:
    """bytes -> value of a schema with ``deserialize``, a callable, or None (UTF-8 text)."""
    if schema is None:
        return lambda raw: None if raw is None else raw.decode("utf-8")
    if hasattr(schema, "deserialize"):
        return schema.deserialize
    if callable(schema):
        return schema
    raise PlanError(f"KafkaSource: a deserializer needs deserialize(bytes) or to be callable, "
                    f"not {type(schema).__name__}")


class KafkaRecordDeserializationSchema:
    """Turns a whole :class:`KafkaRecord` into the stream's value: subclass it and
    override ``deserialize(record)`` (return None to drop the record), or use
    ``of(f)``, ``value_only(schema)`` or ``records()`` (the KafkaRecord itself, value
    bytes and all).

    >>> KafkaRecordDeserializationSchema.of(lambda r: (r.partition, r.value)).deserialize(
    ...     KafkaRecord("t", b"v", partition=2))
    (2, b'v')
    """

    def deserialize(self, record: KafkaRecord) -> Any:
        raise NotImplementedError

    @staticmethod
    def of(fn: Callable[[KafkaRecord], Any]) -> "KafkaRecordDeserializationSchema":
        return _FnDeserializer(fn)

    @staticmethod
    def value_only(value_schema: Any) -> "KafkaRecordDeserializationSchema":
        return _FnDeserializer(lambda record, read=_value_reader(value_schema): read(record.value))

    @staticmethod
    def records() -> "KafkaRecordDeserializationSchema":
        return _FnDeserializer(lambda record: record)


class _FnDeserializer(KafkaRecordDeserializationSchema):
    def __init__(self, fn: Callable[[KafkaRecord], Any]) -> None:
        self.fn = fn

    def deserialize(self, record: KafkaRecord) -> Any:
        return self.fn(record)


# -- the source ------------------------------------------------------------------------------

class KafkaSource:
    """Records of Kafka topics; build it with :meth:`builder` and read it with
    ``env.from_source(source, watermark_strategy, name)``."""

    def __init__(self) -> None:
        self.properties: Dict[str, str] = {}
        self.topics: List[str] = []
        self.pattern: Optional[str] = None
        self.partitions: List[Tuple[str, int]] = []
        self.starting = KafkaOffsetsInitializer.earliest()
        self.stopping: Optional[KafkaOffsetsInitializer] = None
        self.value_schema: Any = None
        self.record_schema: Optional[KafkaRecordDeserializationSchema] = None

    @staticmethod
    def builder() -> "KafkaSourceBuilder":
        return KafkaSourceBuilder()

    def _nbstream_from_source(self, env: Any, watermark_strategy: Any, name: str,
                              type_info: Any = None) -> Any:
        spec = KafkaSourceSpec(self, watermark_strategy)
        return env._source(spec, f"Source: {name}", type_info)

    def _nbstream_source(self, env: Any, name: str, type_info: Any) -> Any:
        return env._source(KafkaSourceSpec(self, None), f"Source: {name}", type_info)

    def __repr__(self) -> str:
        what = self.topics or self.pattern or self.partitions
        return f"<KafkaSource {what} at {self.properties.get('bootstrap.servers')}>"


class KafkaSourceBuilder:
    """PyFlink's ``KafkaSourceBuilder``: bootstrap servers, what to read (topics, a
    pattern or partitions), a group id, starting offsets, bounded or not, a
    deserializer, and any Kafka consumer property (librdkafka's names)."""

    def __init__(self) -> None:
        self._source = KafkaSource()

    def set_bootstrap_servers(self, bootstrap_servers: str) -> "KafkaSourceBuilder":
        return self.set_property("bootstrap.servers", bootstrap_servers)

    def set_topics(self, *topics: Union[str, Sequence[str]]) -> "KafkaSourceBuilder":
        names: List[str] = []
        for t in topics:
            names += [t] if isinstance(t, str) else list(t)
        self._source.topics = names
        return self

    def set_topic_pattern(self, topic_pattern: str) -> "KafkaSourceBuilder":
        """Every topic whose whole name matches the regular expression (checked again at
        every partition discovery)."""
        re.compile(topic_pattern)
        self._source.pattern = topic_pattern
        return self

    def set_partitions(self, partitions: Iterable[KafkaTopicPartition]) -> "KafkaSourceBuilder":
        self._source.partitions = sorted((p.topic, p.partition) for p in partitions)
        return self

    def set_group_id(self, group_id: str) -> "KafkaSourceBuilder":
        return self.set_property("group.id", group_id)

    def set_client_id_prefix(self, prefix: str) -> "KafkaSourceBuilder":
        return self.set_property("client.id.prefix", prefix)

    def set_starting_offsets(self, initializer: KafkaOffsetsInitializer) -> "KafkaSourceBuilder":
        self._source.starting = initializer
        return self

    def set_bounded(self, stopping_offsets: KafkaOffsetsInitializer) -> "KafkaSourceBuilder":
        """Stop at these offsets (``latest()``: what the partitions hold when the job
        starts), so the stream ends."""
        self._source.stopping = stopping_offsets
        return self

    def set_unbounded(self, stopping_offsets: KafkaOffsetsInitializer) -> "KafkaSourceBuilder":
        """Flink stops such a source at the offsets but keeps the job streaming; here
        the stream ends there, as with :meth:`set_bounded`."""
        return self.set_bounded(stopping_offsets)

    def set_value_only_deserializer(self, schema: Any) -> "KafkaSourceBuilder":
        """The record's value only: a schema with ``deserialize(bytes)`` (PyFlink's
        ``SimpleStringSchema``, JSON schemas...) or a callable on the bytes."""
        _value_reader(schema)
        self._source.value_schema, self._source.record_schema = schema, None
        return self

    def set_deserializer(self, schema: Any) -> "KafkaSourceBuilder":
        """A :class:`KafkaRecordDeserializationSchema` (or a callable taking a
        :class:`KafkaRecord`): key, value, headers, partition, offset, timestamp."""
        if not isinstance(schema, KafkaRecordDeserializationSchema):
            if not callable(schema):
                raise PlanError("KafkaSource: set_deserializer needs a "
                                "KafkaRecordDeserializationSchema or a callable on a KafkaRecord")
            schema = KafkaRecordDeserializationSchema.of(schema)
        self._source.record_schema = schema
        return self

    def set_property(self, key: str, value: Any) -> "KafkaSourceBuilder":
        self._source.properties[key] = str(value)
        return self

    def set_properties(self, props: Dict[str, Any]) -> "KafkaSourceBuilder":
        for k, v in props.items():
            self.set_property(k, v)
        return self

    def build(self) -> KafkaSource:
        src = self._source
        if not src.properties.get("bootstrap.servers"):
            raise PlanError("KafkaSource: set_bootstrap_servers(...) is required")
        if sum(map(bool, (src.topics, src.pattern, src.partitions))) != 1:
            raise PlanError("KafkaSource: give exactly one of set_topics, set_topic_pattern "
                            "and set_partitions")
        if src.starting.kind == "committed" and "group.id" not in src.properties:
            raise PlanError("KafkaSource: starting from committed offsets needs set_group_id(...)")
        return src


def _owner(topic: str, partition: int, parallelism: int) -> int:
    """Which parallel instance reads a partition: a topic's partitions go round-robin,
    starting at an instance that depends on the topic's name (as Flink's assigner)."""
    start = ((zlib.crc32(topic.encode()) * 31) & 0x7FFFFFFF) % parallelism
    return (start + partition) % parallelism


def _timeout_s(props: Dict[str, str]) -> float:
    return int(props.get(_TIMEOUT_KEY, _DEFAULT_TIMEOUT_MS)) / 1000.0


def _client_conf(props: Dict[str, str], role: str) -> Dict[str, Any]:
    conf: Dict[str, Any] = {k: v for k, v in props.items() if k not in _OWN_KEYS}
    prefix = props.get("client.id.prefix")
    if prefix:
        conf["client.id"] = f"{prefix}-{role}"
    conf["logger"] = _LOG  # librdkafka's log lines go to logging, not to the cell
    return conf


def _unreachable(what: str, props: Dict[str, str], exc: Any) -> ConnectionError:
    return ConnectionError(f"{what}: cannot reach the Kafka cluster at "
                           f"{props.get('bootstrap.servers')} within {_timeout_s(props):g} s "
                           f"({_error_text(exc)}); is a broker listening there? (the wait is "
                           f"'{_TIMEOUT_KEY}', {int(_timeout_s(props) * 1000)} ms)")


def _error_text(exc: Any) -> str:
    err = exc.args[0] if getattr(exc, "args", None) else exc
    return err.str() if hasattr(err, "str") else str(err)


class KafkaSourceSpec(SourceSpec):
    """The plan's spec of a :class:`KafkaSource` (with the watermark strategy it runs per
    partition, if any)."""

    non_parallel = False
    rescalable = True  # its state is per partition: a restore may deal them out anew
    after_restore = "seeks every partition to its checkpointed offset (exactly once)"

    def __init__(self, source: KafkaSource, watermark_strategy: Any) -> None:
        _kafka()
        self.source = source
        self.strategy = watermark_strategy
        self.props = dict(source.properties)
        self.group = self.props.get("group.id")

    def prepare(self, job: Any) -> None:
        self.commit_offsets = (self.group is not None and job.plan.config.checkpoints is not None
                               and self.props.get(_COMMIT_KEY, "true").lower() != "false")

    def describe(self) -> str:
        s = self.source
        return f"{s.topics or s.pattern or s.partitions} at {self.props['bootstrap.servers']}"

    def create_reader(self, subtask: int, parallelism: int) -> "KafkaReader":
        return KafkaReader(self, subtask, parallelism)

    def flink_source(self, settings: Dict[str, Any]) -> Any:
        """PyFlink's KafkaSource doing what this one does, when Flink's Kafka connector
        jar is configured (``pipeline.jars``); else a PlanError saying how."""
        jars = str(settings.get("pipeline.jars", ""))
        if "kafka" not in jars.lower():
            raise PlanError(
                "flink mode reads Kafka with Flink's own Kafka connector, whose jar is not "
                "configured: download flink-sql-connector-kafka (the version for your Flink) "
                "and set env.configure({'pipeline.jars': 'file:///path/to/"
                "flink-sql-connector-kafka.jar'}), or run this job in thread or process mode")
        from pyflink.common.serialization import SimpleStringSchema
        from pyflink.datastream.connectors import kafka as fk

        s = self.source
        b = fk.KafkaSource.builder().set_bootstrap_servers(self.props["bootstrap.servers"])
        if s.topics:
            b = b.set_topics(*s.topics)
        elif s.pattern:
            b = b.set_topic_pattern(s.pattern)
        else:
            b = b.set_partitions({fk.KafkaTopicPartition(t, p) for t, p in s.partitions})
        if self.group:
            b = b.set_group_id(self.group)
        kinds = {"earliest": lambda i: fk.KafkaOffsetsInitializer.earliest(),
                 "latest": lambda i: fk.KafkaOffsetsInitializer.latest(),
                 "timestamp": lambda i: fk.KafkaOffsetsInitializer.timestamp(i.value),
                 "committed": lambda i: fk.KafkaOffsetsInitializer.committed_offsets()}
        b = b.set_starting_offsets(kinds[s.starting.kind](s.starting))
        if s.stopping is not None:
            b = b.set_bounded(kinds[s.stopping.kind](s.stopping))
        if s.record_schema is not None or s.value_schema is not None:
            raise PlanError("flink mode: a Kafka source with a Python deserializer cannot run "
                            "in Flink's Kafka connector; read strings and deserialize in a map()")
        return b.set_value_only_deserializer(SimpleStringSchema()).build()


class _SplitOutput:
    """The WatermarkOutput of one partition's generator."""

    __slots__ = ("watermark", "idle")

    def __init__(self) -> None:
        self.watermark = -2 ** 63
        self.idle = False

    def emit_watermark(self, watermark: Any) -> None:
        ts = watermark.timestamp if hasattr(watermark, "timestamp") else int(watermark)
        if ts > self.watermark:
            self.watermark = ts

    def mark_idle(self) -> None:
        self.idle = True

    def mark_active(self) -> None:
        self.idle = False


class SplitWatermarks:
    """One watermark generator per split (a Kafka partition); the reader's watermark is
    the minimum over the splits that are not idle, as Flink's per-split watermarks."""

    def __init__(self, strategy: Any, now_ms: Callable[[], int]) -> None:
        self.strategy = strategy
        self.context = type("Ctx", (), {"current_processing_time": staticmethod(now_ms)})()
        self.generators: Dict[Any, Any] = {}
        self.outputs: Dict[Any, _SplitOutput] = {}
        self.emitted = -2 ** 63
        self.idle = False

    def add(self, split: Any) -> None:
        if split not in self.generators:
            self.generators[split] = self.strategy.create_watermark_generator(self.context)
            self.outputs[split] = _SplitOutput()

    def on_events(self, split: Any, values: List[Any], timestamps: List[int]) -> None:
        gen, out = self.generators[split], self.outputs[split]
        out.idle = False
        fast = getattr(gen, "on_timestamps", None)
        if fast is not None:
            fast(timestamps)
        else:
            for v, t in zip(values, timestamps):
                gen.on_event(v, t, out)

    def periodic(self) -> None:
        for split, gen in self.generators.items():
            gen.on_periodic_emit(self.outputs[split])

    def advance(self, ctx: Any) -> None:
        """Emit the combined watermark if it moved, or idleness if every split is idle."""
        active = [o.watermark for o in self.outputs.values() if not o.idle]
        if not active:
            if not self.idle:
                self.idle = True
                ctx.mark_as_temporarily_idle()
            return
        low = min(active)
        if low > self.emitted or (self.idle and low >= self.emitted > -2 ** 63):
            self.emitted = max(low, self.emitted)
            self.idle = False
            ctx.emit_watermark(self.emitted)


class KafkaReader(_Reader):
    """One parallel instance of a Kafka source: runs in its task's thread, polling
    its partitions; between polls the task takes checkpoints and fires timers."""

    def __init__(self, spec: KafkaSourceSpec, subtask: int, parallelism: int) -> None:
        self.spec, self.subtask, self.parallelism = spec, subtask, parallelism
        self.next: Dict[Tuple[str, int], int] = {}   # partition -> offset of the next record
        self.stops: Dict[Tuple[str, int], int] = {}  # bounded: partition -> offset to stop at
        self.done: set = set()
        self.restored: Optional[Dict[Tuple[str, int], int]] = None
        self.restored_stops: Dict[Tuple[str, int], int] = {}
        self.to_commit: Dict[int, List[List[Any]]] = {}
        self.consumer: Any = None
        self.stopped = threading.Event()
        self.records = 0
        src = spec.source
        if src.record_schema is not None:
            schema = src.record_schema
            self.deserialize = schema.deserialize
            self.whole_records = True
        else:
            self.deserialize = _value_reader(src.value_schema)
            self.whole_records = False

    def open(self, runtime_context: Any) -> None:
        task = runtime_context._task
        self.time = task.time_service
        self.batch_size = task.config.batch_size
        self.interval_s = max(task.config.auto_watermark_interval_ms, 1) / 1000.0
        strategy = self.spec.strategy
        self.assign = strategy.create_timestamp_assigner() if strategy is not None else None
        self.watermarks = SplitWatermarks(strategy, self.time.now_ms) \
            if strategy is not None and not task.config.batch_mode else None

    # -- checkpoints ------------------------------------------------------------------------
    def snapshot_splits(self, checkpoint_id: int) -> Dict[str, Any]:
        offsets = [[t, p, o] for (t, p), o in sorted(self.next.items())]
        if getattr(self.spec, "commit_offsets", False):
            self.to_commit[checkpoint_id] = offsets
        return {"offsets": offsets, "stops": [[t, p, o] for (t, p), o in sorted(self.stops.items())]}

    def restore_splits(self, states: List[Optional[Dict[str, Any]]]) -> None:
        self.restored = {}
        for state in states:
            for t, p, o in (state or {}).get("offsets", ()):
                self.restored[(t, p)] = o
            for t, p, o in (state or {}).get("stops", ()):
                self.restored_stops[(t, p)] = o

    def notify_checkpoint_complete(self, checkpoint_id: Optional[int]) -> None:
        if self.consumer is None or not self.to_commit:
            return
        if checkpoint_id is None:
            offsets = [[t, p, o] for (t, p), o in self.next.items()]
            self.to_commit.clear()
        else:
            done = [c for c in self.to_commit if c <= checkpoint_id]
            if not done:
                return
            offsets = self.to_commit[max(done)]
            for c in done:
                del self.to_commit[c]
        tp = _kafka().TopicPartition
        try:  # for monitoring (lag): a failed commit does not fail the job, as in Flink
            self.consumer.commit(offsets=[tp(t, p, o) for t, p, o in offsets],
                                 asynchronous=checkpoint_id is not None)
        except Exception as exc:  # noqa: BLE001
            _LOG.warning("KafkaSource: committing offsets to group %s failed: %s",
                         self.spec.group, exc)

    # -- metrics -------------------------------------------------------------------------------
    def metrics(self) -> Dict[str, Any]:
        return {"kafka_partitions": len(self.next) - len(self.done)}

    # -- reading ---------------------------------------------------------------------------------
    def cancel(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            try:
                consumer.close()
            except Exception:  # noqa: BLE001 - closing after a failure
                pass

    def _connect(self) -> Any:
        k = _kafka()
        props = self.spec.props
        conf = _client_conf(props, f"source-{self.subtask}")
        conf.setdefault("group.id", f"nbstream-{uuid.uuid4().hex[:12]}")
        conf.update({"enable.auto.commit": False, "enable.auto.offset.store": False,
                     "enable.partition.eof": False})
        consumer = k.Consumer(conf)
        try:
            self.metadata = consumer.list_topics(timeout=_timeout_s(props))
        except k.KafkaException as exc:
            _close_client(consumer)
            raise _unreachable(f"KafkaSource {self.spec.describe()}", props, exc) from None
        return consumer

    def _partitions(self, metadata: Any) -> List[Tuple[str, int]]:
        """Every partition the source reads (all instances), from cluster metadata."""
        src, topics = self.spec.source, metadata.topics
        where = self.spec.props["bootstrap.servers"]
        if src.partitions:
            names = sorted({t for t, _ in src.partitions})
        elif src.pattern:
            pattern = re.compile(src.pattern)
            names = sorted(t for t in topics if pattern.fullmatch(t))
        else:
            names = list(src.topics)
        out = []
        for name in names:
            meta = topics.get(name)
            if meta is None or meta.error is not None or not meta.partitions:
                was = " (it was deleted while the job read it)" if any(
                    t == name for t, _ in self.next) else ""
                raise LookupError(f"KafkaSource: topic '{name}' does not exist on the Kafka "
                                  f"cluster at {where}{was}")
            out += [(name, p) for p in sorted(meta.partitions)]
        if src.partitions:
            wanted = set(src.partitions)
            missing = wanted - set(out)
            if missing:
                raise LookupError(f"KafkaSource: partitions {sorted(missing)} do not exist on "
                                  f"the Kafka cluster at {where}")
            out = sorted(wanted)
        return out

    def _start_offsets(self, parts: List[Tuple[str, int]], initializer: KafkaOffsetsInitializer,
                       what: str) -> Dict[Tuple[str, int], int]:
        """Resolve an initializer to concrete offsets (so a checkpoint holds numbers)."""
        k = _kafka()
        consumer, timeout = self.consumer, _timeout_s(self.spec.props)
        out: Dict[Tuple[str, int], int] = {}
        marks = {tp: consumer.get_watermark_offsets(k.TopicPartition(*tp), timeout=timeout)
                 for tp in parts}
        kind = initializer.kind
        given: Dict[Tuple[str, int], int] = {}
        if kind == "committed":
            got = consumer.committed([k.TopicPartition(*tp) for tp in parts], timeout=timeout)
            given = {(g.topic, g.partition): g.offset for g in got if g.offset >= 0}
        elif kind == "specific":
            given = {tp: o for tp, o in initializer.value.items() if tp in marks}
        elif kind == "timestamp":
            got = consumer.offsets_for_times(
                [k.TopicPartition(t, p, initializer.value) for t, p in parts], timeout=timeout)
            given = {(g.topic, g.partition): (g.offset if g.offset >= 0 else marks[(g.topic, g.partition)][1])
                     for g in got}
        for tp in parts:
            low, high = marks[tp]
            if kind == "earliest":
                out[tp] = low
            elif kind == "latest":
                out[tp] = high
            elif tp in given:
                out[tp] = min(max(given[tp], low), high)
            elif initializer.reset is KafkaOffsetResetStrategy.EARLIEST:
                out[tp] = low
            elif initializer.reset is KafkaOffsetResetStrategy.LATEST:
                out[tp] = high
            else:
                raise LookupError(f"KafkaSource: no {'committed' if kind == 'committed' else 'given'} "
                                  f"{what} offset for topic '{tp[0]}' partition {tp[1]} (group "
                                  f"{self.spec.group}); give the initializer an offset reset "
                                  "strategy (EARLIEST or LATEST)")
        return out

    def _add(self, parts: List[Tuple[str, int]], initial: bool) -> None:
        """Start reading ``parts`` (this instance's share): from the restored offsets,
        else the starting offsets (at the first discovery) or the earliest (partitions
        that appeared later, as Flink)."""
        mine = [tp for tp in parts if _owner(tp[0], tp[1], self.parallelism) == self.subtask
                and tp not in self.next]
        if not mine:
            return
        k = _kafka()
        src = self.spec.source
        restored = self.restored or {}
        fresh = [tp for tp in mine if tp not in restored]
        start = dict(restored)
        if fresh:
            how = src.starting if initial and self.restored is None \
                else KafkaOffsetsInitializer.earliest()
            start.update(self._start_offsets(fresh, how, "starting"))
        if src.stopping is not None:
            unknown = [tp for tp in mine if tp not in self.restored_stops]
            stops = dict(self.restored_stops)
            if unknown:
                stops.update(self._start_offsets(unknown, src.stopping, "stopping"))
            for tp in mine:
                self.stops[tp] = stops[tp]
        for tp in mine:
            self.next[tp] = start[tp]
            if self.watermarks is not None:
                self.watermarks.add(tp)
            if tp in self.stops and start[tp] >= self.stops[tp]:
                self.done.add(tp)
        self.consumer.incremental_assign([k.TopicPartition(t, p, self.next[(t, p)])
                                          for t, p in mine if (t, p) not in self.done])

    def run(self, ctx: Any) -> None:
        self.consumer = self._connect()
        self._add(self._partitions(self.metadata), initial=True)
        props = self.spec.props
        discovery_s = int(props.get(_DISCOVERY_KEY, _DEFAULT_DISCOVERY_MS)) / 1000.0
        bounded = self.spec.source.stopping is not None
        now = time.monotonic()
        next_wm, next_discovery = now + self.interval_s, now + discovery_s
        consume, size = self.consumer.consume, self.batch_size
        if not self.next and self.watermarks is not None:
            self.watermarks.advance(ctx)  # no partition here: idle, not holding others back
        while not self.stopped.is_set():
            if bounded and len(self.done) == len(self.next):
                return
            messages = consume(size, 0.05)
            if messages:
                self._emit(ctx, messages)
            else:
                ctx.flush()  # between batches: checkpoints, timers, cancellation
                if bounded:
                    self._check_ends()
            now = time.monotonic()
            if self.watermarks is not None and now >= next_wm:
                next_wm = now + self.interval_s
                self.watermarks.periodic()
                self.watermarks.advance(ctx)
            if now >= next_discovery and discovery_s > 0:
                next_discovery = now + discovery_s
                self._discover()

    def _discover(self) -> None:
        """New partitions (and topics matching the pattern) are read from the earliest
        offset; a topic that is gone fails the job."""
        try:
            metadata = self.consumer.list_topics(timeout=_timeout_s(self.spec.props))
        except _kafka().KafkaException as exc:
            _LOG.warning("KafkaSource: partition discovery failed: %s", exc)
            return
        self._add(self._partitions(metadata), initial=False)

    def _check_ends(self) -> None:
        """Bounded: a partition is done once its position reached its stopping offset
        (transaction markers take offsets but are never delivered)."""
        k = _kafka()
        open_parts = [tp for tp in self.next if tp not in self.done]
        if not open_parts:
            return
        for got in self.consumer.position([k.TopicPartition(*tp) for tp in open_parts]):
            tp = (got.topic, got.partition)
            if got.offset >= 0 and got.offset >= self.stops[tp]:
                self._finish_partition(tp)

    def _finish_partition(self, tp: Tuple[str, int]) -> None:
        self.done.add(tp)
        self.next[tp] = max(self.next[tp], self.stops[tp])
        self.consumer.incremental_unassign([_kafka().TopicPartition(*tp)])
        if self.watermarks is not None:  # an ended partition does not hold the others back
            self.watermarks.outputs[tp].watermark = 2 ** 63 - 1

    def _emit(self, ctx: Any, messages: List[Any]) -> None:
        values: List[Any] = []
        stamps: List[int] = []
        per_split: Dict[Tuple[str, int], Tuple[List[Any], List[int]]] = {}
        deserialize, whole, assign = self.deserialize, self.whole_records, self.assign
        nxt, stops, wm = self.next, self.stops, self.watermarks
        now_ms = None
        for m in messages:
            err = m.error()
            if err is not None:
                self._fail(m, err)
                continue
            tp = (m.topic(), m.partition())
            offset = m.offset()
            stop = stops.get(tp)
            if stop is not None and offset >= stop:
                if tp not in self.done:
                    self._finish_partition(tp)
                continue
            kind, ts = m.timestamp()
            if kind == 0:  # no timestamp: the time it was read
                ts = now_ms = now_ms or int(time.time() * 1000)
            try:
                if whole:
                    value = deserialize(KafkaRecord(tp[0], m.value(), m.key(), tp[1], offset, ts,
                                                    list(m.headers() or ())))
                else:
                    value = deserialize(m.value())
            except Exception as exc:
                raise DeserializationError(
                    f"cannot deserialize the record at topic '{tp[0]}', partition {tp[1]}, "
                    f"offset {offset} (value {short_repr(m.value(), 80)}): "
                    f"{type(exc).__name__}: {exc}") from exc
            nxt[tp] = offset + 1
            if value is None:
                continue
            if assign is not None:
                ts = as_millis(assign(value, ts))
            values.append(value)
            stamps.append(ts)
            if wm is not None:
                entry = per_split.get(tp)
                if entry is None:
                    entry = per_split[tp] = ([], [])
                entry[0].append(value)
                entry[1].append(ts)
        for tp, (vs, ts_) in per_split.items():
            wm.on_events(tp, vs, ts_)  # type: ignore[union-attr]
        self.records += len(values)
        if values:  # the offsets moved first: a checkpoint taken in emit_batch includes them
            ctx.emit_batch(values, stamps)
        else:
            ctx.flush()
        if wm is not None and per_split:
            wm.advance(ctx)
        if stops:
            for tp in list(per_split):
                if tp not in self.done and nxt[tp] >= stops[tp]:
                    self._finish_partition(tp)

    def _fail(self, message: Any, err: Any) -> None:
        k = _kafka()
        code = err.code()
        if code == k.KafkaError._PARTITION_EOF:
            return
        where = self.spec.props["bootstrap.servers"]
        if code in (k.KafkaError.UNKNOWN_TOPIC_OR_PART, k.KafkaError._UNKNOWN_TOPIC,
                    k.KafkaError._UNKNOWN_PARTITION):
            raise LookupError(f"KafkaSource: topic '{message.topic()}' (partition "
                              f"{message.partition()}) does not exist on the Kafka cluster at "
                              f"{where} (deleted while the job read it?)")
        if err.fatal() or not err.retriable():
            raise ConnectionError(f"KafkaSource: reading topic '{message.topic()}' from {where} "
                                  f"failed: {err.str()}")
        _LOG.warning("KafkaSource: %s", err.str())


# -- the sink ----------------------------------------------------------------------------------

class DeliveryGuarantee(Enum):
    """What a KafkaSink promises: ``NONE`` (fire and forget), ``AT_LEAST_ONCE`` (every
    record acknowledged by the broker before a checkpoint completes) or ``EXACTLY_ONCE``
    (Kafka transactions committed with the checkpoints)."""

    NONE = "none"
    AT_LEAST_ONCE = "at-least-once"
    EXACTLY_ONCE = "exactly-once"


def _bytes_of(schema: Any, value: Any) -> Optional[bytes]:
    if value is None:
        return None
    if schema is not None:
        value = schema.serialize(value) if hasattr(schema, "serialize") else schema(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value).encode("utf-8")


class KafkaRecordSerializationSchema:
    """How a stream's value becomes a Kafka record: ``builder()`` with a topic (or a
    topic selector), a value schema and optionally a key schema (objects with
    ``serialize(value)`` or callables; by default bytes as they are, anything else as its
    text in UTF-8); or a subclass whose ``serialize(element, timestamp)`` returns a
    :class:`KafkaRecord`.

    >>> schema = (KafkaRecordSerializationSchema.builder().set_topic("out")
    ...           .set_key_serialization_schema(lambda v: v[0]).build())
    >>> r = schema.serialize(("k", 1), None); (r.topic, r.key, r.value)
    ('out', b'k', b"('k', 1)")
    """

    def __init__(self) -> None:
        self.topic: Optional[str] = None
        self.topic_selector: Optional[Callable[[Any], str]] = None
        self.key_schema: Any = None
        self.value_schema: Any = None

    @staticmethod
    def builder() -> "KafkaRecordSerializationSchemaBuilder":
        return KafkaRecordSerializationSchemaBuilder()

    def serialize(self, element: Any, timestamp: Optional[int]) -> KafkaRecord:
        topic = self.topic if self.topic_selector is None else self.topic_selector(element)
        key = _bytes_of(self.key_schema, element) if self.key_schema is not None else None
        return KafkaRecord(topic, _bytes_of(self.value_schema, element), key, timestamp=timestamp)


class KafkaRecordSerializationSchemaBuilder:
    def __init__(self) -> None:
        self._schema = KafkaRecordSerializationSchema()

    def set_topic(self, topic: str) -> "KafkaRecordSerializationSchemaBuilder":
        self._schema.topic = topic
        return self

    def set_topic_selector(self, selector: Callable[[Any], str]) -> "KafkaRecordSerializationSchemaBuilder":
        self._schema.topic_selector = getattr(selector, "apply", selector)
        return self

    def set_key_serialization_schema(self, schema: Any) -> "KafkaRecordSerializationSchemaBuilder":
        self._schema.key_schema = schema
        return self

    def set_value_serialization_schema(self, schema: Any) -> "KafkaRecordSerializationSchemaBuilder":
        self._schema.value_schema = schema
        return self

    def build(self) -> KafkaRecordSerializationSchema:
        if self._schema.topic is None and self._schema.topic_selector is None:
            raise PlanError("KafkaRecordSerializationSchema: set_topic(...) or "
                            "set_topic_selector(...) is required")
        return self._schema


class KafkaSink:
    """Writes a stream to Kafka; build it with :meth:`builder` and attach it with
    ``ds.sink_to(sink)``."""

    def __init__(self) -> None:
        self.properties: Dict[str, str] = {}
        self.serializer: Any = None
        self.guarantee = DeliveryGuarantee.NONE
        self.prefix: Optional[str] = None

    @staticmethod
    def builder() -> "KafkaSinkBuilder":
        return KafkaSinkBuilder()

    def _nbstream_sink(self, stream: Any) -> Any:
        return stream._sink(KafkaSinkSpec(self), f"Sink: Kafka {self._topics()}")

    def _topics(self) -> str:
        return getattr(self.serializer, "topic", None) or "(selected topics)"

    def __repr__(self) -> str:
        return f"<KafkaSink {self._topics()} {self.guarantee.name}>"


class KafkaSinkBuilder:
    """PyFlink's ``KafkaSinkBuilder``."""

    def __init__(self) -> None:
        self._sink = KafkaSink()

    def set_bootstrap_servers(self, bootstrap_servers: str) -> "KafkaSinkBuilder":
        return self.set_property("bootstrap.servers", bootstrap_servers)

    def set_record_serializer(self, serializer: Any) -> "KafkaSinkBuilder":
        if not hasattr(serializer, "serialize"):
            raise PlanError("KafkaSink: set_record_serializer needs a KafkaRecordSerializationSchema")
        self._sink.serializer = serializer
        return self

    def set_delivery_guarantee(self, guarantee: DeliveryGuarantee) -> "KafkaSinkBuilder":
        if not isinstance(guarantee, DeliveryGuarantee):
            raise PlanError(f"KafkaSink: the delivery guarantee must be a DeliveryGuarantee, "
                            f"not {guarantee!r}")
        self._sink.guarantee = guarantee
        return self

    def set_transactional_id_prefix(self, prefix: str) -> "KafkaSinkBuilder":
        """Transactions are named ``<prefix>-<subtask>``: a prefix per job, the same when
        the job is resumed (its earlier attempts' open transactions are aborted)."""
        self._sink.prefix = prefix
        return self

    def set_property(self, key: str, value: Any) -> "KafkaSinkBuilder":
        self._sink.properties[key] = str(value)
        return self

    def build(self) -> KafkaSink:
        sink = self._sink
        if not sink.properties.get("bootstrap.servers"):
            raise PlanError("KafkaSink: set_bootstrap_servers(...) is required")
        if sink.serializer is None:
            raise PlanError("KafkaSink: set_record_serializer(...) is required")
        if sink.guarantee is DeliveryGuarantee.EXACTLY_ONCE and not sink.prefix:
            raise PlanError("KafkaSink: EXACTLY_ONCE needs set_transactional_id_prefix(...), "
                            "unique to this job")
        return sink


class KafkaSinkSpec(SinkSpec):
    def __init__(self, sink: KafkaSink) -> None:
        _kafka()
        self.sink = sink
        self.props = dict(sink.properties)

    def prepare(self, job: Any, parallelism: int) -> None:
        if self.sink.guarantee is DeliveryGuarantee.EXACTLY_ONCE \
                and job.plan.config.checkpoints is None:
            raise PlanError("KafkaSink: EXACTLY_ONCE commits its transactions when checkpoints "
                            "complete: enable checkpointing (env.enable_checkpointing(ms)), or "
                            "use DeliveryGuarantee.AT_LEAST_ONCE")

    def create_writer(self) -> "KafkaWriter":
        return KafkaWriter(self)


Rec = List[Any]  # [topic, partition or None, key, value, headers, timestamp]: plain data


class KafkaWriter(_Writer):
    """One parallel instance of a KafkaSink (see the module's docstring)."""

    def __init__(self, spec: KafkaSinkSpec) -> None:
        self.spec = spec
        self.guarantee = spec.sink.guarantee
        self.producer: Any = None
        self.interval: List[Rec] = []   # exactly once: records since the last barrier
        self.pending: List[Dict[str, Any]] = []  # sealed, not committed: {epoch, origin, seq, records}
        self.seq = 0
        self.epoch = 0
        self.scan_from: Dict[str, int] = {}  # "topic\x00partition" -> offset after our last commit
        self.failures: List[str] = []
        self.unflushed = 0

    # -- set up ----------------------------------------------------------------------------------
    def open(self, op: Any) -> None:
        super().open(op)
        task = op.task
        self.subtask, self.parallelism = task.subtask, task.parallelism
        self.timeout = _timeout_s(self.spec.props)
        if self.guarantee is DeliveryGuarantee.EXACTLY_ONCE:
            self.producer = self._transactional(self.subtask)
        else:
            conf = _client_conf(self.spec.props, f"sink-{self.subtask}")
            if self.guarantee is DeliveryGuarantee.AT_LEAST_ONCE:
                conf.setdefault("enable.idempotence", True)
            producer = _kafka().Producer(conf)
            try:
                producer.list_topics(timeout=self.timeout)
            except _kafka().KafkaException as exc:
                _close_client(producer)
                raise _unreachable(self._what(), self.spec.props, exc) from None
            self.producer = producer

    def _what(self) -> str:
        return f"KafkaSink {self.spec.sink._topics()}"

    def _transactional(self, subtask: int) -> Any:
        """A transactional producer named ``<prefix>-<subtask>``; initializing it aborts a
        transaction an earlier attempt left open under that name."""
        k = _kafka()
        conf = _client_conf(self.spec.props, f"sink-{subtask}")
        conf["transactional.id"] = f"{self.spec.sink.prefix}-{subtask}"
        producer = k.Producer(conf)
        try:
            producer.init_transactions(self.timeout)
        except k.KafkaException as exc:
            _close_client(producer)
            raise _unreachable(f"{self._what()} (transactional id {conf['transactional.id']})",
                               self.spec.props, exc) from None
        return producer

    # -- writing ---------------------------------------------------------------------------------
    def write(self, batch: Any) -> None:
        serialize = self.spec.sink.serializer.serialize
        tss = batch.timestamps
        out: List[Rec] = []
        for i, value in enumerate(batch.values):
            ts = tss[i] if tss is not None else None
            try:
                r = serialize(value, ts)
            except Exception as exc:
                raise self.op.error(exc, value, phase="serializer") from exc
            out.append([r.topic, r.partition, r.key, r.value, r.headers or None, r.timestamp])
        if self.guarantee is DeliveryGuarantee.EXACTLY_ONCE:
            self.interval += out
        else:
            self._produce(out)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failures.append(f"topic '{msg.topic()}': {err.str()}")
        elif self.guarantee is DeliveryGuarantee.EXACTLY_ONCE:
            key = f"{msg.topic()}\x00{msg.partition()}"
            if msg.offset() + 1 > self.scan_from.get(key, 0):
                self.scan_from[key] = msg.offset() + 1

    def _produce(self, records: List[Rec], marker: Optional[str] = None,
                 skip: Iterable[int] = ()) -> None:
        """Send ``records`` (those whose index is not in ``skip``); with ``marker``, each
        carries the header ``nbstream-txn: <marker>:<index>``."""
        produce, poll = self.producer.produce, self.producer.poll
        skip = set(skip)
        for i, (topic, partition, key, value, headers, ts) in enumerate(records):
            if i in skip:
                continue
            kwargs: Dict[str, Any] = {"on_delivery": self._delivered}
            if partition is not None:
                kwargs["partition"] = partition
            if ts is not None:
                kwargs["timestamp"] = ts
            if marker is not None:
                headers = list(headers or ()) + [(MARKER_HEADER, f"{marker}:{i}".encode())]
            if headers:
                kwargs["headers"] = headers
            while True:
                try:
                    produce(topic, value, key, **kwargs)
                    break
                except BufferError:  # librdkafka's queue is full: wait for the broker
                    poll(0.05)
                    if self.failures:
                        self._raise_failures()
        poll(0)
        if self.failures:
            self._raise_failures()

    def _raise_failures(self) -> None:
        failures, self.failures = self.failures, []
        raise ConnectionError(f"{self._what()}: {len(failures)} record(s) were not delivered "
                              f"to {self.spec.props['bootstrap.servers']}: {failures[0]}")

    def _flush(self) -> None:
        left = self.producer.flush(self.timeout)
        if left:
            raise ConnectionError(f"{self._what()}: {left} record(s) not acknowledged by "
                                  f"{self.spec.props['bootstrap.servers']} within "
                                  f"{self.timeout:g} s")
        if self.failures:
            self._raise_failures()

    def finish(self) -> None:
        if self.guarantee is not DeliveryGuarantee.EXACTLY_ONCE and self.producer is not None:
            self._flush()

    # -- checkpoints --------------------------------------------------------------------------------
    def seal(self, checkpoint_id: int) -> Dict[str, Any]:
        if self.guarantee is DeliveryGuarantee.AT_LEAST_ONCE:
            self._flush()
            return {}
        if self.guarantee is DeliveryGuarantee.NONE:
            return {}
        self.epoch = checkpoint_id or self.epoch + 1
        if self.interval:
            self.seq += 1
            self.pending.append({"epoch": self.epoch, "origin": self.subtask, "seq": self.seq,
                                 "records": self.interval})
            self.interval = []
        return {"format": 1, "prefix": self.spec.sink.prefix, "subtask": self.subtask,
                "parallelism": self.parallelism, "seq": self.seq, "pending": list(self.pending),
                "scan_from": dict(self.scan_from)}

    def commit(self, checkpoint_id: Optional[int]) -> None:
        if self.guarantee is not DeliveryGuarantee.EXACTLY_ONCE:
            return
        if checkpoint_id is None and self.interval:  # the job is over: all of it
            self.seal(0)
        while self.pending and (checkpoint_id is None or self.pending[0]["epoch"] <= checkpoint_id):
            self._transact(self.pending[0])
            self.pending.pop(0)

    def _marker(self, entry: Dict[str, Any]) -> str:
        return f"{self.spec.sink.prefix}-{entry['origin']}:{entry['seq']}"

    def _transact(self, entry: Dict[str, Any], skip: Iterable[int] = ()) -> None:
        """Write one interval's records (but those in ``skip``, already in the output) in
        one transaction and commit it; an abortable failure aborts and tries again (a
        fatal one, such as being fenced, fails the job)."""
        k = _kafka()
        producer = self.producer
        for attempt in range(3):
            producer.begin_transaction()
            try:
                self._produce(entry["records"], self._marker(entry), skip)
                producer.commit_transaction(self.timeout)
                return
            except (k.KafkaException, ConnectionError) as exc:
                err = exc.args[0] if isinstance(exc, k.KafkaException) else None
                if err is not None and not err.txn_requires_abort() or attempt == 2:
                    raise ConnectionError(f"{self._what()}: committing transaction "
                                          f"{self._marker(entry)} failed: {_error_text(exc)}") from None
                _LOG.warning("%s: transaction %s aborted, written again: %s", self._what(),
                             self._marker(entry), _error_text(exc))
                producer.abort_transaction(self.timeout)
                producer.poll(0)  # the aborted records' delivery reports
                self.failures = []

    def restore(self, state: Dict[str, Any]) -> None:
        """Finish what a completed checkpoint lists: every sealed interval whose
        transaction did not commit is written again. After a rescale, old instance ``s``
        is finished by new instance ``s % parallelism`` (which first fences ``s``'s
        transactional id, aborting what it left open)."""
        if not isinstance(state, dict) or state.get("format") != 1:
            return
        old = state["subtask"]
        if old == self.subtask:
            self.seq = max(self.seq, state["seq"])
            self.epoch = max(self.epoch, max((e["epoch"] for e in state["pending"]), default=0))
        if old % self.parallelism != self.subtask or state["prefix"] != self.spec.sink.prefix:
            return
        if old != self.subtask:
            self._transactional(old).close()
        entries = state["pending"]
        if not entries:
            return
        found = self._records_in_output(entries, state["scan_from"])
        again = 0
        for entry in entries:
            seen = found.get(self._marker(entry), set())
            if len(seen) < len(entry["records"]):
                again += 1
                self._transact(entry, skip=seen)
        _LOG.info("KafkaSink %s: %d interval(s) of the checkpoint were in the output, %d "
                  "written again", self.spec.sink.prefix, len(entries) - again, again)

    def _records_in_output(self, entries: List[Dict[str, Any]],
                           scan_from: Dict[str, int]) -> Dict[str, set]:
        """Which records of ``entries`` the output topics hold (read committed), by
        marker: the indexes found, reading from the offsets after the last commit the
        checkpoint knew of. A broker aborts what a fenced producer left open, so a
        transaction is all there or not at one; one that does not (librdkafka's mock
        cluster) shows part of it, and only the rest is written again."""
        k = _kafka()
        wanted = {self._marker(e) for e in entries}
        topics = sorted({r[0] for e in entries for r in e["records"]})
        conf = _client_conf(self.spec.props, f"sink-{self.subtask}-check")
        conf.update({"group.id": f"nbstream-check-{uuid.uuid4().hex[:8]}",
                     "isolation.level": "read_committed", "enable.auto.commit": False})
        consumer = k.Consumer(conf)
        found: Dict[str, set] = {}
        try:
            metadata = consumer.list_topics(timeout=self.timeout)
            ends: Dict[Tuple[str, int], int] = {}
            assign = []
            for topic in topics:
                meta = metadata.topics.get(topic)
                for p in sorted(meta.partitions) if meta is not None else ():
                    low, high = consumer.get_watermark_offsets(k.TopicPartition(topic, p),
                                                               timeout=self.timeout)
                    start = max(low, scan_from.get(f"{topic}\x00{p}", low))
                    if start < high:
                        ends[(topic, p)] = high
                        assign.append(k.TopicPartition(topic, p, start))
            consumer.assign(assign)
            deadline = time.monotonic() + self.timeout * 2
            while ends:
                for m in consumer.consume(1000, 0.2):
                    if m.error() is None:
                        for name, value in m.headers() or ():
                            if name == MARKER_HEADER:
                                marker, _, index = value.decode().rpartition(":")
                                if marker in wanted:
                                    found.setdefault(marker, set()).add(int(index))
                for got in consumer.position([k.TopicPartition(t, p) for t, p in ends]):
                    if got.offset >= ends[(got.topic, got.partition)]:
                        ends.pop((got.topic, got.partition))
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self._what()}: could not read the output topics "
                                       f"{topics} to the end within {self.timeout * 2:g} s to "
                                       "see which transactions committed")
        finally:
            consumer.close()
        return found

    def close(self) -> None:
        producer, self.producer = self.producer, None
        if producer is None:
            return
        try:
            if self.guarantee is DeliveryGuarantee.NONE:
                producer.flush(self.timeout)
        finally:
            _close_client(producer)


def _close_client(client: Any) -> None:
    """Stop a librdkafka client's threads now (not whenever it is garbage)."""
    try:
        client.close()
    except Exception:  # noqa: BLE001 - closing after a failure
        pass


# -- a Kafka cluster on loopback, for notebooks and tests ---------------------------------------

class LocalKafkaCluster:
    """librdkafka's mock cluster, shipped inside the confluent-kafka wheel: ``brokers``
    Kafka brokers on 127.0.0.1 speaking the real protocol (produce, fetch, transactions,
    read-committed, consumer groups), in this process, kept in memory. For trying a
    pipeline and for tests; not a durable broker. Clients in other processes reach it by
    :attr:`bootstrap_servers`. Its limits (it is a test double inside librdkafka): no
    CreateTopics/DeleteTopics requests (use :meth:`create_topic`/:meth:`delete_topic`),
    no offset lookup by timestamp, offsets committed inside transactions are not kept,
    a transaction left open by a producer that died is not aborted when its
    transactional id is taken again (a real broker aborts it): its records become
    readable; and a partition keeps only its last ~5 MB (older records are dropped, the
    partition's low watermark moves up).

    >>> with LocalKafkaCluster(brokers=1) as cluster:
    ...     cluster.create_topic("t", partitions=1)
    ...     cluster.produce("t", [b"a", b"b"])
    ...     [r.value for r in cluster.read("t")]
    [b'a', b'b']
    """

    def __init__(self, brokers: int = 3) -> None:
        k = _kafka()
        libs = os.path.join(os.path.dirname(os.path.dirname(k.__file__)), "confluent_kafka.libs")
        found = sorted(glob.glob(os.path.join(libs, "librdkafka*.so*")))
        if not found:
            raise NotAvailableError("LocalKafkaCluster needs the librdkafka bundled in the "
                                    "confluent-kafka wheel (Linux); none was found in " + libs)
        lib = self._lib = ctypes.CDLL(found[0])
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        lib.rd_kafka_conf_new.restype = vp
        lib.rd_kafka_conf_set.argtypes = [vp, cp, cp, cp, ctypes.c_size_t]
        lib.rd_kafka_new.restype = vp
        lib.rd_kafka_new.argtypes = [ctypes.c_int, vp, cp, ctypes.c_size_t]
        lib.rd_kafka_destroy.argtypes = [vp]
        lib.rd_kafka_mock_cluster_new.restype = vp
        lib.rd_kafka_mock_cluster_new.argtypes = [vp, ctypes.c_int]
        lib.rd_kafka_mock_cluster_bootstraps.restype = cp
        lib.rd_kafka_mock_cluster_bootstraps.argtypes = [vp]
        lib.rd_kafka_mock_cluster_destroy.argtypes = [vp]
        lib.rd_kafka_mock_topic_create.argtypes = [vp, cp, ctypes.c_int, ctypes.c_int]
        lib.rd_kafka_mock_topic_delete.argtypes = [vp, cp]
        err = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        lib.rd_kafka_conf_set(conf, b"log_level", b"0", err, 512)
        self._rk = lib.rd_kafka_new(0, conf, err, 512)
        if not self._rk:
            raise RuntimeError(f"LocalKafkaCluster: {err.value.decode()}")
        self._mc = lib.rd_kafka_mock_cluster_new(self._rk, int(brokers))
        if not self._mc:
            lib.rd_kafka_destroy(self._rk)
            raise RuntimeError("LocalKafkaCluster: librdkafka could not start its mock cluster")
        #: the address clients connect to: ``127.0.0.1:<port>,...``
        self.bootstrap_servers: str = lib.rd_kafka_mock_cluster_bootstraps(self._mc).decode()

    def create_topic(self, topic: str, partitions: int = 1, replication_factor: int = 1) -> None:
        code = self._lib.rd_kafka_mock_topic_create(self._mc, topic.encode(), partitions,
                                                    replication_factor)
        if code:
            raise RuntimeError(f"LocalKafkaCluster: cannot create topic {topic!r} (error {code})")

    def delete_topic(self, topic: str) -> None:
        self._lib.rd_kafka_mock_topic_delete(self._mc, topic.encode())

    def produce(self, topic: str, values: Iterable[Any], keys: Optional[Iterable[Any]] = None,
                timestamps: Optional[Iterable[int]] = None, partition: Optional[int] = None) -> None:
        """Write ``values`` (bytes or text) to ``topic``, and wait until they are stored."""
        k = _kafka()
        producer = k.Producer({"bootstrap.servers": self.bootstrap_servers, "logger": _LOG,
                               "linger.ms": 5})
        keys = iter(keys) if keys is not None else None
        stamps = iter(timestamps) if timestamps is not None else None
        for value in values:
            kwargs: Dict[str, Any] = {}
            if keys is not None:
                kwargs["key"] = next(keys)
            if stamps is not None:
                kwargs["timestamp"] = next(stamps)
            if partition is not None:
                kwargs["partition"] = partition
            while True:
                try:
                    producer.produce(topic, value, **kwargs)
                    break
                except BufferError:
                    producer.poll(0.05)
        if producer.flush(30):
            raise RuntimeError(f"LocalKafkaCluster: records to {topic!r} were not stored")

    def read(self, topic: str, committed_only: bool = True, timeout_s: float = 30.0) -> List[KafkaRecord]:
        """Everything ``topic`` holds now (read committed by default), partition by
        partition, as :class:`KafkaRecord` values."""
        k = _kafka()
        consumer = k.Consumer({"bootstrap.servers": self.bootstrap_servers, "logger": _LOG,
                               "group.id": f"nbstream-read-{uuid.uuid4().hex[:8]}",
                               "enable.auto.commit": False,
                               "isolation.level": "read_committed" if committed_only
                               else "read_uncommitted"})
        try:
            meta = consumer.list_topics(topic, timeout=timeout_s).topics[topic]
            ends, assign = {}, []
            for p in sorted(meta.partitions):
                low, high = consumer.get_watermark_offsets(k.TopicPartition(topic, p), timeout=timeout_s)
                if high > low:
                    ends[p] = high
                    assign.append(k.TopicPartition(topic, p, low))
            consumer.assign(assign)
            out: List[KafkaRecord] = []
            deadline = time.monotonic() + timeout_s
            while ends:
                for m in consumer.consume(10_000, 0.1):
                    if m.error() is None:
                        out.append(KafkaRecord(m.topic(), m.value(), m.key(), m.partition(),
                                               m.offset(), m.timestamp()[1], list(m.headers() or ())))
                for got in consumer.position([k.TopicPartition(topic, p) for p in ends]):
                    if got.offset >= ends[got.partition]:
                        ends.pop(got.partition)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"LocalKafkaCluster: {topic!r} not read to its end in "
                                       f"{timeout_s:g} s")
        finally:
            consumer.close()
        out.sort(key=lambda r: (r.partition, r.offset))
        return out

    def close(self) -> None:
        """Stop the brokers (clients still connected see them go)."""
        mc, self._mc = getattr(self, "_mc", None), None
        if mc:
            self._lib.rd_kafka_mock_cluster_destroy(mc)
            self._lib.rd_kafka_destroy(self._rk)

    def __enter__(self) -> "LocalKafkaCluster":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass
