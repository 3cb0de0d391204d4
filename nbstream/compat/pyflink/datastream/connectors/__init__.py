"""``pyflink.datastream.connectors`` on nbstream: the number-sequence and file connectors
(:mod:`.number_seq`, :mod:`.file_system`) and Kafka (:mod:`.kafka`, on confluent-kafka),
also under this package's own name as PyFlink 2.3 still re-exports them
(``from pyflink.datastream.connectors import FileSink``).
Flink's other JVM connectors (JDBC, Pulsar, RabbitMQ, ...) are not available: their classes
import as placeholders, and using one raises
:class:`~nbstream.compat.pyflink._exports.NotAvailableError` naming it.

>>> from nbstream.compat.pyflink.datastream.connectors import FileSink, NumberSequenceSource
>>> NumberSequenceSource(1, 3).end
3
"""

from ..._exports import exports

_HERE = "nbstream.compat.pyflink.datastream.connectors"
_FILE_SYSTEM = ("FileSource", "FileSourceBuilder", "StreamFormat", "FileSink", "OutputFileConfig",
                "RollingPolicy", "BucketAssigner", "StreamingFileSink")
_KAFKA = ("KafkaSource", "KafkaSink", "KafkaOffsetsInitializer", "KafkaOffsetResetStrategy",
          "KafkaTopicPartition", "KafkaRecordSerializationSchema",
          "KafkaRecordDeserializationSchema", "DeliveryGuarantee")
#: what PyFlink 2.3 re-exports here from its JVM connectors (and file classes nbstream lacks)
_JVM = ("Sink", "Source",
        "JdbcSink", "JdbcConnectionOptions", "JdbcExecutionOptions",
        "FlinkKafkaConsumer", "FlinkKafkaProducer", "Semantic",
        "DynamicKafkaSource", "DynamicKafkaSourceBuilder", "KafkaMetadataService",
        "KafkaStreamSetSubscriber", "KafkaStreamSubscriber",
        "StreamPatternSubscriber", "SingleClusterTopicMetadataService",
        "PulsarSource", "PulsarSourceBuilder", "StartCursor", "StopCursor",
        "RMQSource", "RMQSink", "RMQConnectionConfig",
        "FileEnumeratorProvider", "FileSplitAssignerProvider")

__all__, __getattr__ = exports(__name__, {
    "NumberSequenceSource": f"{_HERE}.number_seq:NumberSequenceSource",
    **{name: f"{_HERE}.file_system:{name}" for name in _FILE_SYSTEM},
    **{name: f"{_HERE}.kafka:{name}" for name in _KAFKA}}, unavailable=_JVM)
