"""Sources that run in the driver and feed a Flink job through a socket.

PyFlink runs no Python source functions, but a notebook's sources are often Python: a
generator of live events, a user SourceFunction. The ``flink`` mode runs such a source
where nbstream would, in this process, and serves its records to the job over TCP: the
job reads them with Flink's socket source (one instance), decodes them and restores
their timestamps. When the source ends, the connection closes and so does Flink's input.

Each line carries a list of ``(value, timestamp or None)`` pairs (one record, or a
batch), pickled, then sealed with AES-GCM under a key made for this feed alone
(:class:`Sealer`): the key travels with the job's decoding function, so the job unpickles
only lines its own driver sealed (any other line is refused with a log line,
:class:`FeedDecoder`).

The feed listens on loopback for a local cluster and serves one connection: the job's,
which proves itself. Flink's socket source only reads, so the proof goes the other way
round: the feed sends each connection a challenge line (``?`` and a random nonce); the job's
decoder, which reads that line as the first of its input, answers on a connection of its
own with ``!``, the nonce and an HMAC of it under the feed's key. The connection the proof
names gets the records; every other one (a local process that connected first) is closed
having read nothing but its challenge, and the port closes. Watermarks a source emits
itself are not forwarded (a WatermarkStrategy downstream makes Flink's own).

>>> sealer = Sealer(Sealer.new_key())
>>> FeedDecoder("s", sealer.key)(sealer.seal([("a", 5)]).decode().rstrip())
[('a', 5)]
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import os
import selectors
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["DriverFeed", "Sealer", "FeedDecoder"]

log = logging.getLogger(__name__)

_CONTEXT = b"nbstream flink feed v1"  # bound into every seal (AES-GCM associated data)
_HANDSHAKE = b"nbstream flink feed handshake v1"  # what the proofs' HMAC binds the nonce to
#: connections that have not been proven yet, at most (more are closed at once), and how
#: long one may wait for its proof
MAX_PENDING = 64
PROOF_WAIT_S = 120.0


def proof(key: bytes, nonce: bytes) -> bytes:
    """The job's answer to challenge ``nonce``: an HMAC-SHA256 of it under the feed's key."""
    return hmac.new(key, _HANDSHAKE + nonce, hashlib.sha256).digest()


class Sealer:
    """Seals the feed's lines: AES-256-GCM, a fresh 96-bit nonce per line."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.key = key
        self._aead = AESGCM(key)

    @staticmethod
    def new_key() -> bytes:
        return os.urandom(32)

    def seal(self, pairs: List[Tuple[Any, Optional[int]]]) -> bytes:
        import cloudpickle  # values of classes defined in a notebook travel by value

        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, cloudpickle.dumps(pairs), _CONTEXT)
        return base64.b64encode(nonce + sealed) + b"\n"


class FeedDecoder:
    """The job's side (a flat_map in Flink): opens a sealed line into its
    ``(value, timestamp)`` pairs; a line this feed's driver did not seal is dropped
    with an error in the log, never unpickled."""

    def __init__(self, name: str, key: bytes, host: Optional[str] = None,
                 port: Optional[int] = None) -> None:
        self.name, self.key = name, key
        self.host, self.port = host, port  # where the feed takes the handshake's proof
        self._aead: Any = None

    def __call__(self, line: str) -> List[Tuple[Any, Optional[int]]]:
        import pickle

        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if line.startswith("?"):  # the feed's challenge: prove this is the job's connection
            self._prove(line[1:])
            return []
        if self._aead is None:
            self._aead = AESGCM(self.key)
        try:
            raw = base64.b64decode(line, validate=True)
            payload = self._aead.decrypt(raw[:12], raw[12:], _CONTEXT)
        except (InvalidTag, ValueError):
            log.error("flink feed of '%s': refused a line not sealed by this job's driver "
                      "(%d characters); it was dropped", self.name, len(line))
            return []
        return pickle.loads(payload)

    def _prove(self, challenge: str) -> None:
        """Answer the feed's challenge on a connection of its own (Flink's socket source
        cannot write): ``!<nonce> <HMAC>``."""
        try:
            nonce = base64.b64decode(challenge, validate=True)
            answer = (b"!" + base64.b64encode(nonce) + b" "
                      + base64.b64encode(proof(self.key, nonce)) + b"\n")
            with socket.create_connection((self.host, self.port), timeout=30) as conn:
                conn.sendall(answer)
        except (OSError, ValueError, TypeError) as exc:
            log.error("flink feed of '%s': could not answer the feed's challenge (%s)",
                      self.name, exc)

    def __getstate__(self) -> Any:
        return {"name": self.name, "key": self.key, "host": self.host, "port": self.port}

    def __setstate__(self, state: Any) -> None:
        self.name, self.key, self._aead = state["name"], state["key"], None
        self.host, self.port = state.get("host"), state.get("port")


class _FeedContext:
    """The source context a reader emits through: records go to the socket at once."""

    def __init__(self, feed: "DriverFeed", conn: socket.socket) -> None:
        self._feed = feed
        self._conn = conn
        self._seal = feed.sealer.seal
        self.batch_size = 1024

    @property
    def cancelled(self) -> bool:
        return self._feed.stopped.is_set()

    def _send(self, data: bytes) -> None:
        from ..runtime.source_context import TaskCancelled

        if self._feed.stopped.is_set():
            raise TaskCancelled()
        try:
            self._conn.sendall(data)
        except OSError:
            raise TaskCancelled() from None  # the job went away

    def collect(self, value: Any) -> None:
        self._send(self._seal([(value, None)]))

    def collect_with_timestamp(self, value: Any, timestamp: int) -> None:
        self._send(self._seal([(value, int(timestamp))]))

    def emit_batch(self, values: List[Any], timestamps: Optional[List[Any]] = None) -> None:
        tss = timestamps if timestamps is not None else [None] * len(values)
        self._send(self._seal(list(zip(values, tss))))

    def emit_watermark(self, watermark: Any) -> None:
        """Not forwarded: Flink derives watermarks from a WatermarkStrategy downstream."""

    def mark_as_temporarily_idle(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def get_checkpoint_lock(self) -> Any:
        return contextlib.nullcontext()


class _FeedRuntimeContext:
    """What a user SourceFunction's ``open`` learns: it runs once, in the driver."""

    def __init__(self, name: str, job_parameters: Any) -> None:
        self._name, self._params = name, dict(job_parameters or {})

    def get_task_name(self) -> str:
        return self._name

    def get_number_of_parallel_subtasks(self) -> int:
        return 1

    def get_max_number_of_parallel_subtasks(self) -> int:
        return 1

    def get_index_of_this_subtask(self) -> int:
        return 0

    def get_attempt_number(self) -> int:
        return 0

    def get_job_parameter(self, key: str, default_value: Any = None) -> Any:
        return self._params.get(key, default_value)


class DriverFeed:
    """Serves the records of source ``spec`` (step ``name``) on ``host``:``port``."""

    def __init__(self, name: str, spec: Any, host: str, job_parameters: Any = None) -> None:
        self.name, self.spec = name, spec
        self.job_parameters = job_parameters
        self.stopped = threading.Event()
        self.sealer = Sealer(Sealer.new_key())
        self.connected = threading.Event()
        self.server = socket.create_server((host, 0))
        self.server.settimeout(0.1)
        self.host, self.port = host, self.server.getsockname()[1]
        self.reader: Any = None
        self.error: Optional[BaseException] = None

    def start(self, job: Any) -> None:
        threading.Thread(target=self._serve, args=(job,), daemon=True,
                         name=f"nbstream[{job.job_name}] flink feed {self.name}").start()

    def stop(self) -> None:
        self.stopped.set()
        reader = self.reader
        if reader is not None and hasattr(reader, "cancel"):
            try:
                reader.cancel()
            except Exception:
                pass

    def decoder(self) -> FeedDecoder:
        """What the job runs to read this feed (it carries the feed's key)."""
        return FeedDecoder(self.name, self.sealer.key, self.host, self.port)

    def _accept(self) -> Optional[socket.socket]:
        """The job's connection: each connection gets a challenge, and the one a valid proof
        names is served; the others are closed, and so is the port."""
        selector = selectors.DefaultSelector()
        selector.register(self.server, selectors.EVENT_READ)
        pending: Dict[socket.socket, Tuple[bytes, float]] = {}  # connection: nonce, since
        received: Dict[socket.socket, bytes] = {}
        try:
            while not self.stopped.is_set():
                for key, _ in selector.select(0.1):
                    if key.fileobj is self.server:
                        self._challenge(selector, pending, received)
                        continue
                    winner = self._answer(key.fileobj, selector, pending, received)
                    if winner is not None:
                        self.server.close()  # before anyone hears the job is in
                        self.connected.set()
                        return winner
                now = time.monotonic()
                for conn in [c for c, (_, since) in pending.items() if now - since > PROOF_WAIT_S]:
                    self._drop(conn, selector, pending, received)
            return None
        finally:
            for conn in list(pending) + list(received):
                self._drop(conn, selector, pending, received)
            selector.close()
            self.server.close()

    def _challenge(self, selector: Any, pending: Dict[socket.socket, Tuple[bytes, float]],
                   received: Dict[socket.socket, bytes]) -> None:
        try:
            conn, peer = self.server.accept()
        except OSError:
            return
        if len(pending) >= MAX_PENDING:
            conn.close()
            return
        nonce = os.urandom(16)
        try:
            conn.settimeout(5)
            conn.sendall(b"?" + base64.b64encode(nonce) + b"\n")
        except OSError:
            conn.close()
            return
        pending[conn] = (nonce, time.monotonic())
        received[conn] = b""
        selector.register(conn, selectors.EVENT_READ)
        log.debug("flink feed of '%s': challenged %s:%s", self.name, *peer[:2])

    def _answer(self, conn: Any, selector: Any, pending: Dict[socket.socket, Tuple[bytes, float]],
                received: Dict[socket.socket, bytes]) -> Optional[socket.socket]:
        """Read from ``conn``; once it sent a line, it is a proof: the connection it vouches
        for is returned (every other one closed), ``conn`` is closed either way."""
        try:
            data = conn.recv(512)
        except OSError:
            data = b""
        buffer = received.get(conn, b"") + data
        if data and b"\n" not in buffer and len(buffer) < 512:
            received[conn] = buffer
            return None
        pending.pop(conn, None)  # a connection cannot vouch for itself
        winner = self._vouched(buffer.split(b"\n")[0], pending)
        if winner is None and data:  # said before the prover sees its connection closed
            log.error("flink feed of '%s': refused a connection that did not prove it is "
                      "the job's", self.name)
        self._drop(conn, selector, pending, received)
        if winner is None:
            return None
        selector.unregister(winner)
        del pending[winner], received[winner]
        winner.settimeout(None)
        return winner

    def _vouched(self, line: bytes, pending: Dict[socket.socket, Tuple[bytes, float]]
                 ) -> Optional[socket.socket]:
        if not line.startswith(b"!"):
            return None
        try:
            nonce_b64, mac_b64 = line[1:].split(b" ")
            nonce, mac = base64.b64decode(nonce_b64, validate=True), base64.b64decode(mac_b64,
                                                                                    validate=True)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, proof(self.sealer.key, nonce)):
            return None
        return next((c for c, (n, _) in pending.items() if hmac.compare_digest(n, nonce)), None)

    @staticmethod
    def _drop(conn: Any, selector: Any, pending: Dict[Any, Any], received: Dict[Any, Any]) -> None:
        pending.pop(conn, None)
        received.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        conn.close()

    def _serve(self, job: Any) -> None:
        from ..errors import UserFunctionError
        from ..runtime.source_context import TaskCancelled

        conn = None
        try:
            conn = self._accept()
            if conn is None:
                return
            self.reader = reader = self.spec.create_reader(0, 1)
            if hasattr(reader, "open"):
                reader.open(_FeedRuntimeContext(self.name, self.job_parameters))
            try:
                reader.run(_FeedContext(self, conn))
            finally:
                if hasattr(reader, "close"):
                    reader.close()
        except TaskCancelled:
            pass
        except Exception as exc:
            err = UserFunctionError(self.name, type(self.spec).__name__, None, exc,
                                    has_record=False, phase="source, in the driver")
            err.__cause__ = exc
            job.fail(err)
        finally:
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self.server.close()
