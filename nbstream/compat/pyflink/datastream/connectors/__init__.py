"""``pyflink.datastream.connectors`` on nbstream: the number-sequence and file connectors
(:mod:`.number_seq`, :mod:`.file_system`). Flink's JVM connectors (Kafka, JDBC, Pulsar,
Kinesis, Elasticsearch, ...) are not available: importing one of their classes raises
:class:`~nbstream.compat.pyflink._exports.NotAvailableError` naming it."""

from ..._exports import exports

__all__, __getattr__ = exports(__name__, {}, unavailable=["Sink", "Source", "DeliveryGuarantee"])
