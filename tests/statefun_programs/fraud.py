"""A fraud-style program written for the statefun SDK (3.x): three function types, a
sliding count of an account's recent transactions kept with delayed messages, an alert
when it reaches three, a merchant watching large amounts, and a cancellation token."""

from datetime import timedelta

from statefun import *

functions = StatefulFunctions()
TRANSACTION = make_json_type("fraud/transaction")
ALERTS = "fraud/alerts"
WINDOW = timedelta(milliseconds=300)


@functions.bind("fraud/account", [ValueSpec("recent", IntType), ValueSpec("alerted", BoolType)])
def account(context: Context, message: Message):
    if message.is_type(TRANSACTION):
        tx = message.as_type(TRANSACTION)
        recent = (context.storage.recent or 0) + 1
        context.storage.recent = recent
        context.send_after(WINDOW, message_builder("fraud/account", context.address.id, str_value="expire"))
        context.send(message_builder("fraud/merchant", tx["merchant"], value=tx, value_type=TRANSACTION))
        if recent == 3 and not context.storage.alerted:
            context.storage.alerted = True
            context.send(message_builder("fraud/alert", context.address.id, int_value=recent))
            context.send_after(timedelta(seconds=30), message_builder(
                "fraud/alert", context.address.id, str_value="escalate"), f"escalate-{context.address.id}")
    elif message.as_string() == "expire":
        recent = context.storage.recent - 1
        if recent:
            context.storage.recent = recent
        else:
            del context.storage.recent
            context.cancel_delayed_message(f"escalate-{context.address.id}")
            context.send_egress(egress_message_builder(ALERTS, {"account": context.address.id,
                                                                "event": "quiet"}, TRANSACTION))


@functions.bind("fraud/merchant", [ValueSpec("large", LongType)])
def merchant(context: Context, message: Message):
    tx = message.as_type(TRANSACTION)
    if tx["amount"] > 1000:
        context.storage.large = (context.storage.large or 0) + tx["amount"]
        context.send_egress(kafka_egress_message(ALERTS, topic="large", key=context.address.id,
                                                 value=tx["amount"]))


@functions.bind("fraud/alert")
def alert(context: Context, message: Message):
    event = "escalated" if message.is_string() else f"{message.as_int()} in a window"
    alert = {"account": context.address.id, "event": event, "from": context.caller.typename}
    context.send_egress(egress_message_builder(ALERTS, alert, TRANSACTION))


handler = RequestReplyHandler(functions)

INGRESS = [("fraud/account", account_id, {"merchant": merchant_id, "amount": amount}, TRANSACTION)
           for account_id, merchant_id, amount in [
               ("a1", "m1", 10), ("a2", "m1", 2000), ("a1", "m2", 30), ("a1", "m2", 5000),
               ("a3", "m3", 1), ("a2", "m3", 2), ("a1", "m1", 40)]]

if __name__ == "__main__":
    from serve_http import serve
    serve(handler)
