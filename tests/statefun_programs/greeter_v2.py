"""The greeter written for the statefun SDK's 2.x API: protobuf messages (well-known wrapper
types), state as Any by name (declared with StateSpec, as 2.2 does), pack_and_send, reply,
pack_and_send_after and a Kafka egress record."""

from datetime import timedelta

from google.protobuf.wrappers_pb2 import Int64Value, StringValue
from statefun import AfterWrite, StatefulFunctions, StateSpec, RequestReplyHandler, kafka_egress_record

functions = StatefulFunctions()
GREETS = "example/greets"


@functions.bind("example/person", states=[StateSpec("visits", expire_after=AfterWrite(timedelta(hours=1)))])
def person(context, message: StringValue):
    if message.value == "remind":
        record = kafka_egress_record(topic="greetings", key=context.address.identity,
                                     value=StringValue(value=f"Come back soon, {context.address.identity}!"))
        context.pack_and_send_egress(GREETS, record)
    elif message.value.startswith("visit"):
        visits = context.state("visits").unpack(Int64Value) or Int64Value()
        visits.value += 1
        context.state("visits").pack(visits)
        context.pack_and_send("example/greeter", context.address.identity, visits)
        if visits.value == 1:
            context.pack_and_send_after(timedelta(milliseconds=300), "example/person",
                                        context.address.identity, StringValue(value="remind"))
    else:  # the greeting came back
        context.pack_and_send_egress(GREETS, kafka_egress_record(
            topic="greetings", key=context.address.identity, value=message))


@functions.bind("example/greeter")
def greeter(context, visits: Int64Value):
    name = context.address.identity
    text = f"Hello {name}!" if visits.value == 1 else f"Hello again {name}, #{visits.value}"
    context.pack_and_reply(StringValue(value=text))


handler = RequestReplyHandler(functions)

if __name__ == "__main__":  # a 2.x handler is called with the bytes; serve_http wants handle_sync
    from serve_http import serve
    serve(handler)
