"""Remote functions: nbstream as the StateFun runtime of a request-reply endpoint.

A :class:`RemoteFunction` stands for one function type served over HTTP (an endpoint written
with the real SDK or with nbstream's). It sends ``ToFunction`` batches, learns the state the
function declares through the ``IncompleteInvocationContext`` handshake (and re-sends the
batch with it), retries failed calls with backoff, and turns the ``FromFunction`` reply into
the same :class:`BatchResult` an embedded function gives, so the runtime applies both alike.

>>> endpoint = RemoteEndpoint("example/*", "http://127.0.0.1:8000/statefun/{function.name}")
>>> endpoint.matches("example/greeter"), endpoint.url_for("example/greeter")
(True, 'http://127.0.0.1:8000/statefun/greeter')
"""

from __future__ import annotations

import functools
import threading
import time
from datetime import timedelta
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from .core import SdkAddress, ValueSpec, parse_typename
from .errors import StatefulFunctionError
from .functions import BatchResult, DelayedMessage, Invocation
from .handler import _proto, _set_typed, _typed
from .messages import EgressMessage, Message
from .types import TypedValue, simple_type

__all__ = ["RemoteEndpoint", "RemoteFunction", "RemoteFunctionError", "encode_request", "decode_result",
           "read_module_yaml", "RemoteCalls", "ProtocolFunction", "post", "new_session"]


class RemoteFunctionError(StatefulFunctionError):
    """A remote function's endpoint failed (HTTP error, garbage reply, timeout) past its retries."""


class HTTPError(OSError):
    """An endpoint answered with a status other than 200."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP Error {status}: {reason}")
        self.status = status


_HEADERS = {"Content-Type": "application/octet-stream"}


async def post(session: Any, url: str, body: bytes, timeout: float) -> bytes:
    """The body of a 200 reply to ``body`` POSTed at ``url`` over the aiohttp ``session``
    (kept-alive connections); else :class:`HTTPError` or the client's error. A kept-alive
    connection the server closed while idle fails on its next request: that request goes
    once more, on a new connection, without counting as a failed attempt."""
    import aiohttp

    for fresh in (False, True):
        try:
            async with session.post(url, data=body, headers=_HEADERS,
                                    timeout=_timeout(timeout)) as response:
                data = await response.read()
                if response.status != 200:
                    raise HTTPError(response.status, response.reason or "")
                return data
        except aiohttp.ServerDisconnectedError:
            if fresh:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@functools.lru_cache(maxsize=None)
def _timeout(seconds: float) -> Any:
    import aiohttp

    return aiohttp.ClientTimeout(total=seconds)


def new_session(limit: int = 100) -> Any:
    """An aiohttp session keeping at most ``limit`` connections (made in a running loop);
    no cookies, no decompression: the protocol has neither."""
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                 cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)


class RemoteCalls:
    """The remote calls of one runtime instance, on an event loop thread of its own with
    one aiohttp session: ``submit([(key, fn, address, state, batch), ...])`` starts calls
    and returns at once; when it is over, ``on_done(key, result or exception, seconds)`` is
    called on the loop's thread. ``close()`` cancels what is still out and ends the thread.
    """

    def __init__(self, on_done: Callable[[Any, Any, float], None], limit: int = 100) -> None:
        import asyncio

        self._on_done, self._limit = on_done, limit
        self._loop = asyncio.new_event_loop()
        self._session: Any = None
        self._tasks: set = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="statefun-remote-calls")
        self._thread.start()

    def submit(self, calls: List[Tuple[Any, "ProtocolFunction", SdkAddress,
                                       Mapping[str, Optional[TypedValue]], List[Invocation]]]) -> None:
        """Start ``(key, fn, address, state, batch)`` calls (one wake-up of the loop for all)."""
        self._loop.call_soon_threadsafe(self._start, calls)

    def _start(self, calls: List[Any]) -> None:
        for call in calls:
            task = self._loop.create_task(self._call(*call))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self, key: Any, fn: "ProtocolFunction", address: SdkAddress,
                    state: Mapping[str, Optional[TypedValue]], batch: List[Invocation]) -> None:
        started = time.perf_counter()
        try:
            if self._session is None:
                self._session = new_session(self._limit)
            result: Any = await fn.invoke_async(address, state, batch, self._session)
        except Exception as exc:
            result = exc
        self._on_done(key, result, time.perf_counter() - started)

    def close(self) -> None:
        import asyncio

        async def shut() -> None:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._session is not None:
                await self._session.close()

        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)
        self._loop.close()


def _load_client() -> None:
    """Import aiohttp where remote functions are set up, before a job needs it (the first
    import takes a while, longer than a loop's feedback timeout may wait)."""
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the statefun extra brings it
        raise StatefulFunctionError("remote functions need aiohttp: pip install "
                                    "'nbstream[statefun]'") from exc


def _run(coroutine: Any) -> Any:
    """Run ``coroutine`` to its end from synchronous code (on a thread of its own when this
    thread already runs an event loop, as a notebook's does)."""
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: List[Any] = []

    def run() -> None:
        try:
            box.append((True, asyncio.run(coroutine)))
        except BaseException as exc:  # handed to the caller
            box.append((False, exc))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value


def _address(pb: Any, address: SdkAddress) -> None:
    pb.namespace, pb.type, pb.id = address.namespace, address.name, address.id


def encode_request(address: SdkAddress, state: Mapping[str, Optional[TypedValue]],
                   invocations: Iterable[Invocation]) -> bytes:
    """The ``ToFunction`` bytes of a batch (a state value None: registered, no value)."""
    request = _proto().ToFunction()
    batch = request.invocation
    _address(batch.target, address)
    for name, value in state.items():
        pv = batch.state.add(state_name=name)
        if value is not None and value.has_value:
            _set_typed(pv.state_value, value)
    for caller, argument in invocations:
        invocation = batch.invocations.add()
        if caller is not None:
            _address(invocation.caller, caller)
        _set_typed(invocation.argument, argument)
    return request.SerializeToString()


def _typename(pb: Any) -> str:
    return f"{pb.namespace}/{pb.type}"


def _spec(pb: Any) -> ValueSpec:
    spec = ValueSpec.__new__(ValueSpec)  # the endpoint validated its own names
    spec.name, spec.type = pb.state_name, simple_type(pb.type_typename or "unknown/type", bytes, bytes)
    mode, millis = pb.expiration_spec.mode, pb.expiration_spec.expire_after_millis
    spec.after_write, spec.after_call = mode == 1, mode == 2
    spec.duration = millis if mode else 0
    return spec


def _message(target: Any, argument: Any) -> Message:
    return Message(_typename(target), target.id, _typed(argument))


def decode_result(data: bytes) -> BatchResult:
    """The :class:`BatchResult` of ``FromFunction`` bytes (the inverse of ``encode_result``)."""
    reply = _proto().FromFunction.FromString(data)
    if reply.WhichOneof("response") == "incomplete_invocation_context":
        return BatchResult(missing=[_spec(pb) for pb in reply.incomplete_invocation_context.missing_values])
    result = reply.invocation_result
    delayed = [DelayedMessage(True, cancellation_token=pb.cancellation_token) if pb.is_cancellation_request
               else DelayedMessage(False, pb.delay_in_ms, _message(pb.target, pb.argument),
                                   pb.cancellation_token)
               for pb in result.delayed_invocations]
    return BatchResult(
        messages=[_message(pb.target, pb.argument) for pb in result.outgoing_messages],
        delayed=delayed,
        egress=[EgressMessage(f"{pb.egress_namespace}/{pb.egress_type}", _typed(pb.argument))
                for pb in result.outgoing_egresses],
        mutations=[(pb.state_name, _typed(pb.state_value) if pb.mutation_type == 1 else None)
                   for pb in result.state_mutations])


class RemoteEndpoint:
    """Function types matching ``pattern`` (``namespace/name`` or ``namespace/*``) served at
    ``url`` (``{function.namespace}`` and ``{function.name}`` are filled in)."""

    def __init__(self, pattern: str, url: str, timeout: Union[float, timedelta] = 10.0,
                 retries: int = 3, backoff_s: float = 0.05, max_batch: int = 1000,
                 max_backlog: int = 1000, max_in_flight: int = 64) -> None:
        parse_typename(pattern)
        self.pattern, self.url, self.retries, self.backoff_s = pattern, url, retries, backoff_s
        self.max_batch = max(1, int(max_batch))
        self.max_backlog = max(1, int(max_backlog))
        self.max_in_flight = max(1, int(max_in_flight))
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        _load_client()

    def __setstate__(self, state: Dict[str, Any]) -> None:  # in a worker: load it before the job
        self.__dict__.update(state)
        _load_client()

    def matches(self, typename: str) -> bool:
        namespace, name = parse_typename(self.pattern)
        other_namespace, other_name = parse_typename(typename)
        return namespace == other_namespace and name in ("*", other_name)

    def url_for(self, typename: str) -> str:
        namespace, name = parse_typename(typename)
        return self.url.replace("{function.namespace}", namespace).replace("{function.name}", name)


class ProtocolFunction:
    """A function type reached through the request-reply protocol (``_post`` sends the
    ``ToFunction`` bytes and gives back the ``FromFunction`` bytes); it learns its state
    through the handshake and quacks like an embedded ``StatefulFunction`` for the runtime."""

    is_async = False
    typename: str
    url: str
    specs: List[ValueSpec]

    def _post(self, body: bytes, address: SdkAddress) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    async def _post_async(self, body: bytes, address: SdkAddress, session: Any) -> bytes:
        return self._post(body, address)

    def invoke(self, address: SdkAddress, state: Mapping[str, Optional[TypedValue]],
               invocations: Iterable[Invocation]) -> BatchResult:
        """Send the batch; after a handshake, register the missing state and send it again."""
        invocations, state = list(invocations), dict(state)
        for _ in range(2):
            result = self._decoded(self._post(encode_request(address, state, invocations), address))
            if not result.missing:
                return result
            self._learn(result, state)
        raise self._asks_again(result)

    async def invoke_async(self, address: SdkAddress, state: Mapping[str, Optional[TypedValue]],
                           invocations: Iterable[Invocation], session: Any = None) -> BatchResult:
        """:meth:`invoke` without blocking the event loop (the calls of a ``session``)."""
        invocations, state = list(invocations), dict(state)
        for _ in range(2):
            body = encode_request(address, state, invocations)
            result = self._decoded(await self._post_async(body, address, session))
            if not result.missing:
                return result
            self._learn(result, state)
        raise self._asks_again(result)

    def _decoded(self, data: bytes) -> BatchResult:
        try:
            return decode_result(data)
        except Exception as exc:
            raise RemoteFunctionError(f"remote function {self.typename} at {self.url} replied with "
                                      f"{len(data)} bytes that are not a FromFunction: {exc}") from exc

    def _learn(self, result: BatchResult, state: Dict[str, Optional[TypedValue]]) -> None:
        known = {spec.name for spec in self.specs}
        self.specs += [spec for spec in result.missing if spec.name not in known]
        state.update({spec.name: None for spec in result.missing})

    def _asks_again(self, result: BatchResult) -> RemoteFunctionError:
        return RemoteFunctionError(f"remote function {self.typename} at {self.url} keeps asking for "
                                   f"state it was given: {[spec.name for spec in result.missing]}")


class RemoteFunction(ProtocolFunction):
    """One remote function type, served over HTTP by ``endpoint``."""

    def __init__(self, typename: str, endpoint: RemoteEndpoint) -> None:
        self.typename, self.endpoint = typename, endpoint
        self.url = endpoint.url_for(typename)
        self.specs: List[ValueSpec] = []  # learned from the endpoint's handshakes

    def _post(self, body: bytes, address: SdkAddress) -> bytes:
        return _run(self._post_async(body, address, None))

    async def _post_async(self, body: bytes, address: SdkAddress, session: Any) -> bytes:
        """POST with the endpoint's retries (backing off); a session of its own if none."""
        import asyncio

        import aiohttp

        endpoint, error = self.endpoint, None
        own = session is None
        if own:
            session = new_session()
        try:
            for attempt in range(endpoint.retries + 1):
                if attempt:
                    await asyncio.sleep(endpoint.backoff_s * 2 ** (attempt - 1))
                try:
                    return await post(session, self.url, body, endpoint.timeout)
                except (OSError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    error = exc  # HTTP errors, refused, reset, timeouts
        finally:
            if own:
                await session.close()
        if isinstance(error, asyncio.TimeoutError):
            error = TimeoutError(f"no reply in {endpoint.timeout} s")
        raise RemoteFunctionError(f"remote function {self.typename} (id {address.id!r}) at {self.url} "
                                  f"failed {endpoint.retries + 1} times: {type(error).__name__}: {error}")


_UNITS = {"ms": 0.001, "milli": 0.001, "millis": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
          "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
          "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "m": 60.0,
          "h": 3600.0, "hour": 3600.0, "hours": 3600.0}


def _seconds(text: Any) -> float:
    """A Flink duration (``1 min``, ``10s``, ``500 ms``) in seconds."""
    import re
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", str(text).lower())
    if not match or match.group(2) not in _UNITS and match.group(2):
        raise ValueError(f"not a duration: {text!r} (e.g. '1 min', '10 s', '500 ms')")
    return float(match.group(1)) * _UNITS.get(match.group(2) or "ms", 0.001)


def read_module_yaml(text: str) -> tuple:
    """The remote endpoints (``kind: io.statefun.endpoints.v2/http``) and the egress ids
    (``io.statefun.kafka.v1/egress``, ``io.statefun.kinesis.v1/egress``) of a StateFun
    ``module.yaml``'s documents: ``(endpoints, egress_ids)``.

    >>> endpoints, egress = read_module_yaml('''
    ... kind: io.statefun.endpoints.v2/http
    ... spec:
    ...   functions: example/*
    ...   urlPathTemplate: http://127.0.0.1:8000/{function.name}
    ...   transport:
    ...     timeouts:
    ...       call: 2 min
    ... ---
    ... kind: io.statefun.kafka.v1/egress
    ... spec:
    ...   id: example/greets
    ... ''')
    >>> [(e.pattern, e.url, e.timeout) for e in endpoints], egress
    ([('example/*', 'http://127.0.0.1:8000/{function.name}', 120.0)], ['example/greets'])
    """
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml comes with Jupyter
        raise StatefulFunctionError("reading a module.yaml needs PyYAML: pip install pyyaml") from exc
    endpoints, egress = [], []
    for document in yaml.safe_load_all(text):
        if not document:
            continue
        kind, spec = str(document.get("kind", "")), document.get("spec") or {}
        if kind.startswith("io.statefun.endpoints.") and kind.endswith("/http"):
            timeouts = (spec.get("transport") or {}).get("timeouts") or {}
            timeout = _seconds(timeouts["call"]) if "call" in timeouts else 60.0
            patterns = spec["functions"] if isinstance(spec["functions"], list) else [spec["functions"]]
            endpoints += [RemoteEndpoint(p, spec["urlPathTemplate"], timeout) for p in patterns]
        elif kind.endswith("/egress") and "id" in spec:
            egress.append(spec["id"])
        elif kind:
            raise StatefulFunctionError(f"module.yaml: kind {kind} is not supported here (supported: "
                                        f"io.statefun.endpoints.v2/http and Kafka/Kinesis egress ids)")
    return endpoints, egress
