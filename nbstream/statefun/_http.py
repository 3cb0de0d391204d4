"""A lean HTTP/1.1 client for the request-reply protocol: POSTs of bytes over kept-alive
connections on an asyncio loop, the replies parsed by httptools (the llhttp parser of
Node.js, maintained by the uvloop authors).

StateFun calls are many small POSTs to one endpoint; a general client spent three times the
CPU of the rest of a call on each (URL objects, header dicts, hooks, a timer per request):
this one keeps per request a connection's write of a prepared head and the body, and the
parser's callbacks. https works (``ssl``); chunked replies, replies ended by closing and
``Connection: close`` are the parser's business.

>>> import asyncio
>>> async def main():
...     pool = Pool()
...     try:
...         await pool.post("http://127.0.0.1:9/statefun", b"", 1.0)  # nothing listens
...     except OSError as exc:
...         return type(exc).__name__
...     finally:
...         await pool.close()
>>> asyncio.run(main())
'ConnectionRefusedError'
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

import httptools

__all__ = ["Pool", "HTTPError", "Disconnected"]


class HTTPError(OSError):
    """An endpoint answered with a status other than 200."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP Error {status}: {reason}")
        self.status = status


class Disconnected(ConnectionError):
    """The connection ended before the reply did (or the reply was not HTTP)."""


_Target = Tuple[str, int, bool]  # host, port, https


class _Connection(asyncio.Protocol):
    """One kept-alive connection: one request at a time, its reply parsed as it comes."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: Any = None
        self.waiter: Optional[asyncio.Future] = None
        self.body: List[bytes] = []
        self.reason = b""
        self.used = False  # a request went on it before: it may have been closed while idle
        self.open = True
        self.headed = False  # the reply's head is in
        self.framed = False  # ... with a length or chunks (else the reply ends with the connection)

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.open = False
        if exc is None and self.waiter is not None and self.headed and not self.framed:
            self.on_message_complete()  # a reply without a length ends here
            return
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(Disconnected(f"the server closed the connection before its "
                                              f"reply ended ({exc or 'no error'})"))

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(Disconnected(f"not an HTTP reply: {exc}"))

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headed = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        status, body = self.parser.get_status_code(), b"".join(self.body)
        reason, self.body, self.reason = self.reason, [], b""
        self.headed = self.framed = False
        if not self.open or not self.parser.should_keep_alive():
            self.open = False
            self.transport.close()
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            return
        if status == 200:
            waiter.set_result(body)
        else:
            waiter.set_exception(HTTPError(status, reason.decode("latin-1")))

    def send(self, head: bytes, body: bytes) -> asyncio.Future:
        self.used = True
        self.waiter = waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head + b"%d\r\n\r\n" % len(body) + body)
        return waiter

    def fail(self, exc: Exception) -> None:
        """Give up the connection (a timeout, a garbled reply): its waiter gets ``exc``."""
        self.open = False
        waiter, self.waiter = self.waiter, None
        self.transport.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)


class Pool:
    """Kept-alive connections to the endpoints of one event loop, at most ``limit`` open
    (made, used and closed in that loop): ``await post(url, body, timeout)`` gives a 200
    reply's body, else raises :class:`HTTPError`, ``asyncio.TimeoutError`` or an
    ``OSError`` (refused, reset, :class:`Disconnected`)."""

    def __init__(self, limit: int = 100) -> None:
        self._idle: Dict[_Target, List[_Connection]] = {}
        self._urls: Dict[str, Tuple[_Target, bytes]] = {}
        self._slots = asyncio.Semaphore(limit) if limit else None
        self._all: set = set()
        self._ssl: Optional[ssl.SSLContext] = None

    def _target(self, url: str) -> Tuple[_Target, bytes]:
        known = self._urls.get(url)
        if known is None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"not an http(s) URL: {url!r}")
            https = parts.scheme == "https"
            target = (parts.hostname, parts.port or (443 if https else 80), https)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            head = (f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    f"Content-Type: application/octet-stream\r\nContent-Length: ").encode("latin-1")
            known = self._urls[url] = (target, head)
        return known

    async def _connect(self, target: _Target) -> _Connection:
        host, port, https = target
        if https and self._ssl is None:
            self._ssl = ssl.create_default_context()
        _, connection = await asyncio.get_running_loop().create_connection(
            _Connection, host, port, ssl=self._ssl if https else None)
        self._all.add(connection)
        return connection  # type: ignore[return-value]

    async def post(self, url: str, body: bytes, timeout: float) -> bytes:
        """POST ``body`` at ``url``, the reply within ``timeout`` seconds. A kept-alive
        connection the server closed while idle fails before any reply: the request goes
        once more on a new connection."""
        target, head = self._target(url)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        slots = self._slots
        if slots is not None:
            if slots.locked():  # every connection busy: waiting for one counts
                await asyncio.wait_for(slots.acquire(), timeout)
            else:
                await slots.acquire()
        try:
            return await self._exchange(target, head, body, loop, deadline)
        finally:
            if slots is not None:
                slots.release()

    async def _exchange(self, target: _Target, head: bytes, body: bytes, loop: Any,
                        deadline: float) -> bytes:
        idle = self._idle.setdefault(target, [])
        while True:
            if idle:
                connection = idle.pop()
                if not connection.open:
                    self._all.discard(connection)
                    continue
            else:
                connection = await asyncio.wait_for(self._connect(target),
                                                    max(0.0, deadline - loop.time()))
            reused = connection.used
            timer = loop.call_later(max(0.0, deadline - loop.time()), connection.fail,
                                    asyncio.TimeoutError())
            try:
                reply = await connection.send(head, body)
            except Disconnected:
                self._all.discard(connection)
                if reused and loop.time() < deadline:  # closed while idle: once more
                    continue
                raise
            except BaseException:  # timed out, cancelled, an error: the connection is spent
                connection.fail(Disconnected("abandoned"))
                self._all.discard(connection)
                raise
            finally:
                timer.cancel()
            if connection.open:
                idle.append(connection)
            else:
                self._all.discard(connection)
            return reply

    async def close(self) -> None:
        """Close every connection."""
        for connection in list(self._all):
            if connection.transport is not None:
                connection.transport.close()
        self._all.clear()
        self._idle.clear()
        await asyncio.sleep(0)  # the transports' closing callbacks run
