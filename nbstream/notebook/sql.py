"""``%%sql``, ``%sql`` and ``%sql_tables``: Flink SQL in the notebook, on the notebook's
TableEnvironment (``t_env`` in the user namespace; a DataFrame in the namespace is a table
by its name).

A bounded query returns a DataFrame (its final rows: a changelog applied); an unbounded one
starts a background job shown in the live view as an upserting table: its rows are a
changelog (:class:`~.results.LiveResults` in mode ``"changelog"``, keyed by the query's
unique key), so updates replace the row of their key, retractions remove it, and the
header counts the changes of each kind (+I/-U/+U/-D). The job takes the options of
``%%stream`` (:data:`~.options.SQL`: ``--name``, ``--mode``, ``--blocking``,
``--checkpoint``, ``--resume``, ``--trust``...) and belongs to its cell as a ``%%stream``
job does. Statements before the last (CREATE TABLE, SET...) run first, in order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from IPython.core.error import UsageError

from .options import SQL, parse, usage
from .results import LiveResults

__all__ = ["table_environment", "run_sql", "tables_frame", "unique_key"]

Shown = Tuple[Any, Dict[str, Any], Optional[LiveResults]]  # stream, show() options, results


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
    """The body of ``%sql`` / ``%%sql`` (``magics``: the StreamMagics instance): the
    query's DataFrame, or the job of an unbounded query run with ``--blocking`` (the cell
    waits for it), or None."""
    options, statement = split_line(line) if cell is None else (line, "")
    args = parse(SQL, options)
    if args.help:
        raise UsageError(SQL.format_help())
    text = cell if cell is not None else statement
    if cell is not None and args.line:
        raise usage(SQL, "unrecognized arguments: " + " ".join(args.line))
    if not text.strip():
        raise usage(SQL, "no SQL: write a statement (in the cell, or after %sql)")
    magics._check_to(args, SQL)
    resume = magics._resume(SQL, args)
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
            if node.bounded and not args.checkpoint and resume is None:
                frame = t_env._table(node).to_pandas()
                if args.to:
                    magics.shell.user_ns[args.to] = frame
                return frame
            return _live_query(magics, args, resume, t_env, node)
        if head in ("INSERT", "EXECUTE") and not args.batch:
            target, node = runner.insert_target(last) if head == "INSERT" else (None, None)
            if node is not None and not node.bounded:
                return _live_insert(magics, args, resume, t_env, target, node)
        result = runner.execute(last)
        if head in ("INSERT", "EXECUTE"):
            result.wait()
        _print_result(result)
        return None
    except ValidationError as exc:
        raise UsageError(f"%%sql: {exc}") from None


_WORD = re.compile(r"""\s*("[^"]*"|'[^']*'|\S+)""")


def split_line(line: str) -> Tuple[str, str]:
    """``%sql``'s line: its options, then the statement as typed (its quotes are SQL's:
    string literals, quoted names), not split into shell words.

    >>> split_line("--to x --mode thread SELECT 'a b' AS s")
    ('--to x --mode thread', "SELECT 'a b' AS s")
    """
    pos = 0
    while True:
        word = _WORD.match(line, pos)
        if word is None or not word.group(1).startswith("-"):
            break
        pos = word.end()
        action = SQL._option_string_actions.get(word.group(1))
        if action is not None and action.nargs != 0:  # the option's value
            value = _WORD.match(line, pos)
            pos = value.end() if value is not None else pos
    return line[:pos].strip(), line[pos:].strip()


def _print_result(result: Any) -> None:
    text = result.to_text()
    if text:
        print(text)


def _start(magics: Any, args: Any, resume: Optional[Path],
           build: Callable[[Any], List[Shown]]) -> Any:
    """Launch the job ``build(env)`` makes (its streams to show, with their live results)
    as ``%%stream`` launches a cell's: named, owned by the cell, shown under it."""
    env = magics._environment(args, SQL)
    name = magics._job_name(args, SQL)
    shown = build(env)
    job = magics._launch(env, [(s, opts) for s, opts, _ in shown], args, name, resume,
                         results_for=[live for _, _, live in shown], parser=SQL)
    return job if args.blocking else None


def _live_query(magics: Any, args: Any, resume: Optional[Path], t_env: Any, node: Any) -> Any:
    """An unbounded query: a background job whose changelog the live view applies (rows
    upserted by the query's unique key, retractions removing theirs)."""
    from ..table.streams import RowsOut

    key = unique_key(node)

    def build(env: Any) -> List[Shown]:
        ds = t_env._planner(env).translate(node)
        rows = ds.map(RowsOut(node.names)).name("Table rows")
        value = next((n for i, n in enumerate(node.names)
                      if key is None or i not in key.positions), None)
        live = LiveResults(args.rows, key_fn=key, mode="changelog")
        return [(rows, {"reduced": value}, live)]  # the chart draws the first value column

    return _start(magics, args, resume, build)


def _live_insert(magics: Any, args: Any, resume: Optional[Path], t_env: Any, target: str,
                 node: Any) -> Any:
    """An unbounded INSERT: a background job (the live view shows its progress)."""
    from ..table.environment import _fit_to_sink

    def build(env: Any) -> List[Shown]:
        sink, names, types, path = t_env._sink_of(target)
        fitted = _fit_to_sink(node, names, types, path)
        sink.consume(t_env._planner(env).translate(fitted), names, types)
        return []

    return _start(magics, args, resume, build)


class _Columns:
    """The key of a changelog row: some of its fields (one field: its value, as the live
    view labels the row; none, a query without GROUP BY keys: ``"all"``)."""

    def __init__(self, positions: List[int]) -> None:
        self.positions = positions

    def __call__(self, row: Any) -> Any:
        if len(self.positions) == 1:
            return row[self.positions[0]]
        return tuple(row[i] for i in self.positions) if self.positions else "all"


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
