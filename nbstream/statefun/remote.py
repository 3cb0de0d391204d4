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

import collections
import http.client
import itertools
import time
import urllib.parse
from datetime import timedelta
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from .core import SdkAddress, ValueSpec, parse_typename
from .errors import StatefulFunctionError
from .functions import BatchResult, DelayedMessage, Invocation
from .handler import _proto, _set_typed, _typed
from .messages import EgressMessage, Message
from .types import TypedValue, simple_type

__all__ = ["RemoteEndpoint", "RemoteFunction", "RemoteFunctionError", "encode_request", "decode_result",
           "read_module_yaml", "HttpClient", "ProtocolFunction"]


class RemoteFunctionError(StatefulFunctionError):
    """A remote function's endpoint failed (HTTP error, garbage reply, timeout) past its retries."""


class HTTPError(OSError):
    """An endpoint answered with a status other than 200."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP Error {status}: {reason}")
        self.status = status


# a reused connection the server closed meanwhile fails like this on its next request
_STALE = (http.client.RemoteDisconnected, http.client.BadStatusLine, BrokenPipeError, ConnectionResetError,
          ConnectionAbortedError)


class HttpClient:
    """POSTs over kept-alive HTTP/1.1 connections: one pool of idle connections per
    (scheme, host, port), shared by every caller thread of the process. A connection goes
    back to its pool after a complete reply unless the server said it closes it; one that
    the server closed while idle is replaced once, without counting as a failed attempt.

    ``connections_opened`` counts the TCP connections made (tests and benchmarks read it).
    """

    def __init__(self, max_idle: int = 256) -> None:
        self.max_idle = max_idle
        # no lock: deque.append/pop and dict.setdefault are atomic, and a lock taken twice per
        # request by a hundred caller threads convoys behind the GIL (10,000 addresses: 50 msg/s)
        self._idle: Dict[Tuple[str, str, int], Deque[http.client.HTTPConnection]] = {}
        self._opened = itertools.count()
        self.connections_opened = 0

    def _connection(self, key: Tuple[str, str, int], timeout: float) -> Tuple[Any, bool]:
        idle = self._idle.get(key)
        if idle:
            try:
                connection = idle.pop()
            except IndexError:  # another caller took the last one
                pass
            else:
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection, True
        self.connections_opened = next(self._opened) + 1
        cls = http.client.HTTPSConnection if key[0] == "https" else http.client.HTTPConnection
        return cls(key[1], key[2], timeout=timeout), False

    def _release(self, key: Tuple[str, str, int], connection: Any) -> None:
        idle = self._idle.get(key)
        if idle is None:
            idle = self._idle.setdefault(key, collections.deque())
        if len(idle) < self.max_idle:
            idle.append(connection)
        else:
            connection.close()

    def post(self, url: str, body: bytes, timeout: float) -> bytes:
        """The body of a 200 reply to ``body`` POSTed at ``url``; else :class:`HTTPError` or the
        connection's ``OSError`` (refused, reset, ``TimeoutError``)."""
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme or "http", parts.hostname or "127.0.0.1",
               parts.port or (443 if parts.scheme == "https" else 80))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Content-Type": "application/octet-stream"}
        while True:
            connection, reused = self._connection(key, timeout)
            try:
                connection.request("POST", path, body, headers)
                response = connection.getresponse()
                data = response.read()
            except _STALE:
                connection.close()
                if reused:
                    continue  # the server closed it while it was idle: a fresh one, once per idle one
                raise
            except BaseException:
                connection.close()
                raise
            if response.will_close:
                connection.close()
            else:
                self._release(key, connection)
            if response.status != 200:
                raise HTTPError(response.status, response.reason)
            return data

    def close(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


_CLIENT: Optional[HttpClient] = None
_CLIENT_PID = 0


def http_client() -> HttpClient:
    """The process's shared :class:`HttpClient` (a forked process makes its own)."""
    global _CLIENT, _CLIENT_PID
    import os
    if _CLIENT is None or _CLIENT_PID != os.getpid():
        _CLIENT, _CLIENT_PID = HttpClient(), os.getpid()
    return _CLIENT


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
                 max_backlog: int = 1000) -> None:
        parse_typename(pattern)
        self.pattern, self.url, self.retries, self.backoff_s = pattern, url, retries, backoff_s
        self.max_batch = max(1, int(max_batch))
        self.max_backlog = max(1, int(max_backlog))
        self.timeout = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)

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

    def invoke(self, address: SdkAddress, state: Mapping[str, Optional[TypedValue]],
               invocations: Iterable[Invocation]) -> BatchResult:
        """Send the batch; after a handshake, register the missing state and send it again."""
        invocations, state = list(invocations), dict(state)
        for _ in range(2):
            data = self._post(encode_request(address, state, invocations), address)
            try:
                result = decode_result(data)
            except Exception as exc:
                raise RemoteFunctionError(f"remote function {self.typename} at {self.url} replied with "
                                          f"{len(data)} bytes that are not a FromFunction: {exc}") from exc
            if not result.missing:
                return result
            known = {spec.name for spec in self.specs}
            self.specs += [spec for spec in result.missing if spec.name not in known]
            state.update({spec.name: None for spec in result.missing})
        raise RemoteFunctionError(f"remote function {self.typename} at {self.url} keeps asking for "
                                  f"state it was given: {[spec.name for spec in result.missing]}")

    async def invoke_async(self, address: SdkAddress, state: Mapping[str, Optional[TypedValue]],
                           invocations: Iterable[Invocation]) -> BatchResult:
        return self.invoke(address, state, invocations)


class RemoteFunction(ProtocolFunction):
    """One remote function type, served over HTTP by ``endpoint``."""

    def __init__(self, typename: str, endpoint: RemoteEndpoint) -> None:
        self.typename, self.endpoint = typename, endpoint
        self.url = endpoint.url_for(typename)
        self.specs: List[ValueSpec] = []  # learned from the endpoint's handshakes

    def _post(self, body: bytes, address: SdkAddress) -> bytes:
        endpoint, error = self.endpoint, None
        for attempt in range(endpoint.retries + 1):
            if attempt:
                time.sleep(endpoint.backoff_s * 2 ** (attempt - 1))
            try:
                return http_client().post(self.url, body, endpoint.timeout)
            except (OSError, http.client.HTTPException) as exc:  # HTTP errors, refused, timeouts
                error = exc
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
