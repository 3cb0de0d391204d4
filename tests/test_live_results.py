"""Live results: bounded, upserting, readable while the job runs; the deltas the live
view gets rebuild the newest rows exactly (checked against the front end's own code)."""

from __future__ import annotations

import os
import json
import math
import shutil
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbstream.notebook.live import error_info, start
from nbstream import Row, RowKind
from nbstream.notebook.results import LiveResults, json_cell, keyed_rolling_key, tuple_names

ROOT = Path(__file__).resolve().parent.parent


def window(key, start, n):
    return {"key": key, "window_start": start, "window_end": start + 10, "count": n}


def test_window_rows_are_upserted_by_key_and_window():
    r = LiveResults(max_rows=10)
    r.add([window("a", 0, 1), window("b", 0, 5), window("a", 10, 2)])
    r.add([window("a", 0, 3)])  # a late firing of (a, [0, 10))
    assert r.mode == "window"
    assert [(x["key"], x["window_start"], x["count"]) for x in r.rows()] == [
        ("b", 0, 5), ("a", 10, 2), ("a", 0, 3)]
    assert r.received == 4 and r.dropped == 0
    assert r.columns == ["key", "window_start", "window_end", "count"]


def test_window_all_rows_have_no_key():
    r = LiveResults()
    r.add([{"window_start": 0, "window_end": 5, "sum": 1.5},
           {"window_start": 0, "window_end": 5, "sum": 2.5}])
    assert r.rows() == [{"window_start": 0, "window_end": 5, "sum": 2.5}]
    _, changes, _ = r.changes_since(0, 10)
    assert changes[0][2] == "all"


def test_bound_drops_least_recently_touched_and_counts_them():
    r = LiveResults(max_rows=2)
    r.add([window("a", 0, 1), window("b", 0, 1), window("a", 0, 2), window("c", 0, 1)])
    assert [x["key"] for x in r.rows()] == ["a", "c"]
    assert r.dropped == 1


@given(st.lists(st.integers(), max_size=60), st.integers(1, 20))
def test_append_keeps_the_newest_rows(values, bound):
    r = LiveResults(max_rows=bound)
    for i in range(0, len(values), 7):
        r.add(values[i:i + 7])
    assert r.rows() == values[-bound:] if values else r.rows() == []
    assert r.dropped == max(0, len(values) - bound)
    assert r.received == len(values)


def test_keyed_rolling_reduce_keeps_the_current_value_per_key(env):
    words = ["to", "be", "or", "not", "to", "be", "that", "is", "to"]
    counts = env.from_collection(words).map(lambda w: (w, 1)).key_by(lambda t: t[0]).sum(1)
    assert keyed_rolling_key(counts) is not None
    job = start(env, [counts], name="words")
    job.result(30)
    reference = {}
    for w in words:
        reference[w] = reference.get(w, 0) + 1
    assert dict(job.rows()) == reference
    df = job.to_pandas()
    assert dict(zip(df["f0"], df["f1"])) == reference
    assert job.to_arrow().num_rows == len(reference)
    assert job.results[0].mode == "keyed"


def test_tuple_rows_take_their_column_names_from_the_pipeline_where_it_has_them(env):
    readings = pd.DataFrame({"sensor": ["a", "b", "a", "b"], "temp": [20, 25, 23, 21]})
    hottest = (env.from_dataframe(readings, rows="tuple").filter(lambda r: r[1] > 0)
               .key_by(lambda r: r[0]).max(1))
    assert tuple_names(hottest) == ["sensor", "temp"]  # through filter, key_by and max
    assert tuple_names(hottest.map(lambda r: (r[0], r[1] * 2))) is None  # a map may reshape
    as_rows = env.from_dataframe(readings, rows="tuple", columnar=False).filter(bool)
    assert tuple_names(as_rows) == ["sensor", "temp"]  # the row path names them too
    job = start(env, [hottest], name="hottest")
    job.result(30)
    assert job.results[0].columns == ["sensor", "temp"]
    frame = job.to_pandas()
    assert dict(zip(frame["sensor"], frame["temp"])) == {"a": 23, "b": 25}
    # given names (show(stream, columns=...)): used when the rows' length matches
    named = LiveResults(names=["word", "count"])
    named.add([("to", 1), ("be", 1)])
    assert named.columns == ["word", "count"] and list(named.to_pandas().columns) == ["word", "count"]
    wrong = LiveResults(names=["only"])
    wrong.add([("to", 1)])
    assert wrong.columns == ["f0", "f1"]
    kept = LiveResults(names=["a", "b"])
    kept.add([{"x": 1, "y": 2}])  # rows that name their fields keep their names
    assert kept.columns == ["x", "y"]


def test_a_plain_map_is_appended(env):
    doubled = env.from_sequence(1, 50).map(lambda x: 2 * x)
    assert keyed_rolling_key(doubled) is None
    job = start(env, [doubled], name="plain", rows=10)
    job.result(30)
    assert job.rows() == [2 * x for x in range(41, 51)]
    assert job.dropped == 40 and job.results[0].received == 50


def test_to_pandas_is_safe_and_current_while_the_job_runs(env):
    stop = threading.Event()

    def ticks():
        n = 0
        while not stop.is_set():
            yield (n % 5, n)
            n += 1

    stream = env.from_iterable(ticks).key_by(lambda t: t[0]).max(1)
    job = start(env, [stream], name="ticking")
    try:
        seen = []
        for _ in range(50):
            df = job.to_pandas()
            if len(df):
                seen.append(int(df["f1"].max()))
            if len(seen) > 5 and seen[-1] > seen[0]:
                break
            job.wait(0.02)
        assert len(seen) > 5 and seen == sorted(seen) and seen[-1] > seen[0]
        assert set(job.to_pandas()["f0"]) <= {0, 1, 2, 3, 4}
    finally:
        stop.set()
        job.stop()
        job.wait(10)
    assert job.status == "stopped"


def test_stats_count_records_in_and_out(env):
    source = env.from_sequence(1, 1000)
    evens = source.filter(lambda x: x % 2 == 0)
    job = start(env, [evens], name="evens")
    job.result(30)
    stats = job.stats()
    assert stats["records_in"] == 1000 and stats["records_out"] == 500
    assert stats["kept"] == 500 and stats["dropped"] == 0
    assert "1,000 in, 500 out" in job.summary()


def test_a_failure_names_step_record_and_the_users_line(env):
    def invert(x):
        return 1 / (x - 3)

    stream = env.from_collection([1, 2, 3, 4]).map(invert).name("invert")
    job = start(env, [stream], name="fails")
    job.wait(30)
    assert job.status == "failed"
    info = error_info(job.error)
    assert info["step"] == "invert" and info["record"] == "3"
    assert "ZeroDivisionError" in info["summary"]
    assert "return 1 / (x - 3)" in info["traceback"]
    assert "test_live_results.py" in info["traceback"]
    assert "nbstream/runtime" not in info["traceback"]
    assert "ZeroDivisionError" in job.report()


def test_json_cells():
    assert json_cell(float("nan")) == "nan" and json_cell(math.inf) == "inf"
    assert json_cell(2**60) == str(2**60) and json_cell(7) == 7
    assert json_cell(object()).startswith("<object")
    assert json.dumps([json_cell(v) for v in (None, True, "x", 1.5)], allow_nan=False)


# -- the deltas rebuild the newest rows, in the front end's own code ---------------------------

def reference_newest(ops, limit):
    """The newest `limit` rows by last touch, from the raw operations."""
    rows = OrderedDict()
    for key, value in ops:
        rows.pop(key, None)
        rows[key] = value
    return list(rows.items())[-limit:]


op_lists = st.lists(st.lists(st.tuples(st.sampled_from("abcdefgh"), st.integers(0, 3)),
                             max_size=12), max_size=8)


def deltas_for(batches, limit, max_rows):
    r = LiveResults(max_rows=max_rows)
    deltas, version = [], 0
    for batch in batches:
        r.add([window(k, w * 10, i) for i, (k, w) in enumerate(batch)])
        new, rows, columns = r.changes_since(version, limit)
        deltas.append({"from": version, "to": new, "rows": rows,
                       "removed": r.removed_since(version)})
        version = new
    return r, deltas


def replay_python(deltas, limit):
    """The front end's applyDelta, as written in js/store.js, in Python."""
    rows, version = OrderedDict(), 0
    for d in deltas:
        if d["to"] <= version:
            continue
        for rid in d.get("removed") or []:
            rows.pop(rid, None)
        for rid, cells, label, _time in d["rows"]:
            rows.pop(rid, None)
            rows[rid] = cells
        while len(rows) > limit:
            rows.popitem(last=False)
        version = d["to"]
    return list(rows.values())


@settings(max_examples=60)
@given(op_lists, st.integers(1, 6))
def test_deltas_rebuild_the_newest_rows(batches, limit):
    r, deltas = deltas_for(batches, limit, max_rows=max(limit, 6))
    _, snapshot, _ = r.changes_since(0, limit)
    assert replay_python(deltas, limit) == [cells for _, cells, _, _ in snapshot]


@pytest.fixture(scope="module")
def node():
    path = shutil.which("node")
    assert path, "node (Node.js) is needed to test the widget's front end module"
    return path


def test_the_front_end_module_applies_deltas_and_snapshots(node, tmp_path):
    batches = [[("a", 0), ("b", 0)], [("a", 0), ("c", 1)], [], [("d", 2), ("b", 0), ("e", 3)]]
    limit = 3
    r, deltas = deltas_for(batches, limit, max_rows=5)
    _, snapshot, columns = r.changes_since(0, limit)
    out = run_store(node, tmp_path, f"""
const deltas = {json.dumps(deltas)};
const store = createStore({limit});
const gaps = [];
for (const d of deltas) gaps.push(applyDelta(store, d).gap);
const replayed = [...store.rows.values()].map((r) => r.cells);
const late = createStore({limit});
const lateGap = applyDelta(late, deltas[deltas.length - 1]).gap;
applySnapshot(late, {{ version: store.version, rows: {json.dumps(snapshot)} }});
const spec = {{ kind: "line", x: "window_end", mode: "window" }};
const series = seriesOf(store, {json.dumps(columns)}, spec, "count");
const lateRows = [...late.rows.values()].map((r) => r.cells);
console.log(JSON.stringify({{ replayed, gaps, lateGap, late: lateRows,
  series: [...series.keys()].sort() }}));
""")
    expected = [cells for _, cells, _, _ in snapshot]
    assert out["replayed"] == expected
    assert out["gaps"] == [False] * len(deltas)
    assert out["lateGap"] is True and out["late"] == expected
    assert out["series"] == sorted({row[0] for row in expected})


def run_store(node, tmp_path, body, tz=None):
    """Run ``body`` as an ES module with js/store.js's exports imported; its JSON output
    (``tz``: the local time zone node runs in)."""
    script = tmp_path / "script.mjs"
    module = json.dumps((ROOT / "js" / "store.js").as_uri())
    script.write_text(f"import * as S from {module};\n"
                      "const { createStore, applyDelta, applySnapshot, seriesOf, pickKeys, aligned,"
                      " tableOrder, toCsv, progressText, changelogText, timeTicks } = S;\n" + body)
    env = dict(os.environ, TZ=tz) if tz else None
    done = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_time_axis_ticks_are_iso_dates_in_utc_or_local_time(node, tmp_path):
    """The chart's time axis (uPlot's own labels are US style): the time of day as precise
    as the spacing needs, the date on the first tick and where the day changes."""
    day = 86_400_000
    base = 1_700_006_400_000  # 2023-11-15 00:00:00 UTC
    out = run_store(node, tmp_path, f"""
const seconds = [{base - 2000}, {base}, {base + 2000}];
console.log(JSON.stringify({{
  utc: timeTicks(seconds, 2000, "UTC"),
  local: timeTicks(seconds, 2000, "local"),
  minutes: timeTicks([{base}, {base + 600_000}], 600_000, "UTC"),
  millis: timeTicks([{base + 250}], 250, "UTC"),
  days: timeTicks([{base}, {base + day}], {day}, "UTC"),
}}));
""", tz="Asia/Kolkata")  # UTC+05:30, no daylight saving
    assert out["utc"] == ["23:59:58\n2023-11-14", "00:00:00\n2023-11-15", "00:00:02"]
    assert out["local"] == ["05:29:58\n2023-11-15", "05:30:00", "05:30:02"]
    assert out["minutes"] == ["00:00\n2023-11-15", "00:10"]
    assert out["millis"] == ["00:00:00.250\n2023-11-15"]
    assert out["days"] == ["2023-11-15", "2023-11-16"]


def change(kind, key, value):
    row = Row(key, value)
    row.set_row_kind(kind)
    return row


KINDS = [RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER, RowKind.DELETE]
changelogs = st.lists(st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from("abcd"),
                                         st.integers(0, 3)), max_size=10), max_size=6)


def reference_table(batches, keyed):
    """What a changelog leaves, by hand: upserted per key, or a multiset of rows."""
    rows = OrderedDict() if keyed else []
    for batch in batches:
        for kind, key, value in batch:
            retract = kind in (RowKind.UPDATE_BEFORE, RowKind.DELETE)
            if keyed:
                rows.pop(key, None)
                if not retract:
                    rows[key] = (key, value)
            elif retract:
                if (key, value) in rows:
                    rows.remove((key, value))
            else:
                rows.append((key, value))
    return sorted(rows.values()) if keyed else sorted(rows)


@settings(max_examples=60, deadline=None)
@given(changelogs, st.booleans())
def test_a_changelog_upserts_by_key_and_removes(batches, keyed):
    r = LiveResults(max_rows=100, key_fn=(lambda row: row[0]) if keyed else None, mode="changelog")
    deltas, version = [], 0
    for batch in batches:
        r.add([change(*c) for c in batch])
        new, rows, _ = r.changes_since(version, 100)
        deltas.append({"from": version, "to": new, "rows": rows,
                       "removed": r.removed_since(version)})
        version = new
    assert sorted(tuple(row) for row in r.rows()) == reference_table(batches, keyed)
    assert sorted(map(tuple, replay_python(deltas, 100))) == reference_table(batches, keyed)


def test_the_front_end_store_removes_charts_over_time_sorts_filters_and_exports(node, tmp_path):
    r = LiveResults(max_rows=100, key_fn=lambda row: row[0], mode="changelog")
    deltas, version = [], 0
    for batch in ([change(RowKind.INSERT, "a", 1), change(RowKind.INSERT, "b", 5)],
                  [change(RowKind.UPDATE_BEFORE, "a", 1), change(RowKind.UPDATE_AFTER, "a", 7),
                   change(RowKind.DELETE, "b", 5), change(RowKind.INSERT, "c,x", 2)]):
        r.add(batch, timestamps=[1_700_000_000_000 + len(deltas) * 1000] * len(batch))
        new, rows, columns = r.changes_since(version, 100)
        deltas.append({"from": version, "to": new, "rows": rows,
                       "removed": r.removed_since(version)})
        version = new
    out = run_store(node, tmp_path, f"""
const store = createStore(100);
for (const d of {json.dumps(deltas)}) applyDelta(store, d);
const columns = {json.dumps(columns)};
const series = seriesOf(store, columns, {{ x: null, mode: "changelog" }}, "f1");
const picked = pickKeys(series, null, 1);
console.log(JSON.stringify({{
  rows: [...store.rows.values()].map((r) => r.cells),
  a: series.get("a"), picked, data: aligned(series, ["a", "b"]),
  sorted: tableOrder(store, columns, {{ sort: {{ column: "f1", desc: true }} }})
    .map((id) => store.rows.get(id).cells[0]),
  filtered: tableOrder(store, columns, {{ filter: "C,X" }}).length,
  csv: toCsv(store, columns, new Set()),
  progress: progressText({{ progress: {{ done: 500, total: 2000 }}, rate: 100 }}),
  changes: changelogText({json.dumps(r.kinds)}), plain: changelogText(undefined),
}}));
""")
    assert sorted(out["rows"]) == [["a", 7], ["c,x", 2]]  # b deleted, a updated
    assert out["a"] == [[1_700_000_000_000, 1], [1_700_000_001_000, 7]]  # a's value over time
    assert out["picked"] == {"shown": ["a"], "all": ["a", "b", "c,x"], "hidden": 2}
    assert out["data"][0] == [1_700_000_000_000, 1_700_000_001_000]
    assert out["data"][2] == [5, None]  # b had a value at the first time only
    assert out["sorted"] == ["a", "c,x"] and out["filtered"] == 1
    assert out["csv"] == 'f0,f1\na,7\n"c,x",2\n'
    assert out["progress"] == "500 of 2,000 (25 %), ETA 15 s"
    assert out["changes"] == " · +I 3 -U 1 +U 1 -D 1" and out["plain"] == ""  # header counters


def test_a_late_firing_updates_its_window_row(env):
    from nbstream import TumblingEventTimeWindows, WatermarkGenerator, WatermarkStrategy

    class EveryEvent(WatermarkGenerator):  # watermark = the event's timestamp, at once
        def on_event(self, event, timestamp, output):
            output.emit_watermark(timestamp)

    events = [("a", 1), ("b", 2), ("a", 25), ("a", 5), ("b", 30), ("a", 7)]  # 5 and 7: late
    counts = (env.from_collection(events)
              .assign_timestamps_and_watermarks(
                  WatermarkStrategy.for_generator(EveryEvent())
                  .with_timestamp_assigner(lambda e, _: e[1]))
              .key_by(lambda e: e[0])
              .window(TumblingEventTimeWindows.of(10))
              .allowed_lateness(100)
              .count())
    job = start(env, [counts], name="late")
    job.result(30)
    results = job.results[0]
    assert results.mode == "window"
    rows = {(r["key"], r["window_start"]): r["count"] for r in job.rows()}
    # (a, [0, 10)) fired at watermark 25 with 1 element, then again for each late one
    assert rows == {("a", 0): 3, ("b", 0): 1, ("a", 20): 1, ("b", 30): 1}
    assert results.received > len(rows)  # the late firings arrived ...
    assert len(job.to_pandas()) == 4  # ... and replaced their row
    _, changes, columns = results.changes_since(0, 10)
    assert columns == ["key", "window_start", "window_end", "count"]
    assert [(c[1], c[2]) for c in changes if c[1][:2] == ["a", 0]] == [(["a", 0, 10, 3], "a")]
    frame = job.to_pandas()  # window bounds as timezone-aware datetimes
    assert str(frame["window_end"].dtype) == "datetime64[ns, UTC]"
    assert frame["window_end"].min() == pd.Timestamp(10, unit="ms", tz="UTC")


def test_a_view_built_after_its_job_ended_says_finished_only_with_its_counts_and_rows(env):
    # under load a bounded job can end before the cell draws its view: the view must not
    # say "finished" above an empty header or table (a full run once showed progress "")
    from nbstream.notebook.widget import Pump

    job = start(env, [env.from_collection(list(range(50))).map(lambda n: n + 1)], name="late")
    job.result(30)
    pump = Pump(job, job.results[0], "late")
    seen = []
    pump.view.observe(lambda change: seen.append(
        (change["new"], pump.view.stats.get("progress"), len(pump.view.delta["rows"]))),
        names="status")
    assert pump.view.status == "running" and pump.view.stats["progress"] == {"done": 50, "total": 50}
    pump.start().thread.join(10)
    assert seen == [("finished", {"done": 50, "total": 50}, 50)]
