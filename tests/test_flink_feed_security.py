"""The flink mode's driver feed: a process other than the job's own reads nothing but
ciphertext, cannot get in once the job is connected, and cannot make the job unpickle
its bytes. Real sockets on loopback; one real Flink job."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time
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


def serve(n: int = 50) -> DriverFeed:
    feed = DriverFeed("sensors", Records(n), "127.0.0.1")
    feed.start(JobClient("feed test"))
    return feed


def test_whoever_connects_first_reads_only_ciphertext():
    feed = serve()
    with socket.create_connection(("127.0.0.1", feed.port)) as rogue:
        got = read_all(rogue)
    assert got and SECRET.encode() not in got
    lines = got.decode().split()
    assert len(lines) == 50
    assert all(SECRET.encode() not in base64.b64decode(line) for line in lines)
    # only the key the job carries opens them
    assert feed.decoder()(lines[0]) == [((SECRET, 0), None)]


def test_a_second_connection_is_refused():
    feed = serve()
    first = socket.create_connection(("127.0.0.1", feed.port))
    try:
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


@pytest.mark.slow
@pytest.mark.flink
def test_the_real_job_runs_while_a_rogue_knocks(monkeypatch):
    feeds: List[DriverFeed] = []
    start = DriverFeed.start

    def spy(self: DriverFeed, job: Any) -> None:  # learn the port, as a rogue scanning would
        feeds.append(self)
        start(self, job)
    monkeypatch.setattr(DriverFeed, "start", spy)

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

    def rogue() -> None:
        deadline = time.monotonic() + 60
        while not feeds and time.monotonic() < deadline:
            time.sleep(0.01)
        assert feeds[0].connected.wait(60)
        try:
            socket.create_connection(("127.0.0.1", feeds[0].port), timeout=5).close()
            refused.append(False)
        except ConnectionRefusedError:
            refused.append(True)
    knocker = threading.Thread(target=rogue)
    knocker.start()
    env.execute("fed")
    knocker.join(60)
    assert refused == [True]
    finals = {}
    for key, total in out:
        finals[key] = max(finals.get(key, 0), total)
    expected = {k: sum(i for i in range(200) if "abc"[i % 3] == k) for k in "abc"}
    assert finals == expected
