"""The execution plan: operators, chains, parallelism and ship strategies."""

import json

import pytest

from nbstream import PlanError, StreamExecutionEnvironment
from tests.conftest import collect


def plan_of(env):
    return json.loads(env.get_execution_plan())["nodes"]


def test_union_sources_are_the_predecessors_of_its_consumer():
    env = StreamExecutionEnvironment.get_execution_environment()
    ds1, ds2, ds3 = (env.from_collection([i]) for i in range(3))
    ds3.union(ds1, ds2).map(lambda x: x + 1).print()
    nodes = plan_of(env)
    sources = sorted(n["id"] for n in nodes if n["pact"] == "Data Source")
    consumer = next(n for n in nodes if n["type"] == "Map" and
                    {p["id"] for p in n["predecessors"]} & set(sources))
    assert sorted(p["id"] for p in consumer["predecessors"]) == sources


def test_set_parallelism_and_force_non_parallel():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(3)
    ds = env.from_sequence(1, 10)
    ds.map(lambda x: x).name("four").set_parallelism(4).map(lambda x: x).name("single") \
        .force_non_parallel().print().set_parallelism(2)
    par = {n["type"]: n["parallelism"] for n in plan_of(env)}
    assert par["Source: Sequence Source"] == 3 and par["four"] == 4 and par["single"] == 1
    assert par["Print to Std. Out"] == 2


def test_non_parallel_sources_refuse_parallelism():
    env = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(PlanError, match="non-parallel source"):
        env.from_collection([1]).set_parallelism(2)


def test_chaining_follows_forward_edges_and_equal_parallelism():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    (env.from_sequence(1, 10).map(lambda x: x).name("m1").filter(bool).name("f1")
        .key_by(lambda x: x).map(lambda x: x).name("keyed").map(lambda x: x).name("after")
        .print())
    chain = {n["type"]: n["chain"] for n in plan_of(env)}
    assert chain["Source: Sequence Source"] == chain["m1"] == chain["f1"]
    assert chain["keyed"] == chain["after"] != chain["f1"]


def test_start_new_chain_and_disable_chaining():
    env = StreamExecutionEnvironment.get_execution_environment()
    (env.from_collection([1]).map(lambda x: x).name("a").map(lambda x: x).name("b")
        .start_new_chain().map(lambda x: x).name("c").map(lambda x: x).name("d")
        .disable_chaining().map(lambda x: x).name("e").print())
    chain = {n["type"]: n["chain"] for n in plan_of(env)}
    assert chain["a"] != chain["b"] == chain["c"]
    assert len({chain["c"], chain["d"], chain["e"]}) == 3


def test_disable_operator_chaining_gives_one_chain_per_operator():
    env = StreamExecutionEnvironment.get_execution_environment().disable_operator_chaining()
    env.from_collection([1, 2]).map(lambda x: x * 2).filter(bool).print()
    nodes = plan_of(env)
    assert len({n["chain"] for n in nodes}) == len(nodes)
    assert collect(env.from_collection([1, 2]).map(lambda x: x * 2)) == [2, 4]


def test_print_is_a_text_map_and_a_sink():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 2]).print()
    nodes = plan_of(env)
    assert [n["pact"] for n in nodes] == ["Data Source", "Operator", "Data Sink"]


def test_explain_lists_chains_parallelism_and_partitioning():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    env.from_collection(["a"]).map(str.upper).name("upper").key_by(lambda s: s).sum(0).print()
    text = env.explain()
    assert text.splitlines()[0].startswith("Job 'nbstream job': 3 chains, 5 tasks")
    assert "parallelism 2  <- REBALANCE from chain 0" in text
    assert "<- HASH from chain 1" in text and "[2] upper" in text


def test_a_job_is_the_pending_sinks_and_execute_consumes_them(capsys):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(["one"]).print()
    env.from_collection(["two"]).map(lambda s: s.upper()).print()
    env.from_collection(["never"]).map(lambda s: 1 / 0)  # no sink: does not run
    result = env.execute("two sinks")
    assert sorted(capsys.readouterr().out.split()) == ["TWO", "one"]
    assert result.job_name == "two sinks"
    with pytest.raises(PlanError, match="No sinks defined"):
        env.execute()


def test_unknown_execution_mode_lists_the_valid_ones():
    env = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(ValueError, match=r"unknown execution mode 'warp'; valid modes: 'thread'"):
        env.set_execution_mode("warp")
    with pytest.raises(ValueError, match="valid modes"):
        StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": "warp"})


def test_configuration_keys():
    env = StreamExecutionEnvironment.get_execution_environment(
        {"parallelism.default": "3", "pipeline.max-parallelism": 64,
         "pipeline.auto-watermark-interval": "500 ms", "execution.buffer-timeout": "1s",
         "execution.runtime-mode": "batch"})
    assert env.get_parallelism() == 3 and env.get_max_parallelism() == 64
    assert env.get_config().get_auto_watermark_interval() == 500
    assert env.get_buffer_timeout() == 1000 and env.get_runtime_mode().name == "BATCH"


def test_bad_parallelism_values():
    env = StreamExecutionEnvironment.get_execution_environment()
    for bad in (0, -1, 1.5, "2"):
        with pytest.raises(PlanError, match="parallelism must be a positive int"):
            env.set_parallelism(bad)
    with pytest.raises(PlanError, match="max parallelism 2 is below its parallelism 4"):
        env.set_max_parallelism(2)
        env.from_sequence(1, 2).map(lambda x: x).set_parallelism(4).print()
        env.execute()


@pytest.mark.parametrize("up,down", [(1, 1), (3, 3), (4, 2), (2, 4), (5, 3), (3, 7), (8, 1), (1, 8)])
def test_senders_are_the_inverse_of_receivers_for_every_partitioning(up, down):
    from nbstream.plan.logical import Partitioning
    from nbstream.plan.physical import Edge, PhysicalPlan
    for kind in ("forward", "global", "rescale", "rebalance", "hash", "broadcast", "shuffle"):
        if kind == "forward" and up != down:
            continue
        plan = PhysicalPlan("p", {}, {0: up, 1: down}, {0: 128, 1: 128},
                            (Edge(0, 0, 1, Partitioning(kind)),), (), {0: 0, 1: 1})
        edge = plan.edges[0]
        for r in range(down):
            expected = [s for s in range(up) if r in plan.receivers(edge, s)]
            assert plan.senders(edge, r) == expected, (kind, r)
