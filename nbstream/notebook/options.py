"""The magics' options: one argparse parser per magic, raising IPython's UsageError (the
usage and a one-line reason) instead of exiting. ``%%stream --help`` prints STREAM's help.
The magics that start a job (``%%stream``, ``%%sql``) share its options (``--name``,
``--mode``, ``--blocking``, ``--checkpoint``, ``--resume``, ``--trust``...).

>>> parse(SET_PARALLELISM, "4").parallelism
4
>>> parse(STREAM, "--rows 0")
Traceback (most recent call last):
...
IPython.core.error.UsageError: %%stream: argument --rows: must be a positive integer, not 0
usage: ...
"""

from __future__ import annotations

import argparse
import shlex
from typing import Optional

from IPython.core.error import UsageError

__all__ = ["STREAM", "SQL", "SET_MODE", "SET_PARALLELISM", "STOP", "JOBS", "RECORDINGS", "SAVEPOINTS",
           "parse", "usage", "Parser", "SAVEPOINTS_WHERE", "CHECKPOINTS_WHERE"]

SAVEPOINTS_WHERE = ("$NBSTREAM_SAVEPOINT_DIR, else ./.nbstream/savepoints in the kernel's "
                    "working directory (the notebook's folder)")
CHECKPOINTS_WHERE = ("$NBSTREAM_CHECKPOINT_DIR, else ~/.cache/nbstream/checkpoints "
                     "($XDG_CACHE_HOME respected)")


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (usage + one-line reason) instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: Optional[str] = None) -> None:  # type: ignore[override]
        raise UsageError(message or self.format_help())


def _parser(prog: str, description: str) -> Parser:
    return Parser(prog=prog, description=description, add_help=False, allow_abbrev=False)


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


def _job_options(parser: Parser, what: str, to_help: str, trust_with: str) -> None:
    """The options every magic that starts a job has (``%%stream``, ``%%sql``), with the
    same meaning; ``what``: what runs ("pipeline", "query")."""
    parser.add_argument("--name", help="job name; re-running a cell with the same name stops "
                        "its previous job first (re-running a cell replaces its jobs anyway)")
    parser.add_argument("--mode", help="execution mode of this cell (default: %%set_mode)")
    parser.add_argument("--parallelism", type=_positive(), metavar="N",
                        help="default parallelism of this cell (default: %%set_parallelism)")
    parser.add_argument("--to", metavar="VAR", help=to_help)
    parser.add_argument("--rows", type=_positive(), default=1000, metavar="N",
                        help="rows kept and shown per stream (default 1000); older ones are "
                             "dropped")
    parser.add_argument("--chart", choices=("auto", "line", "bar", "none"), default="auto",
                        help="chart kind (default auto: lines for windows, bars for keyed "
                             "values)")
    parser.add_argument("--blocking", action="store_true",
                        help="wait for the job to end before the cell returns")
    parser.add_argument("--checkpoint", type=_positive(), metavar="MS",
                        help="checkpoint the job every MS milliseconds (at least 10): a failed "
                             "job restarts from its last checkpoint, the live view shows each "
                             "row exactly once (rows appear as checkpoints complete), and "
                             "%%stream_stop NAME --savepoint SP can stop it with a savepoint. "
                             f"Checkpoints go to {CHECKPOINTS_WHERE}")
    parser.add_argument("--resume", metavar="SAVEPOINT",
                        help=f"start the cell's {what} from named savepoint SAVEPOINT (made "
                             "by %%stream_stop NAME --savepoint SAVEPOINT; list them with "
                             "%%stream_savepoints): keyed state and open windows continue, "
                             "steps are matched by uid(...), else by name and position. "
                             "Combine with --checkpoint to keep checkpointing. Savepoints live "
                             f"in {SAVEPOINTS_WHERE}")
    parser.add_argument("--allow-non-restored-state", action="store_true",
                        help=f"with --resume: drop the savepoint's state of steps this {what} "
                             "no longer has (by default that is an error naming them)")
    parser.add_argument("--trust", action="store_true",
                        help=f"with {trust_with}: use it even if it is not signed by your key "
                             "(someone else's, or written by an older nbstream). Objects "
                             "pickled in it could run code: only for files whose origin you "
                             "trust")
    parser.add_argument("-h", "--help", action="store_true", help="show this help")


STREAM = _parser("%%stream", "Run the pipeline of this cell in the background, shown live.")
_job_options(STREAM, "pipeline", "bind the live job (results as DataFrame with "
             "VAR.to_pandas()) to this variable", "--resume or --replay (the savepoint or "
             "recording)")
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
STREAM.add_argument("--jython", action="store_true",
                    help="the cell is a program of Flink's old (Jython) Python streaming API: "
                         "its `org.apache.flink` imports resolve to nbstream and its "
                         "main(factory) runs here; each env.execute() starts a job shown "
                         "live, in this cell's mode and parallelism")
STREAM.add_argument("params", nargs="*", metavar="- PARAM",
                    help="with --jython: the program's parameters (its sys.argv[1:]) "
                         "after a lone -")

SQL = _parser("%%sql", "Run Flink SQL on the notebook's TableEnvironment (t_env): a bounded "
                       "query returns a DataFrame, an unbounded one starts a background job "
                       "shown live as an upserting table.")
_job_options(SQL, "query", "bind the result (a DataFrame, or the live job of an unbounded "
             "query) to this variable", "--resume (the savepoint)")
SQL.add_argument("--batch", action="store_true",
                 help="run in batch mode (final results only, no changelog)")
SQL.add_argument("line", nargs=argparse.REMAINDER, metavar="SQL",
                 help="with %%sql (one line): the statement")

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


def parse(parser: Parser, line: str) -> argparse.Namespace:
    """The options of a magic's ``line`` (shell words), or a UsageError."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"{parser.prog}: {exc}\n{parser.format_usage().strip()}")
    return parser.parse_args(words)


def usage(parser: Parser, reason: str) -> UsageError:
    """The error to raise for a bad use of ``parser``'s magic: the reason, then the usage."""
    return UsageError(f"{parser.prog}: {reason}\n{parser.format_usage().strip()}")
