"""What crosses a process boundary, and how.

Every message is one *frame* (a fixed header followed by a pickle) plus, for large
binary objects, out-of-band buffers sent as frames of their own (pickle protocol 5:
numpy arrays, Arrow and pandas buffers travel without being copied into the pickle).
Pickling uses cloudpickle's pickler, so functions, lambdas, closures and classes
defined in ``__main__`` (a notebook cell) travel by value; plain data pickles at the
speed of the C pickler.

:func:`check_picklable` is the pre-flight check: it names the step and, by walking
into closures, globals, defaults and attributes, the object that cannot be pickled.

>>> from nbstream.runtime.records import Batch
>>> header, frames = HEADER.pack(1, 2, 3, 4, 5, 0), encode(Batch([1, 2], [10, 20]))
>>> decode(frames[0], frames[1:]).values
[1, 2]
"""

from __future__ import annotations

import functools
import io
import itertools
import pickle
import struct
import types
from typing import Any, List, Optional, Sequence, Tuple

from ...errors import PlanError, describe_function, short_repr

__all__ = ["HEADER", "encode", "decode", "dumps", "Frames", "Encoded", "check_picklable",
           "find_unpicklable"]

# kind, job number, three small ints (task, channel, ...), number of extra buffers
HEADER = struct.Struct("<BIiiiI")

# message kinds (the job number is 0 for messages about the worker itself)
READY = 1          # worker -> kernel: a = pid
START = 2          # kernel -> worker: install a job (payload: plan and the tasks to run);
                   # RUN follows once every worker of the job has it, so no message of
                   # the job can reach a worker that does not know it yet
DATA = 3           # a = receiving task, b = its input channel; payload: the message
CREDIT = 4         # a = channel: its receiver took a message, the sender may send one more
CANCEL = 5         # kernel -> worker: stop the job's tasks
CLOCK = 6          # kernel -> worker: the job's manual clock moved (payload: now in ms)
END_JOB = 7        # kernel -> worker: forget the job
DONE = 8           # worker -> kernel: a = task; payload: final metrics
FAILED = 9         # worker -> kernel: a = task (-1: the job); payload: the error
OUT = 10           # worker -> kernel: a = 1 stdout, 2 stderr; payload: text (UTF-8)
LOG = 11           # worker -> kernel: payload: a log record as a dict
METRICS = 12       # worker -> kernel: payload: {task: metrics}
OFFLOAD_OPEN = 13  # kernel -> worker: a = task whose chain the worker should run batches of
OFFLOAD_CALL = 14  # kernel -> worker: a = task, b = input index; payload: (watermark, batch)
OFFLOAD_CLOSE = 15  # kernel -> worker: a = task
OFFLOAD_REPLY = 16  # worker -> kernel: a = task, b = what it answers (OPEN, CALL, CLOSE)
SHUTDOWN = 17      # kernel -> worker: exit
RUN = 18           # kernel -> worker: start the tasks of the job (every worker has it now)
MAILBOX = 19       # kernel -> worker: a = task; payload: a message for its mailbox
ACK = 20           # worker -> kernel: a = task; payload: ("ack", id, states, alignment s)
#                    or ("finished", None, states, 0) (see runtime.checkpoints)
ANSWER = 21        # worker -> kernel: a = question; payload: (ok, value) (see runtime.queries)

Frames = List[Any]  # bytes-like objects: the pickle, then its out-of-band buffers


def encode(obj: Any) -> Frames:
    """Pickle ``obj`` (protocol 5, cloudpickle's pickler) into frames: a message read once
    (its large Arrow batches travel as files, :data:`ARROW_FOLDER`)."""
    buffers: List[Any] = []
    out = io.BytesIO()
    pickler = _pickler()(out, protocol=5, buffer_callback=buffers.append)
    pickler.arrow_folder = arrow_folder()
    pickler.dump(obj)
    return [out.getvalue()] + [b.raw() for b in buffers]


#: where the Arrow batches of messages (:func:`encode`) travel as memory-mapped files, not
#: through the connection: the worker pool's private folder, on tmpfs when there is one
#: (set by the pool in the kernel, and in the environment of its workers); a batch is
#: written once, and the process that reads the message maps the file, unlinks it, and
#: reads the batch without a copy. None: in the message (no pool, or a small batch).
ARROW_FOLDER: List[Optional[str]] = [None]
ARROW_FILE_MIN = 1 << 20  # bytes: a smaller batch travels in the message
ARROW_FOLDER_ENV = "NBSTREAM_WORKER_ARROW"


def arrow_folder() -> Optional[str]:
    folder = ARROW_FOLDER[0]
    if folder is None:
        import os
        folder = ARROW_FOLDER[0] = os.environ.get(ARROW_FOLDER_ENV) or ""
    return folder or None


def dumps(obj: Any, buffer_callback: Any = None) -> bytes:
    """``cloudpickle.dumps(obj, protocol=5)``, keeping the file names of the functions it
    carries by value: cloudpickle 3.1 writes ``<dynamic-code>`` instead, and a worker's
    traceback could then neither name the user's cell nor show its source lines.

    >>> import pickle
    >>> f = lambda x: x
    >>> pickle.loads(dumps(f)).__code__.co_filename == f.__code__.co_filename
    True
    """
    out = io.BytesIO()
    _pickler()(out, protocol=5, buffer_callback=buffer_callback).dump(obj)
    return out.getvalue()


@functools.lru_cache(maxsize=None)
def _pickler() -> type:
    """cloudpickle's pickler, made fast for batches of objects (records of user classes,
    rows, StateFun envelopes): the C pickler calls ``reducer_override`` and looks the type up
    in ``dispatch_table`` for every object that is not a plain int, str, tuple, list or dict.
    cloudpickle answers both in Python (its table is a ``ChainMap``); here the table is a
    dict and the types cloudpickle leaves to the standard reduction are remembered, so
    their instances cost one set lookup (``benchmarks/wire.py``: 4.2 -> 1.7 us per StateFun
    envelope, 2.5 -> 1.2 us per Row; the standard pickler takes 1.3 and 0.9)."""
    import copyreg

    import cloudpickle

    @functools.lru_cache(maxsize=1)
    def dispatch_table(_reducers: int) -> dict:  # made again when copyreg.pickle() adds one
        return dict(cloudpickle.CloudPickler.dispatch_table)

    standard: set = set()  # types whose instances cloudpickle reduces the standard way

    class KeepFileNames(cloudpickle.CloudPickler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # read by the C pickler's __init__: set on the instance before it runs
            self.dispatch_table = dispatch_table(len(copyreg.dispatch_table))
            super().__init__(*args, **kwargs)

        arrow_folder: Optional[str] = None  # set for a message read once (encode)

        def reducer_override(self, obj: Any) -> Any:
            kind = type(obj)
            if kind in standard:
                return NotImplemented
            if kind is types.CodeType:
                make, args = self.dispatch_table[types.CodeType](obj)
                return make, tuple(obj.co_filename if a == "<dynamic-code>" else a for a in args)
            if kind.__name__ in _ARROW and kind.__module__ == "pyarrow.lib":
                if self.arrow_folder is not None and obj.nbytes >= ARROW_FILE_MIN:
                    return _read_arrow_file, (_arrow_file(obj, self.arrow_folder),
                                              kind.__name__)
                return _read_arrow, (pickle.PickleBuffer(_arrow_ipc(obj)), kind.__name__)
            reduced = super().reducer_override(obj)
            if reduced is NotImplemented and not issubclass(kind, (type, types.FunctionType)):
                standard.add(kind)  # cloudpickle decides by the type: classes, functions
            return reduced

    return KeepFileNames


_ARROW = ("RecordBatch", "Table")


def _arrow_ipc(data: Any) -> Any:
    """An Arrow record batch or table as one Arrow IPC stream buffer. Pickled as is, a
    slice of a larger batch would carry its parent's whole buffers; IPC writes only its
    rows, and the receiver reads it without a copy."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write(data)
    return sink.getvalue()


_files = itertools.count()


def _arrow_file(data: Any, folder: str) -> str:
    """An Arrow batch or table written as an Arrow IPC stream file in ``folder``."""
    import os

    import pyarrow as pa

    path = os.path.join(folder, f"{os.getpid()}-{next(_files)}.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_stream(sink, data.schema) as writer:
        writer.write(data)
    return path


def _read_arrow_file(path: str, kind: str) -> Any:
    """The batch of :func:`_arrow_file`, read from the mapped file without a copy (the
    file is unlinked at once: the mapping lives as long as the batch)."""
    import os

    import pyarrow as pa

    source = pa.memory_map(path)
    os.unlink(path)
    reader = pa.ipc.open_stream(source)
    return reader.read_next_batch() if kind == "RecordBatch" else reader.read_all()


def _read_arrow(data: Any, kind: str) -> Any:
    import pyarrow as pa

    reader = pa.ipc.open_stream(pa.py_buffer(data))
    return reader.read_next_batch() if kind == "RecordBatch" else reader.read_all()


def decode(data: Any, buffers: Sequence[Any] = ()) -> Any:
    return pickle.loads(data, buffers=buffers)


class Encoded:
    """A message still in its wire form; decoded by the task that reads it (not by the
    thread that received it, which must keep the connection flowing)."""

    __slots__ = ("data", "buffers")

    def __init__(self, data: Any, buffers: Sequence[Any]) -> None:
        self.data = data
        self.buffers = buffers

    def decode(self) -> Any:
        return pickle.loads(self.data, buffers=self.buffers)


# -- the pre-flight check -----------------------------------------------------------------------

def _pickle_error(obj: Any) -> Optional[BaseException]:
    try:
        dumps(obj)
    except Exception as exc:  # pickling raises all sorts: TypeError, PicklingError, ...
        return exc
    return None


def _children(obj: Any) -> List[Tuple[str, Any]]:
    """What ``obj`` refers to, with a readable path element for each."""
    out: List[Tuple[str, Any]] = []
    if isinstance(obj, types.MethodType):
        out.append(("its object", obj.__self__))
        obj = obj.__func__
    if isinstance(obj, types.FunctionType):
        code = obj.__code__
        for name, cell in zip(code.co_freevars, obj.__closure__ or ()):
            try:
                out.append((f"variable `{name}`", cell.cell_contents))
            except ValueError:  # empty cell
                pass
        names = set(code.co_names)
        for const in code.co_consts:  # names used by nested functions and comprehensions
            if isinstance(const, types.CodeType):
                names.update(const.co_names)
        for name in sorted(names):
            if name in obj.__globals__:
                value = obj.__globals__[name]
                if not isinstance(value, types.ModuleType):
                    out.append((f"global `{name}`", value))
        for i, d in enumerate(obj.__defaults__ or ()):
            out.append((f"default argument {i + 1}", d))
        for k, d in (obj.__kwdefaults__ or {}).items():
            out.append((f"default of `{k}`", d))
        return out
    if isinstance(obj, dict):
        return [(f"item {short_repr(k, 40)}", v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [(f"item {i}", v) for i, v in enumerate(obj)]
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        out.extend((f"attribute `{k}`", v) for k, v in attrs.items())
    for slot in getattr(type(obj), "__slots__", ()) or ():
        if isinstance(slot, str) and hasattr(obj, slot):
            out.append((f"attribute `{slot}`", getattr(obj, slot)))
    return out


def find_unpicklable(obj: Any, depth: int = 6) -> Tuple[List[str], Any, BaseException]:
    """The innermost object ``obj`` refers to that cannot be pickled: its path, the
    object and the error. Call it only when ``obj`` itself fails to pickle."""
    error = _pickle_error(obj)
    assert error is not None, "find_unpicklable() needs an object that fails to pickle"
    path: List[str] = []
    seen = {id(obj)}
    while depth > 0:
        depth -= 1
        for label, child in _children(obj):
            if id(child) in seen:
                continue
            seen.add(id(child))
            child_error = _pickle_error(child)
            if child_error is not None:
                path.append(label)
                obj, error = child, child_error
                break
        else:
            break
    return path, obj, error


def _describe(obj: Any) -> str:
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        return describe_function(obj)
    if isinstance(obj, types.GeneratorType):
        return f"the generator {obj.__qualname__}()"
    return f"{short_repr(obj, 80)} (a {type(obj).__module__}.{type(obj).__qualname__})"


def check_picklable(obj: Any, step: str, what: str) -> None:
    """Raise a :class:`PlanError` naming ``step`` and the culprit if ``obj`` cannot
    travel to a worker process. ``what`` says what ``obj`` is (its function, ...)."""
    if _pickle_error(obj) is None:
        return
    path, culprit, error = find_unpicklable(obj)
    via = f"{what} {_describe(obj)}"
    if path:
        via += " refers to " + ", which refers to ".join(path)
        via += f": {_describe(culprit)}"
    raise PlanError(
        f"step '{step}' cannot run in a worker process: {via} cannot be pickled "
        f"({type(error).__name__}: {error}). Create such objects in the function's open() "
        "(they are made in the worker then), or run this step in the kernel with "
        ".set_execution_mode('thread')")
