"""Record & replay: a live socket source recorded to Arrow IPC files, replayed deterministically."""

from __future__ import annotations

import collections
import socket
import threading
import time

import pytest

from nbstream import (Duration, PlanError, StreamExecutionEnvironment, Time,
                      TumblingEventTimeWindows, WatermarkStrategy)
from nbstream.connectors.recording import clear_recording, list_recordings, recordings_dir


@pytest.fixture(autouse=True)
def recordings(tmp_path, monkeypatch):
    monkeypatch.setenv("NBSTREAM_RECORDINGS", str(tmp_path / "recordings"))
    return tmp_path / "recordings"


class LineServer:
    """Sends ``lines`` to the first client, ``pause`` seconds apart, then closes."""

    def __init__(self, lines, pause: float = 0.0) -> None:
        self.lines, self.pause = lines, pause
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            for line in self.lines:
                conn.sendall((line + "\n").encode())
                if self.pause:
                    time.sleep(self.pause)
        self.sock.close()


def live_lines(n: int):
    # "key,event time": keys rotate, times grow with small disorder
    return [f"k{i % 3},{i * 100 + (37 * i) % 90}" for i in range(n)]


def windowed(env, stream, size_ms: int):
    parsed = stream.map(lambda line: (line.split(",")[0], int(line.split(",")[1])))
    return (parsed.assign_timestamps_and_watermarks(
                WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(100))
                .with_timestamp_assigner(lambda e, _: e[1]))
            .map(lambda e: (e[0], 1))
            .key_by(lambda e: e[0])
            .window(TumblingEventTimeWindows.of(Time.milliseconds(size_ms)))
            .reduce(lambda a, b: (a[0], a[1] + b[1])))


def reference(lines, size_ms: int):
    """Plain Python: counts per key and window over every record (in order, none late)."""
    counts = collections.Counter()
    for line in lines:
        key, ts = line.split(",")
        counts[(key, int(ts) // size_ms)] += 1
    return sorted((k, c) for (k, _), c in counts.items())


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_record_a_socket_then_replay_an_edited_pipeline_twice(mode):
    lines = live_lines(300)
    server = LineServer(lines, pause=0.001)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.record("clicks")
    live = sorted(windowed(env, env.socket_text_stream("127.0.0.1", server.port), 1000)
                  .execute_and_collect())
    assert live == reference(lines, 1000)
    [rec] = list_recordings()
    assert rec["name"] == "clicks" and rec["records"] == 300
    assert rec["sources"] == ["Source: Socket Stream 127.0.0.1:%d" % server.port]
    assert rec["bytes"] > 0 and rec["first_ms"] <= rec["last_ms"]

    replays = []
    for _ in range(2):  # the window size was edited; the socket is gone: the recording feeds it
        env.replay("clicks", speed="max")
        replays.append(sorted(windowed(env, env.socket_text_stream("127.0.0.1", server.port), 700)
                              .execute_and_collect()))
    assert replays[0] == replays[1] == reference(lines, 700)


def test_paced_replay_keeps_order_and_timestamps():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("paced")

    def gen():
        for i in range(20):
            time.sleep(0.005)
            yield i

    assert list(env.from_iterable(gen).uid("numbers").execute_and_collect()) == list(range(20))
    env.replay("paced", speed=10)
    assert list(env.from_iterable(lambda: iter(())).uid("numbers").execute_and_collect()) == \
        list(range(20))


def test_sources_are_matched_by_uid_else_name():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("two")
    a = env.from_collection([1, 2]).uid("a")
    b = env.from_collection([10, 20]).uid("b")
    assert sorted(a.union(b).execute_and_collect()) == [1, 2, 10, 20]
    env.replay("two", speed="max")
    a = env.from_collection([0]).uid("a").map(lambda x: ("a", x))
    b = env.from_collection([0]).uid("b").map(lambda x: ("b", x))
    assert sorted(a.union(b).execute_and_collect()) == [("a", 1), ("a", 2), ("b", 10), ("b", 20)]


def test_replay_of_a_missing_name_fails_clearly():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.replay("nothing-here")
    with pytest.raises(PlanError, match="there is no recording named 'nothing-here' "
                                        r"\(recordings: none\)"):
        env.from_collection([1]).execute_and_collect()


def test_replay_with_different_sources_fails_naming_both():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("one")
    list(env.from_collection([1]).uid("clicks").execute_and_collect())
    env.replay("one")
    with pytest.raises(PlanError, match=r"it has \['clicks'\], the pipeline has \['views'\]"):
        env.from_collection([1]).uid("views").execute_and_collect()


def test_replay_of_a_corrupt_file_fails_before_the_job_starts(recordings):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("broken")
    list(env.from_collection(list(range(10))).uid("s").execute_and_collect())
    [data] = list((recordings / "broken").glob("*.arrow"))
    data.write_bytes(data.read_bytes()[:40])
    env.replay("broken", speed="max")
    with pytest.raises(PlanError, match=r"recording .broken. is damaged: s\.0\.0\.arrow changed after it was written"):
        env.from_collection([1]).uid("s").execute_and_collect()


def test_a_size_limit_stops_the_recording_not_the_job(capsys):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.record("small", max_bytes=1)
    assert len(list(env.from_collection(list(range(10_000))).uid("s").execute_and_collect())) \
        == 10_000
    assert "the recording stopped because its size passed 1 bytes" in capsys.readouterr().out
    assert list_recordings()[0]["records"] < 10_000


def test_values_of_mixed_kinds_round_trip():
    values = [1, 2.5, "three", True, None, (4, "four"), {"five": [5]}, 2 ** 70] * 2000
    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("mixed")
    assert list(env.from_collection(values).uid("s").execute_and_collect()) == values
    env.replay("mixed", speed="max")
    assert list(env.from_collection([0]).uid("s").execute_and_collect()) == values


def test_a_duration_limit_stops_the_recording_not_the_job(capsys):
    def slow():
        for i in range(30):
            time.sleep(0.02)
            yield i

    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("short", max_seconds=0.2)
    assert list(env.from_iterable(slow).uid("s").execute_and_collect()) == list(range(30))
    assert "the recording stopped because it ran for 0.2 s" in capsys.readouterr().out
    assert 0 < list_recordings()[0]["records"] < 30


def test_recordings_are_listed_and_cleared():
    env = StreamExecutionEnvironment.get_execution_environment()
    for name in ("a", "b"):
        env.record(name)
        list(env.from_collection([1, 2, 3]).execute_and_collect())
    assert [(r["name"], r["records"]) for r in list_recordings()] == [("a", 3), ("b", 3)]
    clear_recording("a")
    assert [r["name"] for r in list_recordings()] == ["b"]
    with pytest.raises(PlanError, match="no recording named 'a'"):
        clear_recording("a")
    assert (recordings_dir() / "b").exists()


@pytest.mark.slow
@pytest.mark.flink
def test_a_recording_replays_in_flink_mode_as_in_thread_mode():
    data = [(i % 3, i) for i in range(50)]
    env = StreamExecutionEnvironment.get_execution_environment()
    env.record("keyed")
    assert list(env.from_collection(data).uid("s").execute_and_collect()) == data
    got = {}
    for mode in ("thread", "flink"):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_execution_mode(mode)
        env.set_parallelism(1)
        env.replay("keyed", speed="max")
        got[mode] = sorted(env.from_collection([(0, 0)]).uid("s").key_by(lambda e: e[0])
                           .reduce(lambda a, b: (a[0], a[1] + b[1])).execute_and_collect())
    assert got["flink"] == got["thread"] and len(got["thread"]) == 50
