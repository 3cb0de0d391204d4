"""Live web feeds (server-sent events, WebSocket, HTTP polling) against aiohttp servers
on loopback made here (:class:`~nbstream.connectors.web.LocalFeedServer`), each bounded
in its number of events and every wait bounded in time."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter
from typing import Any, List

import pytest

from nbstream import (StreamExecutionEnvironment, Time, TumblingEventTimeWindows,
                      UserFunctionError, WatermarkStrategy, Duration)
from nbstream.connectors.recording import clear_recording
from nbstream.connectors.web import HttpPolling, LocalFeedServer, ServerSentEvents, WebSocketFeed

BASE_TS = 1_700_000_000_000
EVENTS = [{"n": i, "page": f"p{i % 3}", "ts": BASE_TS + i * 400} for i in range(30)]


def env_for(mode: str = "thread", parallelism: int = 1) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    return env


def window_counts(events: List[Any]) -> Counter:
    """Reference: events per page and 2 s window."""
    return Counter((e["page"], e["ts"] - e["ts"] % 2000) for e in events)


def windowed(env: StreamExecutionEnvironment, feed: Any, size_ms: int = 2000) -> Any:
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(500))
    return (env.from_source(feed, strategy, "feed")
            .map(lambda e: (e["page"], e["ts"] - e["ts"] % size_ms, 1))
            .key_by(lambda t: (t[0], t[1]))
            .window(TumblingEventTimeWindows.of(Time.milliseconds(size_ms)))
            .reduce(lambda a, b: (a[0], a[1], a[2] + b[2])))


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_server_sent_events_with_timestamps_from_a_field(mode):
    with LocalFeedServer(EVENTS, interval_s=0.005) as server:
        feed = ServerSentEvents(server.url("sse"), timestamp="ts", limit=len(EVENTS))
        got = list(windowed(env_for(mode), feed).execute_and_collect())
    assert Counter({(p, w): c for p, w, c in got}) == window_counts(EVENTS)


def test_server_sent_events_reconnect_and_resume_at_the_last_event_id():
    with LocalFeedServer(EVENTS, interval_s=0.002, drop_after=10) as server:
        feed = ServerSentEvents(server.url("sse"), timestamp="ts", limit=len(EVENTS),
                                backoff_s=(0.05, 0.2))
        it = env_for().from_source(feed, WatermarkStrategy.no_watermarks(), "feed") \
            .execute_and_collect()
        got = [e["n"] for e in it]
        metrics = next(m for k, m in it.job.metrics().items() if "Source" in k)
    assert got == list(range(30))  # nothing lost, nothing twice
    assert server.connections == 3 and metrics["feed_reconnects"] == 2


def test_websocket_messages_with_arrival_time():
    with LocalFeedServer(EVENTS[:20], interval_s=0.002) as server:
        before = int(time.time() * 1000)
        feed = WebSocketFeed(server.url("ws"), limit=20)
        got = list(env_for().from_source(feed, WatermarkStrategy.no_watermarks(), "ws")
                   .process(_with_timestamp()).execute_and_collect())
        after = int(time.time() * 1000)
    assert [e["n"] for e, _ in got] == list(range(20))
    assert all(before <= ts <= after for _, ts in got)


def _with_timestamp() -> Any:
    from nbstream import ProcessFunction

    class WithTs(ProcessFunction):
        def process_element(self, value, ctx):
            yield value, ctx.timestamp()
    return WithTs()


def test_http_polling_drops_what_it_has_seen():
    with LocalFeedServer(EVENTS, poll_size=12, poll_step=5) as server:
        feed = HttpPolling(server.url("poll"), interval_s=0.01, timestamp="ts",
                           dedupe_key=lambda e: e["n"], limit=len(EVENTS))
        got = [e["n"] for e in env_for().from_source(feed, WatermarkStrategy.no_watermarks(),
                                                     "poll").execute_and_collect()]
    assert got == list(range(30))


def test_a_slow_pipeline_slows_the_feed_down():
    """Backpressure: the reader stops reading while the task's hand-off is full, so the
    server can only get as far ahead as the socket buffers allow."""
    big = [{"n": i, "pad": "x" * 1000} for i in range(60_000)]  # 60 MB if nothing held back
    with LocalFeedServer(big, interval_s=0) as server:
        feed = ServerSentEvents(server.url("sse"))
        env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 50})

        def slow(e: Any) -> int:
            time.sleep(0.002)
            return e["n"]

        it = env.from_source(feed, WatermarkStrategy.no_watermarks(), "big").map(slow) \
            .execute_and_collect()
        seen = 0
        for _ in it:
            seen += 1
            if seen == 500:
                break
        ahead = server.sent - seen
        it.close()
    assert ahead < 30_000, f"the server got {ahead} events ahead: nothing held it back"


def test_status_connected_and_last_event_in_the_metrics():
    with LocalFeedServer(EVENTS, interval_s=0.01, loop_forever=True) as server:
        feed = ServerSentEvents(server.url("sse"))
        job = env_for().from_source(feed, WatermarkStrategy.no_watermarks(), "live") \
            .execute_and_collect()
        next(job)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            metrics = next(m for k, m in job.job.metrics().items() if "Source" in k)
            if metrics["feed_status"] == "connected" and metrics["feed_last_event_ms"] > 0:
                break
            time.sleep(0.02)
        job.close()
    assert metrics["feed_status"] == "connected"
    assert abs(metrics["feed_last_event_ms"] - time.time() * 1000) < 60_000


def test_explain_says_a_feed_cannot_replay_and_how_to_record_it():
    env = env_for()
    env.from_source(ServerSentEvents("http://127.0.0.1:9/sse"), WatermarkStrategy.no_watermarks(),
                    "wiki").print()
    assert "live: a live feed cannot replay: env.record(name) records it" in env.explain()


def test_a_recorded_feed_replays_with_an_edited_window(tmp_path, monkeypatch):
    monkeypatch.setenv("NBSTREAM_RECORDINGS", str(tmp_path))
    with LocalFeedServer(EVENTS, interval_s=0.002) as server:
        env = env_for()
        env.record("feed")
        first = list(windowed(env, ServerSentEvents(server.url("sse"), timestamp="ts",
                                                     limit=len(EVENTS))).execute_and_collect())
    assert Counter({(p, w): c for p, w, c in first}) == window_counts(EVENTS)
    env.replay("feed", speed="max")  # the server is gone: the recording stands in
    again = list(windowed(env, ServerSentEvents("http://127.0.0.1:9/sse", timestamp="ts"),
                          size_ms=4000).execute_and_collect())
    want = Counter((e["page"], e["ts"] - e["ts"] % 4000) for e in EVENTS)
    assert Counter({(p, w): c for p, w, c in again}) == want
    clear_recording("feed")


def test_an_unreachable_server_fails_within_the_timeout_naming_the_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feed = ServerSentEvents(f"http://127.0.0.1:{port}/sse", give_up_after_s=1.0,
                            backoff_s=(0.1, 0.3))
    started = time.monotonic()
    with pytest.raises(UserFunctionError, match=rf"server-sent events feed http://127.0.0.1:{port}/sse: "
                                                r"no connection for 1 s"):
        list(env_for().from_source(feed, WatermarkStrategy.no_watermarks(), "x")
             .execute_and_collect())
    assert time.monotonic() - started < 15


def test_a_malformed_message_names_the_feed_and_the_message():
    with LocalFeedServer([{"n": 1}, "not json {", {"n": 3}], interval_s=0) as server:
        feed = WebSocketFeed(server.url("ws"), parse=_strict_dict)
        with pytest.raises(UserFunctionError) as info:
            list(env_for().from_source(feed, WatermarkStrategy.no_watermarks(), "ws")
                 .execute_and_collect())
    text = str(info.value)
    assert f"WebSocket feed {server.url('ws')}: cannot parse the message" in text
    assert "not json {" in text and "message 2" in text


def _strict_dict(text: str) -> Any:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {type(value).__name__}")
    return value
