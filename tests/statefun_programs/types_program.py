"""A type-system program written for the statefun SDK (3.x): JSON, protobuf and simple types
in messages, state and egress, and a Kinesis record."""

from google.protobuf.wrappers_pb2 import StringValue
from statefun import *

functions = StatefulFunctions()
PROFILE = make_json_type("types/profile")
NAME = make_protobuf_type(StringValue)
SHOUT = simple_type("types/shout", serialize_fn=lambda s: s.upper().encode("utf-8"),
                    deserialize_fn=lambda b: b.decode("utf-8"))
OUT = "types/out"


@functions.bind("types/profile", [ValueSpec("profile", PROFILE), ValueSpec("seen", LongType)])
def profile(context: Context, message: Message):
    stored = context.storage.profile or {"tags": []}
    incoming = message.as_type(PROFILE)
    stored["tags"] = sorted(set(stored["tags"]) | set(incoming.get("tags", [])))
    context.storage.profile = stored
    context.storage.seen = (context.storage.seen or 0) + 1
    context.send(message_builder("types/name", context.address.id,
                                 value=StringValue(value=incoming["name"]), value_type=NAME))


@functions.bind("types/name", [ValueSpec("name", NAME)])
def name(context: Context, message: Message):
    value = message.as_type(NAME)
    assert message.is_type(NAME)
    assert message.value_typename() == "type.googleapis.com/google.protobuf.StringValue"
    first = context.storage.name is None
    context.storage.name = value
    if first:
        context.send_egress(egress_message_builder(OUT, f"welcome {value.value}", SHOUT))
    context.send_egress(kinesis_egress_message(OUT, stream="names", partition_key=context.address.id,
                                               value=value, value_type=NAME))


handler = RequestReplyHandler(functions)

INGRESS = [("types/profile", user, {"name": user.title(), "tags": tags}, PROFILE)
           for user, tags in [("ann", ["a"]), ("bob", ["b", "c"]), ("ann", ["d"]), ("cid", [])]]

if __name__ == "__main__":
    from serve_http import serve
    serve(handler)
