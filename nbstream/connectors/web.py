"""Live web feeds as sources: server-sent events, WebSockets and HTTP polling, on aiohttp
(the ``nbstream[web]`` extra).

A feed is read by one source instance on a reader thread of its own running an asyncio
loop. Each message is parsed (``parse``: JSON by default), gets its event time from a
field (``timestamp="ts"``), a function, or its arrival time, and is handed to the task;
when the task's hand-off is full the reader stops reading the connection, so the server
is slowed by TCP's own flow control rather than memory growing (backpressure). A lost
connection is opened again with exponential backoff (server-sent events send
``Last-Event-ID``, so a server that keeps history resumes where the feed stopped); a feed
that cannot connect for ``give_up_after_s`` fails the job with an error naming the URL.
Its state (``feed_status``: connecting, connected, reconnecting; ``feed_last_event_ms``;
``feed_reconnects``) is in ``job.metrics()`` and the live view.

A live feed cannot replay: after a restore it reads on from the new connection (at most
once), and ``explain()`` says so. ``env.record(name)`` (or ``%%stream --record``) writes
what it read, and ``env.replay(name)`` runs the same pipeline on the recording, as often
as wanted, while its windows are edited.

>>> server = LocalFeedServer([{"n": i, "ts": 1000 * i} for i in range(3)], interval_s=0)
>>> from nbstream import StreamExecutionEnvironment, WatermarkStrategy
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> feed = ServerSentEvents(server.url("sse"), timestamp="ts", limit=3)
>>> [e["n"] for e in env.from_source(feed, WatermarkStrategy.no_watermarks(), "feed")
...                       .execute_and_collect()]
[0, 1, 2]
>>> server.close()
"""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
import time
from collections import OrderedDict
from typing import Any, AsyncIterator, Callable, Dict, Iterable, List, Optional, Tuple, Union

from ..errors import NotAvailableError, PlanError, short_repr
from .sources import SourceSpec, _Reader

__all__ = ["ServerSentEvents", "WebSocketFeed", "HttpPolling", "LocalFeedServer"]

Timestamp = Union[None, str, Callable[[Any], Any]]
_LIVE = ("a live feed cannot replay: env.record(name) records it, env.replay(name) runs the "
         "job on the recording")


def _aiohttp() -> Any:
    try:
        import aiohttp
    except ImportError:
        raise NotAvailableError("live web feeds need aiohttp: pip install 'nbstream[web]'") from None
    return aiohttp


def _millis(value: Any) -> int:
    """Event time from a field: epoch ms (int), seconds (float), ISO-8601 text, datetimes."""
    if isinstance(value, bool):
        raise TypeError(f"not a timestamp: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value * 1000) if value < 1e11 else int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp() * 1000)
    raise TypeError(f"not a timestamp: {short_repr(value, 60)}")


class _Feed:
    """What every feed shares; see the subclasses."""

    kind = "feed"

    def __init__(self, url: str, *, parse: Optional[Callable[[Any], Any]] = json.loads,
                 timestamp: Timestamp = None, headers: Optional[Dict[str, str]] = None,
                 limit: Optional[int] = None, connect_timeout_s: float = 10.0,
                 give_up_after_s: float = 60.0, backoff_s: Tuple[float, float] = (0.5, 30.0)) -> None:
        _aiohttp()
        if not isinstance(url, str) or "://" not in url:
            raise PlanError(f"{type(self).__name__}: a URL such as http://host/path, not {url!r}")
        if limit is not None and limit < 1:
            raise PlanError(f"{type(self).__name__}: limit must be at least 1, not {limit}")
        self.url, self.parse, self.timestamp = url, parse, timestamp
        self.headers = dict(headers or {})
        self.limit = limit
        self.connect_timeout_s, self.give_up_after_s = connect_timeout_s, give_up_after_s
        self.backoff_s = backoff_s

    def _nbstream_from_source(self, env: Any, watermark_strategy: Any, name: str,
                              type_info: Any = None) -> Any:
        ds = env._source(FeedSpec(self), f"Source: {name}", type_info)
        if watermark_strategy is not None:
            ds = ds.assign_timestamps_and_watermarks(watermark_strategy)
        return ds

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    # a subclass yields raw messages (text or bytes) of one connection; the reader is
    # told of a connection with reader.connected()
    def _messages(self, session: Any, reader: "FeedReader") -> AsyncIterator[Any]:
        raise NotImplementedError


class ServerSentEvents(_Feed):
    """A ``text/event-stream`` (server-sent events): every event's data is a record.

    ``events``: the event types to take (default: all). On reconnecting, the last
    event's id goes along as ``Last-Event-ID``; a ``retry:`` field sets the wait.
    """

    kind = "server-sent events"

    def __init__(self, url: str, *, events: Optional[Iterable[str]] = None, **options: Any) -> None:
        super().__init__(url, **options)
        self.events = set(events) if events is not None else None

    async def _messages(self, session: Any, reader: "FeedReader") -> AsyncIterator[Any]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **self.headers}
        if reader.last_event_id:
            headers["Last-Event-ID"] = reader.last_event_id
        async with session.get(self.url, headers=headers) as response:
            response.raise_for_status()
            reader.connected()
            data: List[str] = []
            event = ""
            async for raw in response.content:  # lines
                line = raw.decode("utf-8").rstrip("\r\n")
                if not line:  # dispatch
                    if data and (self.events is None or (event or "message") in self.events):
                        yield "\n".join(data)
                    data, event = [], ""
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    data.append(value)
                elif name == "event":
                    event = value
                elif name == "id":
                    reader.last_event_id = value
                elif name == "retry" and value.isdigit():
                    reader.retry_s = int(value) / 1000.0


class WebSocketFeed(_Feed):
    """Messages of a WebSocket; ``send_on_connect``: a message (text, or a dict sent as
    JSON) to send after every connect, such as a subscription."""

    kind = "WebSocket"

    def __init__(self, url: str, *, send_on_connect: Any = None, **options: Any) -> None:
        super().__init__(url, **options)
        self.send_on_connect = send_on_connect

    async def _messages(self, session: Any, reader: "FeedReader") -> AsyncIterator[Any]:
        aiohttp = _aiohttp()
        async with session.ws_connect(self.url, headers=self.headers, heartbeat=30) as ws:
            reader.connected()
            hello = self.send_on_connect
            if hello is not None:
                await ws.send_str(hello if isinstance(hello, str) else json.dumps(hello))
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.TEXT:
                    yield msg.data
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    yield msg.data
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    raise ConnectionError(f"WebSocket error: {ws.exception()}")


class HttpPolling(_Feed):
    """An HTTP resource asked for every ``interval_s``: ``parse`` gives one record or a
    list of them (JSON by default). Unchanged answers (``ETag``) give nothing; with
    ``dedupe_key``, a record whose key was among the last ``dedupe_window`` seen is
    dropped (for APIs that answer with their latest N items)."""

    kind = "HTTP polling"

    def __init__(self, url: str, *, interval_s: float = 5.0,
                 dedupe_key: Optional[Callable[[Any], Any]] = None, dedupe_window: int = 10_000,
                 **options: Any) -> None:
        super().__init__(url, **options)
        if interval_s <= 0:
            raise PlanError(f"HttpPolling: interval_s must be positive, not {interval_s}")
        self.interval_s, self.dedupe_key, self.dedupe_window = interval_s, dedupe_key, dedupe_window

    async def _messages(self, session: Any, reader: "FeedReader") -> AsyncIterator[Any]:
        etag = None
        while True:
            headers = dict(self.headers)
            if etag:
                headers["If-None-Match"] = etag
            async with session.get(self.url, headers=headers) as response:
                response.raise_for_status()
                reader.connected()
                if response.status != 304:
                    etag = response.headers.get("ETag")
                    yield await response.text()
            await asyncio.sleep(self.interval_s)


class FeedSpec(SourceSpec):
    """The plan's spec of a feed: one instance, on a reader thread."""

    live = _LIVE
    after_restore = "reconnects and reads on (at most once: " + _LIVE + ")"

    def __init__(self, feed: _Feed) -> None:
        self.feed = feed

    def create_reader(self, subtask: int, parallelism: int) -> "FeedReader":
        return FeedReader(self.feed)


class FeedReader(_Reader):
    """Reads one feed; its status is read by the task's metrics from another thread."""

    threaded = True

    def __init__(self, feed: _Feed) -> None:
        self.feed = feed
        self.status = "connecting"
        self.last_event_ms = 0
        self.reconnects = 0
        self.last_event_id = ""
        self.retry_s: Optional[float] = None
        self.emitted = 0
        self.stopped = threading.Event()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._main: Optional["asyncio.Task[Any]"] = None
        self._seen: "OrderedDict[Any, None]" = OrderedDict()
        self._down_since: Optional[float] = None

    def seek(self, position: int) -> None:
        """A live feed cannot rewind: it reads on from the new connection."""

    def metrics(self) -> Dict[str, Any]:
        return {"feed_status": self.status, "feed_last_event_ms": self.last_event_ms,
                "feed_reconnects": self.reconnects}

    def connected(self) -> None:
        self.status = "connected"
        self._down_since = None

    def cancel(self) -> None:
        self.stopped.set()
        loop, main = self._loop, self._main
        if loop is not None and main is not None:
            try:
                loop.call_soon_threadsafe(main.cancel)
            except RuntimeError:  # the loop has ended
                pass

    def run(self, ctx: Any) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            self._main = loop.create_task(self._read(ctx))
            if self.stopped.is_set():
                self._main.cancel()
            try:
                loop.run_until_complete(self._main)
            except asyncio.CancelledError:
                pass
        finally:
            self.status = "closed"
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _read(self, ctx: Any) -> None:
        aiohttp = _aiohttp()
        feed = self.feed
        timeout = aiohttp.ClientTimeout(total=None, connect=feed.connect_timeout_s,
                                        sock_connect=feed.connect_timeout_s)
        wait = feed.backoff_s[0]
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self.stopped.is_set():
                error: Optional[BaseException] = None
                try:
                    async for raw in feed._messages(session, self):
                        wait = feed.backoff_s[0]
                        if self._emit(ctx, raw):
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, OSError) as exc:
                    error = exc
                if self.stopped.is_set():
                    return
                now = time.monotonic()
                if self._down_since is None:
                    self._down_since = now
                elif now - self._down_since > feed.give_up_after_s:
                    raise ConnectionError(
                        f"{feed.kind} feed {feed.url}: no connection for "
                        f"{feed.give_up_after_s:g} s (give_up_after_s): "
                        f"{_describe(error) if error else 'the server closed the connection'}")
                self.reconnects += 1
                delay = self.retry_s if self.retry_s is not None else wait
                why = _describe(error) if error else "closed by the server"
                self.status = f"reconnecting in {delay:.1f} s ({why})"
                left = max(0.0, feed.give_up_after_s - (now - self._down_since))
                await asyncio.sleep(min(delay, left + 0.01))
                wait = min(wait * 2, feed.backoff_s[1])

    def _emit(self, ctx: Any, raw: Any) -> bool:
        """Parse one message, hand its records over; True when the limit is reached."""
        feed = self.feed
        try:
            parsed = feed.parse(raw) if feed.parse is not None else raw
        except Exception as exc:
            raise ValueError(f"{feed.kind} feed {feed.url}: cannot parse the message "
                             f"{short_repr(raw, 120)} (message {self.emitted + 1}, "
                             f"event id {self.last_event_id or '-'}): "
                             f"{type(exc).__name__}: {exc}") from exc
        if parsed is None:
            return False
        records = parsed if isinstance(feed, HttpPolling) and isinstance(parsed, list) else [parsed]
        arrival = int(time.time() * 1000)
        for record in records:
            if isinstance(feed, HttpPolling) and feed.dedupe_key is not None:
                key = feed.dedupe_key(record)
                if key in self._seen:
                    continue
                self._seen[key] = None
                if len(self._seen) > feed.dedupe_window:
                    self._seen.popitem(last=False)
            ts = self._timestamp(record, arrival)
            ctx.collect_with_timestamp(record, ts)  # waits while the hand-off is full
            self.last_event_ms = arrival
            self.emitted += 1
            if feed.limit is not None and self.emitted >= feed.limit:
                return True
        return False

    def _timestamp(self, record: Any, arrival: int) -> int:
        how = self.feed.timestamp
        if how is None:
            return arrival
        try:
            value = how(record) if callable(how) else record[how]
            return _millis(value)
        except Exception as exc:
            what = how if isinstance(how, str) else getattr(how, "__name__", "timestamp")
            raise ValueError(f"{self.feed.kind} feed {self.feed.url}: no timestamp "
                             f"{what!r} in {short_repr(record, 120)}: "
                             f"{type(exc).__name__}: {exc}") from exc


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# -- a feed on loopback, standing in for a public one ---------------------------------------------

class LocalFeedServer:
    """An HTTP server on 127.0.0.1 (a thread of this process) that replays ``events``
    (JSON-able values) as server-sent events (``/sse``, with ids, resuming at
    ``Last-Event-ID``), a WebSocket (``/ws``), one event every ``interval_s`` for each
    client, and a JSON list of the latest ``poll_size`` events (``/poll``), where each
    request makes ``poll_step`` more events visible.
    For notebooks without network access and for tests: it stands in for a public feed.
    ``drop_after``: the SSE stream closes after that many events (a flaky server).
    """

    def __init__(self, events: Iterable[Any], interval_s: float = 0.05, loop_forever: bool = False,
                 drop_after: Optional[int] = None, poll_size: int = 20,
                 poll_step: int = 5) -> None:
        from aiohttp import web

        self.events = list(events)
        self.interval_s, self.loop_forever = interval_s, loop_forever
        self.drop_after, self.poll_size, self.poll_step = drop_after, poll_size, poll_step
        self.connections = 0
        self.sent = 0  # events written to clients (all of them)
        self._polled = 0
        self._web = web
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True,
                                        name="local feed server")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("LocalFeedServer did not start")

    def url(self, path: str = "sse") -> str:
        scheme = "ws" if path == "ws" else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{path}"

    def _event(self, i: int) -> Optional[Any]:
        if i < len(self.events):
            return self.events[i]
        if self.loop_forever and self.events:
            return self.events[i % len(self.events)]
        return None

    def _serve(self, ready: threading.Event) -> None:
        web = self._web
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/sse", self._sse)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/poll", self._poll)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()
        self._loop.run_forever()

    async def _sse(self, request: Any) -> Any:
        web = self._web
        self.connections += 1
        start = int(request.headers.get("Last-Event-ID", "-1")) + 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        i, sent = start, 0
        while (event := self._event(i)) is not None:
            if self.drop_after is not None and sent >= self.drop_after:
                break
            await response.write(f"id: {i}\ndata: {json.dumps(event)}\n\n".encode())
            i, sent = i + 1, sent + 1
            self.sent += 1
            await asyncio.sleep(self.interval_s)
        return response

    async def _ws(self, request: Any) -> Any:
        web = self._web
        self.connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        i = 0
        while (event := self._event(i)) is not None and not ws.closed:
            await ws.send_str(json.dumps(event))
            i += 1
            self.sent += 1
            await asyncio.sleep(self.interval_s)
        await ws.close()
        return ws

    async def _poll(self, request: Any) -> Any:
        self.connections += 1
        self._polled = upto = min(self._polled + self.poll_step, len(self.events))
        latest = self.events[max(0, upto - self.poll_size):upto]
        return self._web.json_response(latest)

    def close(self) -> None:
        """Stop serving (open connections are closed)."""
        loop = self._loop
        if loop.is_closed():
            return

        async def stop() -> None:
            await self._runner.cleanup()
        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()

    def __enter__(self) -> "LocalFeedServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
