"""Python UDFs of the Table API: the execution-mode guide's table (general UDF, UDTF, UDAF,
pandas UDF/UDAF) in thread, process and auto mode with the same results, where each really
runs, open/close and the FunctionContext, batches and bundles, and the errors a user meets."""

from __future__ import annotations

import os
import threading
import traceback

import pandas as pd
import pytest

from nbstream.errors import NbstreamError, PlanError, UserFunctionError
from nbstream.runtime.row import Row
from nbstream.table import (DataTypes, EnvironmentSettings, TableEnvironment, ValidationError,
                            call, col)
from nbstream.table.udf import AggregateFunction, ScalarFunction, udaf, udf, udtf

KERNEL = os.getpid()
MODES = ["thread", "process", "auto"]
ROWS = [(1, "a", 2.0), (2, "b", 3.5), (3, "a", 1.0), (4, "c", 0.5), (5, "a", 4.0)]


def t_env(mode: str = "thread", batch: bool = False, **config: str) -> TableEnvironment:
    env = TableEnvironment.create(EnvironmentSettings.in_batch_mode() if batch
                                  else EnvironmentSettings.in_streaming_mode())
    env.get_config().set("python.execution-mode", mode)
    env.get_config().set("parallelism.default", "1")
    for key, value in config.items():
        env.get_config().set(key.replace("_", "."), value)
    return env


def rows(table) -> list:
    with table.execute().collect() as it:
        return [(str(r.get_row_kind()),) + tuple(r) for r in it]


# -- the four kinds of the guide's table, each recording the process it ran in -----------------
@udf(result_type=DataTypes.ROW([DataTypes.FIELD("id", DataTypes.BIGINT()),
                                DataTypes.FIELD("v", DataTypes.BIGINT()),
                                DataTypes.FIELD("pid", DataTypes.BIGINT())]))
def times_ten(x):
    return Row(x, x * 10, os.getpid())


@udtf(result_types=[DataTypes.STRING(), DataTypes.BIGINT()])
def letters(s, n):
    for i in range(n % 3):
        yield f"{s}{i}", os.getpid()


class SumAndPid(AggregateFunction):
    def create_accumulator(self):
        return [0, 0]

    def accumulate(self, acc, x):
        acc[0] += x
        acc[1] = os.getpid()

    def retract(self, acc, x):
        acc[0] -= x

    def get_value(self, acc):
        return Row(acc[0], acc[1])

    def get_result_type(self):
        return DataTypes.ROW([DataTypes.FIELD("total", DataTypes.BIGINT()),
                              DataTypes.FIELD("pid", DataTypes.BIGINT())])

    def get_accumulator_type(self):
        return DataTypes.ARRAY(DataTypes.BIGINT())


sum_and_pid = udaf(SumAndPid())
scaled = udf(lambda x, y: x * y, result_type=DataTypes.DOUBLE(), func_type="pandas")
pandas_pid = udf(lambda x: pd.Series([os.getpid()] * len(x)), result_type=DataTypes.BIGINT(),
                 func_type="pandas")
mean = udaf(lambda v: v.mean(), result_type=DataTypes.DOUBLE(), func_type="pandas")
pandas_agg_pid = udaf(lambda v: os.getpid(), result_type=DataTypes.BIGINT(), func_type="pandas")


def general(env):
    t = env.from_elements(ROWS, ["id", "k", "x"])
    out = rows(t.map(times_ten(t.id)))
    return [r[:3] for r in out], {r[3] for r in out}


def table_function(env):
    t = env.from_elements(ROWS, ["id", "k", "x"])
    out = rows(t.join_lateral(letters(t.k, t.id).alias("s", "pid")).select(col("id"), col("s"),
                                                                           col("pid")))
    return [r[:3] for r in out], {r[3] for r in out}


def aggregate(env):
    t = env.from_elements(ROWS, ["id", "k", "x"])
    out = rows(t.group_by(t.k).aggregate(sum_and_pid(t.id).alias("total", "pid"))
               .select(col("k"), col("total"), col("pid")))
    return [r[:3] for r in out], {r[3] for r in out}


def pandas_kinds(env):
    t = env.from_elements(ROWS, ["id", "k", "x"])
    scalar = rows(t.select(t.id, scaled(t.id, t.x), pandas_pid(t.id)))
    grouped = rows(t.group_by(t.k).select(t.k, mean(t.x), pandas_agg_pid(t.x)))
    return ([r[:3] for r in scalar] + [r[:3] for r in grouped],
            {r[3] for r in scalar} | {r[3] for r in grouped})


KINDS = {"general UDF": general, "UDTF": table_function, "UDAF": aggregate,
         "pandas UDF and UDAF": pandas_kinds}
EXPECTED = {
    "general UDF": [("+I", i, i * 10) for i, _, _ in ROWS],
    "UDTF": [("+I", i, f"{k}{j}") for i, k, _ in ROWS for j in range(i % 3)],
    "UDAF": [("+I", "a", 9), ("+I", "b", 2), ("+I", "c", 4)],
    "pandas UDF and UDAF": [("+I", i, i * x) for i, _, x in ROWS]
    + [("+I", "a", 7.0 / 3), ("+I", "b", 3.5), ("+I", "c", 0.5)],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_of_udf_in_every_mode_gives_the_same_rows(kind, mode):
    got, pids = KINDS[kind](t_env(mode))
    assert sorted(got, key=repr) == sorted(EXPECTED[kind], key=repr)
    if mode == "process":
        assert KERNEL not in pids, f"{kind} ran in the kernel in process mode"


@pytest.mark.parametrize("kind", list(KINDS))
def test_thread_mode_runs_every_kind_in_the_kernel_process(kind):
    """PyFlink's thread mode covers general UDFs and UDTFs only and silently runs the
    others in a process; nbstream's runs all four in the task's thread here."""
    _got, pids = KINDS[kind](t_env("thread"))
    assert pids == {KERNEL}


def test_explain_says_where_each_python_step_runs():
    for mode in ("thread", "process"):
        env = t_env(mode)
        t = env.from_elements(ROWS, ["id", "k", "x"])
        text = t.select(scaled(t.id, t.x)).explain()
        steps = text.split("== Python Functions ==\n")[1].strip().splitlines()
        assert len(steps) == 1 and steps[0].startswith("PythonCalc(select=[")
        assert steps[0].endswith(f": {mode} (the job's mode)"), steps


# -- open/close, FunctionContext, names -----------------------------------------------------------
CLOSED = []


class Offset(ScalarFunction):
    def open(self, function_context):
        self.offset = int(function_context.get_job_parameter("offset", "0"))
        self.calls = function_context.get_metric_group().add_group("udf", "offset") \
            .counter("calls")

    def eval(self, x):
        self.calls.inc()
        return x + self.offset

    def close(self):
        CLOSED.append(self.offset)


def test_open_gets_job_parameters_and_a_metric_group_and_close_is_called():
    CLOSED.clear()
    env = t_env(pipeline_global__job__parameters="offset:100")
    env.get_config().set("pipeline.global-job-parameters", "offset:100")
    t = env.from_elements(ROWS, ["id", "k", "x"])
    result = t.select(udf(Offset(), result_type=DataTypes.BIGINT())(t.id)).execute()
    assert sorted(r[0] for r in result.collect()) == [101, 102, 103, 104, 105]
    result.get_job_client().wait(30)
    metrics = result.get_job_client().metrics()
    counted = [m["udf.offset.calls"] for m in metrics.values() if "udf.offset.calls" in m]
    assert counted == [5]
    assert CLOSED == [100]


def test_metrics_can_be_switched_off():
    env = t_env()
    env.get_config().set("python.metric.enabled", "false")
    t = env.from_elements(ROWS, ["id", "k", "x"])
    with pytest.raises(UserFunctionError, match="Metric has not been enabled"):
        rows(t.select(udf(Offset(), result_type=DataTypes.BIGINT())(t.id)))


def test_udf_names_determinism_and_refusals():
    assert udf(lambda i: i, result_type="BIGINT")._name == "<lambda>"
    assert udf(Offset(), result_type="BIGINT", name="off")._name == "off"
    assert udf(lambda i: i, result_type="BIGINT", deterministic=False)._deterministic is False
    with pytest.raises(ValueError, match="Inconsistent deterministic"):
        udf(Offset(), result_type="BIGINT", deterministic=False)
    with pytest.raises(TypeError, match="not a function or callable"):
        udf(object(), result_type="BIGINT")
    with pytest.raises(ValueError, match="func_type must be one of"):
        udf(lambda i: i, result_type="BIGINT", func_type="vectorized")
    with pytest.raises(TypeError, match="Pandas UDAF doesn't support"):
        udaf(lambda v: v, result_type=DataTypes.MAP(DataTypes.INT(), DataTypes.INT()),
             func_type="pandas")


def test_input_types_cast_the_arguments_and_complex_types_round_trip():
    @udf(input_types=[DataTypes.DOUBLE(), DataTypes.ARRAY(DataTypes.BIGINT())],
         result_type=DataTypes.ROW([DataTypes.FIELD("s", DataTypes.DECIMAL(10, 2)),
                                    DataTypes.FIELD("m", DataTypes.MAP(DataTypes.STRING(),
                                                                       DataTypes.BIGINT()))]))
    def describe(x, xs):
        assert isinstance(x, float)
        return Row(x + sum(xs), {"n": len(xs)})

    env = t_env()
    t = env.from_elements([(1, [1, 2]), (2, [5])], ["a", "xs"])
    got = [tuple(r) for r in t.select(describe(t.a, t.xs)).execute().collect()]
    import decimal
    assert [(r[0][0], r[0][1]) for r in got] == [(decimal.Decimal("4.00"), {"n": 2}),
                                                 (decimal.Decimal("7.00"), {"n": 1})]


# -- registration and SQL ------------------------------------------------------------------------
def test_registered_functions_in_sql_and_call_by_name():
    env = t_env()
    env.create_temporary_function("plus_one", udf(lambda i: i + 1, result_type="BIGINT"))
    env.create_temporary_system_function("total", sum_and_pid)
    env.create_temporary_view("T", env.from_elements(ROWS, ["id", "k", "x"]))
    env.create_temporary_function("mean", mean)
    got = [tuple(r) for r in env.execute_sql(
        "SELECT k, plus_one(MAX(id)), mean(x) FROM T GROUP BY k").collect()]
    assert sorted(got) == [("a", 6, 7.0 / 3), ("b", 3, 3.5), ("c", 5, 0.5)]
    t = env.from_path("T")
    assert [r[0] for r in t.select(call("plus_one", t.id)).execute().collect()] == [2, 3, 4, 5, 6]
    assert env.drop_temporary_function("plus_one")
    with pytest.raises(ValidationError, match="plus_one"):
        env.execute_sql("SELECT plus_one(id) FROM T")


# -- batches and bundles -----------------------------------------------------------------------------
def batch_sizes():
    return udf(lambda s: pd.Series([len(s)] * len(s)), result_type=DataTypes.BIGINT(),
               func_type="pandas")


def test_arrow_batch_size_cuts_pandas_batches_on_the_row_path():
    env = t_env()
    env.get_config().set("python.fn-execution.arrow.batch.size", "2")
    t = env.from_elements(ROWS, ["id", "k", "x"])
    sizes = [r[0] for r in t.select(batch_sizes()(t.id)).execute().collect()]
    assert sizes == [2, 2, 2, 2, 1]


def test_a_pandas_udf_over_a_dataframe_gets_whole_arrow_batches():
    """The columnar path: the DataFrame's Arrow batches go to the UDF as they are (no bundle
    of rows, no Python object per row) and come back to to_pandas() as Arrow."""
    frame = pd.DataFrame({"x": range(5000)})
    for mode in ("thread", "process"):
        env = t_env(mode)
        t = env.from_pandas(frame)
        out = t.select(batch_sizes()(t.x).alias("n"), scaled(t.x, t.x).alias("sq")).to_pandas()
        assert list(out.columns) == ["n", "sq"] and set(out["n"]) == {5000}
        assert out["sq"].tolist() == [float(v * v) for v in range(5000)]


def test_bundle_size_makes_a_python_aggregate_emit_per_row():
    env = t_env()
    env.get_config().set("python.fn-execution.bundle.size", "1")
    t = env.from_elements([(1, "a"), (2, "a"), (3, "b")], ["v", "k"])
    got = [r[:3] for r in rows(t.group_by(t.k).aggregate(sum_and_pid(t.v).alias("total", "pid"))
                               .select(col("k"), col("total"), col("pid")))]
    assert got == [("+I", "a", 1), ("-U", "a", 1), ("+U", "a", 3), ("+I", "b", 3)]


# -- errors ---------------------------------------------------------------------------------------------
def test_a_wrong_result_type_names_the_function_its_type_and_the_row():
    wrong = udf(lambda i: "x" * i, result_type=DataTypes.BIGINT(), name="stars")
    env = t_env()
    t = env.from_elements(ROWS, ["id", "k", "x"])
    with pytest.raises(UserFunctionError) as info:
        rows(t.select(wrong(t.id)))
    text = str(info.value)
    assert "stars" in text and "BIGINT" in text and "'x'" in text
    assert "Row(id=1, k='a', x=2.0)" in text and "PythonCalc" in text


def test_a_pandas_udf_returning_the_wrong_length_says_both_lengths():
    short = udf(lambda s: s.head(2), result_type=DataTypes.BIGINT(), func_type="pandas",
                name="short")
    env = t_env()
    t = env.from_elements(ROWS, ["id", "k", "x"])
    with pytest.raises(UserFunctionError, match=r"short returned 2 values for a batch of 5 rows"):
        rows(t.select(short(t.id)))


def broken(i):
    return 10 // (i - 3)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_raising_udf_shows_its_traceback_with_the_step_and_the_row(mode):
    env = t_env(mode)
    t = env.from_elements(ROWS, ["id", "k", "x"])
    with pytest.raises(UserFunctionError) as info:
        rows(t.select(t.k, udf(broken, result_type="BIGINT")(t.id)))
    err = info.value
    assert "PythonCalc" in err.step and "Row(id=3, k='a', x=1.0)" in str(err)
    assert "broken" in str(err) and isinstance(err.__cause__, ZeroDivisionError)
    shown = "".join(traceback.format_exception(err.__cause__))
    assert "in broken" in shown and "10 // (i - 3)" in shown


def test_an_unpicklable_udf_is_refused_in_process_mode_before_the_job_starts():
    lock = threading.Lock()

    def guarded(i):
        with lock:
            return i

    env = t_env("process")
    t = env.from_elements(ROWS, ["id", "k", "x"])
    with pytest.raises(PlanError, match=r"guarded captures variable `lock`"):
        t.select(udf(guarded, result_type="BIGINT")(t.id)).execute()
    # auto mode keeps such a step on a thread instead
    env = t_env("auto")
    t = env.from_elements(ROWS, ["id", "k", "x"])
    assert [r[0] for r in t.select(udf(guarded, result_type="BIGINT")(t.id))
            .execute().collect()] == [1, 2, 3, 4, 5]


def test_a_table_function_row_of_the_wrong_width_is_named():
    bad = udtf(lambda s: [(s, 1, 2)], result_types=[DataTypes.STRING(), DataTypes.BIGINT()],
               name="bad_rows")
    env = t_env()
    t = env.from_elements(ROWS, ["id", "k", "x"])
    with pytest.raises(NbstreamError, match="bad_rows produced the row .* with 3 field"):
        rows(t.join_lateral(bad(t.k)))


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_the_live_view_says_where_each_python_step_runs(mode):
    from nbstream.notebook.live import LiveJob
    env = t_env(mode)
    t = env.from_elements(ROWS, ["id", "k", "x"])
    result = t.select(scaled(t.id, t.x)).execute()
    list(result.collect())
    job = LiveJob(result.get_job_client(), [], [], [], [])
    steps = job.python_steps()
    assert len(steps) == 1 and steps[0].startswith("PythonCalc(select=[")
    assert f"): {mode}" in steps[0] and steps[0].endswith("(the job's mode)")  # process:
    assert steps[0] in job.report()  # "...: process on worker 1 (pid 123) (the job's mode)"


def test_python_execution_mode_from_the_datastream_configuration():
    """PyFlink's other spelling: the mode in the Configuration of the StreamExecutionEnvironment
    a StreamTableEnvironment is made from."""
    from nbstream.compat.pyflink.common.configuration import Configuration
    from nbstream.api.environment import StreamExecutionEnvironment
    from nbstream.table import StreamTableEnvironment
    config = Configuration()
    config.set_string("python.execution-mode", "process")
    env = StreamExecutionEnvironment.get_execution_environment(config)
    got, pids = general(StreamTableEnvironment.create(env))
    assert sorted(got) == EXPECTED["general UDF"] and KERNEL not in pids


def test_a_bundle_is_emitted_when_its_time_is_up_without_waiting_for_more_rows():
    """python.fn-execution.bundle.time: the group's result comes while the source is still
    open (it waits for the test to see that result before it ends)."""
    from nbstream.api.environment import StreamExecutionEnvironment
    from nbstream.table import StreamTableEnvironment
    seen = threading.Event()

    def rows_then_wait():
        yield (1, "a")
        yield (2, "a")
        if not seen.wait(60):  # the test sets it once the first result arrived
            raise RuntimeError("the group's result did not come while the source was open")

    env = StreamExecutionEnvironment.get_execution_environment()
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("python.fn-execution.bundle.time", "100")
    from nbstream.api.types import Types
    ds = env.from_iterable(rows_then_wait()).map(
        lambda r: Row(*r), output_type=Types.ROW_NAMED(["v", "k"], [Types.LONG(), Types.STRING()]))
    t = t_env.from_data_stream(ds)
    result = t.group_by(t.k).aggregate(sum_and_pid(t.v).alias("total", "pid")) \
        .select(col("k"), col("total")).execute()
    with result.collect() as it:
        first = next(it)
        assert not seen.is_set() and tuple(first) == ("a", 3)
        seen.set()
        assert list(it) == []
