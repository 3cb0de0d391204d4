"""Sources that run in the driver and feed a Flink job through a socket.

PyFlink runs no Python source functions, but a notebook's sources are often Python: a
generator of live events, a user SourceFunction. The ``flink`` mode runs such a source
where nbstream would, in this process, and serves its records to the job over TCP: the
job reads them with Flink's socket source (one instance), decodes them and restores
their timestamps. When the source ends, the connection closes and so does Flink's input.

Each line is a base64 pickle of ``(value, timestamp or None)``. Watermarks a source
emits itself are not forwarded (a WatermarkStrategy downstream makes Flink's own).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
from typing import Any, List, Optional

__all__ = ["DriverFeed", "decode_line"]


def decode_line(line: str) -> Any:
    """``(value, timestamp)`` from one line of a feed."""
    import pickle

    return pickle.loads(base64.b64decode(line))


def _encode(value: Any, timestamp: Optional[int]) -> bytes:
    import cloudpickle  # values of classes defined in a notebook travel by value

    return base64.b64encode(cloudpickle.dumps((value, timestamp))) + b"\n"


class _FeedContext:
    """The source context a reader emits through: records go to the socket at once."""

    def __init__(self, feed: "DriverFeed", conn: socket.socket) -> None:
        self._feed = feed
        self._conn = conn
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
        self._send(_encode(value, None))

    def collect_with_timestamp(self, value: Any, timestamp: int) -> None:
        self._send(_encode(value, int(timestamp)))

    def emit_batch(self, values: List[Any], timestamps: Optional[List[Any]] = None) -> None:
        tss = timestamps if timestamps is not None else [None] * len(values)
        self._send(b"".join(_encode(v, t) for v, t in zip(values, tss)))

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

    def _accept(self) -> Optional[socket.socket]:
        while not self.stopped.is_set():
            try:
                conn, _ = self.server.accept()
                return conn
            except socket.timeout:
                continue
            except OSError:
                return None
        return None

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
