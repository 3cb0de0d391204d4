"""The IPython magics: ``%%stream``, ``%%sql``/``%sql``, ``%sql_tables``, ``%set_mode``,
``%set_parallelism``, ``%stream_jobs``, ``%stream_stop``, ``%stream_recordings``,
``%stream_savepoints``. Loaded with ``%load_ext nbstream``.

A ``%%stream`` cell is Python with ``env`` (a fresh environment in the current mode and
parallelism), ``show`` and the nbstream API in scope. It builds a pipeline; the stream
its last expression evaluates to (or every stream passed to ``show()``) runs as one job
in the background and is shown live under the cell.

This module is the IPython layer: each magic parses its line (:mod:`.options`) and hands
over to the module of its concern: the job registry (:mod:`.jobs`), savepoints
(:mod:`.savepoints`), recordings (:mod:`.recordings`), blocking cells (:mod:`.blocking`),
SQL (:mod:`.sql`). A job started by ``%%sql`` is launched, shown and owned by its cell
as one of ``%%stream``.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import keyword
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class
from IPython.display import display, update_display

from .blocking import BLOCKING_ENTRY, await_blocking_cells, interrupt_cancels, kernel_stays_busy
from .jobs import JOB_COLUMNS, STOP_WAIT_S, NotebookSession
from .live import LiveJob, start, wait_async
from .options import (JOBS, RECORDINGS, SAVEPOINTS, SET_MODE, SET_PARALLELISM, STOP, STREAM,
                      Parser, parse, usage)
from .recordings import RECORDING_COLUMNS, recordings_table
from .results import LiveResults, keyed_rolling_key
from .savepoints import (SAVEPOINT_COLUMNS, list_savepoints, savepoint_path, savepoints_dir,
                         savepoints_table, stop_with_savepoint)

__all__ = ["StreamMagics", "NotebookSession", "savepoints_dir", "list_savepoints",
           "BLOCKING_ENTRY", "await_blocking_cells"]


@magics_class
class StreamMagics(Magics):
    """The nbstream magics."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.session = NotebookSession()
        self.cell: Dict[str, Any] = {}  # the cell being run (its id, if the front end sends one)
        self.line = ""  # the %%stream line being run

    def pre_run_cell(self, info: Any) -> None:
        """IPython's ``pre_run_cell`` event: note which cell runs (JupyterLab and nbclient
        send its id), and stop the jobs of cells deleted since the last run."""
        meta = getattr(info, "cell_meta", None) or {}
        self.cell = {"id": getattr(info, "cell_id", None) or meta.get("cellId"),
                     "execution": self.shell.execution_count}
        deleted = meta.get("deletedCells") or []
        if deleted:
            for name in self.session.stop_cells(set(deleted)):
                print(f"stopped job '{name}': its cell was deleted", file=sys.stderr)

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

    async def stream_awaited(self, line: str, cell: str, magic: str = "stream") -> Any:
        """``%%stream --blocking`` (or ``%%sql --blocking``, ``magic="sql"``) as the kernel
        runs it: the cell awaits the job, so the kernel's event loop keeps turning (the
        widget's Stop button is handled) and a kernel interrupt cancels the wait (see
        :func:`await_blocking_cells`)."""
        __tracebackhide__ = True  # noqa: F841
        job = self._start(line, cell) if magic == "stream" else self._start_sql(line, cell)
        if not isinstance(job, LiveJob):
            return job  # a bounded query's DataFrame, or nothing
        try:
            with interrupt_cancels(asyncio.current_task()), kernel_stays_busy(self.shell):
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
        args = parse(STREAM, line)
        self.line = line
        if args.help:
            raise UsageError(STREAM.format_help())
        if args.pyflink and args.jython:
            raise usage(STREAM, "--pyflink and --jython: choose one")
        if args.params and (not args.jython or args.params[0] != "-"):
            raise usage(STREAM, "unrecognized arguments: " + " ".join(args.params)
                         + (" (a --jython program's parameters follow a lone -)"
                            if args.jython else ""))
        if (args.checkpoint or args.resume) and (args.pyflink or args.jython):
            which = "--pyflink" if args.pyflink else "--jython"
            raise usage(STREAM, f"--checkpoint and --resume are for nbstream pipelines, not "
                                 f"{which} programs (a program enables checkpointing in its "
                                 "own env: env.enable_checkpointing(ms))")
        if args.pyflink:
            self._run_pyflink(cell, args)
            return None
        if args.jython:
            return self._run_jython(cell, args)
        resume = self._resume(STREAM, args)
        env = self._environment(args)
        self._record_or_replay(env, args)
        self._check_to(args)
        if not cell.strip():
            raise usage(STREAM, "the cell is empty: write a pipeline that starts from `env`")
        name = self._job_name(args)
        shown: List[Tuple[Any, Dict[str, Any]]] = []
        last = self._run_cell_code(cell, env, shown)
        job = self._launch(env, self._streams(env, last, shown), args, name, resume)
        return job if args.blocking else None

    @staticmethod
    def _resume(parser: Parser, args: argparse.Namespace) -> Optional[Path]:
        """The savepoint folder of ``--resume`` (None without it), the options that go
        with it checked."""
        resume = savepoint_path(parser, "--resume", args.resume) if args.resume else None
        if args.allow_non_restored_state and resume is None:
            raise usage(parser, "--allow-non-restored-state goes with --resume SAVEPOINT")
        replay = getattr(args, "replay", None)
        if args.trust and resume is None and not replay:
            raise usage(parser, "--trust goes with --resume SAVEPOINT"
                                + (" or --replay NAME" if parser is STREAM else ""))
        return resume

    @staticmethod
    def _check_to(args: argparse.Namespace, parser: Parser = STREAM) -> None:
        if args.to is not None and (not args.to.isidentifier() or keyword.iskeyword(args.to)):
            raise usage(parser, f"--to needs a Python variable name, not {args.to!r}")

    def _job_name(self, args: argparse.Namespace, parser: Parser = STREAM) -> str:
        """The job's name (``--name`` or the next free one). The jobs this cell started
        when it ran before, and a running job of that name, are stopped first: a job
        belongs to its cell."""
        name = args.name or self.session.new_name()
        if not name.strip() or any(c.isspace() for c in name):
            raise usage(parser, f"--name must be a word without spaces, not {name!r}")
        for old in self.session.replace_cell(self.cell):
            print(f"stopped the previous job '{old}' of this cell")
        if self.session.stop(name):
            print(f"stopped the previous job '{name}'")
        return name

    def _launch(self, env: Any, streams: List[Tuple[Any, Dict[str, Any]]],
                args: argparse.Namespace, name: str, resume: Optional[Path] = None,
                results_for: Optional[List[Optional[LiveResults]]] = None,
                parser: Parser = STREAM) -> LiveJob:
        """Start ``env``'s job, showing ``streams`` live under the cell (from savepoint
        folder ``resume`` if given; ``results_for``: see :func:`~.live.start`)."""
        from ..runtime.checkpoints import CheckpointError
        from ..runtime.signing import UntrustedFileError

        if results_for is None and any(opts.get("columns") for _, opts in streams):
            results_for = [LiveResults(args.rows, key_fn=keyed_rolling_key(s),
                                       names=opts["columns"]) if opts.get("columns") else None
                           for s, opts in streams]
        try:
            job = start(env, [s for s, _ in streams], name=name, rows=args.rows,
                        labels=[opts.get("label") or s.get_name() for s, opts in streams],
                        savepoint_path=str(resume) if resume is not None else None,
                        resumed_from=resume.name if resume is not None else None,
                        allow_non_restored_state=getattr(args, "allow_non_restored_state",
                                                         False),
                        trust_savepoint=getattr(args, "trust", False), results_for=results_for)
        except UntrustedFileError as exc:
            raise UsageError(f"{parser.prog}: {exc.explain('--trust')}") from None
        except CheckpointError as exc:
            if resume is None:
                raise
            hint = (" (keep the steps' uid(...), or add --allow-non-restored-state to drop "
                    "that state)" if "does not have" in str(exc) else "")
            raise UsageError(f"{parser.prog} --resume {resume.name}: {exc}{hint}") from None
        job.cell = dict(self.cell)
        if args.to is not None:
            self.shell.user_ns[args.to] = job
        pumps = self._display(job, streams, args)
        self.session.add(job, pumps)
        return job

    def _environment(self, args: argparse.Namespace, parser: Parser = STREAM) -> Any:
        from ..api.environment import StreamExecutionEnvironment

        env = StreamExecutionEnvironment.get_execution_environment()
        try:
            env.set_execution_mode(args.mode or self.session.mode)
        except ValueError as exc:
            raise usage(parser, f"--mode: {exc}")
        env.set_parallelism(args.parallelism or self.session.parallelism)
        if getattr(args, "checkpoint", None):
            try:
                env.enable_checkpointing(args.checkpoint)
            except Exception as exc:  # PlanError: below the minimum interval
                raise usage(parser, f"--checkpoint: {exc}")
        return env

    def _run_cell_code(self, cell: str, env: Any, shown: List[Tuple[Any, Dict[str, Any]]]) -> Any:
        """Run the cell in the user namespace; return the value of its last expression."""
        __tracebackhide__ = True  # noqa: F841
        import nbstream

        from ..api.columnar import ColumnarStream
        from ..api.datastream import DataStream

        def show(stream: Any, *, chart: str = "auto", y: Optional[str] = None,
                 x: Optional[str] = None, label: Optional[str] = None,
                 columns: Optional[Sequence[str]] = None) -> Any:
            """Show ``stream`` live under this cell (chart: auto, line, bar or none; y: the
            column to chart; x: the column to chart it over, by default the window end or
            each record's time; columns: names of a tuple record's positions)."""
            if isinstance(stream, ColumnarStream):  # the live view shows rows
                stream = stream.to_rows(reason="the live view")
            if not isinstance(stream, DataStream):
                raise TypeError(f"show() takes a stream, not {type(stream).__name__}")
            if chart not in ("auto", "line", "bar", "none"):
                raise ValueError(f"show(chart=...) must be auto, line, bar or none, not {chart!r}")
            if columns is not None and (isinstance(columns, str)
                                        or not all(isinstance(c, str) for c in columns)):
                raise TypeError(f"show(columns=...) takes a list of names, not {columns!r}")
            shown.append((stream, {"chart": chart, "y": y, "x": x, "label": label,
                                   "columns": columns}))
            return stream

        ns = self.shell.user_ns
        for public in nbstream.__all__:
            ns.setdefault(public, getattr(nbstream, public))
        ns["env"], ns["show"] = env, show
        source = self.shell.transform_cell(cell)
        filename = self._cache(source, cell)
        try:
            tree = ast.parse(source, filename=filename)
        except SyntaxError as exc:  # as a plain cell shows it: where, the line, the caret
            exc.lineno = (exc.lineno or 0) + 1
            if getattr(exc, "end_lineno", None):
                exc.end_lineno += 1
            raise UsageError(_syntax_error(exc, f"In[{self.shell.execution_count}]")) from None
        ast.increment_lineno(tree, 1)  # line 1 is the %%stream line, as in the editor
        tail = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            tail = ast.Expression(tree.body.pop().value)
        exec(compile(tree, filename, "exec"), ns)  # noqa: S102 - the user's own cell
        return eval(compile(tail, filename, "eval"), ns) if tail is not None else None  # noqa: S307

    def _cache(self, source: str, cell: str) -> str:
        """Register the cell's code with IPython (its tracebacks read the lines back) as the
        editor shows the cell: the ``%%stream`` line first. Returns the file name to
        compile the code (one line down) with."""
        magic_line = f"%%stream {self.line}".rstrip() + "\n"
        return self.shell.compile.cache(magic_line + source, self.shell.execution_count,
                                        raw_code=magic_line + cell)

    def _run_pyflink(self, cell: str, args: argparse.Namespace) -> None:
        """Run a PyFlink program (``%%stream --pyflink``) in the user namespace, with its
        imports resolved to nbstream; ``--mode``/``%set_mode`` and ``--parallelism`` are
        the defaults of the environments it creates (its own configuration wins)."""
        __tracebackhide__ = True  # noqa: F841
        from ..compat.pyflink import activated

        mode = self._checked_mode(args)
        source = self.shell.transform_cell(cell)
        filename = self._cache(source, cell)
        with activated(mode=mode, parallelism=args.parallelism):  # one line down: the magic's
            exec(compile("\n" + source, filename, "exec"), self.shell.user_ns)  # noqa: S102

    def _checked_mode(self, args: argparse.Namespace) -> str:
        mode = args.mode or self.session.mode
        try:
            from ..runtime.executors import check_mode

            check_mode(mode)
        except Exception as exc:
            raise usage(STREAM, f"--mode: {exc}")
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
            raise usage(STREAM, "the cell is empty: write a program with main(factory)")
        jobs: List[LiveJob] = []

        def launch(env: Any, job_name: Optional[str]) -> LiveJob:
            name = self._job_name(args) if not jobs else self.session.new_name()
            if not env._graph.sinks:
                raise usage(STREAM, "env.execute(): the program added no sink (output(), "
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
            raise usage(STREAM, "the program's main(factory) never called env.execute()")
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
                raise usage(STREAM, "show a stream built from this cell's `env` (the cell "
                             "creates a fresh environment each time it runs)")
        if not streams and not env._graph.sinks:
            raise usage(STREAM, "nothing to run: end the cell with a stream, pass streams to "
                         "show(stream), or add a sink such as .print()")
        return streams

    def _display(self, job: LiveJob, streams: List[Tuple[Any, Dict[str, Any]]],
                 args: argparse.Namespace) -> List[Any]:
        if not _has_widgets(self.shell):
            print(f"{job.summary()}\n(stop it with %stream_stop {job.name})")
            job.client.on_done(lambda _c: print(job.report(), file=job.client.stdout))
            return []
        from .results import reduced_field
        from .widget import Pump

        pumps = []
        targets: Sequence[Tuple[Any, Dict[str, Any]]] = streams or [(None, {})]
        for index, (stream, opts) in enumerate(targets):
            results = job.results[index] if stream is not None else None
            label = job.labels[index] if stream is not None else job.name
            title = job.name if len(targets) == 1 else f"{job.name}: {label}"
            chart = opts.get("chart", "auto") if opts.get("chart", "auto") != "auto" else args.chart
            display_id = _display_id(job, index)
            pump = Pump(job, results, title, chart=chart, y=opts.get("y"), x=opts.get("x"),
                        reduced=(opts["reduced"] if "reduced" in opts  # %%sql: a value column
                                 else reduced_field(stream) if stream is not None else None),
                        limit=min(args.rows, 1000), index=index,
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
                with kernel_stays_busy(self.shell):
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
        """Run Flink SQL (``%%sql`` for a cell, ``%sql`` for one line) on the notebook's
        TableEnvironment ``t_env``: a bounded query returns a DataFrame, an unbounded one
        starts a background job shown live as an upserting table.

        ``%%sql [--name NAME] [--mode MODE] [--parallelism N] [--to VAR] [--rows N]
        [--chart KIND] [--blocking] [--checkpoint MS] [--resume SAVEPOINT] [--trust]
        [--batch]``
        """
        __tracebackhide__ = True  # noqa: F841
        result = self._start_sql(line, cell)
        if isinstance(result, LiveJob):
            self._block(result)
            return None
        return result

    def _start_sql(self, line: str, cell: Optional[str]) -> Any:
        """Run the SQL: the job if the cell is to wait for it, else what the cell shows."""
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

        args = parse(SET_MODE, line)
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
            raise usage(SET_MODE, str(exc))
        self.session.mode = args.mode
        print(f"execution mode: {args.mode}")

    @line_magic
    def set_parallelism(self, line: str) -> None:
        """``%set_parallelism N``: the default parallelism of later ``%%stream`` cells."""
        args = parse(SET_PARALLELISM, line)
        if args.parallelism is None:
            print(f"parallelism: {self.session.parallelism}")
            return
        self.session.parallelism = args.parallelism
        print(f"parallelism: {args.parallelism}")

    @staticmethod
    def _record_or_replay(env: Any, args: argparse.Namespace) -> None:
        if args.record and args.replay:
            raise usage(STREAM, "--record and --replay cannot be used together")
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
                    raise usage(STREAM, f"--speed must be a positive number or 'max', "
                                         f"not {args.speed!r}")
            env.replay(args.replay, speed, trust=args.trust)

    @line_magic
    def stream_recordings(self, line: str) -> Any:
        """``%stream_recordings``: a table of recordings (name, sources, records, size, time
        span); ``%stream_recordings --clear NAME`` deletes one."""
        args = parse(RECORDINGS, line)
        if args.clear:
            from ..connectors.recording import clear_recording

            clear_recording(args.clear)
            print(f"deleted recording '{args.clear}'")
            return None
        import pandas as pd

        return pd.DataFrame(recordings_table(), columns=RECORDING_COLUMNS)

    # -- jobs ---------------------------------------------------------------------------------
    @line_magic
    def stream_jobs(self, line: str) -> Any:
        """``%stream_jobs``: a table of this kernel's jobs (name, cell, mode, status -- with the
        functions of a stopped job that have not returned --, records in/out, records/s,
        watermark, uptime, restarts, last checkpoint id, error)."""
        parse(JOBS, line)
        import pandas as pd

        return pd.DataFrame(self.session.table(), columns=JOB_COLUMNS)

    @line_magic
    def stream_stop(self, line: str) -> None:
        """``%stream_stop NAME`` stops a job; ``%stream_stop --all`` stops every job;
        ``%stream_stop NAME --savepoint SP`` stops a job that checkpoints
        (``%%stream --checkpoint MS``) with savepoint SP, which ``%%stream --resume SP``
        starts from, in this kernel or a later one. Savepoints live in
        ``$NBSTREAM_SAVEPOINT_DIR``, else ``./.nbstream/savepoints``."""
        args = parse(STOP, line)
        if args.all == (args.name is not None):
            raise usage(STOP, "give a job name or --all (not both)")
        if args.all and args.savepoint is not None:
            raise usage(STOP, "--savepoint stops one job: give its name instead of --all")
        if args.all:
            running = self.session.stop_all()
            print(f"stopped {len(running)} job{'s' if len(running) != 1 else ''}"
                  + (": " + ", ".join(running) if running else ""))
            self._final_here(running)
            return
        job = self.session.jobs.get(args.name)
        if job is None:
            known = ", ".join(self.session.jobs) or "none yet"
            raise usage(STOP, f"no job named {args.name!r} (jobs: {known})")
        if args.savepoint is not None:
            stop_with_savepoint(self.session, job, args.savepoint)
            self._final_here([args.name])
            return
        if not self.session.stop(args.name):
            print(f"job '{args.name}' is not running ({job.status})")
            return
        print(f"stopped '{args.name}' ({job.status_text})")
        self._final_here([args.name])

    def _final_here(self, names: Sequence[str]) -> None:
        """The stopped jobs' final displays (their snapshots), sent again from this cell: a
        notebook runner (nbclient: the docs' build, ``nbconvert --execute``) takes a display
        update only from the cell it is running, and a job's own comes from its cell."""
        for name in names:
            job = self.session.jobs.get(name)
            for pump in self.session.pumps.get(name, []):
                pump.thread.join(STOP_WAIT_S)  # its own final display went first
                if job is not None and job.done:
                    _final_display(pump, job, _display_id(job, pump.index), announce=False)

    @line_magic
    def stream_savepoints(self, line: str) -> Any:
        """``%stream_savepoints``: a table of the named savepoints (name, time, job,
        checkpoint, bytes), oldest first; ``%stream_savepoints --clear NAME`` deletes one.
        They live in ``$NBSTREAM_SAVEPOINT_DIR``, else ``./.nbstream/savepoints``."""
        args = parse(SAVEPOINTS, line)
        if args.clear:
            folder = savepoint_path(SAVEPOINTS, "--clear", args.clear)
            shutil.rmtree(folder)
            print(f"deleted savepoint '{args.clear}'")
            return None
        import pandas as pd

        rows = savepoints_table()
        if not rows:
            print(f"no savepoint yet in {savepoints_dir()} (make one with "
                  "%stream_stop NAME --savepoint SP)")
        return pd.DataFrame(rows, columns=SAVEPOINT_COLUMNS)


def _has_widgets(shell: Any) -> bool:
    """True in a Jupyter kernel (widgets can render); False in terminal IPython."""
    return getattr(shell, "kernel", None) is not None


def _bundle(pump: Any, job: LiveJob) -> Dict[str, Any]:
    """The display of a view as the job starts: the widget, and for front ends without
    widgets a line that never claims the job is still running (it may have ended since)."""
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(job.started_at))
    return {"application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 1, "model_id": pump.view.model_id},
            "text/plain": f"nbstream job '{job.name}' [{job.mode}] started {started}; this "
                          "text becomes its results when it ends"}


def _display_id(job: LiveJob, index: int) -> str:
    return f"nbstream-{job.client.job_id}-{index}"


def _final_display(pump: Any, job: LiveJob, display_id: str, announce: bool = True) -> None:
    """When the job ends, the display keeps its results for when no kernel is there: a
    static snapshot (HTML: status, chart as SVG, table) and the text report; the widget
    shows instead wherever its model is alive. A failed job also says so in the cell
    (``announce``)."""
    try:
        update_display(_bundle(pump, job) | {"text/html": pump.snapshot_html(),
                                             "text/plain": job.report()},
                       raw=True, display_id=display_id)
        if announce and job.error is not None and pump.index == 0:  # once per job
            print(f"nbstream job '{job.name}' failed: {pump.view.error.get('summary', '')} "
                  "(the live view above shows where)", file=sys.stderr)
    except Exception as exc:  # the kernel may be shutting down
        job.client.warnings.append(f"final display failed: {exc!r}")


def _syntax_error(exc: SyntaxError, cell: str) -> str:
    """A syntax error in a ``%%stream`` cell, told as for a plain cell (no magic frames)."""
    exc.filename = f"Cell {cell}"
    text = "".join(traceback.format_exception_only(SyntaxError, exc)).rstrip()
    return "the cell has a syntax error:\n" + text.replace('File "Cell ', "Cell ").replace(
        f'{cell}", line', f"{cell}, line")
