"""Fused runs (map, filter, flat_map, a key_by at parallelism 1 and the reduce after it, as
one generated loop): the same records, timestamps, per-key order and metrics as the steps
run one by one (chaining off) and as a plain Python reference, in thread and process mode;
errors name the step, the function and the record as the steps do."""

from __future__ import annotations

import math
from typing import Any, Callable, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import (KeyedProcessFunction, ProcessFunction, ReduceFunction,
                      StreamExecutionEnvironment, UserFunctionError, ValueStateDescriptor,
                      WatermarkStrategy)


def make_env(mode: str = "thread", chaining: bool = True) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 7})
    env.set_execution_mode(mode).set_parallelism(1)
    if not chaining:
        env.disable_operator_chaining()
    return env


# -- random pipelines and their plain-Python meaning ------------------------------------------

def apply(steps: List[Tuple[str, int]], records: List[int]) -> List[Any]:
    """The reference: each step over the whole list, as Flink defines it."""
    out: List[Any] = list(records)
    for kind, n in steps:
        if kind == "map":
            out = [v * 3 + n for v in out]
        elif kind == "filter":
            out = [v for v in out if v % (n + 2)]
        elif kind == "flat_map":
            out = [v + i for v in out for i in range(n % 3)]
        else:  # key_by(v % (n + 2)) then a rolling sum
            acc: dict = {}
            rolled = []
            for v in out:
                k = v % (n + 2)
                acc[k] = acc[k] + v if k in acc else v
                rolled.append(acc[k])
            out = rolled
    return out


def build(env: StreamExecutionEnvironment, steps: List[Tuple[str, int]], records: List[int]) -> Any:
    ds = env.from_collection(records)
    for kind, n in steps:
        if kind == "map":
            ds = ds.map(lambda v, n=n: v * 3 + n)
        elif kind == "filter":
            ds = ds.filter(lambda v, n=n: v % (n + 2))
        elif kind == "flat_map":
            ds = ds.flat_map(lambda v, n=n: [v + i for i in range(n % 3)])
        else:
            ds = ds.key_by(lambda v, n=n: v % (n + 2)).reduce(lambda a, b: a + b)
    return ds


pipelines = st.lists(st.tuples(st.sampled_from(["map", "filter", "flat_map", "sum"]),
                               st.integers(0, 5)), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=pipelines, records=st.lists(st.integers(-50, 50), max_size=40))
def test_a_fused_run_equals_the_steps_one_by_one_and_the_reference(steps, records):
    fused = list(build(make_env(), steps, records).execute_and_collect())
    alone = list(build(make_env(chaining=False), steps, records).execute_and_collect())
    assert fused == alone == apply(steps, records)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_timestamps_keyed_state_and_metrics_go_through(mode):
    class Counted(KeyedProcessFunction):  # after the run: reads its timestamps
        def process_element(self, value, ctx):
            yield value, ctx.timestamp()

    class Max(ReduceFunction):  # a reduce function object: the key is current in it
        def reduce(self, a, b):
            return max(a, b)

    def job(chaining: bool) -> Tuple[List[Any], dict]:
        env = make_env(mode, chaining)
        strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
            lambda v, _: v * 10)
        out = (env.from_collection(list(range(60))).assign_timestamps_and_watermarks(strategy)
               .map(lambda v: v + 1).name("inc").filter(lambda v: v % 3).name("odd")
               .flat_map(lambda v: [v, -v]).name("both").key_by(lambda v: v % 4)
               .reduce(Max()).name("max").key_by(lambda v: v % 2).process(Counted()))
        it = out.execute_and_collect()
        got = list(it)
        steps = {name.split(":", 1)[1]: (m["records_in"], m["records_out"])
                 for name, m in it.job.metrics().items()
                 if name.split(":", 1)[1] in ("inc", "odd", "both", "max")}
        return got, steps

    assert job(True) == job(False)


def batch_finals(steps: List[Tuple[str, int]], records: List[int]) -> List[Any]:
    """The reference in BATCH mode: the steps up to the first keyed sum, then that sum's
    final value per key, keys in the order they came (later steps left out)."""
    cut = next(i for i, (kind, _) in enumerate(steps) if kind == "sum")
    out = apply(steps[:cut], records)
    n = steps[cut][1]
    finals: dict = {}
    for v in out:
        finals[v % (n + 2)] = finals.get(v % (n + 2), 0) + v
    return list(finals.values())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=pipelines.filter(lambda s: any(kind == "sum" for kind, _ in s)),
       records=st.lists(st.integers(-50, 50), max_size=40))
def test_in_batch_mode_a_run_ending_in_a_reduce_gives_its_final_values(steps, records):
    """BATCH: the reduce ends its run (its loop folds, the end of input emits)."""
    from nbstream import RuntimeExecutionMode

    cut = next(i for i, (kind, _) in enumerate(steps) if kind == "sum")

    def run(chaining: bool) -> List[Any]:
        env = make_env(chaining=chaining)
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
        return list(build(env, steps[:cut + 1], records).execute_and_collect())

    assert run(True) == run(False) == batch_finals(steps, records)


def test_in_batch_mode_the_reduce_ends_its_run_and_its_loop_emits_nothing():
    from nbstream import RuntimeExecutionMode

    env = make_env()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.from_sequence(1, 10).map(lambda v: (v % 3, 1)).key_by(lambda t: t[0]).sum(1) \
        .filter(lambda t: t[1] > 1).print()
    text = env.explain(code=True)
    first, after = text.split("# chain 0:")[1:3]  # the run of the sum; the filter's own
    assert "acc1[k] = v2" in first and "append(v2)" not in first and "Filter" not in first
    assert "Filter" in after


def test_explain_shows_the_code_of_a_run():
    env = make_env()
    env.from_sequence(1, 10).map(lambda v: (v % 3, 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).filter(lambda t: t[1] > 1).print()
    text = env.explain(code=True)
    assert "(keyed in the chain: one instance, no thread between)" in text
    assert "def fused(values, tss, keys):" in text and "a = get1(k, MISSING)" in text
    assert "# key_by: test_explain_shows_the_code_of_a_run.<locals>.<lambda> (tests/" in text


def test_explain_shows_a_run_after_a_network_key_by_taking_the_keys_with_the_records():
    """At p=2 the key_by is a network edge: the reduce's run gets each record's key from
    the batch, and the code shown says so (it read an undefined ``k`` before)."""
    env = make_env()
    env.set_parallelism(2)
    env.from_sequence(1, 10).map(lambda v: (v % 3, 1)).key_by(lambda t: t[0]) \
        .reduce(lambda a, b: (a[0], a[1] + b[1])).filter(lambda t: t[1] > 1).print()
    text = env.explain(code=True)
    assert "    for v0, k in zip(values, keys):" in text and "a = get0(k, MISSING)" in text


# -- errors --------------------------------------------------------------------------------

def fails(build_job: Callable[[StreamExecutionEnvironment], Any]) -> str:
    env = make_env()
    with pytest.raises(UserFunctionError) as info:
        list(build_job(env).execute_and_collect())
    return str(info.value)


def test_errors_name_the_step_the_function_and_the_record():
    def div(v):
        return 10 // (v - 3)

    message = fails(lambda env: env.from_collection([1, 2, 3, 4]).map(lambda v: v).name("copy")
                    .map(div).name("divide").filter(lambda v: True))
    assert message.startswith("step 'divide' failed in ") and ".div (tests/test_fused.py" in message
    assert "on record 3" in message and "ZeroDivisionError" in message

    message = fails(lambda env: env.from_collection(["a", "bb"]).map(str.upper).name("up")
                    .flat_map(lambda s: None if len(s) > 1 else [s]).name("split"))
    assert "step 'split' failed" in message and "returned None" in message and "'BB'" in message

    message = fails(lambda env: env.from_collection([1, 2]).map(lambda v: v).name("copy")
                    .key_by(lambda v: 1 / (v - 2)).reduce(lambda a, b: a))
    assert "key selector" in message and "on record 2" in message

    message = fails(lambda env: env.from_collection([{"k": "a", "n": 1}, {"k": "a"}])
                    .map(lambda r: r).key_by(lambda r: r["k"]).sum("n").name("total"))
    assert "step 'total' failed" in message and "'n'" in message and "{'k': 'a'}" in message


def test_keys_python_cannot_hash_and_nan_keys_are_keyed_as_before():
    records = [([1, 2], 1), ([1, 2], 2), (float("nan"), 5), (math.nan, 6), ({"a": 1}, 7)]

    def job(env):
        return (env.from_collection(records).map(lambda r: r).key_by(lambda r: r[0])
                .reduce(lambda a, b: (a[0], a[1] + b[1])).map(lambda r: r[1]))

    fused = list(job(make_env()).execute_and_collect())
    assert fused == list(job(make_env(chaining=False)).execute_and_collect()) == [1, 3, 5, 11, 7]
