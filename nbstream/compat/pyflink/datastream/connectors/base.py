"""``pyflink.datastream.connectors.base`` on nbstream: ``DeliveryGuarantee`` of sinks.

>>> DeliveryGuarantee.EXACTLY_ONCE.name
'EXACTLY_ONCE'
"""

from nbstream.connectors.kafka import DeliveryGuarantee

__all__ = ["DeliveryGuarantee"]
