"""``%%sql``, ``%sql`` and ``%sql_tables``: Flink SQL in the notebook, on the notebook's
TableEnvironment (``t_env`` in the user namespace; a DataFrame in the namespace is a table
by its name).

A bounded query returns a DataFrame (its final rows: a changelog applied); an unbounded one
starts a background job shown in the live view as an upserting table (updates replace the
row of their key, retractions remove it, with +I/-U/+U/-D counters), with ``--name``,
``--mode``, ``--blocking``, ``--checkpoint`` and ``--resume`` as ``%%stream`` has them.
Statements before the last (CREATE TABLE, SET...) run first, in order.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, List, Optional

from IPython.core.error import UsageError

__all__ = ["SQL", "table_environment", "run_sql", "tables_frame"]


def _parser() -> Any:
    from .magics import _parser as make, _positive
    p = make("%%sql", "Run Flink SQL: a bounded query returns a DataFrame, an unbounded one "
                      "starts a background job shown live.")
    p.add_argument("--name", help="job name of an unbounded query; re-running a cell with "
                   "the same name stops its previous job first")
    p.add_argument("--mode", help="execution mode (default: %%set_mode)")
    p.add_argument("--parallelism", type=_positive(), metavar="N",
                   help="default parallelism (default: %%set_parallelism)")
    p.add_argument("--to", metavar="VAR", help="bind the result (a DataFrame, or the live job "
                   "of an unbounded query) to this variable")
    p.add_argument("--rows", type=_positive(), default=1000, metavar="N",
                   help="rows kept and shown by the live view (default 1000)")
    p.add_argument("--blocking", action="store_true",
                   help="wait for an unbounded query's job to end before the cell returns")
    p.add_argument("--checkpoint", type=_positive(), metavar="MS",
                   help="checkpoint the job every MS milliseconds (as %%stream)")
    p.add_argument("--resume", metavar="SAVEPOINT",
                   help="start the job from named savepoint SAVEPOINT (as %%stream)")
    p.add_argument("--allow-non-restored-state", action="store_true",
                   help="with --resume: drop the savepoint's state of steps the query no "
                        "longer has")
    p.add_argument("--batch", action="store_true",
                   help="run in batch mode (final results only, no changelog)")
    p.add_argument("-h", "--help", action="store_true", help="show this help")
    p.add_argument("line", nargs=argparse.REMAINDER, help="with %%sql: the statement")
    return p


SQL = _parser()


def table_environment(shell: Any, batch: bool = False) -> Any:
    """The notebook's TableEnvironment: ``t_env`` of the user namespace if it is one, else a
    new streaming one bound there (a batch one for ``--batch``, not bound)."""
    from ..table import EnvironmentSettings, TableEnvironment
    if batch:
        return TableEnvironment.create(EnvironmentSettings.in_batch_mode())
    found = shell.user_ns.get("t_env")
    if isinstance(found, TableEnvironment):
        return found
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    shell.user_ns["t_env"] = t_env
    return t_env


def run_sql(magics: Any, line: str, cell: Optional[str]) -> Any:
    """The body of ``%sql`` / ``%%sql`` (``magics``: the StreamMagics instance)."""
    from .magics import _parse, _usage
    args = _parse(SQL, line)
    if args.help:
        raise UsageError(SQL.format_help())
    text = cell if cell is not None else " ".join(args.line)
    if cell is not None and args.line:
        raise _usage(SQL, "unrecognized arguments: " + " ".join(args.line))
    if not text.strip():
        raise _usage(SQL, "no SQL: write a statement (in the cell, or after %sql)")
    magics._check_to(args)
    t_env = table_environment(magics.shell, args.batch)
    config = t_env.get_config()
    config.set("python.execution-mode", args.mode or magics.session.mode)
    config.set("parallelism.default", str(args.parallelism or magics.session.parallelism))
    from ..table.sql import SqlRunner, statements
    from ..table.types import ValidationError
    parts = statements(text)
    runner = SqlRunner(t_env)
    try:
        for stmt in parts[:-1]:
            _print_result(runner.execute(stmt))
        last = parts[-1]
        head = last.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "WITH", "VALUES", "(") or last.lstrip().startswith("("):
            node = runner.query(last)
            if node.bounded and not args.checkpoint and not args.resume:
                frame = t_env.sql_query(last).to_pandas()  # its text: flink mode hands it on
                if args.to:
                    magics.shell.user_ns[args.to] = frame
                return frame
            return _live_query(magics, args, t_env, node)
        if head in ("INSERT", "EXECUTE") and not args.batch:
            target, node = runner.insert_target(last) if head == "INSERT" else (None, None)
            if node is not None and not node.bounded:
                return _live_insert(magics, args, t_env, target, node)
        result = runner.execute(last)
        if head in ("INSERT", "EXECUTE"):
            result.wait()
        _print_result(result)
        return None
    except ValidationError as exc:
        raise UsageError(f"%%sql: {exc}") from None


def _print_result(result: Any) -> None:
    text = result.to_text()
    if text:
        print(text)


def _start(magics: Any, args: Any, build: Callable[[Any], List[Any]],
           keys: Optional[List[Any]]) -> Any:
    from .magics import _savepoint_path, _usage
    resume = _savepoint_path(SQL, "--resume", args.resume) if args.resume else None
    if args.allow_non_restored_state and resume is None:
        raise _usage(SQL, "--allow-non-restored-state goes with --resume SAVEPOINT")
    env = magics._environment(args)
    name = magics._job_name(args)
    streams = build(env)
    job = magics._launch(env, [(s, {}) for s in streams], args, name, resume,
                         changelog_keys=keys)
    if args.blocking:
        magics._block(job)
    return None


def _live_query(magics: Any, args: Any, t_env: Any, node: Any) -> Any:
    """An unbounded query: a background job whose rows the live view upserts."""
    from ..table.streams import RowsOut

    def build(env: Any) -> List[Any]:
        ds = t_env._planner(env).translate(node)
        return [ds.map(RowsOut(node.names)).name("Table rows")]

    return _start(magics, args, build, [unique_key(node)])


def _live_insert(magics: Any, args: Any, t_env: Any, target: str, node: Any) -> Any:
    """An unbounded INSERT: a background job (the live view shows its progress)."""
    from ..table.environment import _fit_to_sink

    def build(env: Any) -> List[Any]:
        sink, names, types, path = t_env._sink_of(target)
        fitted = _fit_to_sink(node, names, types, path)
        sink.consume(t_env._planner(env).translate(fitted), names, types)
        return []

    return _start(magics, args, build, None)


class _Columns:
    """The key of a changelog row: some of its fields."""

    def __init__(self, positions: List[int]) -> None:
        self.positions = positions

    def __call__(self, row: Any) -> Any:
        return tuple(row[i] for i in self.positions)


def unique_key(node: Any) -> Optional[_Columns]:
    """The columns of a query's rows that identify a row of its result (the GROUP BY keys
    of an aggregation projected as they are), or None (the whole row)."""
    from ..table.plan import Aggregate, Calc
    from ..table.rex import InputRef
    if isinstance(node, Calc) and isinstance(node.input, Aggregate) and node.condition is None:
        agg = node.input
        positions = []
        for g in range(len(agg.group)):
            hits = [i for i, p in enumerate(node.projects) if isinstance(p, InputRef)
                    and p.index == g]
            if not hits:
                return None
            positions.append(hits[0])
        return _Columns(positions) if positions else _Columns([])
    return None


def tables_frame(shell: Any) -> Any:
    """``%sql_tables``: the tables and views of the notebook's TableEnvironment."""
    import pandas as pd

    from ..table.catalog import CatalogView
    t_env = table_environment(shell)
    rows = []
    for name in t_env.list_tables():
        entry = t_env._catalog.find(name)
        kind = "view" if isinstance(entry, CatalogView) else "table"
        try:
            node = t_env._scan(name)
            schema = ", ".join(f"{n} {t.summary_string()}" for n, t in zip(node.names,
                                                                          node.types))
        except Exception as exc:  # a table whose connector cannot be opened here
            schema = f"({exc})"
        rows.append({"name": name, "kind": kind, "schema": schema})
    return pd.DataFrame(rows, columns=["name", "kind", "schema"])
