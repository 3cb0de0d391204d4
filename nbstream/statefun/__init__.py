"""Stateful Functions on nbstream: the ``statefun`` Python SDK's API (3.x here, 2.x in
:mod:`nbstream.statefun.v2`) and its request-reply protocol.

Functions are addressed by (function type, id), keep persisted state per address, message
each other, send delayed messages and emit egress records. A program written for the SDK
runs with ``statefun`` replaced by this package (see :mod:`nbstream.compat.statefun`).

>>> from nbstream.statefun import *
>>> functions = StatefulFunctions()
>>> @functions.bind("example/greeter", [ValueSpec("seen", IntType)])
... def greeter(context: Context, message: Message):
...     seen = (context.storage.seen or 0) + 1
...     context.storage.seen = seen
...     context.send_egress(egress_message_builder(
...         "example/out", f"Hello {message.as_string()} #{seen}", StringType))
>>> functions.for_typename("example/greeter").specs
[ValueSpec('seen', io.statefun.types/int)]

The protocol handler (``RequestReplyHandler``) and the 2.x API need protobuf:
``pip install 'nbstream[statefun]'``; the rest of the API runs without it.
"""

from .core import SdkAddress, ValueSpec
from .datastream import (RoutableMessage, StatefulFunctionDataStreamBuilder,
                         StatefulFunctionEgressStreams, egress_row, egress_value)
from .errors import (FunctionInvocationError, ProtobufMissingError, StatefulFunctionError,
                     UnknownFunctionTypeError)
from .functions import Context, StatefulFunctions
from .handler import RequestReplyHandler
from .messages import (EgressMessage, Message, egress_message_builder, kafka_egress_message,
                       kinesis_egress_message, message_builder)
from .types import (BoolType, DoubleType, FloatType, IntType, LongType, StringType, Type,
                    TypeSerializer, make_json_type, make_protobuf_type, simple_type)

__all__ = [
    # the statefun SDK's (3.x) names
    "StatefulFunctions", "ValueSpec", "Context", "Message", "EgressMessage", "message_builder",
    "egress_message_builder", "kafka_egress_message", "kinesis_egress_message",
    "RequestReplyHandler", "SdkAddress", "Type", "TypeSerializer", "simple_type", "make_json_type",
    "make_protobuf_type", "BoolType", "IntType", "FloatType", "DoubleType", "LongType", "StringType",
    # running functions in a DataStream job
    "StatefulFunctionDataStreamBuilder", "StatefulFunctionEgressStreams", "RoutableMessage",
    "egress_value", "egress_row",
    # nbstream's errors
    "StatefulFunctionError", "FunctionInvocationError", "UnknownFunctionTypeError",
    "ProtobufMissingError",
]
