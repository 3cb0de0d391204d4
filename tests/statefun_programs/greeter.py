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

if __name__ == "__main__":  # serve the functions: python greeter.py PORT
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                reply, status = handler.handle_sync(body), 200
            except Exception as exc:
                reply, status = str(exc).encode(), 500
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Endpoint)
    print("serving", flush=True)
    server.serve_forever()
