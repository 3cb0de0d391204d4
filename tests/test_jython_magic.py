"""``%%stream --jython`` in a real kernel: a cell holding an old Flink (Jython) Python
streaming program runs on nbstream in the notebook's mode and parallelism, its job
shown live under the cell; its printed records match the plain-Python references of
tests/test_jython_compat.py."""

from __future__ import annotations

import time

import pytest

from kernel import Kernel
from tests.test_jython_compat import (PROGRAMS, count_window_lines, count_window_reference,
                                      iterate_reference, receive, records,
                                      rolling_counts_reference, serve_lines,
                                      split_select_reference, word_count_reference,
                                      word_totals)


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    assert k.execute("%load_ext nbstream").ok
    yield k
    k.execute("%stream_stop --all")
    k.close()


def program(name: str) -> str:
    return (PROGRAMS / f"{name}.py").read_text()


def jython_cell(kernel, args: str, body: str, timeout: float = 120):
    cell = kernel.execute(f"%%stream --jython {args}\n{body}", timeout=timeout)
    assert cell.ok, cell.error
    return cell


def value(kernel, expression: str) -> str:
    cell = kernel.execute(f"print({expression})")
    assert cell.ok, cell.error
    return cell.stdout.strip()


def test_word_count_runs_with_params_and_shows_its_job_live(kernel):
    cell = jython_cell(kernel, "--blocking --name wc --to wc --parallelism 2 - 300 1.5",
                       program("word_count"))
    assert word_totals(records(cell.stdout)) == word_count_reference(300)
    assert all(line[:3] in ("1> ", "2> ") for line in cell.stdout.splitlines())
    assert len(cell.widget_ids()) == 1
    assert "nbstream job 'wc' [thread]" in cell.displays[0]["data"]["text/plain"]
    assert value(kernel, "wc.status, wc.mode") == "finished thread"
    assert value(kernel, "'main' in dir(), 'Tokenizer' in dir()") == "False False"


def test_the_notebooks_mode_and_parallelism_reach_main(kernel):
    assert kernel.execute("%set_mode process").ok
    assert kernel.execute("%set_parallelism 2").ok
    try:
        cell = jython_cell(kernel, "--blocking --to split - 40", program("split_select"))
        assert records(cell.stdout) == split_select_reference(40)
        assert {line[:3] for line in cell.stdout.splitlines()} == {"1> ", "2> "}
        assert value(kernel, "split.mode, split.status") == "process finished"
        cell = jython_cell(kernel, "--blocking --mode thread --parallelism 1",
                           program("iterate"))
        assert records(cell.stdout) == iterate_reference()
        assert not any(line[:3] in ("1> ", "2> ") for line in cell.stdout.splitlines())
    finally:
        kernel.execute("%set_mode thread")
        kernel.execute("%set_parallelism 1")


def test_a_cell_returns_at_once_and_its_widget_follows_the_job(kernel):
    # the source blocks on a socket until the test sends the lines
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    go = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            go.wait(30)
            conn.sendall(b"a b a\n")
        server.close()
    threading.Thread(target=serve, daemon=True).start()
    body = (
        "from org.apache.flink.api.common.functions import MapFunction\n"
        "class Upper(MapFunction):\n"
        "    def map(self, value):\n"
        "        return value.upper()\n"
        "def main(factory):\n"
        "    env = factory.get_execution_environment()\n"
        f"    env.socket_text_stream('127.0.0.1', {server.getsockname()[1]})"
        ".map(Upper()).output()\n"
        "    env.execute()\n")
    cell = jython_cell(kernel, "--name live --to live", body)
    [comm_id] = cell.widget_ids()
    assert value(kernel, "live.status") == "running"
    go.set()
    deadline = time.monotonic() + 30
    while kernel.widget_state(comm_id).get("status") != "finished":
        assert time.monotonic() < deadline, kernel.widget_state(comm_id).get("status")
        time.sleep(0.05)
    assert value(kernel, "live.status") == "finished"


def test_count_windows_and_the_three_sinks_in_a_cell(kernel, tmp_path):
    lines = count_window_lines(11)
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "closed").mkdir()
    cell = jython_cell(kernel, f"--blocking --parallelism 2 - {(tmp_path / 'in.txt').as_uri()} "
                               f"{tmp_path / 'closed'}", program("count_windows"))
    assert records(cell.stdout) == count_window_reference(lines)
    assert len(list((tmp_path / "closed").iterdir())) == 2

    words = ["one two", "two three three"]
    source, received = serve_lines(words), []
    target = receive(received)
    out_file = tmp_path / "counts.txt"
    cell = jython_cell(kernel, f"--blocking - 127.0.0.1 {source.getsockname()[1]} "
                               f"{target.getsockname()[1]} {out_file}", program("sinks"))
    expected = rolling_counts_reference(words)
    assert records(cell.stdout) == expected
    assert records(out_file.read_text()) == expected
    assert records((tmp_path / "counts.txt.sink").read_text()) == expected
    deadline = time.monotonic() + 10
    while b"".join(received).count(b"|") < sum(expected.values()):
        assert time.monotonic() < deadline, received
        time.sleep(0.02)


@pytest.mark.parametrize("body,message", [
    ("def run(factory):\n    pass\n", "has no main(factory) function"),
    ("from org.apache.flink.streaming.connectors.kafka import FlinkKafkaConsumer09\n",
     "line 1: FlinkKafkaConsumer09 (org.apache.flink.streaming.connectors.kafka) is not "
     "available in nbstream's old Flink Python API: read input with socket_text_stream"),
    ("from org.apache.flink.api.common.functions import FlatMapFunction\n"
     "class Tokenizer(FlatMapFunction):\n"
     "    def flatmap(self, value, collector):\n"
     "        collector.collect(value)\n"
     "def main(factory):\n"
     "    env = factory.get_execution_environment()\n"
     "    env.from_elements('a').flat_map(Tokenizer()).output()\n"
     "    env.execute()\n",
     "line 7: flat_map(): Tokenizer (a FlatMapFunction) has no method "
     "flatMap(self, value, collector)"),
])
def test_bad_programs_get_one_line_errors(kernel, body, message):
    cell = kernel.execute(f"%%stream --jython\n{body}")
    assert not cell.ok
    assert cell.error["ename"] == "UsageError"
    assert message in cell.error["evalue"]
    assert "\n" not in cell.error["evalue"]
    assert cell.error["evalue"].startswith("%%stream --jython: ")
