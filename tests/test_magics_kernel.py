"""The magics driven through a real IPython kernel (jupyter_client), as a notebook does:
widgets over comms, output routing by parent header, interrupts."""

from __future__ import annotations

import time

import pytest

from kernel import Kernel

CLICKS = '''
import time, itertools
def clicks():
    for i in itertools.count():
        yield {"page": ["/home", "/cart", "/help"][i % 3], "ms": i % 100}
        if i % 20 == 0:
            time.sleep(0.002)
'''

ROLLING = ('env.from_iterable(clicks).map(lambda c: (c["page"], 1))'
           '.key_by(lambda t: t[0]).sum(1)')


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    assert k.execute("%load_ext nbstream").ok
    assert k.execute(CLICKS).ok
    yield k
    k.execute("%stream_stop --all")
    k.close()


def stream_cell(kernel, args, body=ROLLING, timeout=60):
    cell = kernel.execute(f"%%stream {args}\n{body}", timeout=timeout)
    assert cell.ok, cell.error
    return cell


def state_when(kernel, comm_id, predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = kernel.widget_state(comm_id)
        if state and predicate(state):
            return state
        time.sleep(0.05)
    shown = {k: v for k, v in state.items() if k in ("status", "stats", "error")}
    raise AssertionError(f"widget state never matched; last: {shown}")


def test_a_stream_cell_returns_at_once_and_its_widget_updates_live(kernel):
    cell = stream_cell(kernel, "--name live1 --to live1")
    [comm_id] = cell.widget_ids()
    [display] = cell.displays
    assert "nbstream job 'live1' [thread] started" in display["data"]["text/plain"]
    assert "running" not in display["data"]["text/plain"]  # kept as is when the job has ended
    first = state_when(kernel, comm_id, lambda s: s["stats"].get("records_in", 0) > 100)
    later = state_when(kernel, comm_id,
                       lambda s: s["stats"]["records_in"] > first["stats"]["records_in"] + 500)
    assert later["status"] == "running" and later["title"] == "live1"
    assert later["columns"] == ["f0", "f1"]
    # a keyed rolling sum: its value per key over time (x None: each row's time)
    assert later["chart"]["kind"] == "line" and later["chart"]["y_default"] == "f1"
    assert later["chart"]["x"] is None and later["chart"]["mode"] == "keyed"
    assert later["delta"]["to"] > first["delta"]["to"]
    assert {row[2] for row in later["delta"]["rows"]} <= {"/home", "/cart", "/help"}
    # updates are coalesced: at most ~10 a second however fast records arrive
    before = len(kernel.widget_updates(comm_id))
    time.sleep(1.5)
    after = len(kernel.widget_updates(comm_id))
    assert 3 <= after - before <= 1.5 * 10 + 2
    stop = kernel.execute("%stream_stop live1")
    assert "stopped 'live1' (stopped)" in stop.stdout
    final = state_when(kernel, comm_id, lambda s: s["status"] == "stopped")
    counted = kernel.execute("df = live1.to_pandas(); print(sorted(df['f0']), df['f1'].sum(), "
                             "live1.dropped, live1.stats()['records_out'])")
    pages, total, dropped, out = counted.stdout.split("] ")[0] + "]", *counted.stdout.split("] ")[1].split()
    assert pages == "['/cart', '/help', '/home']" and dropped == "0"
    # every click is counted once: the current sums add up to the records that arrived
    assert int(total) == int(out) == final["stats"]["records_out"]


def test_the_stop_button_stops_the_job(kernel):
    cell = stream_cell(kernel, "--name button --to button")
    [comm_id] = cell.widget_ids()
    state_when(kernel, comm_id, lambda s: s["stats"].get("records_in", 0) > 0)
    kernel.send_custom(comm_id, {"type": "stop"})
    state = state_when(kernel, comm_id, lambda s: s["status"] == "stopped")
    assert state["stats"]["records_in"] > 0
    assert kernel.execute("print(button.status)").stdout.strip() == "stopped"


def test_rerunning_a_named_cell_stops_its_previous_job(kernel):
    first = stream_cell(kernel, "--name again --to first")
    [first_id] = first.widget_ids()
    second = stream_cell(kernel, "--name again --to second")
    assert "stopped the previous job 'again'" in second.stdout
    state_when(kernel, first_id, lambda s: s["status"] == "stopped")
    out = kernel.execute("print(first.status, second.status)").stdout.split()
    assert out == ["stopped", "running"]
    jobs = kernel.execute("_t = %stream_jobs\n"
                          "print(_t.query('name == \"again\"')[['status']].to_dict('list'))")
    assert jobs.stdout.strip() == "{'status': ['running']}"
    kernel.execute("%stream_stop again")


def test_print_in_a_user_function_goes_to_the_cell_that_owns_the_job(kernel):
    body = ('def shout(x):\n'
            '    time.sleep(0.3)\n'
            '    print(f"seen {x}")\n'
            '    return x\n'
            'def numbers():\n'
            '    for n in (1, 2, 3):\n'
            '        print(f"made {n}")\n'
            '        yield n\n'
            'env.from_iterable(numbers).map(shout)')
    owner = kernel.submit(f"%%stream --name shouts --to shouts\n{body}")
    kernel.wait_for(lambda m: m["parent_header"].get("msg_id") == owner
                    and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    later = kernel.execute("time.sleep(1.2); print('later cell')")
    assert later.stdout == "later cell\n"
    kernel.execute("shouts.wait(10)")
    owned = "".join(m["content"]["text"] for m in kernel.of(owner) if m["msg_type"] == "stream")
    assert owned.count("seen ") == 3 and owned.count("made ") == 3
    assert "later cell" not in owned


def test_print_sink_output_goes_to_the_owning_cell(kernel):
    owner = kernel.submit("%%stream --name printing\n"
                          "env.from_iterable(lambda: (time.sleep(0.4) or x for x in 'abc')).print()")
    kernel.wait_for(lambda m: m["parent_header"].get("msg_id") == owner
                    and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    kernel.execute("time.sleep(1.6)")
    owned = "".join(m["content"]["text"] for m in kernel.of(owner) if m["msg_type"] == "stream")
    assert owned.splitlines()[-3:] == ["a", "b", "c"]


@pytest.mark.parametrize("line, reason", [
    ("--parallelism 0", "argument --parallelism: must be a positive integer, not 0"),
    ("--mode warp", "--mode: unknown execution mode 'warp'"),
    ("--to 1x", "--to needs a Python variable name, not '1x'"),
    ("--rows many", "argument --rows: must be a positive integer, not 'many'"),
    ("--bogus", "unrecognized arguments: --bogus"),
    ("--name 'a b'", "--name must be a word without spaces"),
])
def test_bad_arguments_get_usage_and_a_reason(kernel, line, reason):
    cell = kernel.execute(f"%%stream {line}\n{ROLLING}")
    assert cell.error["ename"] == "UsageError"
    message = cell.error["evalue"]
    assert reason in message and "usage: %%stream [--name NAME]" in message
    assert "Traceback" not in message


def test_a_cell_without_a_stream_is_refused(kernel):
    cell = kernel.execute("%%stream\nx = 1")
    assert cell.error["ename"] == "UsageError"
    assert "nothing to run: end the cell with a stream" in cell.error["evalue"]


def test_stream_stop_and_jobs(kernel):
    stream_cell(kernel, "--name one")
    stream_cell(kernel, "--name two")
    unknown = kernel.execute("%stream_stop three")
    assert unknown.error["ename"] == "UsageError"
    assert "no job named 'three'" in unknown.error["evalue"]
    both = kernel.execute("%stream_stop one --all")
    assert "give a job name or --all" in both.error["evalue"]
    stopped = kernel.execute("%stream_stop --all")
    assert "stopped 2 jobs: one, two" in stopped.stdout
    # the stopped views' snapshots come again in this cell: a notebook runner (nbclient)
    # takes a display update only from the cell it runs
    updates = [m["content"] for m in stopped.messages if m["msg_type"] == "update_display_data"]
    assert {u["transient"]["display_id"].rsplit("-", 1)[1] for u in updates} == {"0"}
    assert len(updates) == 2 and all("stopped:" in u["data"]["text/html"] for u in updates)
    table = kernel.execute("_t = %stream_jobs\nprint(_t.set_index('name').loc[['one', 'two'], "
                           "['mode', 'status']].values.tolist(), list(_t.columns))")
    assert table.stdout.strip() == (
        "[['thread', 'stopped'], ['thread', 'stopped']] ['name', 'cell', 'mode', 'status', "
        "'records_in', 'records_out', 'records_per_s', 'watermark', 'uptime_s', 'restarts', "
        "'checkpoint', 'error']")


def test_set_mode_and_parallelism(kernel):
    listing = kernel.execute("%set_mode")
    assert "current mode: thread" in listing.stdout and " * thread " in listing.stdout
    bad = kernel.execute("%set_mode warp")
    assert bad.error["ename"] == "UsageError" and "unknown execution mode 'warp'" in bad.error["evalue"]
    assert "usage: %set_mode" in bad.error["evalue"]
    assert kernel.execute("%set_parallelism 2").stdout.strip() == "parallelism: 2"
    try:
        stream_cell(kernel, "--name par --to par --blocking",
                    "env.from_sequence(1, 100).map(lambda x: (x % 3, x)).key_by(lambda t: t[0]).sum(1)")
        out = kernel.execute("print(max(m['parallelism'] for m in par.metrics().values()), "
                             "sorted(par.rows()))")
        assert out.stdout.strip() == "2 [(0, 1683), (1, 1717), (2, 1650)]"
    finally:
        kernel.execute("%set_parallelism 1")
    assert "must be a positive integer" in kernel.execute("%set_parallelism -3").error["evalue"]


def test_a_failed_job_shows_traceback_step_and_record_in_the_widget(kernel):
    body = ('def parse(line):\n'
            '    return int(line)\n'
            'env.from_collection(["1", "2", "x3"]).map(parse).name("parse")')
    cell = stream_cell(kernel, "--name broken", body)
    [comm_id] = cell.widget_ids()
    state = state_when(kernel, comm_id, lambda s: s["status"] == "failed" and s["error"])
    error = state["error"]
    assert error["step"] == "parse" and error["record"] == "'x3'"
    assert error["function"].startswith("parse")
    assert "return int(line)" in error["traceback"]
    assert "ValueError: invalid literal for int()" in error["traceback"]
    assert "nbstream/runtime" not in error["traceback"]


def test_blocking_waits_and_raises_the_jobs_error(kernel):
    ok = stream_cell(kernel, "--name blocks --to blocks --blocking",
                     "env.from_iterable(lambda: (time.sleep(0.01) or i for i in range(30)))")
    assert kernel.execute("print(blocks.status, len(blocks.rows()))").stdout.split() == ["finished", "30"]
    assert ok.ok
    failed = kernel.execute("%%stream --blocking\nenv.from_collection([0]).map(lambda x: 1 // x)")
    assert failed.error["ename"] == "UserFunctionError"
    assert "ZeroDivisionError" in failed.error["evalue"]


def test_the_stop_button_works_during_a_blocking_run(kernel):
    start = len(kernel.messages)
    msg_id = kernel.submit(f"%%stream --name fg --to fg --blocking\n{ROLLING}")
    comm_id = kernel.wait_widget(msg_id, start)
    state_when(kernel, comm_id, lambda s: s["stats"].get("records_in", 0) > 0)
    kernel.send_custom(comm_id, {"type": "stop"})
    reply = kernel.finish(msg_id, 30)
    assert reply["content"]["status"] == "ok"
    assert kernel.execute("print(fg.status)").stdout.strip() == "stopped"


def test_a_kernel_interrupt_stops_a_blocking_run(kernel):
    start = len(kernel.messages)
    msg_id = kernel.submit(f"%%stream --name irq --to irq --blocking\n{ROLLING}")
    comm_id = kernel.wait_widget(msg_id, start)
    state_when(kernel, comm_id,
               lambda s: s["stats"].get("records_in", 0) > 0)
    kernel.interrupt()
    reply = kernel.finish(msg_id, 30)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert kernel.execute("print(irq.status)").stdout.strip() == "stopped"


def test_await_a_job_in_the_kernels_event_loop(kernel):
    stream_cell(kernel, "--name awaited --to awaited",
                "env.from_iterable(lambda: (time.sleep(0.02) or i for i in range(20)))")
    cell = kernel.execute("result = await awaited\nprint(awaited.status, len(awaited.rows()), "
                          "result.job_name)")
    assert cell.ok, cell.error
    assert cell.stdout.split() == ["finished", "20", "awaited"]


def test_a_view_gets_a_snapshot_and_a_closed_view_releases_the_pump(kernel):
    cell = stream_cell(kernel, "--name views --to views")
    [comm_id] = cell.widget_ids()
    state_when(kernel, comm_id, lambda s: s["delta"]["to"] > 0)
    kernel.send_custom(comm_id, {"type": "snapshot"})
    deadline = time.monotonic() + 10
    while not kernel.custom_messages(comm_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    [snapshot] = kernel.custom_messages(comm_id)
    assert snapshot["type"] == "snapshot" and snapshot["version"] > 0
    assert sorted(r[2] for r in snapshot["rows"]) == ["/cart", "/help", "/home"]
    kernel.send_custom(comm_id, {"type": "view", "open": True, "id": "v1"})
    kernel.send_custom(comm_id, {"type": "view", "open": False, "id": "v1"})
    time.sleep(0.5)  # let the close reach the kernel and the last update leave
    paused_at = kernel.widget_state(comm_id)["delta"]["to"]
    time.sleep(0.6)
    assert kernel.widget_state(comm_id)["delta"]["to"] == paused_at  # no rows sent
    kernel.send_custom(comm_id, {"type": "view", "open": True, "id": "v2"})
    state_when(kernel, comm_id, lambda s: s["delta"]["to"] > paused_at)
    kernel.execute("%stream_stop views")


@pytest.mark.parametrize("exec_mode", ["thread", "process", "auto"])
def test_a_failing_step_next_to_an_endless_generator_fails_the_cell_job(kernel, exec_mode):
    # the notebook's most common pipeline: a generator source, a step that raises
    body = ('def invert(c):\n'
            '    return 1 // (c["ms"] - 57)\n'
            'env.from_iterable(clicks).map(invert).name("invert")')
    assert kernel.execute(f"%set_mode {exec_mode}").ok
    try:
        cell = stream_cell(kernel, f"--name endless_{exec_mode}", body)
        [comm_id] = cell.widget_ids()
        state = state_when(kernel, comm_id, lambda s: s["status"] == "failed" and s["error"])
        assert state["error"]["step"] == "invert" and "'ms': 57" in state["error"]["record"]
        assert "ZeroDivisionError" in state["error"]["traceback"]
        jobs = kernel.execute("_t = %stream_jobs\n"
                              f"print(_t.set_index('name').loc['endless_{exec_mode}', 'status'])")
        assert jobs.stdout.strip() == "failed"
    finally:
        kernel.execute("%set_mode thread")


def test_a_syntax_error_in_a_stream_cell_shows_the_line_and_caret_and_no_magic_frames(kernel):
    cell = kernel.execute("%%stream\nevents = env.from_collection([1, 2)\nevents.map(str)")
    assert cell.error["ename"] == "UsageError"
    text = cell.error["evalue"]
    # line 2 as the editor counts it: the %%stream line is line 1
    assert "the cell has a syntax error" in text and ", line 2" in text and "Cell In[" in text
    assert "events = env.from_collection([1, 2)" in text and "^" in text
    assert "SyntaxError: closing parenthesis ')' does not match opening parenthesis '['" in text
    assert "nbstream/" not in "\n".join(cell.error["traceback"])


@pytest.mark.parametrize("exec_mode", ["thread", "process"])
def test_a_failing_function_under_blocking_shows_the_users_frames_only(kernel, exec_mode):
    assert kernel.execute("def f_raise(x):\n    return 1 // (x - 2)\n").ok
    assert kernel.execute(f"%set_mode {exec_mode}").ok
    try:
        cell = kernel.execute("%%stream --blocking\nenv.from_collection([1, 2, 3]).map(f_raise)")
    finally:
        kernel.execute("%set_mode thread")
    assert cell.error["ename"] == "UserFunctionError"
    import re
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(cell.error["traceback"]))
    assert "----> 2     return 1 // (x - 2)" in shown and "ZeroDivisionError" in shown
    assert "<dynamic-code>" not in shown
    internal = [line for line in shown.splitlines()
                if "nbstream/" in line and "nbstream/notebook/magics.py" not in line]
    assert internal == []


COLUMNAR = '''import pandas as pd
frame = pd.DataFrame({"page": [i % 3 for i in range(30000)], "ts": list(range(30000)),
                      "v": [1] * 30000})
(env.from_dataframe(frame, timestamp_column="ts", columnar=True)
    .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps())
    .key_by("page").window(TumblingEventTimeWindows.of(1000))
    .agg(n="count", total=("v", "sum")))'''


def test_a_columnar_window_cell_shows_its_window_rows_live(kernel):
    cell = stream_cell(kernel, "--name col1 --to col1", body=COLUMNAR)
    [comm_id] = cell.widget_ids()
    final = state_when(kernel, comm_id, lambda s: s["status"] == "finished")
    assert final["columns"] == ["key", "window_start", "window_end", "n", "total"]
    counted = kernel.execute("df = col1.to_pandas(); print(len(df), df['n'].sum(), "
                             "sorted(set(df['key'])))")
    assert counted.stdout.split(maxsplit=2) == ["90", "30000", "[0, 1, 2]\n"]


def test_rerunning_a_cell_without_a_name_replaces_its_job_and_jobs_show_the_cell(kernel):
    first = kernel.execute(f"%%stream --to c1\n{ROLLING}", cell_id="cell-A")
    assert first.ok, first.error
    again = kernel.execute(f"%%stream --to c2\n{ROLLING}", cell_id="cell-A")
    assert again.ok, again.error
    assert "stopped the previous job 'stream-" in again.stdout and "of this cell" in again.stdout
    other = kernel.execute(f"%%stream --to c3\n{ROLLING}", cell_id="cell-B")  # another cell
    assert "stopped" not in other.stdout
    out = kernel.execute("print(c1.status, c2.status, c3.status)").stdout.split()
    assert out == ["stopped", "running", "running"]
    table = kernel.execute("_t = %stream_jobs\n"
                           "print(_t[_t.status == 'running'][['name', 'cell']].values.tolist())")
    running = eval(table.stdout.strip())  # noqa: S307 - the test's own output
    assert [cell for _, cell in running] == [f"In[{n}]" for n in sorted(
        int(c[3:-1]) for _, c in running)] and len(running) == 2
    # deleting a cell stops its job (JupyterLab sends the ids of deleted cells)
    gone = kernel.execute("print(c3.status)", deleted=["cell-B"], cell_id="cell-C")
    assert "its cell was deleted" in gone.stderr
    assert kernel.execute("print(c3.status)").stdout.strip() == "stopped"
    kernel.execute("%stream_stop --all")


def test_the_kernel_stays_busy_while_a_blocking_cell_runs(kernel):
    start = len(kernel.messages)
    msg_id = kernel.submit(f"%%stream --name busy --to busy --blocking\n{ROLLING}")
    comm_id = kernel.wait_widget(msg_id, start)
    state_when(kernel, comm_id, lambda s: s["stats"].get("records_in", 0) > 0)
    # a front end's control request (JupyterLab's debugger and usage probes use this channel):
    # ipykernel reports busy, then idle, for it, in the middle of the cell
    kernel.kc.control_channel.send(kernel.kc.session.msg("kernel_info_request"))
    time.sleep(1.0)
    statuses = [(m["parent_header"].get("msg_id"), m["content"]["execution_state"])
                for m in kernel.messages[start:] if m["msg_type"] == "status"]
    assert any(parent != msg_id and state == "idle" for parent, state in statuses)
    assert statuses[-1] == (msg_id, "busy")  # the last word while the cell runs: busy
    kernel.send_custom(comm_id, {"type": "stop"})
    assert kernel.finish(msg_id, 30)["content"]["status"] == "ok"


def test_an_ended_job_keeps_a_static_snapshot_and_a_failed_one_says_so(kernel):
    body = ('def parse(line):\n'
            '    n = int(line)\n'
            '    return {"page": "/p%d" % (n % 3), "n": n}\n'
            'env.from_collection(["1", "2", "3", "x4"]).map(parse).name("parse")')
    cell = stream_cell(kernel, "--name snap", body)
    [comm_id] = cell.widget_ids()
    state = state_when(kernel, comm_id, lambda s: s["status"] == "failed" and s["snapshot"])
    final = kernel.wait_for(lambda m: m["msg_type"] == "update_display_data"
                            and m["parent_header"].get("msg_id") == cell.msg_id, 30)
    html = final["content"]["data"]["text/html"]
    assert "<table" in html and "<svg" in html and "failed" in html and "<script" not in html
    assert "/p1" in html and "ValueError" in html
    assert "failed" in final["content"]["data"]["text/plain"]
    assert state["snapshot"] == html  # the widget carries it too (saved with the notebook)
    # the user's line as the editor numbers it (the %%stream line is line 1)
    assert "Cell In[" in state["error"]["traceback"] and ", line 3, in parse" in state["error"]["traceback"]
    assert state["error"]["summary"].startswith("ValueError: invalid literal")
    assert state["error"]["where"] == ("in step 'parse', function parse (Cell In[" + state["cell"][3:-1]
                                       + "], line 2), record 'x4'")
    warned = kernel.wait_for(lambda m: m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
                             and m["parent_header"].get("msg_id") == cell.msg_id, 30)
    assert "nbstream job 'snap' failed: ValueError" in warned["content"]["text"]


def test_process_mode_points_the_caret_at_the_failing_expression(kernel):
    body = ('def ratio(c):\n'
            '    scale = 10\n'
            '    return scale * 2 + 100 // (c["ms"] - 57)\n'
            'env.from_iterable(clicks).map(ratio).name("ratio")')
    cell = stream_cell(kernel, "--name caret --mode process", body)
    [comm_id] = cell.widget_ids()
    state = state_when(kernel, comm_id, lambda s: s["status"] == "failed" and s["error"], 60)
    lines = state["error"]["traceback"].splitlines()
    at = next(i for i, line in enumerate(lines) if "return scale * 2 + 100 // (c[" in line)
    assert ", line 4, in ratio" in lines[at - 1]
    source, caret = lines[at], lines[at + 1]
    underlined = source[len(caret) - len(caret.lstrip()):len(caret.rstrip())]
    assert underlined == '100 // (c["ms"] - 57)', (source, caret)


def test_a_bounded_job_reports_its_progress_and_exports_parquet(kernel):
    cell = stream_cell(kernel, "--name bounded --to bounded",
                       'env.from_collection([{"k": i % 4, "v": i} for i in range(2000)])'
                       '.key_by("k").max("v")')
    [comm_id] = cell.widget_ids()
    state = state_when(kernel, comm_id, lambda s: s["status"] == "finished")
    assert state["stats"]["progress"] == {"done": 2000, "total": 2000}
    assert state["chart"]["y_default"] == "v"  # the reduced field, not the key
    kernel.send_custom(comm_id, {"type": "export", "format": "parquet"})
    reply = kernel.wait_for(lambda m: m["msg_type"] == "comm_msg"
                            and m["content"].get("comm_id") == comm_id
                            and m["content"]["data"].get("content", {}).get("type") == "export", 30)
    import io

    import pyarrow.parquet as pq
    table = pq.read_table(io.BytesIO(reply["buffers"][0]))
    assert sorted(table.column("v").to_pylist()) == [1996, 1997, 1998, 1999]


SQL_TICKS = ("%%sql\nCREATE TABLE IF NOT EXISTS ticks (k INT) WITH ('connector' = 'datagen', "
             "'rows-per-second' = '200', 'fields.k.min' = '0', 'fields.k.max' = '2')")
SQL_COUNTS = "SELECT k, COUNT(*) AS c FROM ticks GROUP BY k"


def test_a_sql_cell_is_an_upserting_live_table_owned_by_its_cell(kernel):
    assert kernel.execute(SQL_TICKS).ok
    first = kernel.execute(f"%%sql --to q1\n{SQL_COUNTS}", cell_id="sql-A")
    assert first.ok, first.error
    [comm_id] = first.widget_ids()
    state = state_when(kernel, comm_id, lambda s: s["stats"].get("changelog", {}).get("+U", 0) > 3
                       and len(s.get("delta", {}).get("rows", [])) > 0)
    counts = state["stats"]["changelog"]
    assert counts["+I"] == 3 and counts["-D"] == 0 and counts["-U"] > 0
    assert state["chart"]["y_default"] == "c"  # the aggregate, not the key
    assert {row[2] for row in state["delta"]["rows"]} <= {"0", "1", "2"}  # labelled by key
    # the same cell again (no --name): it replaces its job, as a %%stream cell does
    again = kernel.execute(f"%%sql --to q2 --chart bar\n{SQL_COUNTS}", cell_id="sql-A")
    assert again.ok, again.error
    assert "stopped the previous job 'stream-" in again.stdout and "of this cell" in again.stdout
    assert kernel.execute("print(q1.status, q2.status)").stdout.split() == ["stopped", "running"]
    # %%sql --blocking is awaited: the Stop button is handled while the cell waits
    start = len(kernel.messages)
    msg_id = kernel.submit(f"%%sql --name sqlfg --to sqlfg --blocking\n{SQL_COUNTS}", "sql-B")
    blocking = kernel.wait_widget(msg_id, start)
    state_when(kernel, blocking, lambda s: s["stats"].get("records_in", 0) > 0)
    kernel.send_custom(blocking, {"type": "stop"})
    assert kernel.finish(msg_id, 30)["content"]["status"] == "ok"
    assert kernel.execute("print(sqlfg.status)").stdout.strip() == "stopped"
    kernel.execute("%stream_stop --all")


def test_show_names_the_positions_of_tuple_rows(kernel):
    cell = stream_cell(kernel, "--name named --to named",
                       'show(env.from_collection(["to", "be", "or", "to"]).map(lambda w: (w, 1))'
                       '.key_by(lambda t: t[0]).sum(1), columns=["word", "count"])')
    [comm_id] = cell.widget_ids()
    state = state_when(kernel, comm_id, lambda s: s["status"] == "finished")
    assert state["columns"] == ["word", "count"]
    assert state["chart"]["y_default"] == "count"  # sum(1): the reduced position, by its name
    counted = kernel.execute("print(dict(zip(named.to_pandas()['word'], named.to_pandas()['count'])))")
    assert counted.stdout.strip() == "{'be': 1, 'or': 1, 'to': 2}"
    refused = kernel.execute('%%stream\nshow(env.from_collection([(1, 2)]), columns="ab")')
    assert "show(columns=...) takes a list of names" in refused.error["evalue"]
