"""Stateful Functions run lean: embedded values stay Python objects between messages (reading
back exactly what their bytes would give), a batch runs address by address in order, state in
checkpoints is plain data, and remote calls to many addresses are out at once (one per address)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import StreamExecutionEnvironment, UserFunctionError
from nbstream.runtime import state_format
from nbstream.runtime.checkpoint_storage import latest_checkpoint
from nbstream.statefun import (FloatType, IntType, StatefulFunctionDataStreamBuilder,
                               StatefulFunctions, StringType, ValueSpec, egress_message_builder,
                               make_json_type, message_builder)

DOC = make_json_type("example/doc")


def run(functions: StatefulFunctions, messages: List[Any], env: Any = None) -> List[Any]:
    env = env or StreamExecutionEnvironment.get_execution_environment()
    out = (StatefulFunctionDataStreamBuilder.builder("lean")
           .with_data_stream_as_ingress(env.from_collection(messages))
           .with_functions(functions).with_egress_id("example/out")
           .with_feedback_timeout(100).build(env))
    return [StringType.serializer().deserialize(e.raw_value())
            for e in out.get_data_stream_for_egress_id("example/out").execute_and_collect()]


def test_values_read_back_as_their_bytes_would_and_documents_are_not_shared():
    functions = StatefulFunctions()

    @functions.bind("example/f", [ValueSpec("i", IntType), ValueSpec("x", FloatType),
                                  ValueSpec("s", StringType), ValueSpec("doc", DOC)])
    def f(context, message):
        storage = context.storage
        seen = (storage.doc or {"n": 0})
        report = repr((storage.i, storage.x, storage.s, seen))
        storage.i = True  # an int type keeps the int a bool reads back as
        storage.x = 0.1  # 32 bits
        storage.s = b"caf\xc3\xa9"  # UTF-8 bytes are text
        seen["n"] += 1
        storage.doc = seen
        seen["n"] += 100  # changed after it was written: the state keeps what was written
        context.send_egress(egress_message_builder("example/out", report, StringType))

    got = run(functions, [message_builder("example/f", "a", int_value=0)] * 2)
    assert got == ["(None, None, None, {'n': 0})",
                   "(1, 0.10000000149011612, 'café', {'n': 1})"]


def test_a_value_its_type_cannot_hold_fails_at_once_naming_the_function():
    functions = StatefulFunctions()

    @functions.bind("example/f", [ValueSpec("i", IntType)])
    def f(context, message):
        context.storage.i = 1 << 40

    with pytest.raises(UserFunctionError, match=r"(?s)example/f.*Value out of range"):
        run(functions, [message_builder("example/f", "a", int_value=0)])


def test_a_batch_runs_each_address_in_order():
    functions = StatefulFunctions()

    @functions.bind("example/log", [ValueSpec("seen", StringType)])
    def log(context, message):
        context.storage.seen = seen = (context.storage.seen or "") + str(message.as_int())
        context.send_egress(egress_message_builder("example/out", f"{context.address.id}:{seen}",
                                                   StringType))

    messages = [message_builder("example/log", "ab"[i % 2], int_value=i) for i in range(10)]
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 10})
    got = run(functions, messages, env)
    assert sorted(g for g in got if len(g) == 7) == ["a:02468", "b:13579"]
    assert Counter(g.split(":")[0] for g in got) == {"a": 5, "b": 5}


def test_checkpoints_hold_function_state_as_data(tmp_path):
    functions = StatefulFunctions()

    @functions.bind("example/f", [ValueSpec("n", IntType), ValueSpec("doc", DOC)])
    def f(context, message):
        time.sleep(0.002)
        context.storage.n = n = (context.storage.n or 0) + 1
        context.storage.doc = {"n": n}
        context.send_egress(egress_message_builder("example/out", str(n), StringType))

    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 20})
    env.enable_checkpointing(30)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path))
    messages = [message_builder("example/f", str(i % 7), int_value=i) for i in range(5000)]
    out = (StatefulFunctionDataStreamBuilder.builder("lean")
           .with_data_stream_as_ingress(env.from_collection(messages))
           .with_functions(functions).with_egress_id("example/out").build(env))
    it = out.get_data_stream_for_egress_id("example/out").execute_and_collect()
    for _ in it:
        if it.job.checkpoint_info().get("completed", 0) >= 2:
            break
    checkpoint = latest_checkpoint(str(next(tmp_path.iterdir())))
    it.close()
    blobs = [part["state"] for op in checkpoint.operators.values()
             for part in op["subtasks"].values()]
    assert blobs and [state_format.object_types(blob) for blob in blobs] == [[]] * len(blobs)
    states = repr([state_format.loads(blob, objects=False) for blob in blobs])
    assert "statefun.address" in states and "TypedValue" in states  # the document's bytes


def test_calls_to_many_addresses_are_out_at_once_one_per_address(env):
    from test_statefun_remote import run_sums, summing_endpoint

    with summing_endpoint(0.05) as (url, log):
        totals = run_sums(env, url, 60, 12)
    assert totals == sorted(list(range(1, 6)) * 12)
    assert log["overlaps"] == 0  # one call per address at a time
    assert log["most_at_once"] > 1  # but many addresses' at once


def _logging_functions() -> StatefulFunctions:
    """Two function types logging the values each address saw; ``example/a`` forwards each
    value to ``example/b`` (id ``f`` + value % 3) after its egress, so messages to ``b`` come
    from the ingress and the feedback edge interleaved."""
    functions = StatefulFunctions()

    def logged(context, message):
        seen = context.storage.seen = (context.storage.seen or "") + f"{message.as_int()},"
        address = context.address
        context.send_egress(egress_message_builder(
            "example/out", f"{address.name}:{address.id}:{seen}", StringType))

    @functions.bind("example/a", [ValueSpec("seen", StringType)])
    def a(context, message):
        logged(context, message)
        context.send(message_builder("example/b", f"f{message.as_int() % 3}",
                                     int_value=message.as_int()))

    functions.bind("example/b", [ValueSpec("seen", StringType)])(logged)
    return functions


def _check_logs(got: List[str], ingress: List[Any]) -> None:
    """Each address's egress grows its log by one value at a time; an ``a`` address saw its
    ingress in order; every address saw the values sent to it, each once."""
    logs: dict = {}
    for record in got:
        kind, id, seen = record.split(":")
        logs.setdefault((kind, id), []).append(seen)
    expected: dict = {}
    for kind, id, value in ingress:
        expected.setdefault((kind, id), []).append(value)
        if kind == "a":
            expected.setdefault(("b", f"f{value % 3}"), []).append(value)
    assert set(logs) == set(expected)
    for address, seen in logs.items():
        assert sorted(seen, key=len) == seen
        final = [int(v) for v in seen[-1].split(",")[:-1]]
        assert len(seen) == len(final) and all(s == seen[-1][:len(s)] for s in seen)
        assert sorted(final) == sorted(expected[address])
        if address[0] == "a" or not any(k == "a" for k, _, _ in ingress):
            assert final == expected[address]  # the ingress alone: its order


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ingress=st.lists(st.tuples(st.sampled_from("ab"), st.sampled_from(["x", "y", "f1"]),
                                  st.integers(0, 99)), min_size=1, max_size=40),
       batch_size=st.integers(1, 12))
def test_interleaved_function_types_keep_each_address_in_order(ingress, batch_size):
    """Messages of two function types interleaved in batches of any size (runs of one type,
    addresses repeating within a run and across runs) against a plain-Python reference."""
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": batch_size})
    messages = [message_builder(f"example/{kind}", id, int_value=value) for kind, id, value in ingress]
    _check_logs(run(_logging_functions(), messages, env), ingress)


def test_interleaved_function_types_in_process_mode():
    ingress = [("ab"[i % 3 % 2], ["x", "y", "f1", "f2"][i % 4], i) for i in range(60)]
    env = StreamExecutionEnvironment.get_execution_environment(
        {"python.execution-mode": "process", "nbstream.batch-size": 7})
    env.set_parallelism(2)
    messages = [message_builder(f"example/{kind}", id, int_value=value) for kind, id, value in ingress]
    _check_logs(run(_logging_functions(), messages, env), ingress)


def test_a_message_a_function_keeps_stays_as_it_was():
    """The runner passes one Message object from call to call while no function keeps it: one
    that does (a list here, a send of the message itself) keeps what it was given."""
    functions, kept = StatefulFunctions(), []

    @functions.bind("example/keep", [ValueSpec("n", IntType)])
    def keep(context, message):
        if message.as_int() % 3 == 0:
            kept.append(message)
        if message.as_int() % 5 == 0 and context.caller is None:
            context.send(message)  # the same object, to the same address, once more
        context.storage.n = (context.storage.n or 0) + 1
        context.send_egress(egress_message_builder("example/out", message.as_int(), IntType))

    messages = [message_builder("example/keep", str(i % 4), int_value=i) for i in range(60)]
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 16})
    out = (StatefulFunctionDataStreamBuilder.builder("lean")
           .with_data_stream_as_ingress(env.from_collection(messages))
           .with_functions(functions).with_egress_id("example/out")
           .with_feedback_timeout(100).build(env))
    got = [IntType.serializer().deserialize(e.raw_value())
           for e in out.get_data_stream_for_egress_id("example/out").execute_and_collect()]
    assert sorted(got) == sorted(list(range(60)) + list(range(0, 60, 5)))
    assert sorted((m.target_id, m.as_int()) for m in kept) == sorted(
        [(str(i % 4), i) for i in range(0, 60, 3)] + [(str(i % 4), i) for i in range(0, 60, 15)])
