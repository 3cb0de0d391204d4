"""Remote functions: nbstream's runtime drives request-reply endpoints over HTTP on loopback,
one served by nbstream's handler and one by the real SDK, with the embedded run's egress."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest

from nbstream.statefun import RoutableMessage, StatefulFunctionDataStreamBuilder, message_builder
from nbstream.statefun.functions import address_of
from nbstream.statefun.handler import encode_result
from nbstream.statefun.protocol import FromFunction, KafkaProducerRecord
from nbstream.statefun.remote import RemoteFunction, RemoteFunctionError, RemoteEndpoint, decode_result
from statefun_peer import PROGRAMS, ROOT, sdk_python
from test_statefun_datastream import GREETER, VISITS, greets

SCRIPT = PROGRAMS / "greeter.py"
# the loop ends once no feedback came for this long: on a loaded machine a task thread may
# not run for a tenth of a second, so jobs with remote calls out wait generously
FEEDBACK_MS = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(command, script=SCRIPT):
    """Start ``command SCRIPT PORT``; (the process, the URL template of its endpoint)."""
    port = free_port()
    process = subprocess.Popen(command + [str(script), str(port)], stdout=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout.readline().strip() == b"serving"
    return process, f"http://127.0.0.1:{port}/statefun/{{function.name}}"


@pytest.fixture(scope="module", params=["nbstream", "sdk"])
def endpoint(request):
    command = ([sys.executable, "-m", "nbstream.compat.statefun"] if request.param == "nbstream"
               else [str(sdk_python())])
    process, url = serve(command)
    yield url
    process.terminate()
    process.wait(10)


def remote_greets(env, url):
    requests = env.from_collection([RoutableMessage("example/person", name, {"at": i},
                                                    value_type=GREETER.VISIT)
                                    for i, name in enumerate(VISITS)])
    out = (StatefulFunctionDataStreamBuilder.builder("remote-greeter")
           .with_data_stream_as_ingress(requests)
           .with_request_reply_remote_function("example/*", url)
           .with_egress_id(GREETER.GREETS)
           .with_feedback_timeout(FEEDBACK_MS)
           .build(env))
    records = out.get_data_stream_for_egress_id(GREETER.GREETS).execute_and_collect()
    return [(r.key, r.value_bytes.decode()) for r in
            (KafkaProducerRecord.FromString(e.raw_value()) for e in records)]


def test_remote_endpoints_give_the_embedded_egress(make_env, endpoint):
    embedded = greets(make_env(2))
    remote = remote_greets(make_env(2), endpoint)
    assert Counter(remote) == Counter(embedded) and len(remote) == 9
    ann = ["Hello Ann!", "Hello again Ann, #2", "Hello again Ann, #3"]
    assert [t for k, t in remote if k == "Ann"] == ann


def test_the_handshake_is_learned_once_and_replies_decode_back(endpoint):
    fn = RemoteFunction("example/person", RemoteEndpoint("example/*", endpoint))
    embedded = GREETER.functions.for_typename("example/person")
    visit = message_builder("example/person", "Zed", value={"at": 0}, value_type=GREETER.VISIT)
    result = fn.invoke(address_of("example/person", "Zed"), {}, [(None, visit.typed_value)])
    assert [spec.name for spec in fn.specs] == ["visits", "last_greeting"]
    assert [m.target_typename for m in result.messages] == ["example/greeter"]
    assert result.mutations[0][0] == "visits" and len(result.delayed) == 1
    # the SDK-served reply decodes to what the embedded function gives
    local = embedded.invoke(address_of("example/person", "Zed"), {"visits": None, "last_greeting": None},
                           [(None, visit.typed_value)])
    assert decode_result(encode_result(local)) == result


def test_a_failing_endpoint_is_a_clear_error_after_retries():
    closed = f"http://127.0.0.1:{free_port()}/statefun"
    fn = RemoteFunction("example/f", RemoteEndpoint("example/f", closed, timeout=1, retries=2,
                                                    backoff_s=0.01))
    with pytest.raises(RemoteFunctionError, match=r"example/f \(id 'a'\) at .* failed 3 times"):
        fn.invoke(address_of("example/f", "a"), {}, [(None, message_builder("example/f", "a",
                                                                             int_value=1).typed_value)])


@pytest.fixture
def bad_endpoint():
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    calls = []

    class Bad(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(self.path)
            if self.path == "/slow":
                time.sleep(1.0)
            status, body = (500, b"boom") if self.path == "/fail" else (200, b"\xff\xff\xff")
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Bad)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", calls
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.parametrize("path, error", [
    ("/fail", r"failed 2 times: HTTPError: HTTP Error 500"),
    ("/garbage", r"replied with 3 bytes that are not a FromFunction"),
    ("/slow", r"failed 2 times: (TimeoutError|URLError|socket.timeout)"),
])
def test_a_bad_endpoint_fails_clearly_and_does_not_hang(bad_endpoint, path, error):
    base, calls = bad_endpoint
    fn = RemoteFunction("example/f", RemoteEndpoint("example/f", base + path, timeout=0.3, retries=1,
                                                    backoff_s=0.01))
    argument = message_builder("example/f", "a", int_value=1).typed_value
    with pytest.raises(RemoteFunctionError, match=error):
        fn.invoke(address_of("example/f", "a"), {}, [(None, argument)])
    expected = [path] * (1 if path == "/garbage" else 2)  # garbage is not retried
    deadline = time.monotonic() + 10  # a loaded server may read a timed-out request late
    while len(calls) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls == expected


def test_a_bad_endpoint_fails_the_job_naming_it(env, bad_endpoint):
    base, _ = bad_endpoint
    out = (StatefulFunctionDataStreamBuilder.builder("bad")
           .with_data_stream_as_ingress(env.from_collection([RoutableMessage("example/f", "a", 1)]))
           .with_request_reply_remote_function("example/*", base + "/fail", timeout=1, retries=0)
           .with_egress_id("example/out").with_feedback_timeout(50).build(env))
    with pytest.raises(Exception, match=r"remote function example/f \(id 'a'\) at .*/fail failed 1 times"):
        list(out.get_data_stream_for_egress_id("example/out").execute_and_collect())


def test_a_module_yaml_configures_the_endpoint_and_the_egress(make_env, endpoint, tmp_path):
    module_yaml = tmp_path / "module.yaml"
    module_yaml.write_text(f"""
kind: io.statefun.endpoints.v2/http
spec:
  functions: example/*
  urlPathTemplate: {endpoint}
  transport:
    type: io.statefun.transports.v1/async
    timeouts:
      call: 30 s
---
kind: io.statefun.kafka.v1/egress
spec:
  id: {GREETER.GREETS}
  address: kafka:9092
""")
    env = make_env(2)
    requests = env.from_collection([RoutableMessage(*row) for row in GREETER.INGRESS])
    out = (StatefulFunctionDataStreamBuilder.builder("yaml").with_data_stream_as_ingress(requests)
           .with_module_yaml(str(module_yaml)).with_feedback_timeout(FEEDBACK_MS).build(env))
    rows = [KafkaProducerRecord.FromString(e.raw_value())
            for e in out.get_data_stream_for_egress_id(GREETER.GREETS).execute_and_collect()]
    assert Counter((r.key, r.value_bytes.decode()) for r in rows) == Counter(greets(make_env(2)))


def test_module_yaml_errors_name_the_problem():
    from nbstream.statefun import StatefulFunctionError
    from nbstream.statefun.remote import read_module_yaml
    with pytest.raises(StatefulFunctionError, match="kind io.statefun.flink.v1/whatever is not supported"):
        read_module_yaml("kind: io.statefun.flink.v1/whatever\nspec: {}\n")
    with pytest.raises(ValueError, match="not a duration: 'soon'"):
        read_module_yaml("kind: io.statefun.endpoints.v2/http\nspec:\n  functions: a/*\n"
                         "  urlPathTemplate: http://x\n  transport:\n    timeouts:\n      call: soon\n")


@contextlib.contextmanager
def summing_endpoint(delay_s, drop_after_reply=False):
    """A ``example/sum`` endpoint (nbstream's handler behind the standard library's HTTP/1.1
    server) that takes ``delay_s`` per request, checks that no address has two requests in
    flight, and records each batch as (id, invocations) and each TCP connection it accepts."""
    import threading
    import time as clock
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from nbstream.statefun import IntType, RequestReplyHandler, StatefulFunctions, ValueSpec
    from nbstream.statefun import egress_message_builder
    from nbstream.statefun.handler import parse_request

    functions = StatefulFunctions()

    @functions.bind("example/sum", [ValueSpec("total", IntType)])
    def total(context, message):
        context.storage.total = t = (context.storage.total or 0) + message.as_int()
        context.send_egress(egress_message_builder("example/out", t, IntType))

    handler, inflight, lock = RequestReplyHandler(functions), Counter(), threading.Lock()
    log = {"batches": [], "connections": 0, "overlaps": 0, "at_once": 0, "most_at_once": 0}

    class Slow(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a caller reuses its connection
        wbufsize = -1  # headers and body in one write: no Nagle/delayed-ACK stall on a kept-alive one

        def setup(self):
            super().setup()
            with lock:
                log["connections"] += 1

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            target, _, invocations = parse_request(body)
            with lock:
                inflight[target.id] += 1
                log["overlaps"] += inflight[target.id] > 1
                log["at_once"] += 1
                log["most_at_once"] = max(log["most_at_once"], log["at_once"])
            clock.sleep(delay_s)
            reply = handler.handle_sync(body)
            handshake = FromFunction.FromString(reply).HasField("incomplete_invocation_context")
            with lock:
                inflight[target.id] -= 1
                log["at_once"] -= 1
                if not handshake:  # a handshake is answered, then the same batch comes again
                    log["batches"].append((target.id, len(invocations)))
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            self.close_connection = drop_after_reply  # without a Connection: close header

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def run_sums(env, url, n, ids, feedback_ms=FEEDBACK_MS, **options):
    from nbstream.statefun import IntType
    messages = [message_builder("example/sum", f"k{i % ids}", int_value=1) for i in range(n)]
    out = (StatefulFunctionDataStreamBuilder.builder("batched")
           .with_data_stream_as_ingress(env.from_collection(messages))
           .with_request_reply_remote_function("example/*", url, **options)
           .with_egress_id("example/out").with_feedback_timeout(feedback_ms).build(env))
    return sorted(IntType.serializer().deserialize(e.raw_value())
                  for e in out.get_data_stream_for_egress_id("example/out").execute_and_collect())


@pytest.mark.parametrize("max_batch", [1000, 3])
def test_one_request_in_flight_per_address_and_the_backlog_goes_as_one_batch(env, max_batch):
    """A slow endpoint: messages for an address queue while its call is out and go together,
    ``max_batch`` at most per request."""
    with summing_endpoint(0.02) as (url, log):
        totals = run_sums(env, url, 300, 3, max_batch=max_batch)
    assert totals == sorted(list(range(1, 101)) * 3)  # every message once, in order per address
    batches = log["batches"]
    largest = max(n for _, n in batches)
    assert log["overlaps"] == 0, "two requests in flight for one address"
    assert sum(n for _, n in batches) == 300 and len(batches) < 150
    assert largest > 5 if max_batch == 1000 else largest == max_batch


def test_a_full_backlog_holds_the_ingress_back_instead_of_growing(env):
    """``max_backlog=4``: an address never has more than 4 messages waiting (a batch is its
    backlog), however far ahead of the endpoint the ingress is; every message arrives once."""
    with summing_endpoint(0.005) as (url, log):
        totals = run_sums(env, url, 400, 2, feedback_ms=2000, max_backlog=4)
    assert totals == sorted(list(range(1, 201)) * 2)
    assert log["overlaps"] == 0
    sizes = [n for _, n in log["batches"]]
    assert sum(sizes) == 400 and max(sizes) == 4  # full backlogs, never past the bound


def test_an_endpoint_slower_than_the_feedback_timeout_is_waited_for_without_losing_messages(env):
    """Each call takes 0.6 s, longer than the loop's feedback timeout (400 ms): keep-alives
    go round the loop while calls are out and while a full backlog waits; nothing is lost,
    nothing hangs."""
    with summing_endpoint(0.6) as (url, log):
        totals = run_sums(env, url, 6, 1, feedback_ms=400, max_backlog=2)
    assert totals == list(range(1, 7))
    assert log["overlaps"] == 0 and sum(n for _, n in log["batches"]) == 6


def test_calls_reuse_kept_alive_connections(env):
    """200 messages over 20 addresses make more than 20 requests; far fewer TCP connections."""
    with summing_endpoint(0.0) as (url, log):
        totals = run_sums(env, url, 200, 20, max_batch=1)
    assert totals == sorted(list(range(1, 11)) * 20)
    requests = len(log["batches"]) + 20  # and one handshake per address
    assert requests >= 220 and log["connections"] <= 40


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_failed_attempt():
    """The server closes each connection after its reply without saying so (as an idle
    timeout does): the next request goes on a new connection, without counting as a failed
    attempt (the endpoint allows none)."""
    import asyncio

    from nbstream.statefun.remote import encode_request, new_session
    request = message_builder("example/sum", "a", int_value=1)
    address = address_of("example/sum", "a")
    data = encode_request(address, {"total": None}, [(None, request.typed_value)])

    async def twice(fn):
        session = new_session()
        try:
            first = await fn._post_async(data, address, session)
            await asyncio.sleep(0.1)  # the server has closed its end by now
            return first, await fn._post_async(data, address, session)
        finally:
            await session.close()

    with summing_endpoint(0.0, drop_after_reply=True) as (url, log):
        fn = RemoteFunction("example/sum", RemoteEndpoint("example/*", url, retries=0))
        replies = asyncio.run(twice(fn))
    assert all(decode_result(reply).egress for reply in replies)
    assert log["connections"] == 2


class FailAt:
    """An ingress step: 1 ms per message, raising once at its ``at``-th (a marker file says
    it did, so the restarted job goes through)."""

    def __init__(self, marker: str, at: int) -> None:
        self.marker, self.at, self.seen = marker, at, 0

    def __call__(self, message):
        import time
        time.sleep(0.001)
        self.seen += 1
        if self.seen == self.at and not os.path.exists(self.marker):
            open(self.marker, "w").close()
            raise RuntimeError(f"injected failure at message {self.at}")
        return message


def test_a_call_in_flight_at_a_checkpoint_is_sent_again_after_a_restore(make_env, tmp_path):
    """Each call takes 40 ms and the job checkpoints every 20 ms, so calls are in flight at
    its checkpoints. The ingress fails once: the job restarts from its last checkpoint, and the
    batches in flight then are sent again (their replies were never applied): every message
    counts once per address (totals 1..150), none is lost or applied twice."""
    from nbstream import RestartStrategies
    from nbstream.statefun import IntType
    env = make_env(1, **{"nbstream.batch-size": 10})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "cp"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(1, 0))
    messages = [message_builder("example/sum", f"k{i % 4}", int_value=1) for i in range(600)]
    ingress = env.from_collection(messages).map(FailAt(str(tmp_path / "failed"), 400))
    with summing_endpoint(0.04) as (url, log):
        out = (StatefulFunctionDataStreamBuilder.builder("sums")
               .with_data_stream_as_ingress(ingress)
               .with_request_reply_remote_function("example/*", url)
               .with_egress_id("example/out").with_feedback_timeout(2000).build(env))
        it = out.get_data_stream_for_egress_id("example/out").execute_and_collect()
        totals = sorted(IntType.serializer().deserialize(e.raw_value()) for e in it)
    assert it.job.restarts == 1 and "injected failure" in it.job.last_failure
    restored = it.job.checkpoint_info()["sources_after_restore"]
    assert any("position" in how for how in restored.values()), restored  # not from scratch
    assert totals == sorted(list(range(1, 151)) * 4)
    [metrics] = [m for name, m in it.job.metrics().items() if name.endswith("sums: functions")]
    assert metrics["example/sum: latency p50 ms"] >= 40  # the HTTP round trip: 40 ms a call
