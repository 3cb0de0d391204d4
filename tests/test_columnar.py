"""The columnar fast path: differential properties (columnar == row path == a plain
Python reference) over random batches, disorder, window kinds, lateness and
parallelism, in thread and process mode; sources; fallbacks; bad input."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from typing import Any, Dict, List, Tuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import (EventTimeSessionWindows, OutputTag, PlanError, SlidingEventTimeWindows,
                      StreamExecutionEnvironment, TumblingEventTimeWindows, UserFunctionError,
                      WatermarkGenerator, WatermarkStrategy)
from tests.window_helpers import result_metric, run_all, run_job

MIN = -(1 << 63)
AGGS = dict(n="count", s=("v", "sum"), lo=("v", "min"), hi=("v", "max"), m=("v", "mean"))


# -- the plain-Python reference ----------------------------------------------------------------
def window_starts(ts: int, size: int, slide: int) -> List[int]:
    last = ts - (ts + slide) % slide
    return [s for s in range(last, ts - size, -slide)]


def summary(key: Any, start: int, size: int, values: List[int]) -> Tuple:
    return (key, start, start + size, len(values), sum(values), min(values), max(values),
            sum(values) / len(values))


def reference(batches: List[List[Tuple[str, int, int]]], size: int, slide: int, bound: int,
              lateness: int) -> Tuple[Counter, int]:
    """Window results and late rows with a watermark after each batch (max ts - bound - 1),
    Flink's lateness rules: a late-but-allowed row fires its window again at once."""
    wm, top = MIN, MIN
    state: Dict[Tuple[str, int], List[int]] = {}
    fired: set = set()
    out: Counter = Counter()
    late = 0

    def advance(new: int) -> None:
        for (k, s) in sorted(state):
            if (k, s) not in fired and s + size - 1 <= new:
                out[summary(k, s, size, state[(k, s)])] += 1
                fired.add((k, s))
        for (k, s) in [w for w in state if w[1] + size - 1 + lateness <= new]:
            del state[(k, s)]
            fired.discard((k, s))

    for batch in batches:
        for k, ts, v in batch:
            accepted = False
            for s in window_starts(ts, size, slide):
                if s + size - 1 + lateness <= wm:
                    continue
                accepted = True
                state.setdefault((k, s), []).append(v)
                if s + size - 1 <= wm:
                    out[summary(k, s, size, state[(k, s)])] += 1
                    fired.add((k, s))
            late += not accepted
            top = max(top, ts)
        if batch and top - bound - 1 > wm:
            wm = top - bound - 1
            advance(wm)
    advance((1 << 63) - 1)
    return out, late


def as_tuples(rows: List[Dict[str, Any]]) -> Counter:
    return Counter((r["key"], r["window_start"], r["window_end"], r["n"], r["s"], r["lo"],
                    r["hi"], r["m"]) for r in rows)


# -- the two paths -------------------------------------------------------------------------------
class EveryBatch(WatermarkGenerator):
    """The row path's twin of per-batch watermarks: emit after every ``size`` records
    (and after the last), highest timestamp - bound - 1."""

    def __init__(self, size: int, total: int, bound: int) -> None:
        self.size, self.total, self.bound = size, total, bound
        self.seen, self.top = 0, MIN

    def on_event(self, value: Any, timestamp: int, output: Any) -> None:
        self.seen += 1
        self.top = max(self.top, timestamp)
        if self.seen % self.size == 0 or self.seen == self.total:
            output.emit_watermark(self.top - self.bound - 1)

    def on_periodic_emit(self, output: Any) -> None:
        pass


def make_env(mode: str, parallelism: int) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    env.get_config().set_auto_watermark_interval(0)
    return env


def assigner(kind: str, size: int, slide: int) -> Any:
    return TumblingEventTimeWindows.of(size) if kind == "tumbling" \
        else SlidingEventTimeWindows.of(size, slide)


def columnar_run(mode: str, p: int, rows: List[Tuple[str, int, int]], batch: int, kind: str,
                 size: int, slide: int, bound: int, lateness: int,
                 with_tag: bool = True) -> Tuple[Counter, int]:
    env = make_env(mode, p)
    table = pa.table({"k": [r[0] for r in rows], "ts": [r[1] for r in rows],
                      "v": [r[2] for r in rows]})
    tag = OutputTag("late") if with_tag else None
    # one reader, as the row path's collection: with several, each has its own watermark
    # and which rows are late depends on their timing (as in Flink)
    windows = (env.from_arrow(table, timestamp_column="ts", batch_rows=batch).set_parallelism(1)
               .assign_timestamps_and_watermarks(WatermarkStrategy.for_bounded_out_of_orderness(bound))
               .key_by("k").window(assigner(kind, size, slide)).allowed_lateness(lateness))
    if tag is None:  # no row needs to be seen alone: pre-aggregated before the shuffle
        windows = windows.agg(**AGGS)
        (out,), result = run_job(env, windows)
        return as_tuples(out), result_metric(result, "Columnar: Window", "late_records")
    windows = windows.side_output_late_data(tag).agg(**AGGS)
    assert "Columnar: Window" in env.explain()
    out, late = run_all(env, windows, windows.get_side_output(tag))
    return as_tuples(out), len(late)


def row_run(mode: str, p: int, rows: List[Tuple[str, int, int]], batch: int, kind: str,
            size: int, slide: int, bound: int, lateness: int) -> Tuple[Counter, int]:
    env = make_env(mode, p)
    total = len(rows)
    strategy = WatermarkStrategy.for_generator(lambda ctx: EveryBatch(batch, total, bound)) \
        .with_timestamp_assigner(lambda r, _: r["ts"])
    tag = OutputTag("late")
    windows = (env.from_collection([{"k": k, "ts": t, "v": v} for k, t, v in rows])
               .assign_timestamps_and_watermarks(strategy)
               .key_by(lambda r: r["k"]).window(assigner(kind, size, slide))
               .allowed_lateness(lateness).side_output_late_data(tag).agg(**AGGS))
    out, late = run_all(env, windows, windows.get_side_output(tag))
    return as_tuples(out), len(late)


@st.composite
def cases(draw: Any) -> Tuple:
    n = draw(st.integers(1, 80))
    bound = draw(st.sampled_from([0, 5, 20]))
    disorder = draw(st.sampled_from([0, 10, 60, 150]))  # beyond the bound: late rows
    base = sorted(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)))
    rows = [(draw(st.sampled_from("abcd")), max(0, t - draw(st.integers(0, disorder))),
             draw(st.integers(-5, 50))) for t in base]
    kind = draw(st.sampled_from(["tumbling", "sliding"]))
    size, slide = draw(st.sampled_from([(10, 10), (30, 10), (25, 10), (50, 20)]))
    if kind == "tumbling":
        slide = size
    batch = draw(st.integers(1, 30))
    lateness = draw(st.sampled_from([0, 15, 40]))
    return rows, batch, kind, size, slide, bound, lateness


def split(rows: List[Any], batch: int) -> List[List[Any]]:
    return [rows[i:i + batch] for i in range(0, len(rows), batch)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), p=st.sampled_from([1, 2, 4]), with_tag=st.booleans())
def test_columnar_equals_row_path_and_reference_in_thread_mode(case: Tuple, p: int,
                                                               with_tag: bool) -> None:
    rows, batch, kind, size, slide, bound, lateness = case
    expected, late = reference(split(rows, batch), size, slide, bound, lateness)
    assert columnar_run("thread", p, *case, with_tag=with_tag or lateness > 0) == (expected, late)
    assert row_run("thread", p, *case) == (expected, late)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), p=st.sampled_from([1, 2]), with_tag=st.booleans())
def test_columnar_equals_reference_in_process_mode(case: Tuple, p: int, with_tag: bool) -> None:
    rows, batch, kind, size, slide, bound, lateness = case
    expected = reference(split(rows, batch), size, slide, bound, lateness)
    assert columnar_run("process", p, *case, with_tag=with_tag or lateness > 0) == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), p=st.sampled_from([2, 3]), mode=st.sampled_from(["thread", "process"]))
def test_parallel_readers_with_disorder_within_the_bound_equal_the_reference(
        case: Tuple, p: int, mode: str) -> None:
    rows, batch, kind, size, slide, bound, _ = case
    rows = sorted(rows, key=lambda r: r[1])  # no row is late for any reader
    expected, late = reference(split(rows, batch), size, slide, bound, 0)
    env = make_env(mode, p)
    table = pa.table({"k": [r[0] for r in rows], "ts": [r[1] for r in rows],
                      "v": [r[2] for r in rows]})
    out = (env.from_arrow(table, timestamp_column="ts", batch_rows=batch)
           .assign_timestamps_and_watermarks(WatermarkStrategy.for_bounded_out_of_orderness(bound))
           .key_by("k").window(assigner(kind, size, slide)).agg(**AGGS))
    assert "Columnar: PartialWindow" in env.explain()
    assert as_tuples(out.execute_and_collect()) == expected and late == 0


def session_reference(batches: List[List[Tuple[str, int, int]]], gap: int,
                      bound: int) -> Tuple[Counter, int]:
    """Flink's session windows row by row: a row's window [ts, ts + gap) merges with the
    key's open sessions it touches; it is late only if it touches none and is late
    itself; sessions fire when the watermark (after each batch) passes their end."""
    wm, top = MIN, MIN
    sessions: Dict[str, List[List[Any]]] = defaultdict(list)
    out: Counter = Counter()
    late = 0

    def advance(new: int) -> None:
        for k in sessions:
            for s in [s for s in sessions[k] if s[1] - 1 <= new]:
                out[summary(k, s[0], s[1] - s[0], s[2])] += 1
                sessions[k].remove(s)

    for batch in batches:
        for k, ts, v in batch:
            start, end, values = ts, ts + gap, [v]
            touching = [s for s in sessions[k] if s[0] <= end and s[1] >= start]
            if not touching and end - 1 <= wm:
                late += 1
                continue
            for s in touching:
                start, end, values = min(start, s[0]), max(end, s[1]), s[2] + values
                sessions[k].remove(s)
            sessions[k].append([start, end, values])
            top = max(top, ts)
        if batch and top - bound - 1 > wm:
            wm = top - bound - 1
            advance(wm)
    advance((1 << 63) - 1)
    return out, late


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), gap=st.sampled_from([3, 10, 40]), p=st.sampled_from([1, 2]),
       mode=st.sampled_from(["thread", "thread", "process"]))
def test_session_windows_equal_the_row_path_and_reference(case: Tuple, gap: int, p: int,
                                                          mode: str) -> None:
    rows, batch, _kind, _size, _slide, bound, _lateness = case
    expected, late = session_reference(split(rows, batch), gap, bound)
    results = []
    for columnar in (True, False):
        env = make_env(mode, p)
        tag = OutputTag("late")
        if columnar:
            table = pa.table({"k": [r[0] for r in rows], "ts": [r[1] for r in rows],
                              "v": [r[2] for r in rows]})
            timed = (env.from_arrow(table, timestamp_column="ts", batch_rows=batch)
                     .set_parallelism(1)
                     .assign_timestamps_and_watermarks(
                         WatermarkStrategy.for_bounded_out_of_orderness(bound)))
            keyed = timed.key_by("k")
        else:
            strategy = WatermarkStrategy.for_generator(
                lambda ctx: EveryBatch(batch, len(rows), bound)) \
                .with_timestamp_assigner(lambda r, _: r["ts"])
            keyed = (env.from_collection([{"k": k, "ts": t, "v": v} for k, t, v in rows])
                     .assign_timestamps_and_watermarks(strategy).key_by(lambda r: r["k"]))
        windows = keyed.window(EventTimeSessionWindows.with_gap(gap)) \
            .side_output_late_data(tag).agg(**AGGS)
        assert ("Columnar: Window(EventTimeSessionWindows" in env.explain()) == columnar
        out, late_rows = run_all(env, windows, windows.get_side_output(tag))
        results.append((as_tuples(out), len(late_rows)))
    assert results[0] == (expected, late)
    assert results[1] == (expected, late)


def test_late_rows_reach_the_side_output_as_batches() -> None:
    env = make_env("thread", 1)
    table = pa.table({"k": ["a", "a", "a"], "ts": [100, 5000, 200], "v": [1, 2, 3]})
    tag = OutputTag("late")
    windows = env.from_arrow(table, timestamp_column="ts", batch_rows=1) \
        .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps()) \
        .key_by("k").window(TumblingEventTimeWindows.of(1000)).side_output_late_data(tag).sum("v")
    late = windows.get_side_output(tag).to_arrow()
    assert late.to_pylist() == [{"k": "a", "ts": 200, "v": 3}]


# -- sources -------------------------------------------------------------------------------------
def events(n: int) -> Any:
    import pandas as pd

    return pd.DataFrame({"key": [i % 7 for i in range(n)], "ts": list(range(0, n * 10, 10)),
                         "value": [i % 97 for i in range(n)]})


def windowed(stream: Any) -> Any:
    return (stream.assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps())
            .key_by("key").window(TumblingEventTimeWindows.of(1000))
            .agg(n="count", total=("value", "sum")))


def by_window(frame: Any) -> List[Dict[str, Any]]:
    return frame.sort_values(["window_start", "key"]).to_dict("records")


def pandas_answer(df: Any) -> List[Dict[str, Any]]:
    g = df.assign(window_start=df.ts - df.ts % 1000).groupby(["key", "window_start"])["value"]
    out = g.agg(n="count", total="sum").reset_index()
    out.insert(2, "window_end", out.window_start + 1000)
    return by_window(out)


def test_parquet_csv_arrow_and_dataframe_sources_agree_with_pandas(tmp_path: Any) -> None:
    df = events(3000)
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "a.parquet", row_group_size=500)
    df.to_csv(tmp_path / "a.csv", index=False)
    env = make_env("thread", 2)
    expected = pandas_answer(df)
    for stream in (env.read_parquet(str(tmp_path / "a.parquet"), "ts", batch_rows=256),
                   env.read_csv(str(tmp_path / "a.csv"), "ts", batch_rows=300),
                   env.from_arrow(pa.Table.from_pandas(df), "ts", batch_rows=1000),
                   env.from_dataframe(df, timestamp_column="ts", columnar=True)):
        assert by_window(windowed(stream).to_pandas()) == expected


def test_a_polars_frame_streams_as_arrow() -> None:
    import polars as pl

    df = events(2000)
    env = make_env("thread", 2)
    frame = pl.from_pandas(df).with_columns(pl.col("ts").cast(pl.Datetime("ms")))
    assert by_window(windowed(env.from_polars(frame, "ts", batch_rows=300)).to_pandas()) \
        == pandas_answer(df)


def test_parquet_folder_is_read_in_name_order_one_batch_at_a_time(tmp_path: Any) -> None:
    df = events(2000)
    for i in range(4):
        pq.write_table(pa.Table.from_pandas(df.iloc[i * 500:(i + 1) * 500]),
                       tmp_path / f"part-{i}.parquet")
    env = make_env("thread", 1)
    sizes = (env.read_parquet(str(tmp_path), "ts", batch_rows=128)
             .map_batches(lambda b: pa.record_batch({"rows": [b.num_rows],
                                                     "first": [b["ts"][0].as_py()]}),
                          format="arrow")
             .to_arrow())
    assert max(sizes["rows"].to_pylist()) <= 128 and sum(sizes["rows"].to_pylist()) == 2000
    assert sizes["first"].to_pylist() == sorted(sizes["first"].to_pylist())


def test_timestamps_of_any_unit_and_pandas_datetimes() -> None:
    import pandas as pd

    env = make_env("thread", 1)
    stamps = pd.to_datetime([0, 999, 1000, 2500], unit="ms")
    for unit in ("s", "ms", "us", "ns"):
        if unit == "s":
            data = pa.table({"key": [1] * 4, "ts": pa.array([0, 0, 1, 2], pa.timestamp("s")),
                             "value": [1, 2, 3, 4]})
            want = [(0, 3), (1000, 3), (2000, 4)]
        else:
            data = pa.table({"key": [1] * 4, "ts": pa.array(stamps).cast(pa.timestamp(unit)),
                             "value": [1, 2, 3, 4]})
            want = [(0, 3), (1000, 3), (2000, 4)]
        got = windowed(env.from_arrow(data, "ts")).to_pandas()
        assert list(zip(got.window_start, got.total)) == want, unit
    frame = pd.DataFrame({"key": [1, 1], "ts": pd.to_datetime([10, 1010], unit="ms"),
                          "value": [5, 6]})
    got = windowed(env.from_dataframe(frame, timestamp_column="ts", columnar=True)).to_pandas()
    assert got.total.tolist() == [5, 6]


# -- columnar steps and the fallback ------------------------------------------------------------
def test_filter_expression_and_map_batches_stay_columnar() -> None:
    env = make_env("thread", 1)
    df = events(500)
    stream = (env.from_dataframe(df, timestamp_column="ts", columnar=True)
              .filter(pc.field("value") > 40)
              .map_batches(lambda frame: frame.assign(value=frame.value * 2)))
    out = windowed(stream).to_pandas()
    kept = df[df.value > 40].assign(value=lambda f: f.value * 2)
    assert by_window(out) == pandas_answer(kept)
    plan = env.explain()
    assert "Columnar: Filter" in plan and "Columnar: MapBatches" in plan and "ToRows" not in plan


def test_a_row_function_converts_to_rows_once_and_says_why() -> None:
    env = make_env("thread", 1)
    stream = env.from_dataframe(events(20), timestamp_column="ts", columnar=True)
    doubled = stream.map(lambda r: r["value"] * 2)
    keys = stream.map(lambda r: r["key"])
    result = run_all(env, doubled, keys)
    assert sorted(result[0]) == sorted(v * 2 for v in events(20).value)
    plan = env.explain()
    assert plan.count("ToRows (for map())") == 1


def test_row_records_carry_the_time_column_as_timestamp() -> None:
    env = make_env("thread", 1)
    stream = env.from_dataframe(events(30), timestamp_column="ts", columnar=True)
    out = (stream.to_rows().assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps())
        .key_by(lambda r: r["key"]).window(TumblingEventTimeWindows.of(100)).count()
        .execute_and_collect())
    assert sum(r["count"] for r in out) == 30


def test_other_windows_and_aggregates_take_the_row_path_with_the_same_answer() -> None:
    env = make_env("thread", 1)
    df = events(200)
    stream = env.from_dataframe(df, timestamp_column="ts", columnar=True) \
        .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps())
    sessions = stream.key_by("key").window(EventTimeSessionWindows.with_gap(100)) \
        .allowed_lateness(50).count()
    firsts = stream.key_by("key").window(TumblingEventTimeWindows.of(1000)) \
        .agg(first=("value", "first"))
    got_sessions, got_firsts = run_all(env, sessions, firsts)
    assert sum(r["count"] for r in got_sessions) == 200 and len(got_sessions) == 7
    assert "ToRows (for session windows with allowed lateness)" in env.explain()
    want = df.assign(w=df.ts // 1000).groupby(["key", "w"]).value.first()
    assert sorted(r["first"] for r in got_firsts) == sorted(want.tolist())
    assert "ToRows (for a timestamp assigner)" not in env.explain()


def test_several_key_columns_and_nulls() -> None:
    env = make_env("thread", 2)
    data = pa.table({"a": ["x", "x", "y", None, None], "b": [1, 1, 1, 2, 2],
                     "ts": [0, 1, 2, 3, 4], "value": [1, None, 3, None, None]})
    out = (env.from_arrow(data, "ts").key_by(["a", "b"])
           .window(TumblingEventTimeWindows.of(1000))
           .agg(n="count", s=("value", "sum"), m=("value", "mean")).to_arrow().to_pylist())
    got = {(r["a"], r["b"]): (r["n"], r["s"], r["m"]) for r in out}
    assert got == {("x", 1): (2, 1, 1.0), ("y", 1): (1, 3, 3.0), (None, 2): (2, None, None)}
    rows = (env.from_arrow(data, "ts").key_by(["a", "b"])
            .window(TumblingEventTimeWindows.of(1000)).count().execute_and_collect())
    assert sorted(r["key"] for r in rows if r["key"][0]) == [("x", 1), ("y", 1)]


# -- bad input -----------------------------------------------------------------------------------
def test_missing_or_mistyped_timestamp_column_is_refused_before_running() -> None:
    env = make_env("thread", 1)
    with pytest.raises(PlanError, match="no timestamp column 'when'.*columns"):
        env.from_dataframe(events(3), timestamp_column="when", columnar=True)
    with pytest.raises(PlanError, match="'key' has type string"):
        env.from_arrow(pa.table({"key": ["a"]}), timestamp_column="key")
    with pytest.raises(PlanError, match="needs a time column"):
        env.from_arrow(pa.table({"k": [1]})).key_by("k").window(TumblingEventTimeWindows.of(5))


def test_null_timestamps_name_the_row_and_step() -> None:
    env = make_env("thread", 1)
    data = pa.table({"key": [1, 1, 1], "ts": [0, None, 5], "value": [1, 2, 3]})
    with pytest.raises(UserFunctionError, match=r"(?s)Timestamps/Watermarks.*null in row 1"):
        windowed(env.from_arrow(data, "ts")).to_pandas()


def test_truncated_parquet_and_bad_csv_name_the_file(tmp_path: Any) -> None:
    df = events(2000)
    path = tmp_path / "t.parquet"
    pq.write_table(pa.Table.from_pandas(df), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    env = make_env("thread", 1)
    with pytest.raises(PlanError, match="t.parquet is not a readable Parquet file"):
        env.read_parquet(str(path), "ts")
    csv = tmp_path / "bad.csv"
    csv.write_text("key,ts,value\n1,0,5\n1,10\n")
    with pytest.raises(UserFunctionError, match=r"(?s)cannot read CSV file .*bad.csv.*Expected 3 columns, got 2: 1,10"):
        windowed(env.read_csv(str(csv), "ts")).to_pandas()
    with pytest.raises(PlanError, match="no such file"):
        env.read_csv(str(tmp_path / "missing.csv"))
    assert not os.path.exists(tmp_path / "missing.csv")


@pytest.mark.parametrize("lateness", [0, 5])
def test_an_unknown_key_column_names_the_step_and_the_batch(lateness: int) -> None:
    env = make_env("thread", 2)
    stream = (env.from_arrow(pa.table({"k": [1, 2], "ts": [1, 2]}), "ts").key_by("nope")
              .window(TumblingEventTimeWindows.of(10)).allowed_lateness(lateness).count())
    with pytest.raises(UserFunctionError, match=r"(?s)Window\(Tumbling.*a batch of 2 rows, "
                                                r"columns \['k', 'ts'\].*\"nope\" does not exist"):
        stream.to_pandas()


def test_a_null_key_is_one_group_in_a_columnar_window():
    """pyarrow 16 groups a string key holding nulls wrongly when it leads the grouping keys
    (past 32 rows the nulls split into several groups): the window start leads them."""
    env = make_env("thread", 1)
    keys = [None] * 100 + ["a"] + [None, "b"] * 20
    table = pa.table({"k": pa.array(keys, pa.string()), "ts": [0] * len(keys),
                      "v": list(range(len(keys)))})
    windows = (env.from_arrow(table, timestamp_column="ts", batch_rows=1000).set_parallelism(1)
               .assign_timestamps_and_watermarks(WatermarkStrategy.for_monotonous_timestamps())
               .key_by("k").window(TumblingEventTimeWindows.of(1000)).agg(n="count"))
    (out,), _ = run_job(env, windows)
    assert sorted((r["key"] or "", r["n"]) for r in out) == [("", 120), ("a", 1), ("b", 20)]


def test_row_groups_read_on_several_threads_come_in_order_and_errors_where_due(
        tmp_path: Any) -> None:
    """Parquet row groups are decoded by two threads at once (_in_order): the batches still
    come in file order, a broken file's error comes after the batches before it, and
    closing early stops the threads."""
    import threading
    import time

    from nbstream.connectors.columnar import ArrowSource, _in_order

    def unit(i: int, n: int) -> Any:
        for j in range(n):
            if i % 3 == 0:
                time.sleep(0.002)  # a slow unit: the other reader runs ahead meanwhile
            yield (i, j)

    sizes = [(i * 7) % 5 for i in range(40)]
    assert list(_in_order(unit(i, n) for i, n in enumerate(sizes))) == \
        [(i, j) for i, n in enumerate(sizes) for j in range(n)]

    df = events(2000)
    for i in range(3):
        pq.write_table(pa.Table.from_pandas(df.iloc[i * 600:(i + 1) * 600]),
                       tmp_path / f"part-{i}.parquet", row_group_size=100)
    data = (tmp_path / "part-1.parquet").read_bytes()
    (tmp_path / "part-1.parquet").write_bytes(data[: len(data) // 2])
    got = []
    with pytest.raises(ValueError, match="cannot read Parquet file .*part-1.parquet"):
        for rb in ArrowSource.parquet(str(tmp_path), batch_rows=64).batches():
            got.append(rb)
    assert pa.Table.from_batches(got)["ts"].to_pylist() == df["ts"].iloc[:600].tolist()

    def readers() -> int:
        return sum(t.name == "nbstream read-ahead" for t in threading.enumerate())

    batches = _in_order(iter([unit(1, 1000), unit(2, 1000)]))
    next(batches)
    assert readers() == 2
    batches.close()
    assert readers() == 0
