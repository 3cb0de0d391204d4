"""The statefun SDK's 2.x API: Any messages (or unpacked by type hint), state by name,
send/reply/send_after/egress with their pack_and_ forms, and the callable handlers."""

from __future__ import annotations  # hints are strings here: the unpacking resolves them

import asyncio
import typing
from datetime import timedelta

import pytest
from google.protobuf.any_pb2 import Any
from google.protobuf.wrappers_pb2 import Int64Value, StringValue

from nbstream.statefun import FunctionInvocationError
from nbstream.statefun.protocol import FromFunction, KafkaProducerRecord, KinesisEgressRecord, ToFunction
from nbstream.statefun.v2 import (ANY_TYPENAME, AfterInvoke, AsyncRequestReplyHandler,
                                  RequestReplyHandler, StatefulFunctions, StateSpec,
                                  kafka_egress_record, kinesis_egress_record)


def packed(message) -> Any:
    any_ = Any()
    any_.Pack(message)
    return any_


def request(typename, id, arguments, state=None, caller=None) -> bytes:
    pb = ToFunction()
    batch = pb.invocation
    batch.target.namespace, batch.target.type = typename.rsplit("/", 1)
    batch.target.id = id
    for name, value in (state or {}).items():
        pv = batch.state.add(state_name=name)
        if value is not None:
            pv.state_value.typename, pv.state_value.has_value = ANY_TYPENAME, True
            pv.state_value.value = packed(value).SerializeToString()
    for argument in arguments:
        inv = batch.invocations.add()
        inv.argument.typename = "type.googleapis.com/" + argument.DESCRIPTOR.full_name
        inv.argument.has_value, inv.argument.value = True, argument.SerializeToString()
        if caller:
            inv.caller.namespace, inv.caller.type, inv.caller.id = caller
    return pb.SerializeToString()


def result_of(functions, data):
    return FromFunction.FromString(RequestReplyHandler(functions)(data)).invocation_result


def test_messages_are_unpacked_by_the_type_hint_union_or_left_as_any():
    seen = []
    functions = StatefulFunctions()

    @functions.bind("example/one")
    def one(context, message: StringValue):
        seen.append(("one", type(message).__name__, message.value))

    @functions.bind("example/either")
    def either(context, message: typing.Union[StringValue, Int64Value]):
        seen.append(("either", type(message).__name__, message.value))

    @functions.bind("example/raw")
    def raw(context, message):
        seen.append(("raw", type(message).__name__, message.type_url))

    RequestReplyHandler(functions)(request("example/one", "1", [StringValue(value="a")]))
    RequestReplyHandler(functions)(request("example/either", "1", [Int64Value(value=5),
                                                                   StringValue(value="b")]))
    RequestReplyHandler(functions)(request("example/raw", "1", [Int64Value(value=1)]))
    assert seen == [("one", "StringValue", "a"), ("either", "Int64Value", 5),
                    ("either", "StringValue", "b"),
                    ("raw", "Any", "type.googleapis.com/google.protobuf.Int64Value")]
    with pytest.raises(FunctionInvocationError, match="Unknown message type "
                       "type.googleapis.com/google.protobuf.Int64Value for example/one"):
        RequestReplyHandler(functions)(request("example/one", "1", [Int64Value(value=1)]))


def counting_functions():
    functions = StatefulFunctions()

    @functions.bind("example/greeter")
    def greet(context, name: StringValue):
        seen = context.state("seen").unpack(Int64Value) or Int64Value()
        seen.value += 1
        context.state("seen").pack(seen)
        if name.value == "reset":
            del context["greeting"]
        else:
            context["greeting"] = packed(StringValue(value=f"hi {name.value}"))
        context.pack_and_send("example/counter", name.value, seen)
        context.send("example/counter", "total", packed(seen))
        context.pack_and_send_after(timedelta(seconds=1), "example/greeter", name.value, name)
        context.send_after(timedelta(0), "example/greeter", "now", packed(name))
        context.pack_and_send_egress("example/greets", kafka_egress_record(
            topic="greetings", key=name.value, value=StringValue(value=f"hello {name.value}")))
        context.send_egress("example/raw", packed(Int64Value(value=seen.value)))

    return functions


def test_state_by_name_and_every_kind_of_effect():
    data = request("example/greeter", "Bob", [StringValue(value="Bob"), StringValue(value="reset")],
                   state={"seen": Int64Value(value=40), "greeting": None})
    result = result_of(counting_functions(), data)
    assert [(m.target.type, m.target.id, m.argument.typename, Int64Value.FromString(m.argument.value).value)
            for m in result.outgoing_messages] == [
        ("counter", "Bob", "type.googleapis.com/google.protobuf.Int64Value", 41),
        ("counter", "total", "type.googleapis.com/google.protobuf.Int64Value", 41),
        ("counter", "reset", "type.googleapis.com/google.protobuf.Int64Value", 42),
        ("counter", "total", "type.googleapis.com/google.protobuf.Int64Value", 42)]
    assert [(d.delay_in_ms, d.target.id) for d in result.delayed_invocations] == [
        (1000, "Bob"), (0, "now"), (1000, "reset"), (0, "now")]
    kafka = KafkaProducerRecord.FromString(result.outgoing_egresses[0].argument.value)
    assert (kafka.topic, kafka.key, StringValue.FromString(kafka.value_bytes).value) == (
        "greetings", "Bob", "hello Bob")
    assert result.outgoing_egresses[1].egress_type == "raw"
    mutations = {m.state_name: m for m in result.state_mutations}
    seen = Any.FromString(mutations["seen"].state_value.value)
    assert mutations["seen"].state_value.typename == ANY_TYPENAME
    assert seen.Is(Int64Value.DESCRIPTOR) and Int64Value.FromString(seen.value).value == 42
    assert mutations["greeting"].mutation_type == FromFunction.PersistedValueMutation.DELETE


def test_an_unregistered_state_name_raises_key_error():
    data = request("example/greeter", "Bob", [StringValue(value="Bob")], state={"seen": None})
    with pytest.raises(FunctionInvocationError) as info:
        RequestReplyHandler(counting_functions())(data)
    assert isinstance(info.value.__cause__, KeyError) and "unknown state name greeting" in str(info.value)


def test_declared_states_are_asked_for_with_their_expiry():
    functions = StatefulFunctions()
    functions.register("example/f", lambda context, message: None,
                       [StateSpec("seen", expire_after=AfterInvoke(timedelta(seconds=3)))])
    reply = FromFunction.FromString(RequestReplyHandler(functions)(request("example/f", "1", [Int64Value()])))
    [spec] = reply.incomplete_invocation_context.missing_values
    assert (spec.state_name, spec.type_typename, spec.expiration_spec.mode,
            spec.expiration_spec.expire_after_millis) == (
        "seen", ANY_TYPENAME, FromFunction.ExpirationSpec.AFTER_INVOKE, 3000)


def test_reply_goes_to_the_caller_and_needs_one():
    functions = StatefulFunctions()

    @functions.bind("example/echo")
    def echo(context, message: StringValue):
        assert context.address.typename() == "example/echo" and context.address.identity == "e"
        context.pack_and_reply(message)

    result = result_of(functions, request("example/echo", "e", [StringValue(value="x")],
                                          caller=("example", "asker", "7")))
    [out] = result.outgoing_messages
    assert (out.target.namespace, out.target.type, out.target.id) == ("example", "asker", "7")
    with pytest.raises(FunctionInvocationError, match="Unable to reply without a caller"):
        RequestReplyHandler(functions)(request("example/echo", "e", [StringValue(value="x")]))


def test_async_handler_awaits_async_functions():
    functions = StatefulFunctions()

    @functions.bind("example/slow")
    async def slow(context, message: StringValue):
        await asyncio.sleep(0)
        context.pack_and_send_egress("example/out", message)

    reply = asyncio.run(AsyncRequestReplyHandler(functions)(
        request("example/slow", "1", [StringValue(value="late")])))
    [egress] = FromFunction.FromString(reply).invocation_result.outgoing_egresses
    assert StringValue.FromString(egress.argument.value).value == "late"


def test_egress_record_helpers():
    record = kinesis_egress_record(stream="s", value=StringValue(value="v"), partition_key="p")
    assert isinstance(record, KinesisEgressRecord) and record.stream == "s"
    assert StringValue.FromString(record.value_bytes).value == "v" and record.explicit_hash_key == ""
    with pytest.raises(ValueError, match="A destination Kafka topic is missing"):
        kafka_egress_record(topic="", value=StringValue())
    with pytest.raises(ValueError, match="Missing partition key"):
        kinesis_egress_record("s", StringValue(), "")
    with pytest.raises(TypeError, match="two arguments"):
        StatefulFunctions().register("example/f", lambda only: None)
