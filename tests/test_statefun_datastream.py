"""Stateful functions embedded in a DataStream job: routing by address, messages between
functions and replies to the caller, delayed messages and their cancellation on processing-time
timers, egress streams, the same egress in thread and process mode."""

from __future__ import annotations

from collections import Counter

import pytest

from nbstream import ManualClock
from nbstream.compat.statefun import load_module
from nbstream.statefun import (IntType, RoutableMessage, StatefulFunctionDataStreamBuilder,
                               StatefulFunctionError, StatefulFunctions, ValueSpec,
                               egress_message_builder, message_builder)
from nbstream.statefun.protocol import KafkaProducerRecord
from statefun_peer import PROGRAMS

GREETER = load_module(str(PROGRAMS / "greeter.py"))
VISITS = ["Ann", "Bob", "Ann", "Cid", "Ann", "Dee", "Bob"]


def greets(env, feedback_ms=150):
    requests = env.from_collection([RoutableMessage("example/person", name, {"at": i},
                                                    value_type=GREETER.VISIT)
                                    for i, name in enumerate(VISITS)])
    out = (StatefulFunctionDataStreamBuilder.builder("greeter")
           .with_data_stream_as_ingress(requests)
           .with_functions(GREETER.functions)
           .with_egress_id(GREETER.GREETS)
           .with_feedback_timeout(feedback_ms)
           .build(env))
    records = out.get_data_stream_for_egress_id(GREETER.GREETS).execute_and_collect()
    return [(r.key, r.value_bytes.decode()) for r in
            (KafkaProducerRecord.FromString(e.raw_value()) for e in records)]


def test_greeter_gives_the_same_egress_in_every_mode(make_env):
    rows = greets(make_env(2))
    assert Counter(rows) == Counter([
        ("Ann", "Hello Ann!"), ("Ann", "Hello again Ann, #2"), ("Ann", "Hello again Ann, #3"),
        ("Bob", "Hello Bob!"), ("Bob", "Hello again Bob, #2"),
        ("Cid", "Hello Cid!"), ("Dee", "Hello Dee!"),
        ("Cid", "Come back soon, Cid!"), ("Dee", "Come back soon, Dee!")])  # reminders not cancelled
    per_person = [text for key, text in rows if key == "Ann"]
    assert per_person == ["Hello Ann!", "Hello again Ann, #2", "Hello again Ann, #3"]  # in order


def counting_job(env, functions, messages, egress="example/out"):
    out = (StatefulFunctionDataStreamBuilder.builder("count")
           .with_data_stream_as_ingress(env.from_collection(messages))
           .with_functions(functions).with_egress_id(egress).with_feedback_timeout(100).build(env))
    return out.get_data_stream_for_egress_id(egress)


def test_state_is_per_address_and_a_raising_function_fails_the_job(make_env):
    functions = StatefulFunctions()

    @functions.bind("example/counter", [ValueSpec("n", IntType)])
    def counter(context, message):
        if message.as_int() < 0:
            raise ValueError("negative")
        context.storage.n = n = (context.storage.n or 0) + message.as_int()
        context.send_egress(egress_message_builder("example/out", [context.address.id, n],
                                                   GREETER.VISIT))

    messages = [message_builder("example/counter", str(i % 3), int_value=i) for i in range(9)]
    env = make_env(2)
    rows = [e.raw_value() for e in counting_job(env, functions, messages).execute_and_collect()]
    finals = {}
    for row in rows:
        key, n = GREETER.VISIT.serializer().deserialize(row)
        finals[key] = max(finals.get(key, 0), n)
    assert finals == {"0": 0 + 3 + 6, "1": 1 + 4 + 7, "2": 2 + 5 + 8}
    bad = messages[:2] + [message_builder("example/counter", "x", int_value=-1)]
    with pytest.raises(Exception) as info:
        list(counting_job(make_env(1), functions, bad).execute_and_collect())
    assert "example/counter" in str(info.value) and "'x'" in str(info.value) and "negative" in str(info.value)


def test_unknown_types_and_undeclared_egress_are_clear_errors(env):
    functions = StatefulFunctions()
    functions.register("example/f", lambda c, m: c.send_egress(
        egress_message_builder("example/nowhere", 1, IntType)))
    with pytest.raises(Exception, match="example/nowhere, which is not declared"):
        list(counting_job(env, functions, [RoutableMessage("example/f", "1", 1)]).execute_and_collect())
    with pytest.raises(Exception, match="example/nobody, which no registry binds"):
        list(counting_job(env, functions, [RoutableMessage("example/nobody", "1", 1)]).execute_and_collect())
    with pytest.raises(StatefulFunctionError, match="no egress example/other was declared"):
        (StatefulFunctionDataStreamBuilder.builder("x").with_data_stream_as_ingress(
            env.from_collection([1])).with_functions(functions).with_egress_id("example/out")
         .build(env).get_data_stream_for_egress_id("example/other"))
