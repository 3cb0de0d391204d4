"""The ``kafka`` connector of CREATE TABLE: a topic as a table, over nbstream's KafkaSource
and KafkaSink (:mod:`nbstream.connectors.kafka`, the ``nbstream[kafka]`` extra).

Options, as Flink's: ``topic`` (or ``topic-pattern`` when reading),
``properties.bootstrap.servers``, ``properties.group.id``, any ``properties.*`` handed to
the client; ``format`` (or ``value.format``): ``json``, ``csv`` or ``raw``, with the
filesystem connector's format options; ``scan.startup.mode``: ``earliest-offset``,
``latest-offset``, ``group-offsets``, ``timestamp`` (``scan.startup.timestamp-millis``) or
``specific-offsets`` (``scan.startup.specific-offsets`` = ``partition:0,offset:42;...``);
``scan.bounded.mode``: ``unbounded`` (the default) or ``latest-offset``;
``sink.delivery-guarantee``: ``none``, ``at-least-once`` (the default) or ``exactly-once``
with ``sink.transactional-id-prefix``. A row's Kafka timestamp is its stream timestamp;
watermarks come from the table's WATERMARK clause. The table is append-only: a query that
updates its rows is refused (``upsert-kafka`` is not provided yet).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from .connectors import TableSink, TableSource, register_sink, register_source
from .filesystem import decoder, encoder
from .types import DataType, ValidationError

__all__ = ["KafkaTableSource", "KafkaTableSink"]

_STARTUP = {"earliest-offset": "earliest", "latest-offset": "latest", "group-offsets": "committed",
            "timestamp": "timestamp", "specific-offsets": "specific"}


def _format(options: Dict[str, str]) -> str:
    fmt = options.get("value.format") or options.get("format")
    if not fmt:
        raise ValidationError("kafka: the option 'format' (or 'value.format') is required "
                              "(json, csv, raw)")
    if fmt not in ("json", "csv", "raw"):
        raise ValidationError(f"Could not find any format factory for identifier '{fmt}' "
                              "(nbstream's kafka formats: json, csv, raw)")
    return fmt


def _client_properties(options: Dict[str, str]) -> Dict[str, str]:
    servers = options.get("properties.bootstrap.servers")
    if not servers:
        raise ValidationError("kafka: the option 'properties.bootstrap.servers' is required")
    return {k[len("properties."):]: v for k, v in options.items() if k.startswith("properties.")}


def _offsets(options: Dict[str, str], topic: Optional[str]) -> Any:
    from ..connectors.kafka import KafkaOffsetsInitializer, KafkaOffsetResetStrategy, \
        KafkaTopicPartition

    mode = options.get("scan.startup.mode", "group-offsets")
    kind = _STARTUP.get(mode)
    if kind is None:
        raise ValidationError(f"kafka: unsupported 'scan.startup.mode' = '{mode}' "
                              f"({', '.join(_STARTUP)})")
    if kind == "earliest":
        return KafkaOffsetsInitializer.earliest()
    if kind == "latest":
        return KafkaOffsetsInitializer.latest()
    if kind == "committed":
        reset = options.get("properties.auto.offset.reset", "none").upper()
        return KafkaOffsetsInitializer.committed_offsets(
            KafkaOffsetResetStrategy[reset if reset in ("EARLIEST", "LATEST") else "NONE"])
    if kind == "timestamp":
        if "scan.startup.timestamp-millis" not in options:
            raise ValidationError("kafka: 'scan.startup.mode' = 'timestamp' needs "
                                  "'scan.startup.timestamp-millis'")
        return KafkaOffsetsInitializer.timestamp(int(options["scan.startup.timestamp-millis"]))
    spec = options.get("scan.startup.specific-offsets", "")
    if topic is None or not spec:
        raise ValidationError("kafka: 'specific-offsets' needs 'topic' and "
                              "'scan.startup.specific-offsets' (partition:0,offset:42;...)")
    offsets = {}
    for part in filter(None, spec.split(";")):
        fields = dict(f.split(":", 1) for f in part.split(","))
        offsets[KafkaTopicPartition(topic, int(fields["partition"]))] = int(fields["offset"])
    return KafkaOffsetsInitializer.offsets(offsets)


class KafkaTableSource(TableSource):
    description = "kafka"

    def __init__(self, options: Dict[str, str], names: List[str], types: List[DataType]) -> None:
        self.options, self.names, self.types = options, names, types
        self.format = _format(options)
        if self.format == "raw" and len(types) != 1:
            raise ValidationError("The 'raw' format only supports single physical column.")
        self.topic = options.get("topic")
        if not self.topic and not options.get("topic-pattern"):
            raise ValidationError("kafka: the option 'topic' (or 'topic-pattern') is required")
        self.props = _client_properties(options)
        bounded = options.get("scan.bounded.mode", "unbounded")
        if bounded not in ("unbounded", "latest-offset"):
            raise ValidationError(f"kafka: unsupported 'scan.bounded.mode' = '{bounded}' "
                                  "(unbounded, latest-offset)")
        self.bounded = bounded == "latest-offset"

    def stream(self, env: Any) -> Any:
        from ..api.watermarks import WatermarkStrategy
        from ..connectors.kafka import KafkaOffsetsInitializer, KafkaSource

        b = KafkaSource.builder().set_properties(self.props)
        b = b.set_topics(*self.topic.split(";")) if self.topic else \
            b.set_topic_pattern(self.options["topic-pattern"])
        b = b.set_starting_offsets(_offsets(self.options, self.topic))
        if self.bounded:
            b = b.set_bounded(KafkaOffsetsInitializer.latest())
        fmt = self.format
        b = b.set_value_only_deserializer(_Decode(decoder(fmt, self.names, self.types,
                                                          self.options)))
        return env.from_source(b.build(), WatermarkStrategy.no_watermarks(),
                               f"kafka {self.topic or self.options['topic-pattern']}")


class _Decode:
    """A record's value (bytes) -> a row tuple, or None to skip it."""

    def __init__(self, decode: Any) -> None:
        self.decode = decode

    def __call__(self, raw: Optional[bytes]) -> Optional[tuple]:
        if raw is None:
            return None
        return self.decode(raw.decode("utf-8"))


class KafkaTableSink(TableSink):
    description = "kafka"
    accepts_updates = False

    def __init__(self, options: Dict[str, str], names: List[str], types: List[DataType]) -> None:
        self.options, self.names, self.types = options, names, types
        self.format = _format(options)
        self.topic = options.get("topic")
        if not self.topic:
            raise ValidationError("kafka: the option 'topic' is required for a sink")
        self.props = _client_properties(options)
        guarantee = options.get("sink.delivery-guarantee", "at-least-once")
        if guarantee not in ("none", "at-least-once", "exactly-once"):
            raise ValidationError(f"kafka: unsupported 'sink.delivery-guarantee' = '{guarantee}'")
        if guarantee == "exactly-once" and not options.get("sink.transactional-id-prefix"):
            raise ValidationError("kafka: 'sink.delivery-guarantee' = 'exactly-once' needs "
                                  "'sink.transactional-id-prefix'")
        self.guarantee = guarantee

    def consume(self, stream: Any, names: Sequence[str], types: Sequence[DataType]) -> Any:
        from ..connectors.kafka import (DeliveryGuarantee, KafkaRecordSerializationSchema,
                                        KafkaSink)

        b = KafkaSink.builder().set_record_serializer(
            KafkaRecordSerializationSchema.builder().set_topic(self.topic)
            .set_value_serialization_schema(_Encode(encoder(self.format, names, types)))
            .build())
        for key, value in self.props.items():
            b = b.set_property(key, value)
        b = b.set_delivery_guarantee({"none": DeliveryGuarantee.NONE,
                                      "at-least-once": DeliveryGuarantee.AT_LEAST_ONCE,
                                      "exactly-once": DeliveryGuarantee.EXACTLY_ONCE}[self.guarantee])
        prefix = self.options.get("sink.transactional-id-prefix")
        if prefix:
            b = b.set_transactional_id_prefix(prefix)
        return stream.sink_to(b.build())


class _Encode:
    def __init__(self, encode: Any) -> None:
        self.encode = encode

    def __call__(self, row: tuple) -> bytes:
        return self.encode(row).encode("utf-8")


register_source("kafka", KafkaTableSource)
register_sink("kafka", KafkaTableSink)
