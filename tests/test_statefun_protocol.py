"""The request-reply protocol: ToFunction in, FromFunction out, as a StateFun runtime sees it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nbstream.statefun import (IntType, StatefulFunctions, StringType, ValueSpec,
                               UnknownFunctionTypeError, FunctionInvocationError,
                               kafka_egress_message, make_json_type, message_builder)
from nbstream.statefun.handler import RequestReplyHandler, parse_request
from nbstream.statefun.protocol import POOL, FromFunction, ToFunction

USER = make_json_type("example/user")


def request(typename: str, id: str, state: dict, arguments: list, callers=None) -> bytes:
    """ToFunction bytes: ``state`` maps a name to a message's typed value or None (no value)."""
    pb = ToFunction()
    batch = pb.invocation
    batch.target.namespace, batch.target.type = typename.rsplit("/", 1)
    batch.target.id = id
    for name, value in state.items():
        pv = batch.state.add(state_name=name)
        if value is not None:
            pv.state_value.typename, pv.state_value.has_value = value.typename, value.has_value
            pv.state_value.value = value.value
    for i, argument in enumerate(arguments):
        inv = batch.invocations.add()
        inv.argument.typename, inv.argument.has_value = argument.typename, True
        inv.argument.value = argument.value
        if callers and callers[i]:
            inv.caller.namespace, inv.caller.type, inv.caller.id = callers[i]
    return pb.SerializeToString()


def tv(**value):
    return message_builder("a/b", "x", **value).typed_value


def greeter_functions():
    functions = StatefulFunctions()

    @functions.bind("example/greeter", [ValueSpec("seen", IntType),
                                        ValueSpec("profile", USER, expire_after_write=timedelta(hours=1)),
                                        ValueSpec("last", StringType,
                                                  expire_after_call=timedelta(milliseconds=250))])
    def greeter(context, message):
        name = message.as_string()
        seen = (context.storage.seen or 0) + 1
        context.storage.seen = seen
        if name == "forget":
            del context.storage.last
        context.send(message_builder("example/counter", name, int_value=seen))
        context.send_after(timedelta(milliseconds=1500), message_builder("example/greeter", name,
                                                                         str_value="again"), "t-" + name)
        context.cancel_delayed_message("t-old")
        context.send_egress(kafka_egress_message("example/out", "greets", f"hi {name} #{seen}", key=name))

    return functions


def test_missing_state_asks_for_the_specs_with_expiry_in_declaration_order():
    reply = FromFunction.FromString(RequestReplyHandler(greeter_functions()).handle_sync(
        request("example/greeter", "Bob", {"profile": None}, [tv(str_value="Bob")])))
    assert reply.WhichOneof("response") == "incomplete_invocation_context"
    specs = reply.incomplete_invocation_context.missing_values
    mode = FromFunction.ExpirationSpec.ExpireMode
    assert [(s.state_name, s.type_typename, s.expiration_spec.mode, s.expiration_spec.expire_after_millis)
            for s in specs] == [("seen", "io.statefun.types/int", mode.NONE, 0),
                                ("last", "io.statefun.types/string", mode.AFTER_INVOKE, 250)]
    assert all(s.HasField("expiration_spec") for s in specs)


def test_a_full_batch_replies_with_messages_delayed_egress_and_changed_state():
    state = {"seen": tv(int_value=4), "profile": None, "last": tv(str_value="x")}
    data = request("example/greeter", "Bob", state, [tv(str_value="Bob"), tv(str_value="forget")],
                   callers=[None, ("example", "caller", "7")])
    result = FromFunction.FromString(RequestReplyHandler(greeter_functions()).handle_sync(data)
                                     ).invocation_result
    assert [(m.target.namespace, m.target.type, m.target.id, IntType.serializer().deserialize(
        m.argument.value)) for m in result.outgoing_messages] == [
        ("example", "counter", "Bob", 5), ("example", "counter", "forget", 6)]
    delayed = [(d.is_cancellation_request, d.cancellation_token, d.delay_in_ms, d.target.id)
               for d in result.delayed_invocations]
    assert delayed == [(False, "t-Bob", 1500, "Bob"), (True, "t-old", 0, ""),
                       (False, "t-forget", 1500, "forget"), (True, "t-old", 0, "")]
    assert [(e.egress_namespace, e.egress_type, e.argument.typename) for e in result.outgoing_egresses] \
        == [("example", "out", "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord")] * 2
    delete, modify = FromFunction.PersistedValueMutation.DELETE, FromFunction.PersistedValueMutation.MODIFY
    assert [(m.state_name, m.mutation_type, m.state_value.value) for m in result.state_mutations] == [
        ("seen", modify, IntType.serializer().serialize(6)), ("last", delete, b"")]


def test_a_batch_without_effects_is_an_empty_reply():
    functions = StatefulFunctions()
    functions.register("example/noop", lambda context, message: None, [ValueSpec("v", IntType)])
    data = request("example/noop", "1", {"v": tv(int_value=3)}, [tv(int_value=1)])
    assert RequestReplyHandler(functions).handle_sync(data) == b""


def test_the_caller_and_state_reach_the_function():
    seen = []
    functions = StatefulFunctions()

    @functions.bind("example/f", [ValueSpec("v", IntType)])
    def f(context, message):
        seen.append((context.caller, context.storage.v, message.as_int()))

    RequestReplyHandler(functions).handle_sync(request(
        "example/f", "1", {"v": tv(int_value=9)}, [tv(int_value=1), tv(int_value=2)],
        callers=[("example", "g", "x"), None]))
    assert [(c and (c.typename, c.id), v, n) for c, v, n in seen] == [(("example/g", "x"), 9, 1),
                                                                      (None, 9, 2)]
    parsed = parse_request(request("example/f", "1", {"v": None}, []))
    assert parsed[0].typename == "example/f" and parsed[1]["v"].has_value is False


def test_bad_requests_raise_clear_errors():
    handler = RequestReplyHandler(greeter_functions())
    with pytest.raises(UnknownFunctionTypeError, match="Unable to find a function of type example/nobody"):
        handler.handle_sync(request("example/nobody", "1", {}, [tv(int_value=1)]))
    functions = StatefulFunctions()
    functions.register("example/boom", lambda c, m: 1 / 0)
    with pytest.raises(FunctionInvocationError, match=r"example/boom \(id 'z'\) raised .*ZeroDivisionError"):
        RequestReplyHandler(functions).handle_sync(request("example/boom", "z", {}, [tv(int_value=1)]))
    from google.protobuf.message import DecodeError
    with pytest.raises(DecodeError):  # not a protobuf message at all
        handler.handle_sync(b"\xff\xff\xff")


def test_messages_live_in_a_private_pool_with_the_sdk_names():
    assert POOL.FindMessageTypeByName("io.statefun.sdk.reqreply.ToFunction").fields_by_name[
        "invocation"].number == 100
    from google.protobuf import descriptor_pool
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("io.statefun.sdk.reqreply.ToFunction")
