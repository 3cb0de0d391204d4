"""Example programs written for the statefun SDK (a greeter, a fraud-style program with delayed
messages and a cancellation, a type-system program with JSON, protobuf and simple types) give
the same egress through every path: embedded in thread and in process mode, and remote over
HTTP on loopback with the module served by nbstream and by the real SDK 3.3.0."""

from __future__ import annotations

import json
import sys
from collections import Counter

import pytest

from nbstream import StreamExecutionEnvironment
from nbstream.compat.statefun import load_module
from nbstream.statefun import RoutableMessage, StatefulFunctionDataStreamBuilder
from nbstream.statefun.protocol import KafkaProducerRecord, KinesisEgressRecord
from statefun_peer import PROGRAMS, sdk_python
from test_statefun_remote import serve

PROGRAM_NAMES = ["greeter", "fraud", "types_program"]
PATHS = ["thread", "process", "remote-nbstream", "remote-sdk"]


@pytest.fixture(scope="module")
def endpoints():
    started = {}

    def url(program: str, kind: str) -> str:
        if (program, kind) not in started:
            command = ([sys.executable, "-m", "nbstream.compat.statefun"] if kind == "nbstream"
                       else [str(sdk_python())])
            started[program, kind] = serve(command, PROGRAMS / f"{program}.py")
        return started[program, kind][1]

    yield url
    for process, _ in started.values():
        process.terminate()
        process.wait(10)


def egress_ids(module) -> list:
    return sorted({value for name, value in vars(module).items()
                   if name.isupper() and isinstance(value, str) and "/" in value and name in
                   ("GREETS", "ALERTS", "OUT")})


def run(module, path: str, url: str = ""):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("process" if path == "process" else "thread")
    env.set_parallelism(2)
    requests = env.from_collection([RoutableMessage(*row) for row in module.INGRESS])
    builder = (StatefulFunctionDataStreamBuilder.builder(path).with_data_stream_as_ingress(requests)
               .with_feedback_timeout(500))  # the default: 150 ms was tight for the real SDK under load
    namespace = module.INGRESS[0][0].split("/")[0]
    builder = (builder.with_request_reply_remote_function(f"{namespace}/*", url) if url
               else builder.with_functions(module.functions))
    [egress_id] = egress_ids(module)
    out = builder.with_egress_id(egress_id).build(env)
    return Counter((e.typename, e.value_typename(), e.raw_value())
                   for e in out.get_data_stream_for_egress_id(egress_id).execute_and_collect())


def readable(rows: Counter) -> Counter:
    shown = Counter()
    for (_, typename, raw), n in rows.items():
        if typename.endswith("KafkaProducerRecord"):
            record = KafkaProducerRecord.FromString(raw)
            value = (record.topic, record.key, record.value_bytes)
        elif typename.endswith("KinesisEgressRecord"):
            record = KinesisEgressRecord.FromString(raw)
            value = (record.stream, record.partition_key, record.value_bytes)
        else:
            value = raw.decode()
        shown[value] += n
    return shown


EXPECTED = {
    "greeter": lambda rows: len(rows) == 9 and ("greetings", "Cid", b"Come back soon, Cid!") in rows
    and ("greetings", "Ann", b"Come back soon, Ann!") not in rows,
    "fraud": lambda rows: rows == Counter({
        ("large", "m1", b"\0\0\x07\xd0"): 1, ("large", "m2", b"\0\0\x13\x88"): 1,
        json.dumps({"account": "a1", "event": "3 in a window", "from": "fraud/account"}): 1,
        **{json.dumps({"account": a, "event": "quiet"}): 1 for a in ("a1", "a2", "a3")}}),
    "types_program": lambda rows: rows == Counter({
        "WELCOME ANN": 1, "WELCOME BOB": 1, "WELCOME CID": 1, ("names", "ann", b"\n\x03Ann"): 2,
        ("names", "bob", b"\n\x03Bob"): 1, ("names", "cid", b"\n\x03Cid"): 1}),
}


@pytest.mark.parametrize("program", PROGRAM_NAMES)
def test_a_program_gives_the_same_egress_on_every_path(program, endpoints):
    module = load_module(str(PROGRAMS / f"{program}.py"))
    results = {}
    for path in PATHS:
        url = endpoints(program, path.split("-")[1]) if path.startswith("remote") else ""
        results[path] = run(module, path, url)
    assert EXPECTED[program](readable(results["thread"])), readable(results["thread"])
    for path in PATHS[1:]:
        assert results[path] == results["thread"], (path, readable(results[path]))


def test_egress_rows_for_tables(env):
    fraud = load_module(str(PROGRAMS / "fraud.py"))
    requests = env.from_collection([RoutableMessage(*row) for row in fraud.INGRESS])
    out = (StatefulFunctionDataStreamBuilder.builder("rows").with_data_stream_as_ingress(requests)
           .with_functions(fraud.functions).with_egress_id(fraud.ALERTS).with_feedback_timeout(500)
           .build(env))
    rows = list(out.get_rows_for_egress_id(fraud.ALERTS, json_types=(fraud.TRANSACTION,))
                .execute_and_collect())
    kafka = sorted((r["topic"], r["key"], r["value"]) for r in rows if r["type"] == "kafka")
    assert kafka == [("large", "m1", b"\0\0\x07\xd0"), ("large", "m2", b"\0\0\x13\x88")]
    json_rows = [r["value"] for r in rows if r["type"] == "fraud/transaction"]
    assert {"account": "a1", "event": "quiet"} in json_rows and len(json_rows) == 4
    import pandas as pd
    frame = pd.DataFrame(rows)
    assert set(frame.columns) >= {"egress", "type", "topic", "key", "value"} and len(frame) == 6
