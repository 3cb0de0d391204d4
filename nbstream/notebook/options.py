"""The magics' options: one argparse parser per magic, raising IPython's UsageError (the
usage and a one-line reason) instead of exiting. ``%%stream --help`` prints STREAM's help.

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

__all__ = ["STREAM", "SET_MODE", "SET_PARALLELISM", "STOP", "JOBS", "RECORDINGS", "SAVEPOINTS",
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
