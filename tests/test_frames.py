"""``from_dataframe`` takes the columnar path by default: every pipeline gives what it
gave on the row path (``columnar=False``): the same rows (dicts, tuples, Rows with the
values pandas gives), timestamps, per-key order and window results, in thread and process
mode; frames whose rows Arrow would change stay rows, and explain() says why."""

from __future__ import annotations

from typing import Any, Callable, List

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import (ColumnarStream, DataStream, ProcessFunction, StreamExecutionEnvironment,
                      TumblingEventTimeWindows, WatermarkStrategy)
from tests.window_helpers import run_all

Pipeline = Callable[[Any], Any]


def make_env(mode: str = "thread", parallelism: int = 1) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode).set_parallelism(parallelism)
    env.get_config().set_auto_watermark_interval(0)
    return env


class Stamped(ProcessFunction):
    def process_element(self, value: Any, ctx: Any) -> Any:
        yield value, ctx.timestamp()


def both(df: pd.DataFrame, pipeline: Pipeline, mode: str = "thread", p: int = 1,
         **kw: Any) -> List[Any]:
    """The pipeline's output over the default path and over rows; asserts they agree
    (as text: NaN is not equal to itself) and returns the default path's."""
    outs = []
    for columnar in (None, False):
        env = make_env(mode, p)
        (out,) = run_all(env, pipeline(env.from_dataframe(df, columnar=columnar, **kw)))
        outs.append(out)
    if p == 1:  # one reader, in order: the same sequence
        assert repr(outs[0]) == repr(outs[1])
    else:
        assert sorted(map(repr, outs[0])) == sorted(map(repr, outs[1]))
    return outs[0]


def mixed(n: int) -> pd.DataFrame:
    i = np.arange(n)
    return pd.DataFrame({
        "page": pd.array(["a", "b", None, "c"] * (n // 4), dtype=object),
        "ts": pd.to_datetime(i * 700, unit="ms"),
        "v": np.where(i % 5 == 0, np.nan, i * 0.5),
        "c": pd.Categorical(["x", "y"] * (n // 2)),
        "n": i,
        "ok": i % 3 == 0})


def windows(s: Any) -> Any:
    return s.key_by("c").window(TumblingEventTimeWindows.of("2s")).agg(
        cnt="count", total=("n", "sum"), top=("n", "max"), avg=("n", "mean"))


PIPELINES = {
    "rows": lambda s: s.map(lambda r: r),
    "stamped": lambda s: s.process(Stamped()),
    "watermarks then rows": lambda s: s.assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps()).process(Stamped()),
    "rolling reduce per key": lambda s: s.key_by("c").reduce(
        lambda a, b: {**b, "n": a["n"] + b["n"]}),
    "window": windows,
    "filter after window": lambda s: windows(s).filter(lambda r: r["cnt"] > 1),
}


@pytest.mark.parametrize("name", sorted(PIPELINES))
@pytest.mark.parametrize("mode,p", [("thread", 1), ("thread", 2), ("process", 2)])
def test_default_path_equals_rows(name: str, mode: str, p: int) -> None:
    out = both(mixed(40), PIPELINES[name], mode, p, timestamp_column="ts")
    assert out


@pytest.mark.parametrize("rows", ["dict", "tuple", "row"])
def test_row_kinds_are_those_asked_for(rows: str) -> None:
    out = both(mixed(8), lambda s: s.map(lambda r: (type(r).__name__, r)), rows=rows)
    assert {kind for kind, _ in out} == {{"dict": "dict", "tuple": "tuple", "row": "Row"}[rows]}


def test_the_natural_spelling_runs_columnar_and_explains_the_conversion() -> None:
    env = make_env()
    df = mixed(20)
    stream = env.from_dataframe(df, timestamp_column="ts")
    assert isinstance(stream, ColumnarStream)
    windows(stream).map(lambda r: r["cnt"]).print()
    plan = env.explain()
    assert "Columnar: DataFrame" in plan and "Columnar: Window" in plan
    assert "ToRows (for map())" in plan and "Source: DataFrame" not in plan


@pytest.mark.parametrize("frame,why", [
    (pd.DataFrame({"o": [[1], [2]]}), "column 'o' holds list values"),
    (pd.DataFrame({"s": ["a", np.nan]}), "column 's' has missing values that are not None"),
    (pd.DataFrame({0: [1, 2]}), "column names are not distinct strings"),
    (pd.DataFrame({"i": pd.array([1, None], dtype="Int64")}), "column 'i' is Int64"),
])
def test_frames_arrow_would_change_stay_rows_and_say_why(frame: pd.DataFrame, why: str) -> None:
    env = make_env()
    stream = env.from_dataframe(frame)
    assert isinstance(stream, DataStream)
    stream.print()
    assert f"Source: DataFrame (as rows: its {why})" in env.explain() \
        or f"Source: DataFrame (as rows: {why})" in env.explain()
    assert both(frame, lambda s: s.map(lambda r: r))


def test_a_float_time_column_stays_rows() -> None:
    frame = pd.DataFrame({"ts": [1.5, 2.0], "v": [1, 2]})
    out = both(frame, lambda s: s.process(Stamped()), timestamp_column="ts")
    assert [ts for _, ts in out] == [1, 2]


def test_a_frame_stream_joins_row_streams() -> None:
    env = make_env()
    frame = env.from_dataframe(pd.DataFrame({"v": [1, 2]}))
    rows = env.from_collection([{"v": 3}])
    union = rows.union(frame).map(lambda r: r["v"])
    both_ = rows.connect(frame).map(lambda a: -a["v"], lambda b: b["v"])
    got = run_all(env, union, both_)
    assert sorted(got[0]) == [1, 2, 3] and sorted(got[1]) == [-3, 1, 2]


@st.composite
def frames(draw: Any) -> pd.DataFrame:
    n = draw(st.integers(1, 30))
    ints = st.integers(-(1 << 40), 1 << 40)
    floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.just(np.nan))
    texts = st.one_of(st.none(), st.text(max_size=4))
    return pd.DataFrame({
        "k": draw(st.lists(st.sampled_from("abc"), min_size=n, max_size=n)),
        "ts": sorted(draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n))),
        "i": draw(st.lists(ints, min_size=n, max_size=n)),
        "f": draw(st.lists(floats, min_size=n, max_size=n)),
        "t": pd.array(draw(st.lists(texts, min_size=n, max_size=n)), dtype=object),
        "b": draw(st.lists(st.booleans(), min_size=n, max_size=n))})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames(), rows=st.sampled_from(["dict", "tuple"]))
def test_any_plain_frame_gives_the_same_rows_and_timestamps(df: pd.DataFrame, rows: str) -> None:
    both(df, lambda s: s.process(Stamped()), rows=rows, timestamp_column="ts")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames())
def test_any_plain_frame_gives_the_same_windows(df: pd.DataFrame) -> None:
    small = np.isfinite(df["f"]) & (df["f"].abs() < 1e9)
    df = df.assign(f=df["f"].where(small, 0.0).round(3))  # sums in any order
    both(df, lambda s: s.key_by("k").window(TumblingEventTimeWindows.of(1000)).agg(
        n="count", si=("i", "sum"), lo=("f", "min"), hi=("i", "max")), timestamp_column="ts")


@pytest.mark.flink
def test_in_flink_mode_a_frame_is_rows_from_the_start() -> None:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("flink")
    stream = env.from_dataframe(pd.DataFrame({"v": [1, 2]}))
    assert isinstance(stream, DataStream)
    assert stream.get_name() == "Source: DataFrame (as rows: flink mode)"
