"""``%%sql``, ``%sql`` and ``%sql_tables`` in (terminal) IPython: a bounded query is a
DataFrame, DataFrames in the namespace are tables by name, an unbounded query runs in the
background as a live job, errors are one reason with a caret and the shell stays usable."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from nbstream.notebook.results import LiveResults
from nbstream.runtime.row import Row, RowKind


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext nbstream")
    yield sh
    sh.run_cell("%stream_stop --all")
    sh.run_cell("%unload_ext nbstream")


def test_a_bounded_query_over_a_dataframe_in_scope_returns_a_dataframe(shell):
    shell.user_ns["clicks"] = pd.DataFrame({"page": ["a", "b", "a"], "n": [1, 2, 3]})
    result = shell.run_cell("%%sql --to pages\n"
                            "SELECT page, COUNT(*) AS views, SUM(n) AS total\n"
                            "FROM clicks GROUP BY page")
    assert result.success, result.error_in_exec
    frame = shell.user_ns["pages"]
    assert sorted(frame.itertuples(index=False, name=None)) == [("a", 2, 4), ("b", 1, 2)]
    assert result.result is frame


def test_statements_before_the_query_run_first_and_tables_are_listed(shell, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("x,1\ny,2\n")
    result = shell.run_cell(
        "%%sql\n"
        f"CREATE TABLE files (s STRING, v INT) WITH ('connector' = 'filesystem', "
        f"'path' = '{path}', 'format' = 'csv');\n"
        "SELECT s, v * 10 AS v10 FROM files")
    assert result.success, result.error_in_exec
    assert result.result.to_dict("list") == {"s": ["x", "y"], "v10": [10, 20]}
    tables = shell.run_cell("%sql_tables").result
    row = tables[tables["name"] == "files"].iloc[0]
    assert (row["kind"], row["schema"]) == ("table", "s STRING, v INT")
    one = shell.run_cell("%sql SELECT 1 + 1 AS two").result
    assert one.to_dict("list") == {"two": [2]}


def test_an_unbounded_query_runs_in_the_background_as_a_live_job(shell, capsys):
    shell.run_cell("%%sql\nCREATE TABLE ticks (k INT) WITH ('connector' = 'datagen', "
                   "'rows-per-second' = '200', 'fields.k.min' = '0', 'fields.k.max' = '2')")
    result = shell.run_cell("%%sql --name counts --to counts\n"
                            "SELECT k, COUNT(*) AS c FROM ticks GROUP BY k")
    assert result.success, result.error_in_exec
    job = shell.user_ns["counts"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(job.results[0]) < 3:
        time.sleep(0.1)
    results = job.results[0]
    assert results.mode == "changelog"
    assert sorted(r[0] for r in results.rows()) == [0, 1, 2]  # one row per key (upserted)
    shell.run_cell("%stream_stop counts")
    assert job.wait(30) and job.done
    kinds = results.kinds  # read once the job stopped: a -U and its +U come in one batch
    assert kinds["+I"] == 3 and kinds["-U"] == kinds["+U"] > 0
    assert job.stats()["changelog"] == kinds
    assert f"changes +I 3 -U {kinds['-U']:,} +U {kinds['+U']:,} -D 0" in job.summary()


def test_a_syntax_error_is_one_reason_with_a_caret(shell):
    result = shell.run_cell("%%sql\nSELECT page,\n  FROM clicks WHERE")
    assert type(result.error_in_exec).__name__ == "UsageError"
    message = str(result.error_in_exec)
    assert "line" in message and message.rstrip().endswith("^")
    assert shell.run_cell("%sql SELECT 2 AS x").result.to_dict("list") == {"x": [2]}


def test_changelog_results_upsert_by_key_and_remove_retracted_rows():
    def row(kind, *values):
        r = Row(*values)
        r._fields = ["k", "c"]
        r.set_row_kind(kind)
        return r
    live = LiveResults(mode="changelog", key_fn=lambda r: r[0])
    live.add([row(RowKind.INSERT, "a", 1), row(RowKind.INSERT, "b", 1)])
    _, first, _ = live.changes_since(0, 10)
    ids = {cells[0]: rid for rid, cells, _, _ in first}
    version = live.version
    live.add([row(RowKind.UPDATE_BEFORE, "a", 1), row(RowKind.UPDATE_AFTER, "a", 2),
              row(RowKind.DELETE, "b", 1)])
    assert [tuple(r) for r in live.rows()] == [("a", 2)]
    _, changes, _ = live.changes_since(version, 10)
    assert live.removed_since(version) == [ids["b"]]  # the removed row
    assert [c[:3] for c in changes] == [(ids["a"], ["a", 2], "a")]  # the same row, in place
    assert live.kinds == {"+I": 2, "-U": 1, "+U": 1, "-D": 1}
    version = live.version
    live.add([row(RowKind.UPDATE_BEFORE, "a", 2)])  # a -U whose +U never comes: gone
    assert live.rows() == [] and live.removed_since(version) == [ids["a"]]


@pytest.mark.parametrize("line, reason", [
    ("--trust", "%%sql: --trust goes with --resume SAVEPOINT"),
    ("--allow-non-restored-state", "%%sql: --allow-non-restored-state goes with --resume"),
    ("--resume nosuch", "%%sql: --resume: there is no savepoint named 'nosuch'"),
    ("--mode nosuch --checkpoint 100", "%%sql: --mode: "),
    ("--to 1x", "%%sql: --to needs a Python variable name, not '1x'"),
])
def test_sql_takes_the_options_of_stream_with_the_same_checks(shell, line, reason):
    result = shell.run_cell(f"%%sql {line}\nSELECT 1 AS one")
    assert type(result.error_in_exec).__name__ == "UsageError"
    message = str(result.error_in_exec)
    assert message.startswith(reason), message
    assert "\nusage: %%sql [--name NAME] [--mode MODE]" in message
    usage = shell.run_cell("%%sql --help\nSELECT 1").error_in_exec
    for option in ("--blocking", "--checkpoint MS", "--resume SAVEPOINT", "--trust", "--chart",
                   "--batch"):
        assert option in str(usage)


def test_a_blocking_sql_cell_is_awaited_in_a_kernel():
    from nbstream.notebook.blocking import BLOCKING_ENTRY, await_blocking_cells

    code = "get_ipython().run_cell_magic('sql', '--blocking --name q', 'SELECT 1')\n"
    assert await_blocking_cells([code]) == [
        f"await {BLOCKING_ENTRY}('--blocking --name q', 'SELECT 1', 'sql')\n"]
    plain = "get_ipython().run_cell_magic('sql', '--name q', 'SELECT 1')\n"
    assert await_blocking_cells([plain]) == [plain]


def test_a_sql_line_keeps_its_quotes(shell):
    result = shell.run_cell("%sql --to quoted SELECT 'a b' AS s, UPPER('it''s') AS t, 1 AS `n`")
    assert result.success, result.error_in_exec
    assert shell.user_ns["quoted"].to_dict("list") == {"s": ["a b"], "t": ["IT'S"], "n": [1]}


def test_an_unbounded_query_stops_with_a_savepoint_and_resumes_its_counts(shell, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("NBSTREAM_SAVEPOINT_DIR", str(tmp_path / "savepoints"))
    monkeypatch.setenv("NBSTREAM_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    shell.run_cell("%%sql\nCREATE TABLE IF NOT EXISTS beats (k INT) WITH ('connector' = "
                   "'datagen', 'rows-per-second' = '200', 'fields.k.min' = '0', 'fields.k.max' = '2')")
    query = "SELECT k, COUNT(*) AS c FROM beats GROUP BY k"
    result = shell.run_cell(f"%%sql --name beats --checkpoint 100 --to before\n{query}")
    assert result.success, result.error_in_exec
    job = shell.user_ns["before"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (len(job.results[0]) < 3
                                           or job.fault_tolerance().get("completed", 0) < 2):
        time.sleep(0.1)
    stopped = shell.run_cell("%stream_stop beats --savepoint sqlsp")
    assert stopped.success, stopped.error_in_exec
    saved = {row[0]: row[1] for row in job.results[0].rows()}
    assert sorted(saved) == [0, 1, 2]
    again = shell.run_cell(f"%%sql --name beats --resume sqlsp --to after\n{query}")
    assert again.success, again.error_in_exec
    resumed = shell.user_ns["after"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(resumed.results[0]) < 3:
        time.sleep(0.1)
    shell.run_cell("%stream_stop beats")
    assert resumed.wait(30)
    counts = {row[0]: row[1] for row in resumed.results[0].rows()}
    assert all(counts[k] > saved[k] for k in saved), (saved, counts)  # counting went on
    assert resumed.results[0].kinds["+I"] == 0  # every key's count was in the savepoint
    assert resumed.fault_tolerance()["resumed_from"] == "sqlsp"
