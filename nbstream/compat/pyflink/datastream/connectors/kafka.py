"""``pyflink.datastream.connectors.kafka`` on nbstream: Kafka sources and sinks with
PyFlink's builders, on confluent-kafka (the ``nbstream[kafka]`` extra); see
:mod:`nbstream.connectors.kafka` for what they guarantee and how. The legacy
``FlinkKafkaConsumer``/``FlinkKafkaProducer`` are not provided: use KafkaSource/KafkaSink.

>>> from nbstream.compat.pyflink.datastream.connectors.kafka import KafkaSource
>>> KafkaSource.builder().set_bootstrap_servers("127.0.0.1:9092").set_topics("t").build()
<KafkaSource ['t'] at 127.0.0.1:9092>
"""

from __future__ import annotations

from nbstream.connectors.kafka import (DeliveryGuarantee, KafkaOffsetResetStrategy,
                                       KafkaOffsetsInitializer, KafkaRecord,
                                       KafkaRecordDeserializationSchema,
                                       KafkaRecordSerializationSchema,
                                       KafkaRecordSerializationSchemaBuilder, KafkaSink,
                                       KafkaSinkBuilder, KafkaSource, KafkaSourceBuilder,
                                       KafkaTopicPartition)
from ..._exports import exports

__all__ = ["KafkaSource", "KafkaSourceBuilder", "KafkaSink", "KafkaSinkBuilder",
           "KafkaOffsetsInitializer", "KafkaOffsetResetStrategy", "KafkaTopicPartition",
           "KafkaRecordSerializationSchema", "KafkaRecordSerializationSchemaBuilder",
           "KafkaRecordDeserializationSchema", "KafkaRecord", "DeliveryGuarantee"]

_, __getattr__ = exports(__name__, {}, unavailable=[
    "FlinkKafkaConsumer", "FlinkKafkaProducer", "Semantic"],
    why="the legacy Kafka connector is gone from Flink 2; use KafkaSource and KafkaSink")
