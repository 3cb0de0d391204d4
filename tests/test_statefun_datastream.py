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
                               egress_message_builder, make_json_type, make_protobuf_type,
                               message_builder)
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
    with pytest.raises(Exception, match="example/nobody, which no registry binds and no remote"):
        list(counting_job(env, functions, [RoutableMessage("example/nobody", "1", 1)]).execute_and_collect())
    with pytest.raises(StatefulFunctionError, match="no egress example/other was declared"):
        (StatefulFunctionDataStreamBuilder.builder("x").with_data_stream_as_ingress(
            env.from_collection([1])).with_functions(functions).with_egress_id("example/out")
         .build(env).get_data_stream_for_egress_id("example/other"))


# -- delayed messages and state expiry on a manual clock ------------------------------------

def clocked_job(make_env, functions):
    from nbstream import DataFrameSink
    from tests.window_helpers import QueueSource
    clock = ManualClock(0)
    env = make_env(2).set_processing_time_clock(clock)
    source, sink = QueueSource(), DataFrameSink()
    out = (StatefulFunctionDataStreamBuilder.builder("clocked")
           .with_data_stream_as_ingress(env.add_source(source))
           .with_functions(functions).with_egress_id("example/out").with_feedback_timeout(100).build(env))
    out.get_data_stream_for_egress_id("example/out").map(
        lambda e: IntType.serializer().deserialize(e.raw_value())).add_sink(sink)
    return clock, source, sink, env.execute_async()


def test_delayed_messages_wait_for_the_clock_and_cancel_by_token(make_env):
    from datetime import timedelta
    from tests.window_helpers import wait_until
    functions = StatefulFunctions()

    @functions.bind("example/timer")
    def timer(context, message):
        n = message.as_int()
        if n >= 100:  # a delivered delayed message
            context.send_egress(egress_message_builder("example/out", n, IntType))
        elif n == 0:
            context.cancel_delayed_message("second")
            context.send_egress(egress_message_builder("example/out", -100, IntType))  # an ack
        else:
            context.send_egress(egress_message_builder("example/out", -n, IntType))  # an ack
            context.send_after(timedelta(milliseconds=1000 * n),
                               message_builder("example/timer", context.address.id, int_value=100 + n),
                               "second" if n == 2 else "")

    clock, source, sink, job = clocked_job(make_env, functions)
    try:
        for n in (1, 2, 3):
            source.push(message_builder("example/timer", "a", int_value=n))
        source.push(message_builder("example/timer", "b", int_value=1))
        delivered = lambda: sorted(n for n in sink.rows() if n > 0)  # noqa: E731
        wait_until(lambda: len(sink.rows()) == 4, what="the four sends scheduled at time 0")
        clock.advance(999)
        source.push(message_builder("example/timer", "a", int_value=0))  # cancels a's n=2
        wait_until(lambda: len(sink.rows()) == 5, what="the cancellation")
        assert delivered() == []
        clock.advance(1)
        wait_until(lambda: delivered() == [101, 101], what="the two 1-second messages")
        clock.advance(2000)
        wait_until(lambda: delivered() == [101, 101, 103], what="the 3-second message")
        source.end()
        job.result(20)
    finally:
        job.cancel()
        job.wait(10)
    assert delivered() == [101, 101, 103]  # 102 was cancelled


def test_state_expires_after_write_on_the_clock(make_env):
    from datetime import timedelta
    from tests.window_helpers import wait_until
    functions = StatefulFunctions()

    @functions.bind("example/ttl", [ValueSpec("n", IntType, expire_after_write=timedelta(milliseconds=500))])
    def ttl(context, message):
        context.storage.n = n = (context.storage.n or 0) + 1
        context.send_egress(egress_message_builder("example/out", n, IntType))

    clock, source, sink, job = clocked_job(make_env, functions)
    try:
        for advance in (0, 400, 499, 500):
            clock.advance(advance)
            source.push(message_builder("example/ttl", "k", int_value=1))
            count = len(sink.rows()) + 1
            wait_until(lambda count=count: len(sink.rows()) == count)
        source.end()
        job.result(20)
    finally:
        job.cancel()
        job.wait(10)
    assert sink.rows() == [1, 2, 3, 1]  # written at 400, read at 899: kept; at 1399: expired


def test_an_address_state_is_read_while_the_job_runs(make_env):
    """``job.statefun_state(type, id)``: the values the function would see now, read by the
    task that runs the address (a worker's in process mode); expiry applies to the read."""
    from datetime import timedelta
    from nbstream.runtime.queries import QueryError
    from tests.window_helpers import wait_until
    functions = StatefulFunctions()
    Visit = make_json_type("example/Visit")

    @functions.bind("example/visits", [
        ValueSpec("n", IntType, expire_after_write=timedelta(milliseconds=500)),
        ValueSpec("last", Visit)])
    def visits(context, message):
        context.storage.n = n = (context.storage.n or 0) + 1
        context.storage.last = {"at": message.as_int()}
        context.send_egress(egress_message_builder("example/out", n, IntType))

    clock, source, sink, job = clocked_job(make_env, functions)
    try:
        for i, who in enumerate(["Ann", "Bob", "Ann", "Ann", "Bob"]):
            source.push(message_builder("example/visits", who, int_value=i))
        wait_until(lambda: len(sink.rows()) == 5, what="five visits")
        assert job.statefun_state("example/visits", "Ann") == {"n": 3, "last": {"at": 3}}
        assert job.statefun_state("example/visits", "Bob") == {"n": 2, "last": {"at": 4}}
        assert job.statefun_state("example/visits", "Cid") == {"n": None, "last": None}
        clock.advance(500)  # n was written at 0: expired now, for the read too
        assert job.statefun_state("example/visits", "Ann") == {"n": None, "last": {"at": 3}}
        with pytest.raises(QueryError, match="no stateful function of this job serves the "
                                             "function type example/nobody"):
            job.statefun_state("example/nobody", "Ann")
        source.end()
        job.result(20)
    finally:
        job.cancel()
        job.wait(10)
    with pytest.raises(QueryError, match=r"the job has stopped \(FINISHED\)"):
        job.statefun_state("example/visits", "Ann")


def test_a_2x_program_runs_embedded_in_every_mode(make_env):
    from google.protobuf.wrappers_pb2 import StringValue
    v2 = load_module(str(PROGRAMS / "greeter_v2.py"))
    assert v2.functions.__class__.__module__ == "nbstream.statefun.v2"
    visit = make_protobuf_type(StringValue)
    env = make_env(2)
    requests = env.from_collection([RoutableMessage("example/person", name, StringValue(value=f"visit {i}"),
                                                    value_type=visit) for i, name in enumerate(VISITS)])
    out = (StatefulFunctionDataStreamBuilder.builder("greeter-v2").with_data_stream_as_ingress(requests)
           .with_functions(v2.functions).with_egress_id(v2.GREETS).with_feedback_timeout(150).build(env))
    rows = [(r.key, StringValue.FromString(r.value_bytes).value) for r in
            (KafkaProducerRecord.FromString(e.raw_value())
             for e in out.get_data_stream_for_egress_id(v2.GREETS).execute_and_collect())]
    # the 2.x greeter sends a reminder to every first-time visitor (it cancels none)
    assert Counter(rows) == Counter([
        ("Ann", "Hello Ann!"), ("Ann", "Hello again Ann, #2"), ("Ann", "Hello again Ann, #3"),
        ("Bob", "Hello Bob!"), ("Bob", "Hello again Bob, #2"), ("Cid", "Hello Cid!"), ("Dee", "Hello Dee!")]
        + [(name, f"Come back soon, {name}!") for name in ("Ann", "Bob", "Cid", "Dee")])


def test_async_functions_run_embedded(make_env):
    import asyncio
    functions = StatefulFunctions()

    @functions.bind("example/slow", [ValueSpec("n", IntType)])
    async def slow(context, message):
        await asyncio.sleep(0)
        context.storage.n = n = (context.storage.n or 0) + message.as_int()
        context.send_egress(egress_message_builder("example/out", [context.address.id, n], GREETER.VISIT))

    messages = [message_builder("example/slow", "a" if i % 2 else "b", int_value=i) for i in range(1, 7)]
    rows = [GREETER.VISIT.serializer().deserialize(e.raw_value())
            for e in counting_job(make_env(2), functions, messages).execute_and_collect()]
    # the ingress is parallel, so a key's messages may come in any order: check the totals
    finals = {key: max(n for k, n in rows if k == key) for key in ("a", "b")}
    assert len(rows) == 6 and finals == {"a": 1 + 3 + 5, "b": 2 + 4 + 6}


def test_job_metrics_count_per_function_type(make_env):
    functions = StatefulFunctions()

    @functions.bind("example/counter", [ValueSpec("n", IntType)])
    def counter(context, message):
        context.storage.n = n = (context.storage.n or 0) + 1
        context.send(message_builder("example/echo", context.address.id, int_value=n))

    @functions.bind("example/echo")
    def echo(context, message):
        context.send_egress(egress_message_builder("example/out", message.as_int(), IntType))

    messages = [message_builder("example/counter", str(i % 3), int_value=i) for i in range(30)]
    it = counting_job(make_env(2), functions, messages).execute_and_collect()
    assert len(list(it)) == 30
    [metrics] = [m for name, m in it.job.metrics().items() if name.endswith("count: functions")]
    assert metrics["example/counter: messages in"] == 30
    assert metrics["example/counter: invocations"] == 30
    assert metrics["example/counter: messages out"] == 30
    assert metrics["example/echo: egress"] == 30
    assert "example/counter: egress" not in metrics
    for typename in ("example/counter", "example/echo"):  # merged over both instances
        p50, p99 = (metrics[f"{typename}: latency p{q} ms"] for q in (50, 99))
        assert 0 < p50 <= p99 < 1000


def test_the_live_view_shows_a_line_per_function_type(make_env):
    """A StateFun egress shown in the notebook: the job's live view counts each function
    type's messages and calls and gives its latency."""
    from nbstream.notebook.live import function_lines, start
    functions = StatefulFunctions()

    @functions.bind("example/counter", [ValueSpec("n", IntType)])
    def counter(context, message):
        context.storage.n = n = (context.storage.n or 0) + 1
        context.send_egress(egress_message_builder("example/out", n, IntType))

    env = make_env(2)
    messages = [message_builder("example/counter", str(i % 4), int_value=i) for i in range(40)]
    egress = counting_job(env, functions, messages)
    job = start(env, [egress.map(lambda e: IntType.serializer().deserialize(e.raw_value()))],
                name="counts")
    job.result(30)
    stats = job.function_stats()
    assert list(stats) == ["example/counter"]
    assert stats["example/counter"]["messages in"] == 40 == stats["example/counter"]["egress"]
    [line] = function_lines(stats)
    assert line.startswith("example/counter: 40 in, 40 calls, 40 egress, p50 ")
    assert sorted(job.rows()) == sorted(n for n in range(1, 11) for _ in range(4))
