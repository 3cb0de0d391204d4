"""Columnar windows over integer keys are pre-aggregated by counting (``np.bincount``)
where that is exact: the same partials as Arrow's hash group-by (names, types, values), and
the same windows as the row path and a plain reference, for keys dense and sparse, values
small and near the edge of exact float sums, with nulls (which take the group-by)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import OutputTag, StreamExecutionEnvironment, TumblingEventTimeWindows, WatermarkStrategy
from nbstream.runtime.columnar import _counted
from tests.test_columnar import cases as columnar_cases
from tests.test_columnar import make_env, split
from tests.test_columnar import reference as columnar_reference
from tests.window_helpers import result_metric, run_all, run_job

AGGS = [([], "count_all"), ("v", "sum"), ("v", "count"), ("f", "sum")]


def sorted_table(t: pa.Table) -> pa.Table:
    return t.sort_by([("key", "ascending"), ("__start", "ascending")])


@pytest.mark.parametrize("key_type", [pa.int8(), pa.int32(), pa.int64(), pa.uint16()])
def test_the_counted_partials_are_the_group_bys(key_type):
    rng = np.random.default_rng(3)
    t = pa.table({"key": pa.array(rng.integers(0, 60, 5000), key_type),
                  "__start": rng.integers(-5, 25, 5000) * 1000,
                  "v": rng.integers(-1000, 1000, 5000), "f": rng.random(5000)})
    counted, grouped = sorted_table(_counted(t, ["key"], 1000, AGGS)), \
        sorted_table(t.group_by(["key", "__start"]).aggregate(AGGS))
    assert counted.schema.equals(grouped.schema)
    exact = ["key", "__start", "count_all", "v_sum", "v_count"]
    assert counted.select(exact).equals(grouped.select(exact))
    assert np.allclose(counted["f_sum"].to_numpy(), grouped["f_sum"].to_numpy())


def test_where_counting_would_not_be_exact_or_small_the_group_by_runs():
    base = {"__start": [0, 0], "f": [0.5, 1.5]}
    assert _counted(pa.table({"key": [1, 2], "v": [1 << 60, 1], **base}), ["key"], 1, AGGS) is None
    assert _counted(pa.table({"key": [0, 10 ** 9], "v": [1, 2], **base}), ["key"], 1, AGGS) is None
    assert _counted(pa.table({"key": [1, None], "v": [1, 2], **base}), ["key"], 1, AGGS) is None
    assert _counted(pa.table({"key": [1, 2], "v": [1, None], **base}), ["key"], 1, AGGS) is None
    assert _counted(pa.table({"key": ["a", "b"], "v": [1, 2], **base}), ["key"], 1, AGGS) is None


def reference(rows: List[Tuple[int, int, Optional[int]]], size: int) -> Dict[Tuple[int, int], Any]:
    out: Dict[Tuple[int, int], List[Any]] = defaultdict(lambda: [0, 0, 0])
    for k, ts, v in rows:
        acc = out[(k, ts - ts % size)]
        acc[0] += 1
        if v is not None:
            acc[1] += v
            acc[2] += 1
    return {key: (n, s, s / c if c else None) for key, (n, s, c) in out.items()}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.one_of(st.integers(0, 9), st.integers(-10 ** 6, 10 ** 6)),
                               st.integers(0, 5000),
                               st.one_of(st.none(), st.integers(-(1 << 40), 1 << 40))),
                     min_size=1, max_size=300),
       nulls=st.booleans(), batch=st.integers(1, 100), p=st.sampled_from([1, 2]))
def test_windows_over_integer_keys_equal_the_reference(rows, nulls, batch, p):
    if not nulls:  # values without nulls: counted, unless the keys spread too far
        rows = [(k, ts, 7 if v is None else v) for k, ts, v in rows]
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(p)
    table = pa.table({"key": [r[0] for r in rows], "ts": [r[1] for r in rows],
                      "v": pa.array([r[2] for r in rows], pa.int64())})
    out = (env.from_arrow(table, timestamp_column="ts", batch_rows=batch).key_by("key")
           .window(TumblingEventTimeWindows.of(1000)).agg(n="count", s=("v", "sum"),
                                                          m=("v", "mean")).to_pandas())
    got = {(int(k), int(w)): (int(n), int(s) if s == s else 0, None if m != m else m)
           for k, w, n, s, m in zip(out["key"], out["window_start"], out["n"], out["s"],
                                    out["m"])}
    want = reference(rows, 1000)
    assert got.keys() == want.keys()
    for key, (n, s, m) in want.items():
        assert got[key][:2] == (n, s)
        assert (got[key][2] is None) == (m is None) and (m is None or got[key][2] == pytest.approx(m))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=columnar_cases(), p=st.sampled_from([1, 2]), with_tag=st.booleans())
def test_counted_tumbling_windows_with_disorder_and_lateness_equal_the_reference(case, p,
                                                                                 with_tag):
    """Batches in order are counted straight from their timestamps; a batch with a row
    for a window already fired takes the row-by-row tests: late rows, windows fired again
    within the allowed lateness, and the watermark after every batch as the reference."""
    rows, batch, _kind, size, _slide, bound, lateness = case
    rows = [("abcd".index(k), ts, v) for k, ts, v in rows]  # integer keys: counted
    want, late = columnar_reference(split(rows, batch), size, size, bound, lateness)
    env = make_env("thread", p)
    table = pa.table({"k": [r[0] for r in rows], "ts": [r[1] for r in rows],
                      "v": [r[2] for r in rows]})
    windows = (env.from_arrow(table, timestamp_column="ts", batch_rows=batch).set_parallelism(1)
               .assign_timestamps_and_watermarks(WatermarkStrategy.for_bounded_out_of_orderness(bound))
               .key_by("k").window(TumblingEventTimeWindows.of(size)).allowed_lateness(lateness))
    aggs = dict(n="count", s=("v", "sum"), m=("v", "mean"))
    if with_tag or lateness:
        tag = OutputTag("late")
        windows = windows.side_output_late_data(tag).agg(**aggs)
        out, late_rows = run_all(env, windows, windows.get_side_output(tag))
        got_late = len(late_rows)
    else:  # pre-aggregated before the shuffle, late rows counted after it
        windows = windows.agg(**aggs)
        (out,), result = run_job(env, windows)
        got_late = result_metric(result, "Columnar: Window", "late_records")
    got = Counter((r["key"], r["window_start"], r["window_end"], r["n"], r["s"], r["m"])
                  for r in out)
    assert got == Counter({w[:5] + (w[7],): n for w, n in want.items()})
    assert got_late == late
