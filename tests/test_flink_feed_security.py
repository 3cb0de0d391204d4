"""The flink mode's driver feed: only the job's own connection, which proves itself with
the feed's key, gets the records (a local process that connects first reads nothing but its
challenge, and the job still gets its input); the job unpickles only lines its driver
sealed; the local mini-cluster listens on loopback only. Real sockets on loopback; one real
Flink job."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
import urllib.request
from typing import Any, List

import pytest

from nbstream import StreamExecutionEnvironment
from nbstream.flink import feed as feed_module
from nbstream.flink.feed import DriverFeed, FeedDecoder, Sealer
from nbstream.runtime.job import JobClient

SECRET = "patient-4711-glucose"


class Records:
    """A source spec that emits ``SECRET`` records (the shape the feed serves)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def create_reader(self, subtask: int, parallelism: int) -> Any:
        n = self.n

        class Reader:
            def run(self, ctx: Any) -> None:
                for i in range(n):
                    ctx.collect((SECRET, i))
        return Reader()


def read_all(conn: socket.socket, deadline_s: float = 10) -> bytes:
    conn.settimeout(deadline_s)
    chunks = []
    while True:
        data = conn.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def read_line(conn: socket.socket) -> bytes:
    conn.settimeout(10)
    line = b""
    while not line.endswith(b"\n"):
        data = conn.recv(1)
        assert data, "closed before a whole line"
        line += data
    return line


def serve(n: int = 50) -> DriverFeed:
    feed = DriverFeed("sensors", Records(n), "127.0.0.1")
    feed.start(JobClient("feed test"))
    return feed


def as_the_job(feed: DriverFeed) -> List[Any]:
    """Read the feed as the Flink job does: its socket source passes every line to the
    decoder, which answers the challenge on a connection of its own."""
    decode = feed.decoder()
    with socket.create_connection(("127.0.0.1", feed.port)) as conn:
        assert decode(read_line(conn).decode().rstrip()) == []  # the challenge, answered
        lines = read_all(conn).decode().split()
    return [pair for line in lines for pair in decode(line)]


def test_a_process_that_connects_first_reads_only_its_challenge():
    feed = serve()
    rogue = socket.create_connection(("127.0.0.1", feed.port))
    challenge = read_line(rogue)
    assert challenge.startswith(b"?") and len(base64.b64decode(challenge[1:])) == 16
    got = as_the_job(feed)
    assert got == [((SECRET, i), None) for i in range(50)]
    assert read_all(rogue) == b""  # closed once the job proved itself, nothing else sent
    rogue.close()


def test_a_forged_proof_is_refused_and_the_job_still_gets_in(caplog):
    feed = serve()
    rogue = socket.create_connection(("127.0.0.1", feed.port))
    nonce = base64.b64decode(read_line(rogue)[1:])
    forged = feed_module.proof(Sealer.new_key(), nonce)
    with caplog.at_level(logging.ERROR, logger=feed_module.__name__):
        with socket.create_connection(("127.0.0.1", feed.port)) as prover:
            read_line(prover)  # a connection is challenged too
            prover.sendall(b"!" + base64.b64encode(nonce) + b" " + base64.b64encode(forged) + b"\n")
            assert read_all(prover) == b""
    assert not feed.connected.is_set()
    assert "refused a connection that did not prove it is the job's" in caplog.text
    assert len(as_the_job(feed)) == 50
    rogue.close()


def test_a_refused_proof_is_logged_before_the_prover_sees_its_connection_closed(caplog, monkeypatch):
    """Seen under load: the prover saw its connection closed before the feed's thread had
    logged the refusal. Each close here is followed by a pause of the feed's thread."""
    drop = DriverFeed._drop

    def drop_then_pause(*args: Any) -> None:
        drop(*args)
        time.sleep(0.3)

    monkeypatch.setattr(DriverFeed, "_drop", staticmethod(drop_then_pause))
    feed = serve()
    rogue = socket.create_connection(("127.0.0.1", feed.port))
    nonce = base64.b64decode(read_line(rogue)[1:])
    with caplog.at_level(logging.ERROR, logger=feed_module.__name__):
        with socket.create_connection(("127.0.0.1", feed.port)) as prover:
            read_line(prover)
            forged = feed_module.proof(Sealer.new_key(), nonce)
            prover.sendall(b"!" + base64.b64encode(nonce) + b" " + base64.b64encode(forged) + b"\n")
            assert read_all(prover) == b""
            assert "refused a connection that did not prove it is the job's" in caplog.text
    assert len(as_the_job(feed)) == 50
    rogue.close()


def test_once_the_job_is_in_the_port_is_closed():
    feed = serve(20_000)
    decode = feed.decoder()
    first = socket.create_connection(("127.0.0.1", feed.port))
    try:
        assert decode(read_line(first).decode().rstrip()) == []  # proves it
        assert feed.connected.wait(10)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", feed.port), timeout=5)
    finally:
        read_all(first)
        first.close()


def test_a_line_sealed_with_another_key_or_changed_is_refused_with_a_log_line(caplog):
    job_side = FeedDecoder("sensors", Sealer.new_key())
    forged = Sealer(Sealer.new_key()).seal([("injected", None)]).decode().rstrip()
    genuine = Sealer(job_side.key).seal([("real", 1)]).decode().rstrip()
    raw = bytearray(base64.b64decode(genuine))
    raw[-1] ^= 1
    tampered = base64.b64encode(bytes(raw)).decode()
    with caplog.at_level(logging.ERROR, logger=feed_module.__name__):
        assert job_side(forged) == [] and job_side(tampered) == []
        assert job_side("not base64 at all!") == []
    assert job_side(genuine) == [("real", 1)]
    refused = [r.getMessage() for r in caplog.records]
    assert len(refused) == 3 and all(
        m.startswith("flink feed of 'sensors': refused a line not sealed by this job's driver")
        for m in refused)


def listening(pid: int) -> List[str]:
    """The addresses process ``pid`` listens on (TCP, from /proc)."""
    import os

    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("tcp", "tcp6"):
        with open(f"/proc/net/{table}") as f:
            for row in f.read().splitlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    host = bytes.fromhex(cols[1].split(":")[0])
                    if table == "tcp":
                        found.append(socket.inet_ntop(socket.AF_INET, host[::-1]))
                    else:
                        words = b"".join(host[i:i + 4][::-1] for i in range(0, 16, 4))
                        found.append(socket.inet_ntop(socket.AF_INET6, words))
    return found


@pytest.mark.slow
@pytest.mark.flink
def test_the_real_job_gets_its_input_while_a_rogue_knocks_and_listens_on_loopback(monkeypatch):
    rogue: List[Any] = []
    start = DriverFeed.start

    def first_in(self: DriverFeed, job: Any) -> None:  # a process that connects before the job
        rogue.append(socket.create_connection(("127.0.0.1", self.port)))
        start(self, job)
        rogue.append(self)
    monkeypatch.setattr(DriverFeed, "start", first_in)

    def readings():
        for i in range(200):
            if i % 50 == 0:
                time.sleep(0.1)
            yield ("abc"[i % 3], i)

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("flink")
    out: List[Any] = []
    env.from_iterable(readings).key_by(lambda r: r[0]).sum(1).add_sink(out.append)
    refused: List[bool] = []

    def knock_later() -> None:
        deadline = time.monotonic() + 120
        while len(rogue) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rogue[1].connected.wait(120)
        try:
            socket.create_connection(("127.0.0.1", rogue[1].port), timeout=5).close()
            refused.append(False)
        except ConnectionRefusedError:
            refused.append(True)
    knocker = threading.Thread(target=knock_later)
    knocker.start()
    env.execute("fed")
    knocker.join(120)
    assert refused == [True]
    got = read_all(rogue[0])
    assert got.startswith(b"?") and got.count(b"\n") == 1 and SECRET.encode() not in got
    rogue[0].close()
    finals = {}
    for key, total in out:
        finals[key] = max(finals.get(key, 0), total)
    assert finals == {k: sum(i for i in range(200) if "abc"[i % 3] == k) for k in "abc"}
    # the shared mini-cluster: every server on loopback, the web UI cannot submit or cancel
    from pyflink.java_gateway import get_gateway

    from nbstream.runtime.executors import get_executor

    jvm = get_gateway().jvm.java.lang.ProcessHandle.current().pid()
    addresses = listening(jvm)
    assert addresses and set(addresses) <= {"127.0.0.1", "::ffff:127.0.0.1"}, addresses
    port = get_executor("flink")._cluster[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as answer:
        features = json.loads(answer.read())["features"]
    assert features["web-submit"] is False and features["web-cancel"] is False
