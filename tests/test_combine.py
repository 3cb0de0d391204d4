"""Combining before the keyed shuffle in BATCH mode (nbstream/runtime/combine.py): the
reduce step's results are those of the plain-Python reference and of the run without the
combiner, in threads and processes at parallelism 1 to 3, while the shuffle carries one
partial value per key and sender instead of every record."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbstream import ReduceFunction, RuntimeExecutionMode, StreamExecutionEnvironment
from nbstream.errors import UserFunctionError

KINDS = ("sum", "min", "max", "min_by", "max_by", "reduce")
RECORDS = st.lists(st.tuples(st.integers(0, 6), st.integers(-5, 5)), max_size=80)
SETTINGS = settings(max_examples=int(os.environ.get("NBSTREAM_EXAMPLES", "25")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def make(mode: str, parallelism: int, combine: bool = True, **config: Any) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment(
        {"nbstream.combine-before-shuffle": str(combine).lower(), **config})
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    return env


def aggregate(kind: str, keyed: Any) -> Any:
    if kind == "reduce":  # associative, not commutative: keeps the first record's tag
        return keyed.reduce(lambda a, b: (a[0], a[1] + b[1], a[2]))
    return getattr(keyed, kind)(1)


def run(env: StreamExecutionEnvironment, records: List[Tuple[int, int, int]], kind: str,
        spread: bool) -> Tuple[List[Any], Dict[str, int]]:
    """The job's output and the reduce step's records in. ``spread``: the records reach the
    key_by from ``parallelism`` senders (a rebalanced map), else from the one source."""
    ds = env.from_collection(records)
    if spread:
        ds = ds.map(lambda r: r).name("spread")
    out = aggregate(kind, ds.key_by(lambda r: r[0])).name("agg")
    it = out.execute_and_collect()
    got = list(it)
    ins = sum(m["records_in"] for name, m in it.job.metrics().items() if name.endswith(":agg"))
    return got, {"agg": ins}


def fold(kind: str, records: List[Tuple[int, int, int]]) -> Dict[int, Tuple[int, int, int]]:
    """The plain-Python reference: one final record per key, records folded in order."""
    acc: Dict[int, Tuple[int, int, int]] = {}
    for r in records:
        a = acc.get(r[0])
        if a is None:
            acc[r[0]] = r
        elif kind in ("sum", "reduce"):
            acc[r[0]] = (a[0], a[1] + r[1], a[2])
        elif kind == "min":
            acc[r[0]] = (a[0], min(a[1], r[1]), a[2])
        elif kind == "max":
            acc[r[0]] = (a[0], max(a[1], r[1]), a[2])
        elif kind == "min_by":
            acc[r[0]] = r if r[1] < a[1] else a  # the first of the tied records stays
        else:
            acc[r[0]] = r if r[1] > a[1] else a
    return acc


def possible(kind: str, records: List[Tuple[int, int, int]], senders: int) -> Dict[int, set]:
    """Per key, the results a run may give when the records come from ``senders`` round-robin
    senders: each sender's records in order, the senders' partial values in any order. The
    aggregated field is the reference's; the record (or the other fields) is one sender's
    reference result."""
    per_sender = [fold(kind, records[j::senders]) for j in range(senders)]
    out: Dict[int, set] = {}
    for key, final in fold(kind, records).items():
        parts = [part[key] for part in per_sender if key in part]
        out[key] = ({p for p in parts if p[1] == final[1]} if kind in ("min_by", "max_by")
                    else {(key, final[1], p[2]) for p in parts})
    return out


def tagged(pairs: List[Tuple[int, int]]) -> List[Tuple[int, int, int]]:
    return [(k, v, i) for i, (k, v) in enumerate(pairs)]


@SETTINGS
@given(pairs=RECORDS, kind=st.sampled_from(KINDS), parallelism=st.sampled_from([1, 2, 3]))
def test_one_sender_gives_exactly_the_reference_and_the_uncombined_run(pairs, kind, parallelism):
    """From the one source, every key's records keep their order: the kept record of
    min_by/max_by on ties, and the other fields of sum/min/max, are the reference's."""
    records = tagged(pairs)
    got, _ = run(make("thread", parallelism), records, kind, spread=False)
    plain, _ = run(make("thread", parallelism, combine=False), records, kind, spread=False)
    assert Counter(got) == Counter(fold(kind, records).values()) == Counter(plain)


@SETTINGS
@given(pairs=RECORDS, kind=st.sampled_from(KINDS), parallelism=st.sampled_from([2, 3]))
def test_several_senders_give_a_result_the_uncombined_run_may_give(pairs, kind, parallelism):
    records = tagged(pairs)
    got, metrics = run(make("thread", parallelism), records, kind, spread=True)
    allowed = possible(kind, records, parallelism)
    assert len(got) == len(allowed)
    for record in got:
        assert record in allowed[record[0]], (record, allowed[record[0]])
    keys = len({r[0] for r in records})
    assert metrics["agg"] <= keys * parallelism


@pytest.mark.parametrize("parallelism", [1, 2, 3])
@pytest.mark.parametrize("kind", ["sum", "min_by"])
def test_processes_threads_and_the_reference_agree(kind, parallelism):
    records = tagged([((i * 7) % 5, (i * 13) % 11 - 5) for i in range(3000)])
    by_mode = {mode: run(make(mode, parallelism), records, kind, spread=False)[0]
               for mode in ("thread", "process")}
    want = Counter(fold(kind, records).values())
    assert Counter(by_mode["thread"]) == Counter(by_mode["process"]) == want


def test_the_shuffle_carries_a_partial_value_per_key_and_sender_not_every_record():
    records = tagged([(i % 5, i) for i in range(10_000)])
    combined, with_combine = run(make("thread", 2), records, "sum", spread=True)
    plain, without = run(make("thread", 2, combine=False), records, "sum", spread=True)
    assert Counter(r[:2] for r in combined) == Counter(r[:2] for r in plain)
    assert with_combine["agg"] <= 5 * 2
    assert without["agg"] == len(records)


def test_many_keys_are_sent_on_in_rounds_and_the_results_stay_exact():
    records = tagged([(i % 40, i) for i in range(4000)])
    env = make("thread", 2, **{"nbstream.combine.max-keys": "8"})
    got, metrics = run(env, records, "sum", spread=False)
    assert Counter(got) == Counter(fold("sum", records).values())
    assert 40 < metrics["agg"] < len(records)  # several rounds of partial values, not all


class Longest(ReduceFunction):
    def reduce(self, a, b):
        return b if len(b[2]) > len(a[2]) else a


class Opened(Longest):
    def open(self, runtime_context):
        self.opened = True


def test_explain_names_the_combined_reduces_and_only_them():
    def plan(kind: Any = "sum", parallelism: int = 2, runtime: Any = RuntimeExecutionMode.BATCH,
             combine: bool = True) -> str:
        env = make("thread", parallelism, combine)
        env.set_runtime_mode(runtime)
        keyed = env.from_collection([(1, 2, "x")]).key_by(lambda r: r[0])
        (keyed.reduce(kind) if not isinstance(kind, str) else aggregate(kind, keyed)).print()
        return env.explain()

    assert "combine before shuffle" in plan()
    assert "must be associative" in plan("reduce")
    assert "combine before shuffle" in plan(Longest())
    assert "combine before shuffle" not in plan(Opened())  # it may use what open() made
    assert "combine before shuffle" not in plan(parallelism=1)  # chained: no shuffle
    assert "combine before shuffle" not in plan(runtime=RuntimeExecutionMode.STREAMING)
    assert "combine before shuffle" not in plan(combine=False)


def test_a_reduce_function_object_is_combined_and_keeps_its_choice():
    records = [(i % 3, i, "x" * ((i * 7) % 10)) for i in range(300)]
    env = make("thread", 2)
    it = env.from_collection(records).key_by(lambda r: r[0]).reduce(Longest()).name("agg") \
        .execute_and_collect()
    got = sorted(it)
    want = {}
    for r in records:
        a = want.get(r[0])
        want[r[0]] = r if a is None or len(r[2]) > len(a[2]) else a
    assert got == sorted(want.values())
    assert sum(m["records_in"] for n, m in it.job.metrics().items() if n.endswith(":agg")) <= 3


def test_a_failing_reduce_names_its_step_function_and_record():
    def picky(a, b):
        if b[1] == 77:
            raise ValueError("no 77")
        return (a[0], a[1] + b[1])

    env = make("thread", 2)
    env.from_collection([(i % 3, i) for i in range(100)]).key_by(lambda r: r[0]) \
        .reduce(picky).name("picky sum").print()
    with pytest.raises(Exception) as info:
        env.execute()
    err = info.value if isinstance(info.value, UserFunctionError) else info.value.__cause__
    text = str(info.value)
    assert "picky sum" in text and "picky" in text and "(2, 77)" in text and "no 77" in text, text
    assert err is not None


def test_a_missing_field_is_reported_as_without_the_combiner():
    def message(combine: bool) -> str:
        env = make("thread", 2, combine)
        env.from_collection([{"k": 1, "v": 2}, {"k": 1}]).key_by(lambda r: r["k"]) \
            .sum("v").print()
        with pytest.raises(Exception) as info:
            env.execute()
        return str(info.value)

    for text in (message(True), message(False)):
        assert "sum('v'): the record {'k': 1} has no field 'v'" in text, text


def test_keys_python_cannot_hash_and_nan_keys_are_one_key_each_as_without_the_combiner():
    nan = float("nan")
    records = [([i % 3, "x"], i) for i in range(60)] + [(float("nan"), 1) for _ in range(5)] \
        + [(nan, 2), ((nan, 1), 3), ((float("nan"), 1), 4)]

    def totals(combine: bool) -> List[Any]:
        env = make("thread", 2, combine)
        out = env.from_collection(records).key_by(lambda r: r[0]).reduce(
            lambda a, b: (a[0], a[1] + b[1]))
        return sorted(repr(r) for r in out.execute_and_collect())

    got = totals(True)
    assert got == totals(False)
    assert got == sorted(["([0, 'x'], 570)", "([1, 'x'], 590)", "([2, 'x'], 610)",
                          "(nan, 7)", "((nan, 1), 7)"])


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_restart_from_a_checkpoint_gives_the_same_sums(tmp_path, mode):
    """Partial values held when a checkpoint's barrier passes are sent before it: a
    restart from that checkpoint neither loses nor repeats them."""
    from nbstream import RestartStrategies
    from tests.test_checkpoints import FailOnce

    records = [(f"k{i % 7}", i % 10, i, i) for i in range(3000)]
    env = make(mode, 2, **{"nbstream.batch-size": "40"})
    env.enable_checkpointing(20)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "ck"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(2, 0))
    out = (env.from_collection(records).map(FailOnce(str(tmp_path / "failed"), 2500)).name("spread")
           .key_by(lambda e: e[0]).sum(1).name("agg"))
    it = out.execute_and_collect()
    got = sorted((r[0], r[1]) for r in it)
    want: Dict[str, int] = {}
    for r in records:
        want[r[0]] = want.get(r[0], 0) + r[1]
    assert got == sorted(want.items())
    assert it.job.restarts == 1 and it.job.checkpoint_info()["completed"] >= 1
