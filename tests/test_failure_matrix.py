"""A failing step fails its job promptly, with the user's error, whatever the source.

Every source kind x every failing position (the first step, a later fused step, the sink,
a key selector) x every execution mode x a short, a long and (where the source can be) an
endless input. A failure next to a source that still has data to give used to leave the
job RUNNING for ever (the source's reader waited for room only a cancel freed) and a later
cancel reported CANCELED with the user's exception gone.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from typing import Any, Iterator, Optional

import pandas as pd
import pytest

from nbstream import JobStatus, SourceFunction, StreamExecutionEnvironment, UserFunctionError

FAIL_AT = 5  # the value whose processing raises
LENGTHS = {"short": 10, "long": 100_000, "endless": None}
WAIT_S = 30  # a hang detector, not a timing assertion: a healthy run fails in milliseconds


class Boom(ValueError):
    pass


def value(record: Any) -> int:
    """The int a record carries, whatever shape the source gives it."""
    if isinstance(record, (tuple, list)):
        record = record[0]
    return int(record)


def check(record: Any) -> Any:
    if value(record) == FAIL_AT:
        raise Boom(f"bad record {record!r}")
    return record


def keep(record: Any) -> bool:
    return check(record) is not None


def key_of(record: Any) -> int:
    return value(check(record)) % 3


def ignore(record: Any) -> None:
    return None


def endless() -> Iterator[int]:
    return iter(itertools.count())


class Numbers(SourceFunction):
    def __init__(self, n: Optional[int]) -> None:
        self.n = n
        self.running = True

    def run(self, ctx: Any) -> None:
        for i in (itertools.count() if self.n is None else range(self.n)):
            if not self.running:
                return
            ctx.collect(i)

    def cancel(self) -> None:
        self.running = False


class LineServer:
    """Serves the lines 0, 1, 2... (``n`` of them, or until the client goes) on loopback."""

    def __init__(self, n: Optional[int]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.n = n
        self.thread = threading.Thread(target=self._serve, daemon=True, name="test line server")
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(WAIT_S)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        deadline = time.monotonic() + WAIT_S
        with conn:
            numbers = itertools.count() if self.n is None else range(self.n)
            chunk = []
            for i in numbers:
                chunk.append(f"{i}\n")
                if len(chunk) == 1000 or (self.n is not None and i == self.n - 1):
                    try:
                        conn.sendall("".join(chunk).encode())
                    except OSError:
                        return  # the job went away
                    chunk = []
                if time.monotonic() > deadline:
                    return

    def close(self) -> None:
        self.sock.close()
        self.thread.join(WAIT_S)


def make_source(kind: str, n: Optional[int], env: StreamExecutionEnvironment, tmp_path, cleanup):
    if kind == "collection":
        return env.from_collection(list(range(n)))
    if kind == "sequence":
        return env.from_sequence(0, n - 1)
    if kind == "iterable":
        return env.from_iterable(endless if n is None else (lambda: iter(range(n))))
    if kind == "source_function":
        return env.add_source(Numbers(n))
    if kind == "dataframe":
        return env.from_dataframe(pd.DataFrame({"v": range(n)}), rows="tuple")
    if kind == "text_file":
        path = tmp_path / "numbers.txt"
        path.write_text("".join(f"{i}\n" for i in range(n)))
        return env.read_text_file(str(path))
    if kind == "socket":
        server = LineServer(n)
        cleanup.append(server.close)
        return env.socket_text_stream("127.0.0.1", server.port)
    raise AssertionError(kind)


BOUNDED = ["collection", "sequence", "dataframe", "text_file"]
UNBOUNDED = ["iterable", "source_function", "socket"]
SOURCES = ([(k, length) for k in BOUNDED for length in ("short", "long")]
           + [(k, length) for k in UNBOUNDED for length in LENGTHS])


def pipeline(position: str, stream: Any) -> str:
    """Attach the failing step; return how the error must name its step and function."""
    if position == "first":
        stream.map(check).name("first").add_sink(ignore)
        return "step 'first' failed in check"
    if position == "fused":
        stream.map(lambda r: r).name("pass").filter(keep).name("later").add_sink(ignore)
        return "step 'later' failed in keep"
    if position == "sink":
        stream.add_sink(check).name("the sink")
        return "step 'the sink' failed in check"
    if position == "key":
        stream.key_by(key_of).map(lambda r: r).name("after key").add_sink(ignore)
        return "step 'key_by into 'after key'' failed in key_of"
    raise AssertionError(position)


@pytest.mark.parametrize("position", ["first", "fused", "sink", "key"])
@pytest.mark.parametrize("source,length", SOURCES, ids=[f"{k}-{length}" for k, length in SOURCES])
@pytest.mark.parametrize("exec_mode", ["thread", "process", "auto"])
def test_a_failing_step_fails_the_job_with_the_users_error(exec_mode, source, length, position,
                                                           tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(exec_mode)
    cleanup: list = []
    try:
        blame = pipeline(position, make_source(source, LENGTHS[length], env, tmp_path, cleanup))
        job = env.execute_async(f"fail-{source}-{position}")
        assert job.wait(WAIT_S), f"the job hangs: {job.status}"
        assert job.status is JobStatus.FAILED
        error = job.error
        assert isinstance(error, UserFunctionError), repr(error)
        assert isinstance(error.__cause__, Boom)
        assert blame in str(error) and "bad record" in str(error)
        job.cancel()  # a cancel after the failure keeps it
        assert job.status is JobStatus.FAILED and job.error is error
    finally:
        for close in cleanup:
            close()
