"""Differential tests against the real statefun SDK (``apache-flink-statefun`` 3.3.0, in a
virtualenv of its own made on first use): the same module, the same request bytes into its
handler and into nbstream's, and the replies must be the same bytes (or both handlers fail)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream.compat.statefun import load_module
from nbstream.statefun import FunctionInvocationError, IntType, LongType, StringType
from nbstream.statefun.protocol import ToFunction
from statefun_peer import PROGRAMS, ROOT, SdkPeer, sdk_python

MODULE = PROGRAMS / "differential_module.py"
TYPES = ["counter", "async", "plain"]


@pytest.fixture(scope="session")
def sdk():
    python = sdk_python()
    peer = SdkPeer(python, MODULE)
    yield peer
    peer.close()


@pytest.fixture(scope="session")
def ours():
    return load_module(str(MODULE), api=3).handler


def test_the_peer_is_the_real_sdk(sdk):
    home = str(sdk_python().parents[1])  # the virtualenv's own copy, not nbstream's
    assert sdk.statefun_file.startswith(home) and "site-packages/statefun" in sdk.statefun_file
    assert sdk.protobuf_version.startswith("3.")


# -- random requests ---------------------------------------------------------------------------

int32 = st.integers(-2**31, 2**31 - 1)
int64 = st.integers(-2**63, 2**63 - 1)
texts = st.text(max_size=8)
ids = st.text(alphabet="abXY09-_é/ ", min_size=1, max_size=5)
json_values = st.recursive(st.none() | st.booleans() | int64 | texts,
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(texts, inner, max_size=3), max_leaves=6)
finite = st.floats(allow_nan=False, allow_infinity=False)
values = st.one_of(
    st.tuples(st.just("int"), int32), st.tuples(st.just("long"), int64),
    st.tuples(st.just("str"), texts), st.tuples(st.just("bool"), st.booleans()),
    st.tuples(st.just("float"), finite), st.tuples(st.just("double"), finite),
    st.tuples(st.just("json"), json_values))
targets = st.tuples(st.sampled_from([f"example/{t}" for t in TYPES]), ids)
tokens = st.sampled_from(["", "t1", "t2", "tok-é"])
actions = st.one_of(
    st.tuples(st.just("set"), st.just("count"), st.one_of(int32, st.just(2**31))),
    st.tuples(st.just("set"), st.just("name"), texts),
    st.tuples(st.just("set"), st.just("profile"), json_values),
    st.tuples(st.just("set"), st.just("total"), int64),
    st.tuples(st.just("del"), st.sampled_from(["count", "name", "profile", "total"])),
    st.tuples(st.just("add"), st.integers(-5, 5)),
    st.builds(lambda t, v: ("send", *t, *v), targets, values),
    st.builds(lambda ms, tok, t, v: ("send_after", ms, tok, *t, *v), st.integers(0, 10**7), tokens,
              targets, values),
    st.builds(lambda ms, t, v: ("send_after_no_token", ms, *t, *v), st.integers(0, 10**5), targets, values),
    st.tuples(st.just("cancel"), tokens),
    st.tuples(st.just("kafka"), st.text(min_size=1, max_size=5), st.none() | texts,
              st.one_of(texts, int32, finite)),
    st.tuples(st.just("kinesis"), st.text(min_size=1, max_size=5), texts, texts, st.none() | texts),
    st.tuples(st.just("egress"), json_values),
    st.tuples(st.just("caller")),
)
#: a command list, one in ten ending with a failure
commands = st.builds(lambda acts, fail, text: acts + ([("raise", text)] if fail == 0 else []),
                     st.lists(actions, min_size=1, max_size=5), st.integers(0, 9), texts)
callers = st.none() | st.tuples(st.just("example"), st.sampled_from(TYPES + ["elsewhere"]), ids)
STATE_TYPES = {"count": (IntType, int32), "name": (StringType, texts),
               "profile": ("example/profile", json_values), "total": (LongType, int64)}


@st.composite
def state_values(draw, name):
    """A state entry: missing (None), registered without a value, or a value (rarely mistyped)."""
    tpe, strategy = STATE_TYPES[name]
    choice = draw(st.sampled_from(["missing", "empty", "value", "value", "value", "mistyped"]))
    if choice == "missing":
        return None
    if choice == "empty":
        return ("", False, b"")
    value = draw(strategy)
    if isinstance(tpe, str):
        typed = (tpe, True, json.dumps(value).encode())
    else:
        typed = (tpe.typename, True, tpe.serializer().serialize(value))
    return ("example/elsewhere", True, typed[2]) if choice == "mistyped" else typed


@st.composite
def arguments(draw):
    kind = draw(st.sampled_from(["command", "command", "int", "str", "bool"]))
    if kind == "command":
        return ("example/command", True, json.dumps(draw(commands)).encode())
    if kind == "int":
        return (IntType.typename, True, IntType.serializer().serialize(draw(int32)))
    if kind == "str":
        return (StringType.typename, True, StringType.serializer().serialize(draw(texts)))
    return ("io.statefun.types/bool", True, draw(st.sampled_from([b"", b"\x08\x01"])))


@st.composite
def requests(draw):
    pb = ToFunction()
    batch = pb.invocation
    batch.target.namespace = "example"
    batch.target.type = draw(st.sampled_from(TYPES * 6 + ["nobody"]))
    batch.target.id = draw(ids)
    names = draw(st.permutations(list(STATE_TYPES) + ["extra"]))
    for name in names:
        entry = draw(state_values(name if name != "extra" else "name"))
        if entry is not None and (name != "extra" or draw(st.booleans())):
            pv = batch.state.add(state_name=name)
            if entry[0]:
                pv.state_value.typename, pv.state_value.has_value, pv.state_value.value = entry
    for _ in range(draw(st.integers(1, 4))):
        invocation = batch.invocations.add()
        invocation.argument.typename, invocation.argument.has_value, invocation.argument.value = \
            draw(arguments())
        caller = draw(callers)
        if caller:
            invocation.caller.namespace, invocation.caller.type, invocation.caller.id = caller
    return pb.SerializeToString()


def nbstream_reply(handler, request: bytes):
    try:
        return True, handler.handle_sync(request)
    except Exception as exc:
        return False, exc


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.data_too_large])
@given(request=requests())
def test_random_batches_get_the_same_reply_bytes(sdk, ours, request):
    sdk_ok, sdk_reply = sdk.handle(request)
    ok, reply = nbstream_reply(ours, request)
    assert ok == sdk_ok, (sdk_reply, reply)
    if ok:
        assert reply == sdk_reply
    elif isinstance(reply, FunctionInvocationError):
        target = ToFunction.FromString(request).invocation.target
        assert reply.typename == f"example/{target.type}" and reply.id == target.id
        assert f"(id {target.id!r})" in str(reply) and str(reply.__cause__) in str(reply)


def test_the_state_handshake_then_the_batch_round_trip(sdk, ours):
    """As the runtime does it: ask with no state, register what is missing, send again."""
    pb = ToFunction()
    batch = pb.invocation
    batch.target.namespace, batch.target.type, batch.target.id = "example", "counter", "Bob"
    inv = batch.invocations.add()
    inv.argument.typename, inv.argument.has_value = IntType.typename, True
    inv.argument.value = IntType.serializer().serialize(41)
    first = pb.SerializeToString()
    assert ours.handle_sync(first) == sdk.handle(first)[1] != b""
    for name in ["count", "name", "profile", "total"]:
        batch.state.add(state_name=name)
    second = pb.SerializeToString()
    reply = ours.handle_sync(second)
    assert reply == sdk.handle(second)[1] and IntType.serializer().serialize(41) in reply


def test_a_raising_function_fails_in_both_and_ours_names_type_id_and_message(sdk, ours):
    pb = ToFunction()
    batch = pb.invocation
    batch.target.namespace, batch.target.type, batch.target.id = "example", "plain", "Eve"
    inv = batch.invocations.add()
    inv.argument.typename, inv.argument.has_value = "example/command", True
    inv.argument.value = json.dumps([["egress", 1], ["raise", "card declined"]]).encode()
    ok, text = sdk.handle(pb.SerializeToString())
    assert not ok and text == b"RuntimeError: card declined"
    with pytest.raises(FunctionInvocationError) as info:
        ours.handle_sync(pb.SerializeToString())
    assert str(info.value).startswith("stateful function example/plain (id 'Eve') raised on message")
    assert "example/command" in str(info.value) and "RuntimeError: card declined" in str(info.value)


# -- the same errors for the same mistakes ----------------------------------------------------

MISTAKES = textwrap.dedent('''
    from datetime import timedelta
    from statefun import *
    attempts = [
        lambda: ValueSpec("Seen", IntType),
        lambda: ValueSpec("", IntType),
        lambda: ValueSpec("9lives", IntType),
        lambda: ValueSpec("seen", IntType, expire_after_call=timedelta(1), expire_after_write=timedelta(1)),
        lambda: ValueSpec("seen", None),
        lambda: StatefulFunctions().register("example/f", lambda only: None),
        lambda: message_builder("example/f", "id"),
        lambda: message_builder("example/f", "id", int_value=None),
        lambda: message_builder("example/f", "id", int_value=2**31),
        lambda: message_builder("example/f", "", int_value=1),
        lambda: egress_message_builder("", 1, IntType),
        lambda: kafka_egress_message("example/k", "", "v"),
        lambda: kafka_egress_message("example/k", "t", None),
        lambda: kafka_egress_message("example/k", "t", object()),
        lambda: kinesis_egress_message("example/k", "s", "v", None),
        lambda: simple_type("example/t", None, None),
        lambda: make_protobuf_type(None),
        lambda: RequestReplyHandler(None),
    ]
    for attempt in attempts:
        try:
            attempt()
            print("no error")
        except Exception as exc:
            print(type(exc).__name__, str(exc).replace(chr(10), " | ")[:150])
''')


def test_the_same_mistakes_raise_the_same_errors():
    sdk_out = subprocess.run([str(sdk_python()), "-c", MISTAKES], capture_output=True, text=True,
                             timeout=60, env={"PATH": ""})  # its own protobuf, not ours
    ours_code = "import nbstream.compat.statefun as c; c.install(3)\n" + MISTAKES
    ours_out = subprocess.run([sys.executable, "-c", ours_code], capture_output=True, text=True,
                              timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert sdk_out.returncode == ours_out.returncode == 0, (sdk_out.stderr, ours_out.stderr)
    assert ours_out.stdout.splitlines() == sdk_out.stdout.splitlines()
    assert "Only lower case names are allowed, Seen is given." in ours_out.stdout
