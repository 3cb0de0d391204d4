"""Where widgets cannot render (terminal IPython): a plain-text summary when the job
starts, and the summary with the final table when it ends."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell


@pytest.fixture(scope="module")
def shell():
    sh = InteractiveShell.instance()
    sh.run_cell("%load_ext nbstream")
    yield sh
    sh.run_cell("%unload_ext nbstream")


def test_a_blocking_cell_prints_summary_and_final_table(shell, capsys):
    result = shell.run_cell(
        "%%stream --name words --to words --blocking\n"
        "(env.from_collection(['to be', 'or not', 'to be'])\n"
        "    .flat_map(str.split).map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1))")
    assert result.success, result.error_in_exec
    out = capsys.readouterr().out
    # a summary as the job starts (a job this small may already be finished by then: the
    # status is whatever it is at that moment), then the final one with the table
    start, end = out.split("(stop it with %stream_stop words)\n")
    assert start.startswith("nbstream job 'words' [thread] ") and start.count("\n") == 1
    assert start.split("] ")[1].split(":")[0].split()[0] in ("running", "finished")
    final = end.split("nbstream job 'words' [thread] finished: 3 in, 6 out")[1]
    table = [line.split() for line in final.splitlines()[1:]]
    assert table[0] == ["f0", "f1"]
    assert sorted(table[1:]) == [["be", "2"], ["not", "1"], ["or", "1"], ["to", "2"]]
    assert dict(shell.user_ns["words"].rows()) == {"to": 2, "be": 2, "or": 1, "not": 1}


def test_a_failed_job_prints_the_users_traceback(shell, capsys):
    result = shell.run_cell("%%stream --name bad --blocking\n"
                            "def half(x):\n"
                            "    return 10 // (x - 2)\n"
                            "env.from_collection([1, 2, 3]).map(half).name('halve')")
    assert not result.success
    assert type(result.error_in_exec).__name__ == "UserFunctionError"
    out = capsys.readouterr().out
    assert "nbstream job 'bad' [thread] failed" in out
    assert "return 10 // (x - 2)" in out and "ZeroDivisionError" in out


def test_usage_errors_are_one_reason_and_the_usage(shell, capsys):
    result = shell.run_cell("%stream_stop")
    assert type(result.error_in_exec).__name__ == "UsageError"
    assert str(result.error_in_exec).splitlines() == [
        "%stream_stop: give a job name or --all (not both)",
        "usage: %stream_stop [--all] [--savepoint SAVEPOINT] [name]"]
