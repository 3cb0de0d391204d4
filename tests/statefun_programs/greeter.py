"""A greeter written for the statefun SDK (3.x): per-person visit counts, a message to a
second function type and its reply, and a delayed reminder that a second visit cancels."""

from datetime import timedelta

from statefun import *

functions = StatefulFunctions()
GREETS = "example/greets"
VISIT = make_json_type("example/visit")


@functions.bind("example/person", [ValueSpec("visits", IntType),
                                   ValueSpec("last_greeting", StringType)])
def person(context: Context, message: Message):
    if message.is_type(VISIT):
        visits = (context.storage.visits or 0) + 1
        context.storage.visits = visits
        context.send(message_builder("example/greeter", context.address.id, int_value=visits))
        if visits == 1:
            context.send_after(timedelta(milliseconds=300),
                               message_builder("example/person", context.address.id, str_value="remind"),
                               f"remind-{context.address.id}")
        else:
            context.cancel_delayed_message(f"remind-{context.address.id}")
    elif message.is_string():  # the greeting comes back, or the reminder
        text = message.as_string()
        if text == "remind":
            text = f"Come back soon, {context.address.id}!"
        context.storage.last_greeting = text
        context.send_egress(kafka_egress_message(GREETS, topic="greetings", key=context.address.id,
                                                 value=text))


@functions.bind("example/greeter")
def greeter(context: Context, message: Message):
    visits = message.as_int()
    text = f"Hello {context.address.id}!" if visits == 1 else f"Hello again {context.address.id}, #{visits}"
    context.send(message_builder(context.caller.typename, context.caller.id, str_value=text))


handler = RequestReplyHandler(functions)

INGRESS = [("example/person", name, {"at": i}, VISIT)
           for i, name in enumerate(["Ann", "Bob", "Ann", "Cid", "Ann", "Dee", "Bob"])]

if __name__ == "__main__":  # serve the functions: python greeter.py PORT
    from serve_http import serve
    serve(handler)
