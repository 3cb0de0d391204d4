"""A module written for the statefun SDK (3.x), run both by the real SDK and by nbstream in
the differential tests. Its functions read commands from their messages, so random requests
exercise state reads, writes and deletes, messages, delayed messages, cancellations, every
egress helper, callers, async functions and failures."""

from datetime import timedelta

from statefun import *

functions = StatefulFunctions()

COMMAND = make_json_type("example/command")
PROFILE = make_json_type("example/profile")

SPECS = [ValueSpec("count", IntType),
         ValueSpec("name", StringType, expire_after_write=timedelta(seconds=5)),
         ValueSpec("profile", PROFILE, expire_after_call=timedelta(milliseconds=1500)),
         ValueSpec("total", LongType)]


def value_message(target_type, target_id, kind, value):
    if kind == "int":
        return message_builder(target_type, target_id, int_value=value)
    if kind == "long":
        return message_builder(target_type, target_id, long_value=value)
    if kind == "str":
        return message_builder(target_type, target_id, str_value=value)
    if kind == "bool":
        return message_builder(target_type, target_id, bool_value=value)
    if kind == "float":
        return message_builder(target_type, target_id, float_value=value)
    if kind == "double":
        return message_builder(target_type, target_id, double_value=value)
    return message_builder(target_type, target_id, value=value, value_type=PROFILE)


def run(context, action):
    op, args = action[0], action[1:]
    storage = context.storage
    if op == "set":
        setattr(storage, args[0], args[1])
    elif op == "del":
        delattr(storage, args[0])
    elif op == "add":
        storage.total = (storage.total or 0) + args[0]
    elif op == "send":
        context.send(value_message(*args))
    elif op == "send_after":
        context.send_after(timedelta(milliseconds=args[0]), value_message(*args[2:]), args[1])
    elif op == "send_after_no_token":
        context.send_after(timedelta(milliseconds=args[0]), value_message(*args[1:]))
    elif op == "cancel":
        context.cancel_delayed_message(args[0])
    elif op == "kafka":
        context.send_egress(kafka_egress_message("example/kafka", topic=args[0], key=args[1], value=args[2]))
    elif op == "kinesis":
        context.send_egress(kinesis_egress_message("example/kinesis", stream=args[0], partition_key=args[1],
                                                   value=args[2], explicit_hash_key=args[3]))
    elif op == "egress":
        context.send_egress(egress_message_builder("example/out", args[0], PROFILE))
    elif op == "caller":
        caller = context.caller
        seen = None if caller is None else [caller.typename, caller.id]
        context.send_egress(egress_message_builder(
            "example/out", {"me": [context.address.typename, context.address.id], "caller": seen}, PROFILE))
    elif op == "raise":
        raise RuntimeError(args[0])


def handle(context, message):
    if message.is_type(COMMAND):
        for action in message.as_type(COMMAND):
            run(context, action)
    elif message.is_int():
        context.storage.count = (context.storage.count or 0) + message.as_int()
    elif message.is_string():
        context.storage.name = message.as_string()
        context.send_egress(kafka_egress_message("example/kafka", topic="names", key=message.as_string(),
                                                 value=context.storage.count or 0))


@functions.bind("example/counter", SPECS)
def counter(context, message):
    handle(context, message)


@functions.bind("example/async", SPECS)
async def counter_async(context, message):
    handle(context, message)


@functions.bind("example/plain")
def plain(context, message):
    if message.is_type(COMMAND):
        for action in message.as_type(COMMAND):
            if action[0] not in ("set", "del", "add"):
                run(context, action)
    else:
        context.send(message_builder("example/counter", context.address.id, int_value=1))


handler = RequestReplyHandler(functions)
