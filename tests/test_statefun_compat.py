"""Modules written for the statefun SDK run unmodified: load_module for embedding, and
``python -m nbstream.compat.statefun`` serving their __main__ aiohttp server."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import time
import types
import urllib.request
from pathlib import Path

import pytest

from nbstream.compat.statefun import detect_api, is_installed, load_module
from nbstream.statefun import IntType, RequestReplyHandler
from nbstream.statefun.protocol import FromFunction, ToFunction

ROOT = Path(__file__).resolve().parents[1]

V3_MODULE = '''
from statefun import *
from statefun.request_reply_pb2 import ToFunction  # the SDK's generated module, resolved too

functions = StatefulFunctions()
GREET = make_json_type("example/greeting")

@functions.bind("example/greeter", [ValueSpec("seen", IntType)])
async def greeter(context: Context, message: Message):
    seen = (context.storage.seen or 0) + 1
    context.storage.seen = seen
    context.send_egress(egress_message_builder(
        "example/out", {"name": context.address.id, "seen": seen}, GREET))

handler = RequestReplyHandler(functions)

if __name__ == "__main__":
    import sys
    from aiohttp import web

    async def handle(request):
        body = await handler.handle_async(await request.read())
        return web.Response(body=body, content_type="application/octet-stream")

    app = web.Application()
    app.add_routes([web.post("/statefun", handle)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
'''

V2_MODULE = '''
from google.protobuf.wrappers_pb2 import StringValue
from statefun import StatefulFunctions, RequestReplyHandler, kafka_egress_record

functions = StatefulFunctions()

@functions.bind("example/greeter")
def greet(context, name: StringValue):
    context.pack_and_send_egress("example/out", kafka_egress_record(
        topic="greetings", key=name.value, value=StringValue(value="hi " + name.value)))

handler = RequestReplyHandler(functions)
'''


def greeter_request(state=True) -> bytes:
    pb = ToFunction()
    batch = pb.invocation
    batch.target.namespace, batch.target.type, batch.target.id = "example", "greeter", "Bob"
    if state:
        pv = batch.state.add(state_name="seen")
        pv.state_value.typename, pv.state_value.has_value = IntType.typename, True
        pv.state_value.value = IntType.serializer().serialize(2)
    batch.invocations.add().argument.typename = "io.statefun.types/string"
    return pb.SerializeToString()


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def test_load_module_runs_a_3x_module_and_puts_statefun_back(tmp_path, monkeypatch):
    sentinel = types.ModuleType("statefun")  # e.g. the real SDK, imported before
    monkeypatch.setitem(sys.modules, "statefun", sentinel)
    module = load_module(str(write(tmp_path, "greeter_v3.py", V3_MODULE)))
    assert sys.modules["statefun"] is sentinel and not is_installed()
    assert type(module.handler) is RequestReplyHandler
    reply = FromFunction.FromString(module.handler.handle_sync(greeter_request()))
    [egress] = reply.invocation_result.outgoing_egresses
    assert egress.argument.value == b'{"name": "Bob", "seen": 3}'


def test_load_module_by_name_detects_a_2x_module(tmp_path, monkeypatch):
    write(tmp_path, "greeter_two.py", V2_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = load_module("greeter_two")
    assert module.functions.__class__.__module__ == "nbstream.statefun.v2"
    with pytest.raises(ModuleNotFoundError):
        load_module("no_such_statefun_module_here")
    assert detect_api(V2_MODULE) == 2 and detect_api(V3_MODULE) == 3
    assert detect_api("from statefun import StatefulFunctions") == 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes, timeout: float = 20.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, data=body, method="POST",
                                             headers={"Content-Type": "application/octet-stream"})
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.read()
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_the_runner_serves_the_modules_main_over_http(tmp_path):
    script = write(tmp_path, "served.py", V3_MODULE)
    port = free_port()
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-m", "nbstream.compat.statefun", str(script), str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        served = post(f"http://127.0.0.1:{port}/statefun", greeter_request())
        missing = post(f"http://127.0.0.1:{port}/statefun", greeter_request(state=False))
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    local = load_module(str(script)).handler
    assert served == local.handle_sync(greeter_request())
    [spec] = FromFunction.FromString(missing).incomplete_invocation_context.missing_values
    assert spec.state_name == "seen"
    assert b"Traceback" not in err


def test_the_runner_reports_a_missing_file():
    out = subprocess.run([sys.executable, "-m", "nbstream.compat.statefun", "nope.py"],
                         capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert out.returncode == 2 and "no such module file: nope.py" in out.stderr


def test_a_2x_module_is_served_by_the_runner_and_driven_remotely(env):
    from google.protobuf.wrappers_pb2 import StringValue

    from nbstream.statefun import RoutableMessage, StatefulFunctionDataStreamBuilder, make_protobuf_type
    from nbstream.statefun.protocol import KafkaProducerRecord
    from test_statefun_remote import serve

    process, url = serve([sys.executable, "-m", "nbstream.compat.statefun"],
                         ROOT / "tests" / "statefun_programs" / "greeter_v2.py")
    try:
        visit = make_protobuf_type(StringValue)
        requests = env.from_collection([RoutableMessage("example/person", name, StringValue(value="visit"),
                                                        value_type=visit) for name in ["Ann", "Ann"]])
        out = (StatefulFunctionDataStreamBuilder.builder("v2-remote").with_data_stream_as_ingress(requests)
               .with_request_reply_remote_function("example/*", url).with_egress_id("example/greets")
               .with_feedback_timeout(1000).build(env))
        rows = [StringValue.FromString(KafkaProducerRecord.FromString(e.raw_value()).value_bytes).value
                for e in out.get_data_stream_for_egress_id("example/greets").execute_and_collect()]
    finally:
        process.terminate()
        process.wait(10)
    assert sorted(rows) == ["Come back soon, Ann!", "Hello Ann!", "Hello again Ann, #2"]
