"""The statefun SDK's 3.x API on nbstream: registry, value specs, storage, context, messages,
types and egress helpers, with the SDK's behaviour and error messages."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest

from nbstream.statefun import (BoolType, Context, DoubleType, EgressMessage, FloatType,
                               FunctionInvocationError, IntType, LongType, Message,
                               RequestReplyHandler, SdkAddress, StatefulFunctions, StringType,
                               UnknownFunctionTypeError, ValueSpec, egress_message_builder,
                               kafka_egress_message, kinesis_egress_message, make_json_type,
                               make_protobuf_type, message_builder, simple_type)
from nbstream.statefun.functions import run_batch, run_batch_async
from nbstream.statefun.protocol import KafkaProducerRecord, KinesisEgressRecord
from nbstream.statefun.types import TypedValue


def int_value(n: int) -> TypedValue:
    return message_builder("a/b", "x", int_value=n).typed_value


# -- value specs ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, error", [
    ("Seen", "Only lower case names are allowed, Seen is given."),
    ("", "name can not be missing."),
    ("two words", "invalid name two words. A spec name can only contains"),
    ("1st", "invalid name 1st."),
    ("class", "invalid spec name class (Python SDK specifically)"),
])
def test_value_spec_rejects_bad_names(name, error):
    with pytest.raises(ValueError) as info:
        ValueSpec(name, IntType)
    assert str(info.value).startswith(error)


def test_value_spec_expiry_modes_are_exclusive_and_in_milliseconds():
    with pytest.raises(ValueError, match="Either expire_after_call or expire_after_write"):
        ValueSpec("x", IntType, expire_after_call=timedelta(seconds=1),
                  expire_after_write=timedelta(seconds=1))
    call = ValueSpec("x", IntType, expire_after_call=timedelta(seconds=1.5))
    write = ValueSpec("x", IntType, expire_after_write=timedelta(minutes=1))
    plain = ValueSpec("x", IntType)
    assert (call.after_call, call.after_write, call.duration) == (True, False, 1500)
    assert (write.after_call, write.after_write, write.duration) == (False, True, 60000)
    assert (plain.after_call, plain.after_write, plain.duration) == (False, False, 0)
    with pytest.raises(TypeError, match="type is not a StateFun type"):
        ValueSpec("x", int)


# -- registry --------------------------------------------------------------------------------

def test_bind_returns_the_function_and_rebinding_replaces_it():
    functions = StatefulFunctions()

    def first(context, message):
        pass

    def second(ctx, msg):
        pass

    assert functions.bind("example/f")(first) is first
    functions.register("example/f", second, [ValueSpec("n", IntType)])
    fn = functions.for_typename("example/f")
    assert fn.fun is second and [s.name for s in fn.specs] == ["n"] and not fn.is_async


def test_register_checks_arity_and_typename():
    functions = StatefulFunctions()
    with pytest.raises(ValueError, match=r"does not expect a context and a message but rather \['c'\]"):
        functions.register("example/f", lambda c: None)
    with pytest.raises(ValueError, match="namespace/name"):
        functions.register("nonamespace", lambda c, m: None)
    with pytest.raises(ValueError, match="name must not be empty"):
        functions.register("example/", lambda c, m: None)

    class Greeter:  # a bound method counts its two parameters after self
        def __call__(self, context, message):
            pass

    functions.register("example/g", Greeter())
    assert "example/g" in functions


def test_unknown_function_type_names_it_and_the_bound_ones():
    functions = StatefulFunctions()
    functions.register("example/a", lambda c, m: None)
    with pytest.raises(UnknownFunctionTypeError) as info:
        functions.for_typename("example/zzz")
    assert str(info.value) == "Unable to find a function of type example/zzz (bound types: example/a)"


# -- storage and context ------------------------------------------------------------------

def counter_functions():
    functions = StatefulFunctions()

    @functions.bind("example/counter", [ValueSpec("count", IntType), ValueSpec("name", StringType)])
    def counter(context: Context, message: Message):
        assert context.storage.name is None or context.storage.name == "kept"
        context.storage.count = (context.storage.count or 0) + message.as_int()

    return functions


def test_storage_reads_none_then_writes_back_only_changed_values():
    fn = counter_functions().for_typename("example/counter")
    kept = message_builder("a/b", "x", str_value="kept").typed_value
    state = {"count": None, "name": kept}
    result = run_batch(fn, "7", state, [(None, int_value(2)), (None, int_value(3))])
    assert result.mutations == [("count", int_value(5))]
    assert result.messages == result.delayed == result.egress == [] and result.missing == []


def test_a_missing_state_name_is_reported_and_nothing_runs():
    calls = []
    functions = StatefulFunctions()
    functions.register("example/f", lambda c, m: calls.append(m),
                       [ValueSpec("a", IntType), ValueSpec("b", IntType)])
    result = run_batch(functions.for_typename("example/f"), "1", {"b": None}, [(None, int_value(1))])
    assert [spec.name for spec in result.missing] == ["a"] and calls == []


def test_storage_rejects_none_undeclared_names_and_deletes():
    seen = {}
    functions = StatefulFunctions()

    @functions.bind("example/s", [ValueSpec("v", IntType)])
    def s(context, message):
        with pytest.raises(ValueError, match="To delete a value, please use del"):
            context.storage.v = None
        with pytest.raises(AttributeError) as info:
            _ = context.storage.other
        seen["error"] = str(info.value)
        del context.storage.v
        seen["after_delete"] = context.storage.v

    result = run_batch(functions.for_typename("example/s"), "i", {"v": int_value(4)},
                       [(None, int_value(1))])
    assert seen == {"error": "'other' is not a registered ValueSpec for the function 'example/s'",
                    "after_delete": None}
    assert result.mutations == [("v", None)]


def test_context_collects_effects_in_order_with_address_and_caller():
    functions = StatefulFunctions()
    seen = []

    @functions.bind("example/f")
    def f(context, message):
        seen.append((context.address, context.caller))
        context.send(message_builder("example/g", "2", str_value="hi"))
        context.send_after(timedelta(seconds=2), message_builder("example/g", "3", int_value=1), "tok")
        context.cancel_delayed_message("old")
        context.send_egress(egress_message_builder("example/out", 1.5, DoubleType))

    caller = SdkAddress("example", "g", "9", "example/g")
    result = run_batch(functions.for_typename("example/f"), "1", {}, [(caller, int_value(0)),
                                                                       (None, int_value(0))])
    assert seen == [(SdkAddress("example", "f", "1", "example/f"), caller),
                    (SdkAddress("example", "f", "1", "example/f"), None)]
    assert [(m.target_typename, m.target_id, m.as_string()) for m in result.messages] == [
        ("example/g", "2", "hi")] * 2
    assert [(d.is_cancellation, d.delay_ms, d.cancellation_token) for d in result.delayed] == [
        (False, 2000, "tok"), (True, 0, "old")] * 2
    assert [e.typename for e in result.egress] == ["example/out"] * 2


def test_a_raising_function_fails_the_whole_batch_naming_type_id_and_message():
    functions = StatefulFunctions()

    @functions.bind("example/fragile", [ValueSpec("n", IntType)])
    def fragile(context, message):
        context.storage.n = 1
        context.send(message_builder("example/other", "x", int_value=1))
        if message.as_int() == 13:
            raise KeyError("unlucky")

    fn = functions.for_typename("example/fragile")
    with pytest.raises(FunctionInvocationError) as info:
        run_batch(fn, "Bob", {"n": None}, [(None, int_value(1)), (None, int_value(13))])
    text = str(info.value)
    assert "example/fragile" in text and "'Bob'" in text and "KeyError: 'unlucky'" in text
    assert "io.statefun.types/int" in text and "no effect of its batch was applied" in text
    assert isinstance(info.value.__cause__, KeyError)


def test_async_functions_are_awaited_in_order():
    functions = StatefulFunctions()

    @functions.bind("example/a", [ValueSpec("total", LongType)])
    async def a(context, message):
        await asyncio.sleep(0)
        context.storage.total = (context.storage.total or 0) * 10 + message.as_int()

    fn = functions.for_typename("example/a")
    assert fn.is_async
    batch = [(None, int_value(n)) for n in (1, 2, 3)]
    assert run_batch(fn, "x", {"total": None}, batch).mutations[0][1].value == \
        LongType.serializer().serialize(123)
    result = asyncio.run(run_batch_async(fn, "x", {"total": None}, batch))
    assert LongType.serializer().deserialize(result.mutations[0][1].value) == 123


# -- messages and types ---------------------------------------------------------------------

@pytest.mark.parametrize("keyword, tpe, value, check", [
    ("int_value", IntType, -7, "int"), ("long_value", LongType, 2**40, "long"),
    ("float_value", FloatType, 0.5, "float"), ("double_value", DoubleType, 1e300, "double"),
    ("str_value", StringType, "héllo", "string"), ("bool_value", BoolType, True, "bool"),
])
def test_message_builder_and_is_as_for_built_in_types(keyword, tpe, value, check):
    message = message_builder("example/f", "id", **{keyword: value})
    assert message.value_typename() == tpe.typename
    assert getattr(message, f"is_{check}")() and message.is_type(tpe)
    assert getattr(message, f"as_{check}")() == value == message.as_type(tpe)
    others = {"int", "long", "float", "double", "string", "bool"} - {check}
    assert not any(getattr(message, f"is_{other}")() for other in others)


def test_built_in_types_encode_as_the_sdk_wrappers():
    assert IntType.serializer().serialize(2).hex(" ") == "0d 02 00 00 00"
    assert StringType.serializer().serialize("tick").hex(" ") == "0a 04 74 69 63 6b"
    assert BoolType.serializer().serialize(True) == b"\x08\x01"
    assert LongType.serializer().serialize(-1) == b"\x09" + b"\xff" * 8
    assert DoubleType.serializer().serialize(0.0) == b"" == IntType.serializer().serialize(0)
    assert FloatType.serializer().serialize(1e40) == b"\x0d" + struct.pack("<f", float("inf"))
    with pytest.raises(ValueError, match="Value out of range: 2147483648"):
        IntType.serializer().serialize(2**31)
    with pytest.raises(TypeError):
        IntType.serializer().serialize("3")
    assert IntType.serializer().deserialize(b"") == 0
    # an unknown field is skipped, the last occurrence of field 1 wins
    assert IntType.serializer().deserialize(b"\x10\x05\x0d\x01\0\0\0\x0d\x02\0\0\0") == 2


def test_as_type_does_not_check_the_typename_and_raw_value():
    message = message_builder("example/f", "id", str_value="x")
    assert message.as_type(StringType) == "x" and not message.is_type(IntType)
    assert message.raw_value() == b"\x0a\x01x"
    assert Message("example/f", "id", TypedValue("t", False, b"")).as_int() is None


def test_message_builder_errors():
    with pytest.raises(TypeError, match="Wrong number of value keywords given"):
        message_builder("example/f", "id")
    with pytest.raises(ValueError, match="value can not be missing"):
        message_builder("example/f", "id", int_value=None)
    with pytest.raises(ValueError, match="Could not deduce the value type"):
        message_builder("example/f", "id", bytes_value=b"x")
    with pytest.raises(ValueError, match="target_id can not be missing"):
        message_builder("example/f", "", int_value=1)


def test_json_protobuf_and_simple_types():
    user = make_json_type("example/user")
    assert user.serializer().serialize({"name": "Zoë"}) == '{"name": "Zoë"}'.encode()
    message = message_builder("example/f", "id", value={"a": [1, 2]}, value_type=user)
    assert message.is_type(user) and message.as_type(user) == {"a": [1, 2]}
    record = make_protobuf_type(KafkaProducerRecord)
    assert record.typename == "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"
    assert make_protobuf_type(KafkaProducerRecord, "my.ns").typename == \
        "my.ns/io.statefun.sdk.egress.KafkaProducerRecord"
    value = record.serializer().deserialize(record.serializer().serialize(KafkaProducerRecord(topic="t")))
    assert value.topic == "t"
    with pytest.raises(ValueError, match="serialize_fn is missing"):
        simple_type("a/b", None, bytes)
    with pytest.raises(ValueError, match="typename can not be missing"):
        simple_type("", str.encode, bytes.decode)


def test_egress_builders_match_the_protobuf_records():
    e = kafka_egress_message("example/out", topic="greets", value="hello", key="Bob")
    assert isinstance(e, EgressMessage) and e.typename == "example/out"
    assert e.raw_value() == KafkaProducerRecord(key="Bob", value_bytes=b"hello",
                                                topic="greets").SerializeToString()
    as_int = KafkaProducerRecord.FromString(kafka_egress_message("x/y", "t", 258).raw_value())
    assert as_int.value_bytes == b"\0\0\x01\x02" and as_int.key == ""
    as_float = KafkaProducerRecord.FromString(kafka_egress_message("x/y", "t", 1.0).raw_value())
    assert as_float.value_bytes == struct.pack(">d", 1.0)
    typed = KafkaProducerRecord.FromString(
        kafka_egress_message("x/y", "t", 3, value_type=IntType).raw_value())
    assert typed.value_bytes == b"\x0d\x03\0\0\0"
    k = kinesis_egress_message("x/y", stream="s", value=b"v", partition_key="p", explicit_hash_key="h")
    assert k.value_typename() == "type.googleapis.com/io.statefun.sdk.egress.KinesisEgressRecord"
    assert KinesisEgressRecord.FromString(k.raw_value()) == KinesisEgressRecord(
        partition_key="p", value_bytes=b"v", stream="s", explicit_hash_key="h")
    with pytest.raises(ValueError, match="A destination Kafka topic is missing"):
        kafka_egress_message("x/y", "", "v")
    with pytest.raises(TypeError, match="Unable to convert value to bytes"):
        kinesis_egress_message("x/y", "s", 3, "p")
    with pytest.raises(ValueError, match="Missing partition key"):
        kinesis_egress_message("x/y", "s", "v", None)


# -- handler entry points --------------------------------------------------------------------

def test_handle_sync_fails_in_a_running_loop_and_handle_async_works_there():
    from nbstream.statefun.protocol import FromFunction, ToFunction
    handler = RequestReplyHandler(counter_functions())
    request = ToFunction()
    request.invocation.target.namespace, request.invocation.target.type = "example", "counter"
    request.invocation.target.id = "1"
    data = request.SerializeToString()

    async def in_a_kernel():
        with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
            handler.handle_sync(data)
        return await handler.handle_async(data)

    reply = FromFunction.FromString(asyncio.run(in_a_kernel()))
    missing = reply.incomplete_invocation_context.missing_values
    assert [(m.state_name, m.type_typename) for m in missing] == [
        ("count", "io.statefun.types/int"), ("name", "io.statefun.types/string")]


def test_statefun_imports_without_protobuf_and_names_the_extra():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "google.protobuf" or name.startswith("google.protobuf."):
                    raise ImportError("blocked " + name)
        sys.meta_path.insert(0, Block())
        import nbstream
        from nbstream.statefun import StatefulFunctions, RequestReplyHandler, message_builder
        assert message_builder("a/b", "c", int_value=2).raw_value() == b"\\x0d\\x02\\0\\0\\0"
        try:
            RequestReplyHandler(StatefulFunctions())
        except ImportError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "pip install 'nbstream[statefun]'" in out.stdout
