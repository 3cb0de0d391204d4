"""The IPython magics: ``%%stream``, ``%set_mode``, ``%set_parallelism``, ``%stream_jobs``,
``%stream_stop``, ``%stream_recordings``, ``%stream_savepoints``. Loaded with
``%load_ext nbstream``.

A ``%%stream`` cell is Python with ``env`` (a fresh environment in the current mode and
parallelism), ``show`` and the nbstream API in scope. It builds a pipeline; the stream
its last expression evaluates to (or every stream passed to ``show()``) runs as one job
in the background and is shown live under the cell.

Savepoints: ``%%stream --checkpoint MS`` checkpoints the cell's job every MS ms;
``%stream_stop NAME --savepoint SP`` stops it with savepoint SP, and ``%%stream --resume SP``
starts the (possibly edited) pipeline from it. Named savepoints live in one folder that
outlives the kernel (:func:`savepoints_dir`).
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import contextlib
import json
import keyword
import os
import re
import shutil
import shlex
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.display import display, update_display

from .live import LiveJob, format_watermark, start, wait_async

__all__ = ["StreamMagics", "NotebookSession", "savepoints_dir", "list_savepoints"]

STOP_WAIT_S = 5.0
KEEP_FINISHED = 50
SAVEPOINT_TIMEOUT_S = 60.0
SAVEPOINT_MANIFEST = "_metadata.json"
_SAVEPOINT_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
SAVEPOINTS_WHERE = ("$NBSTREAM_SAVEPOINT_DIR, else ./.nbstream/savepoints in the kernel's "
                    "working directory (the notebook's folder)")
CHECKPOINTS_WHERE = ("$NBSTREAM_CHECKPOINT_DIR, else ~/.cache/nbstream/checkpoints "
                     "($XDG_CACHE_HOME respected)")


def savepoints_dir() -> Path:
    """Where named savepoints live: ``$NBSTREAM_SAVEPOINT_DIR``, else
    ``./.nbstream/savepoints`` relative to the kernel's working directory (a notebook's
    kernel starts in the notebook's folder). Read at each use."""
    env = os.environ.get("NBSTREAM_SAVEPOINT_DIR")
    return Path(env).expanduser() if env else Path.cwd() / ".nbstream" / "savepoints"


def list_savepoints() -> List[Dict[str, Any]]:
    """The named savepoints, oldest first: name, created (epoch seconds), job, checkpoint
    id, bytes and path. A folder without a readable manifest is left out."""
    root = savepoints_dir()
    found = []
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        manifest = folder / SAVEPOINT_MANIFEST
        if folder.name.startswith(".") or not manifest.is_file():
            continue
        try:
            meta = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        found.append({"name": folder.name, "created": meta.get("created") or manifest.stat().st_mtime,
                      "job": meta.get("job", ""), "checkpoint_id": meta.get("checkpoint_id"),
                      "bytes": size, "path": str(folder)})
    return sorted(found, key=lambda r: (r["created"], r["name"]))


def _known_savepoints() -> str:
    names = [r["name"] for r in list_savepoints()]
    return (f"savepoints in {savepoints_dir()}: {', '.join(names)}" if names
            else f"there is no savepoint in {savepoints_dir()} yet")


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (usage + one-line reason) instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: Optional[str] = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_help())


def _parser(prog: str, description: str) -> _Parser:
    return _Parser(prog=prog, description=description, add_help=False, allow_abbrev=False)


def _positive():
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
        return value
    return parse


STREAM = _parser("%%stream", "Run the pipeline of this cell in the background, shown live.")
STREAM.add_argument("--name", help="job name; re-running a cell with the same name stops "
                    "its previous job first")
STREAM.add_argument("--mode", help="execution mode of this cell (default: %%set_mode)")
STREAM.add_argument("--parallelism", type=_positive(), metavar="N",
                    help="default parallelism of this cell (default: %%set_parallelism)")
STREAM.add_argument("--to", metavar="VAR", help="bind the live job (results as DataFrame "
                    "with VAR.to_pandas()) to this variable")
STREAM.add_argument("--rows", type=_positive(), default=1000, metavar="N",
                    help="rows kept and shown per stream (default 1000); older ones are dropped")
STREAM.add_argument("--chart", choices=("auto", "line", "bar", "none"), default="auto",
                    help="chart kind (default auto: lines for windows, bars for keyed values)")
STREAM.add_argument("--blocking", action="store_true",
                    help="wait for the job to end before the cell returns")
STREAM.add_argument("--pyflink", action="store_true",
                    help="the cell is a PyFlink DataStream program: its `import pyflink...` "
                         "resolve to nbstream and it runs as `python -m nbstream.compat.pyflink` "
                         "would run it (its own env, print() into the cell)")
STREAM.add_argument("--record", metavar="NAME",
                    help="also record the sources' records as recording NAME (%%stream_recordings)")
STREAM.add_argument("--replay", metavar="NAME",
                    help="run the pipeline on recording NAME instead of its live sources")
STREAM.add_argument("--speed", default="1", metavar="X",
                    help="replay X times faster than recorded, or 'max' (default 1)")
STREAM.add_argument("--checkpoint", type=_positive(), metavar="MS",
                    help="checkpoint the job every MS milliseconds (at least 10): a failed "
                         "job restarts from its last checkpoint, the live view shows each "
                         "row exactly once (rows appear as checkpoints complete), and "
                         "%%stream_stop NAME --savepoint SP can stop it with a savepoint. "
                         f"Checkpoints go to {CHECKPOINTS_WHERE}")
STREAM.add_argument("--resume", metavar="SAVEPOINT",
                    help="start the cell's pipeline from named savepoint SAVEPOINT (made "
                         "by %%stream_stop NAME --savepoint SAVEPOINT; list them with "
                         "%%stream_savepoints): keyed state and open windows continue, "
                         "steps are matched by uid(...), else by name and position. "
                         "Combine with --checkpoint to keep checkpointing. Savepoints live "
                         f"in {SAVEPOINTS_WHERE}")
STREAM.add_argument("--allow-non-restored-state", action="store_true",
                    help="with --resume: drop the savepoint's state of steps this pipeline "
                         "no longer has (by default that is an error naming them)")
STREAM.add_argument("--trust", action="store_true",
                    help="with --resume or --replay: use the savepoint or recording even if "
                         "it is not signed by your key (someone else's, or written by an "
                         "older nbstream). Objects pickled in it could run code: only for "
                         "files whose origin you trust")
STREAM.add_argument("--jython", action="store_true",
                    help="the cell is a program of Flink's old (Jython) Python streaming API: "
                         "its `org.apache.flink` imports resolve to nbstream and its "
                         "main(factory) runs here; each env.execute() starts a job shown "
                         "live, in this cell's mode and parallelism")
STREAM.add_argument("params", nargs="*", metavar="- PARAM",
                    help="with --jython: the program's parameters (its sys.argv[1:]) "
                         "after a lone -")
STREAM.add_argument("-h", "--help", action="store_true", help="show this help")

SET_MODE = _parser("%set_mode", "Set the execution mode of later %%stream cells.")
SET_MODE.add_argument("mode", nargs="?")
SET_PARALLELISM = _parser("%set_parallelism", "Set the default parallelism of later "
                          "%%stream cells.")
SET_PARALLELISM.add_argument("parallelism", nargs="?", type=_positive(), metavar="N")
STOP = _parser("%stream_stop", "Stop a running job by name, or every job with --all.")
STOP.add_argument("name", nargs="?")
STOP.add_argument("--all", action="store_true", help="stop every running job")
STOP.add_argument("--savepoint", metavar="SAVEPOINT",
                  help="stop the job with a savepoint named SAVEPOINT (the job must run "
                       "with %%%%stream --checkpoint MS); resume with %%%%stream --resume "
                       f"SAVEPOINT, even after a kernel restart. Savepoints live in "
                       f"{SAVEPOINTS_WHERE}")
JOBS = _parser("%stream_jobs", "List the jobs of this kernel.")
RECORDINGS = _parser("%stream_recordings", "List the recordings of %%stream --record (they "
                     "outlive the kernel), or delete one with --clear NAME.")
RECORDINGS.add_argument("--clear", metavar="NAME", help="delete recording NAME")
SAVEPOINTS = _parser("%stream_savepoints", "List the named savepoints of %stream_stop "
                     f"--savepoint (they outlive the kernel; they live in {SAVEPOINTS_WHERE}), "
                     "or delete one with --clear NAME.")
SAVEPOINTS.add_argument("--clear", metavar="NAME", help="delete savepoint NAME")


def _parse(parser: _Parser, line: str) -> argparse.Namespace:
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{parser.prog}: {exc}\n{parser.format_usage().strip()}")
    return parser.parse_args(words)


def _usage(parser: _Parser, reason: str) -> UsageError:
    return UsageError(f"{parser.prog}: {reason}\n{parser.format_usage().strip()}")


class NotebookSession:
    """Defaults (mode, parallelism) and jobs of one IPython shell."""

    def __init__(self) -> None:
        self.mode = "thread"
        self.parallelism = 1
        self.jobs: Dict[str, LiveJob] = {}
        self.pumps: Dict[str, List[Any]] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def new_name(self) -> str:
        with self._lock:
            while True:
                self._counter += 1
                name = f"stream-{self._counter}"
                if name not in self.jobs:
                    return name

    def add(self, job: LiveJob, pumps: List[Any]) -> None:
        with self._lock:
            self.jobs.pop(job.name, None)
            self.jobs[job.name] = job
            self.pumps[job.name] = pumps
            finished = [n for n, j in self.jobs.items() if j.done]
            for name in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
                del self.jobs[name]
                self.pumps.pop(name, None)

    def stop(self, name: str, wait: float = STOP_WAIT_S) -> bool:
        """Stop job ``name``; True if it was running."""
        job = self.jobs.get(name)
        if job is None or job.done:
            return False
        job.stop()
        job.wait(wait)
        return True


@magics_class
class StreamMagics(Magics):
    """The nbstream magics."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.session = NotebookSession()

    # -- %%stream ---------------------------------------------------------------------------
    @cell_magic
    def stream(self, line: str, cell: str) -> None:
        """Run the pipeline of this cell in the background and show it live.

        ``%%stream [--name NAME] [--mode MODE] [--parallelism N] [--to VAR] [--rows N]
        [--chart auto|line|bar|none] [--blocking] [--pyflink] [--jython [- PARAM ...]]``
        """
        __tracebackhide__ = True  # noqa: F841 (IPython hides this frame in tracebacks)
        job = self._start(line, cell)
        if job is not None:
            self._block(job)

    async def stream_awaited(self, line: str, cell: str) -> None:
        """``%%stream --blocking`` as the kernel runs it: the cell awaits the job, so the
        kernel's event loop keeps turning (the widget's Stop button is handled) and a
        kernel interrupt cancels the wait (see :func:`await_blocking_cells`)."""
        __tracebackhide__ = True  # noqa: F841
        job = self._start(line, cell)
        if job is None:
            return
        try:
            with _interrupt_cancels(asyncio.current_task()):
                await wait_async(job)
                # the views' last update (and final text) belongs to this cell's output
                deadline = time.monotonic() + STOP_WAIT_S
                while self._settling(job) and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
        except (asyncio.CancelledError, KeyboardInterrupt):
            self._interrupted(job)
        if job.error is not None:
            raise job.error.with_traceback(None)  # the user's frames are in its cause

    def _settling(self, job: LiveJob) -> bool:
        return any(p.thread.is_alive() for p in self.session.pumps.get(job.name, []))

    def _start(self, line: str, cell: str) -> Optional[LiveJob]:
        """Start the cell's job; return it if the cell is to wait for it."""
        __tracebackhide__ = True  # noqa: F841
        args = _parse(STREAM, line)
        if args.help:
            raise UsageError(STREAM.format_help())
        if args.pyflink and args.jython:
            raise _usage(STREAM, "--pyflink and --jython: choose one")
        if args.params and (not args.jython or args.params[0] != "-"):
            raise _usage(STREAM, "unrecognized arguments: " + " ".join(args.params)
                         + (" (a --jython program's parameters follow a lone -)"
                            if args.jython else ""))
        if (args.checkpoint or args.resume) and (args.pyflink or args.jython):
            which = "--pyflink" if args.pyflink else "--jython"
            raise _usage(STREAM, f"--checkpoint and --resume are for nbstream pipelines, not "
                                 f"{which} programs (a program enables checkpointing in its "
                                 "own env: env.enable_checkpointing(ms))")
        if args.pyflink:
            self._run_pyflink(cell, args)
            return None
        if args.jython:
            return self._run_jython(cell, args)
        resume = _savepoint_path(STREAM, "--resume", args.resume) if args.resume else None
        if args.allow_non_restored_state and resume is None:
            raise _usage(STREAM, "--allow-non-restored-state goes with --resume SAVEPOINT")
        if args.trust and resume is None and not args.replay:
            raise _usage(STREAM, "--trust goes with --resume SAVEPOINT or --replay NAME")
        env = self._environment(args)
        self._record_or_replay(env, args)
        self._check_to(args)
        if not cell.strip():
            raise _usage(STREAM, "the cell is empty: write a pipeline that starts from `env`")
        name = self._job_name(args)
        shown: List[Tuple[Any, Dict[str, Any]]] = []
        last = self._run_cell_code(cell, env, shown)
        job = self._launch(env, self._streams(env, last, shown), args, name, resume)
        return job if args.blocking else None

    @staticmethod
    def _check_to(args: argparse.Namespace) -> None:
        if args.to is not None and (not args.to.isidentifier() or keyword.iskeyword(args.to)):
            raise _usage(STREAM, f"--to needs a Python variable name, not {args.to!r}")

    def _job_name(self, args: argparse.Namespace) -> str:
        """The job's name (``--name`` or the next free one); a running job of that name
        is stopped first."""
        name = args.name or self.session.new_name()
        if not name.strip() or any(c.isspace() for c in name):
            raise _usage(STREAM, f"--name must be a word without spaces, not {name!r}")
        if self.session.stop(name):
            print(f"stopped the previous job '{name}'")
        return name

    def _launch(self, env: Any, streams: List[Tuple[Any, Dict[str, Any]]],
                args: argparse.Namespace, name: str, resume: Optional[Path] = None,
                changelog_keys: Optional[List[Any]] = None) -> LiveJob:
        """Start ``env``'s job, showing ``streams`` live under the cell (from savepoint
        folder ``resume`` if given; ``changelog_keys``: the streams are tables' changelogs,
        see :func:`~nbstream.notebook.live.start`)."""
        from ..runtime.checkpoints import CheckpointError
        from ..runtime.signing import UntrustedFileError

        try:
            job = start(env, [s for s, _ in streams], name=name, rows=args.rows,
                        labels=[opts.get("label") or s.get_name() for s, opts in streams],
                        savepoint_path=str(resume) if resume is not None else None,
                        resumed_from=resume.name if resume is not None else None,
                        allow_non_restored_state=getattr(args, "allow_non_restored_state",
                                                         False),
                        trust_savepoint=getattr(args, "trust", False),
                        changelog_keys=changelog_keys)
        except UntrustedFileError as exc:
            raise UsageError(f"%%stream: {exc.explain('--trust')}") from None
        except CheckpointError as exc:
            if resume is None:
                raise
            hint = (" (keep the steps' uid(...), or add --allow-non-restored-state to drop "
                    "that state)" if "does not have" in str(exc) else "")
            raise UsageError(f"%%stream --resume {resume.name}: {exc}{hint}") from None
        if args.to is not None:
            self.shell.user_ns[args.to] = job
        pumps = self._display(job, streams, args)
        self.session.add(job, pumps)
        return job

    def _environment(self, args: argparse.Namespace) -> Any:
        from ..api.environment import StreamExecutionEnvironment

        env = StreamExecutionEnvironment.get_execution_environment()
        try:
            env.set_execution_mode(args.mode or self.session.mode)
        except ValueError as exc:
            raise _usage(STREAM, f"--mode: {exc}")
        env.set_parallelism(args.parallelism or self.session.parallelism)
        if getattr(args, "checkpoint", None):
            try:
                env.enable_checkpointing(args.checkpoint)
            except Exception as exc:  # PlanError: below the minimum interval
                raise _usage(STREAM, f"--checkpoint: {exc}")
        return env

    def _run_cell_code(self, cell: str, env: Any, shown: List[Tuple[Any, Dict[str, Any]]]) -> Any:
        """Run the cell in the user namespace; return the value of its last expression."""
        __tracebackhide__ = True  # noqa: F841
        import nbstream

        from ..api.columnar import ColumnarStream
        from ..api.datastream import DataStream

        def show(stream: Any, *, chart: str = "auto", y: Optional[str] = None,
                 label: Optional[str] = None) -> Any:
            """Show ``stream`` live under this cell (chart: auto, line, bar or none;
            y: the column to chart)."""
            if isinstance(stream, ColumnarStream):  # the live view shows rows
                stream = stream.to_rows(reason="the live view")
            if not isinstance(stream, DataStream):
                raise TypeError(f"show() takes a stream, not {type(stream).__name__}")
            if chart not in ("auto", "line", "bar", "none"):
                raise ValueError(f"show(chart=...) must be auto, line, bar or none, not {chart!r}")
            shown.append((stream, {"chart": chart, "y": y, "label": label}))
            return stream

        ns = self.shell.user_ns
        for public in nbstream.__all__:
            ns.setdefault(public, getattr(nbstream, public))
        ns["env"], ns["show"] = env, show
        source = self.shell.transform_cell(cell)
        filename = self.shell.compile.cache(source, self.shell.execution_count, raw_code=cell)
        try:
            tree = ast.parse(source, filename=filename)
        except SyntaxError as exc:  # as a plain cell shows it: where, the line, the caret
            raise UsageError(_syntax_error(exc, f"In[{self.shell.execution_count}]")) from None
        tail = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            tail = ast.Expression(tree.body.pop().value)
        exec(compile(tree, filename, "exec"), ns)  # noqa: S102 - the user's own cell
        return eval(compile(tail, filename, "eval"), ns) if tail is not None else None  # noqa: S307

    def _run_pyflink(self, cell: str, args: argparse.Namespace) -> None:
        """Run a PyFlink program (``%%stream --pyflink``) in the user namespace, with its
        imports resolved to nbstream; ``--mode``/``%set_mode`` and ``--parallelism`` are
        the defaults of the environments it creates (its own configuration wins)."""
        __tracebackhide__ = True  # noqa: F841
        from ..compat.pyflink import activated

        mode = self._checked_mode(args)
        source = self.shell.transform_cell(cell)
        filename = self.shell.compile.cache(source, self.shell.execution_count, raw_code=cell)
        with activated(mode=mode, parallelism=args.parallelism):
            exec(compile(source, filename, "exec"), self.shell.user_ns)  # noqa: S102

    def _checked_mode(self, args: argparse.Namespace) -> str:
        mode = args.mode or self.session.mode
        try:
            from ..runtime.executors import check_mode

            check_mode(mode)
        except Exception as exc:
            raise _usage(STREAM, f"--mode: {exc}")
        return mode

    def _run_jython(self, cell: str, args: argparse.Namespace) -> Optional[LiveJob]:
        """Run an old-API program (``%%stream --jython``): its ``main(factory)`` builds
        jobs in the notebook's mode and parallelism; each ``env.execute()`` starts one,
        shown live (the first takes ``--name``). The words after a lone ``-`` are its
        ``sys.argv[1:]`` while ``main`` runs. The program's names stay in its own
        namespace. Returns the last job if the cell is to wait for it."""
        __tracebackhide__ = True  # noqa: F841
        from ..compat.jython import NotAvailableError, ProgramError, error_line, run_source

        mode = self._checked_mode(args)
        self._check_to(args)
        if not cell.strip():
            raise _usage(STREAM, "the cell is empty: write a program with main(factory)")
        jobs: List[LiveJob] = []

        def launch(env: Any, job_name: Optional[str]) -> LiveJob:
            name = self._job_name(args) if not jobs else self.session.new_name()
            if not env._graph.sinks:
                raise _usage(STREAM, "env.execute(): the program added no sink (output(), "
                                     "write_as_text(), write_to_socket())")
            jobs.append(self._launch(env, [], args, name))
            return jobs[-1]

        source = self.shell.transform_cell(cell)
        filename = self.shell.compile.cache(source, self.shell.execution_count, raw_code=cell)
        argv, sys.argv = sys.argv, [filename, *args.params[1:]]
        try:
            run_source(source, filename, {"__name__": "__jython_main__"}, mode=mode,
                       parallelism=args.parallelism or self.session.parallelism,
                       launch=launch)
        except (ProgramError, NotAvailableError) as exc:
            line = error_line(exc, filename)
            raise UsageError(f"%%stream --jython: {f'line {line}: ' if line else ''}{exc}"
                             ) from None
        finally:
            sys.argv = argv
        if not jobs:
            raise _usage(STREAM, "the program's main(factory) never called env.execute()")
        return jobs[-1] if args.blocking else None

    @staticmethod
    def _streams(env: Any, last: Any, shown: List[Tuple[Any, Dict[str, Any]]]
                 ) -> List[Tuple[Any, Dict[str, Any]]]:
        from ..api.columnar import ColumnarStream
        from ..api.datastream import DataStream

        if isinstance(last, ColumnarStream):  # the live view shows rows
            last = last.to_rows(reason="the live view")
        if shown:
            streams = shown
        elif isinstance(last, DataStream):
            streams = [(last, {})]
        else:
            streams = []
        for stream, _ in streams:
            if stream._env is not env:
                raise _usage(STREAM, "show a stream built from this cell's `env` (the cell "
                             "creates a fresh environment each time it runs)")
        if not streams and not env._graph.sinks:
            raise _usage(STREAM, "nothing to run: end the cell with a stream, pass streams to "
                         "show(stream), or add a sink such as .print()")
        return streams

    def _display(self, job: LiveJob, streams: List[Tuple[Any, Dict[str, Any]]],
                 args: argparse.Namespace) -> List[Any]:
        if not _has_widgets(self.shell):
            print(f"{job.summary()}\n(stop it with %stream_stop {job.name})")
            job.client.on_done(lambda _c: print(job.report(), file=job.client.stdout))
            return []
        from .widget import Pump

        pumps = []
        targets: Sequence[Tuple[Any, Dict[str, Any]]] = streams or [(None, {})]
        for index, (stream, opts) in enumerate(targets):
            results = job.results[index] if stream is not None else None
            label = job.labels[index] if stream is not None else job.name
            title = job.name if len(targets) == 1 else f"{job.name}: {label}"
            chart = opts.get("chart", "auto") if opts.get("chart", "auto") != "auto" else args.chart
            display_id = f"nbstream-{job.client.job_id}-{index}"
            pump = Pump(job, results, title, chart=chart, y=opts.get("y"),
                        limit=min(args.rows, 1000),
                        on_final=lambda p, d=display_id: _final_display(p, job, d))
            job.widgets.append(pump.view)
            display(_bundle(pump, job), raw=True, display_id=display_id)
            pumps.append(pump.start())
        return pumps

    def _block(self, job: LiveJob) -> None:
        """Wait for the job where the cell cannot await it (autoawait off, or the magic
        called from code). Inside a running event loop the loop keeps turning (nested,
        with nest-asyncio2), so the kernel's tasks and timers go on; an interrupt stops
        the job."""
        __tracebackhide__ = True  # noqa: F841
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        try:
            if loop is not None:
                import nest_asyncio2

                nest_asyncio2.apply(loop)
                loop.run_until_complete(wait_async(job))
            else:
                while not job.wait(0.1):
                    pass
            for pump in self.session.pumps.get(job.name, []):
                pump.thread.join(STOP_WAIT_S)
        except (KeyboardInterrupt, asyncio.CancelledError):
            self._interrupted(job)
        if job.error is not None:
            raise job.error.with_traceback(None)  # the user's frames are in its cause

    @staticmethod
    def _interrupted(job: LiveJob) -> None:
        job.stop()
        job.wait(STOP_WAIT_S)
        print(f"job '{job.name}' stopped (interrupted)", file=sys.stderr)
        raise KeyboardInterrupt from None

    # -- %%sql ----------------------------------------------------------------------------
    @line_cell_magic
    def sql(self, line: str, cell: Optional[str] = None) -> Any:
        """Run Flink SQL (``%%sql`` for a cell, ``%sql`` for one line): a bounded query
        returns a DataFrame, an unbounded one starts a background job shown live.

        ``%%sql [--name NAME] [--mode MODE] [--parallelism N] [--to VAR] [--rows N]
        [--blocking] [--checkpoint MS] [--resume SAVEPOINT] [--batch]``
        """
        from .sql import run_sql
        return run_sql(self, line, cell)

    @line_magic
    def sql_tables(self, line: str) -> Any:
        """``%sql_tables``: the tables and views of the notebook's TableEnvironment
        (``t_env``) with their schemas."""
        from .sql import tables_frame
        return tables_frame(self.shell)

    # -- defaults -------------------------------------------------------------------------
    @line_magic
    def set_mode(self, line: str) -> None:
        """``%set_mode [MODE]``: the execution mode of later ``%%stream`` cells; with no
        argument, the current mode and what each mode means."""
        from ..api.environment import StreamExecutionEnvironment
        from ..runtime.executors import describe_modes

        args = _parse(SET_MODE, line)
        if args.mode is None:
            lines = [f"current mode: {self.session.mode}"]
            for name, text in describe_modes().items():
                mark = "*" if name == self.session.mode else " "
                lines.append(f" {mark} {name:<8} {text}")
            if not getattr(sys, "_is_gil_enabled", lambda: True)():
                lines.append("free-threaded Python: thread mode runs Python code in parallel")
            print("\n".join(lines))
            return
        try:
            StreamExecutionEnvironment.get_execution_environment().set_execution_mode(args.mode)
        except ValueError as exc:
            raise _usage(SET_MODE, str(exc))
        self.session.mode = args.mode
        print(f"execution mode: {args.mode}")

    @line_magic
    def set_parallelism(self, line: str) -> None:
        """``%set_parallelism N``: the default parallelism of later ``%%stream`` cells."""
        args = _parse(SET_PARALLELISM, line)
        if args.parallelism is None:
            print(f"parallelism: {self.session.parallelism}")
            return
        self.session.parallelism = args.parallelism
        print(f"parallelism: {args.parallelism}")

    @staticmethod
    def _record_or_replay(env: Any, args: argparse.Namespace) -> None:
        if args.record and args.replay:
            raise _usage(STREAM, "--record and --replay cannot be used together")
        if args.record:
            env.record(args.record)
        elif args.replay:
            speed: Any = args.speed
            if speed != "max":
                try:
                    speed = float(speed)
                except ValueError:
                    speed = 0.0
                if speed <= 0:
                    raise _usage(STREAM, f"--speed must be a positive number or 'max', "
                                         f"not {args.speed!r}")
            env.replay(args.replay, speed, trust=args.trust)

    @line_magic
    def stream_recordings(self, line: str) -> Any:
        """``%stream_recordings``: a table of recordings (name, sources, records, size, time
        span); ``%stream_recordings --clear NAME`` deletes one."""
        args = _parse(RECORDINGS, line)
        from ..connectors.recording import clear_recording, list_recordings

        if args.clear:
            clear_recording(args.clear)
            print(f"deleted recording '{args.clear}'")
            return None
        import pandas as pd

        rows = [{"name": r["name"], "sources": ", ".join(r["sources"]), "records": r["records"],
                 "bytes": r["bytes"],
                 "span_s": (round((r["last_ms"] - r["first_ms"]) / 1000, 3)
                            if r["first_ms"] is not None else 0.0)} for r in list_recordings()]
        return pd.DataFrame(rows, columns=["name", "sources", "records", "bytes", "span_s"])

    # -- jobs ---------------------------------------------------------------------------------
    @line_magic
    def stream_jobs(self, line: str) -> Any:
        """``%stream_jobs``: a table of this kernel's jobs (name, mode, status -- with the
        functions of a stopped job that have not returned --, records in/out, records/s,
        watermark, uptime, restarts, last checkpoint id, error)."""
        _parse(JOBS, line)
        import pandas as pd

        rows = []
        for name, job in list(self.session.jobs.items()):
            s = job.stats()
            ft = job.fault_tolerance()
            rows.append({"name": name, "mode": job.mode, "status": job.status_text,
                         "records_in": s["records_in"], "records_out": s["records_out"],
                         "records_per_s": round(s["rate"], 1),
                         "watermark": format_watermark(s["watermark"]),
                         "uptime_s": round(s["elapsed_s"], 1),
                         "restarts": ft.get("restarts", 0),
                         "checkpoint": "" if ft.get("id") is None else ft["id"],
                         "error": "" if job.error is None else str(job.error)})
        columns = ["name", "mode", "status", "records_in", "records_out", "records_per_s",
                   "watermark", "uptime_s", "restarts", "checkpoint", "error"]
        return pd.DataFrame(rows, columns=columns)

    @line_magic
    def stream_stop(self, line: str) -> None:
        """``%stream_stop NAME`` stops a job; ``%stream_stop --all`` stops every job;
        ``%stream_stop NAME --savepoint SP`` stops a job that checkpoints
        (``%%stream --checkpoint MS``) with savepoint SP, which ``%%stream --resume SP``
        starts from, in this kernel or a later one. Savepoints live in
        ``$NBSTREAM_SAVEPOINT_DIR``, else ``./.nbstream/savepoints``."""
        args = _parse(STOP, line)
        if args.all == (args.name is not None):
            raise _usage(STOP, "give a job name or --all (not both)")
        if args.all and args.savepoint is not None:
            raise _usage(STOP, "--savepoint stops one job: give its name instead of --all")
        if args.all:
            running = [n for n, j in self.session.jobs.items() if not j.done]
            for name in running:
                self.session.jobs[name].stop()
            for name in running:
                self.session.jobs[name].wait(STOP_WAIT_S)
            print(f"stopped {len(running)} job{'s' if len(running) != 1 else ''}"
                  + (": " + ", ".join(running) if running else ""))
            return
        job = self.session.jobs.get(args.name)
        if job is None:
            known = ", ".join(self.session.jobs) or "none yet"
            raise _usage(STOP, f"no job named {args.name!r} (jobs: {known})")
        if args.savepoint is not None:
            self._stop_with_savepoint(job, args.savepoint)
            return
        if not self.session.stop(args.name):
            print(f"job '{args.name}' is not running ({job.status})")
            return
        print(f"stopped '{args.name}' ({job.status_text})")

    def _stop_with_savepoint(self, job: LiveJob, savepoint: str) -> None:
        folder = _savepoint_folder(STOP, savepoint)
        if folder.exists():
            raise _usage(STOP, f"there is a savepoint named {savepoint!r} already: choose "
                               f"another name, or delete it with %stream_savepoints --clear "
                               f"{savepoint}")
        if job.done:
            raise _usage(STOP, f"job '{job.name}' is not running ({job.status}): a savepoint "
                               "is taken from a running job")
        if not job.checkpointing:
            raise _usage(STOP, f"job '{job.name}' does not checkpoint, so it cannot stop with "
                               "a savepoint: start it with %%stream --checkpoint MS (e.g. "
                               "--checkpoint 1000), then %stream_stop "
                               f"{job.name} --savepoint {savepoint}")
        from ..runtime.checkpoints import CheckpointError
        from ..runtime.signing import private_dir

        private_dir(str(folder.parent))  # 0700: savepoints hold the job's records
        try:
            path = job.client.stop_with_savepoint(str(folder), timeout=SAVEPOINT_TIMEOUT_S)
        except CheckpointError as exc:
            raise UsageError(f"%stream_stop: job '{job.name}': no savepoint taken: {exc}"
                             ) from None
        for pump in self.session.pumps.get(job.name, []):
            pump.thread.join(STOP_WAIT_S)  # the views show the final rows and status
        print(f"stopped '{job.name}' ({job.status}) with savepoint '{savepoint}' ({path}); "
              f"resume it with %%stream --resume {savepoint}")
        notes = job.client.checkpoints.uid_warnings() if job.client.checkpoints else []
        for note in notes:
            print(f"note: {note}")

    @line_magic
    def stream_savepoints(self, line: str) -> Any:
        """``%stream_savepoints``: a table of the named savepoints (name, time, job,
        checkpoint, bytes), oldest first; ``%stream_savepoints --clear NAME`` deletes one.
        They live in ``$NBSTREAM_SAVEPOINT_DIR``, else ``./.nbstream/savepoints``."""
        args = _parse(SAVEPOINTS, line)
        if args.clear:
            folder = _savepoint_path(SAVEPOINTS, "--clear", args.clear)
            shutil.rmtree(folder)
            print(f"deleted savepoint '{args.clear}'")
            return None
        import pandas as pd

        rows = [{"name": r["name"],
                 "time": pd.Timestamp(r["created"], unit="s").floor("s"),
                 "job": r["job"], "checkpoint": r["checkpoint_id"], "bytes": r["bytes"]}
                for r in list_savepoints()]
        if not rows:
            print(f"no savepoint yet in {savepoints_dir()} (make one with "
                  "%stream_stop NAME --savepoint SP)")
        return pd.DataFrame(rows, columns=["name", "time", "job", "checkpoint", "bytes"])


def _savepoint_folder(parser: _Parser, name: str) -> Path:
    """The folder of savepoint ``name`` (which must be a plain file name)."""
    if not _SAVEPOINT_NAME.fullmatch(name) or name in (".", ".."):
        raise _usage(parser, f"a savepoint name is letters, digits, '_', '-' and '.', not "
                             f"{name!r}")
    return savepoints_dir() / name


def _savepoint_path(parser: _Parser, option: str, name: str) -> Path:
    """The folder of an existing savepoint ``name``; a UsageError naming the ones there
    are if there is none of that name."""
    folder = _savepoint_folder(parser, name)
    if not (folder / SAVEPOINT_MANIFEST).is_file():
        raise _usage(parser, f"{option}: there is no savepoint named {name!r} "
                             f"({_known_savepoints()})")
    return folder


BLOCKING_ENTRY = "__nbstream_blocking__"


@contextlib.contextmanager
def _interrupt_cancels(task: Optional["asyncio.Task[Any]"]) -> Iterator[None]:
    """While the block runs, SIGINT (a kernel interrupt) cancels ``task`` at once.
    (ipykernel's own handler for async cells may only act on the loop's next event.)"""
    if task is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.signal(signal.SIGINT,
                             lambda *_: loop.call_soon_threadsafe(task.cancel))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def await_blocking_cells(lines: List[str]) -> List[str]:
    """An IPython input transformer: a ``%%stream --blocking`` cell (by then turned into
    ``get_ipython().run_cell_magic('stream', ...)``) becomes ``await`` of the magic, so
    the kernel runs it as an async cell."""
    text = "".join(lines)
    if not text.startswith("get_ipython().run_cell_magic('stream',"):
        return lines
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return lines
    call = tree.body[0].value if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else None
    if (not isinstance(call, ast.Call) or len(call.args) != 3 or call.keywords
            or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)):
        return lines
    _, line, cell = (a.value for a in call.args)  # type: ignore[attr-defined]
    try:
        words = shlex.split(line)
    except ValueError:
        return lines
    if "--blocking" not in words or "-h" in words or "--help" in words:
        return lines
    return [f"await {BLOCKING_ENTRY}({line!r}, {cell!r})\n"]


def _has_widgets(shell: Any) -> bool:
    """True in a Jupyter kernel (widgets can render); False in terminal IPython."""
    return getattr(shell, "kernel", None) is not None


def _bundle(pump: Any, job: LiveJob) -> Dict[str, Any]:
    return {"application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 1, "model_id": pump.view.model_id},
            "text/plain": job.summary()}


def _final_display(pump: Any, job: LiveJob, display_id: str) -> None:
    """When the job ends: the text part of the display becomes the final report, for
    front ends that cannot show widgets (and for saved notebooks)."""
    try:
        update_display(_bundle(pump, job) | {"text/plain": job.report()}, raw=True,
                       display_id=display_id)
    except Exception as exc:  # the kernel may be shutting down
        job.client.warnings.append(f"final display failed: {exc!r}")


def _syntax_error(exc: SyntaxError, cell: str) -> str:
    """A syntax error in a ``%%stream`` cell, told as for a plain cell (no magic frames)."""
    exc.filename = f"Cell {cell}"
    text = "".join(traceback.format_exception_only(SyntaxError, exc)).rstrip()
    return "the cell has a syntax error:\n" + text.replace('File "Cell ', "Cell ").replace(
        f'{cell}", line', f"{cell}, line")
