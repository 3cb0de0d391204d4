"""How the new steps are planned: core operators only, window_all at parallelism 1,
the timestamp assigner chained to its source, the feedback edge of an iteration."""

from __future__ import annotations

import json

from nbstream import (MapStateDescriptor, StreamExecutionEnvironment, TumblingEventTimeWindows,
                      WatermarkStrategy)
from nbstream.runtime.registry import build_operator
from nbstream.runtime.operators import CORE_OPERATORS


def pipeline(env):
    strategy = WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(
        lambda e, _: e[1])
    ds = env.from_collection([("a", 1)]).assign_timestamps_and_watermarks(strategy)
    ds.key_by(0).window(TumblingEventTimeWindows.of(5)).count().print()
    ds.window_all(TumblingEventTimeWindows.of(5)).count().print()
    ds.key_by(0).interval_join(ds.key_by(0)).between(0, 1).process(lambda a, b, c: [a]).print()
    ds.connect(ds.broadcast(MapStateDescriptor("m"))).process(_Broadcast()).print()
    loop = ds.iterate(100)
    loop.close_with(loop.map(lambda v: v).filter(lambda v: False))
    loop.print()


class _Broadcast(__import__("nbstream").BroadcastProcessFunction):
    def process_element(self, value, ctx):
        return []

    def process_broadcast_element(self, value, ctx):
        return []


def test_only_core_operators_reach_the_runtime():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    pipeline(env)
    plan = env._plan("plan")
    kinds = set()
    for node in plan.nodes.values():
        if not node.is_virtual:
            assert isinstance(build_operator(node), CORE_OPERATORS), node.kind
            kinds.add(node.kind)
    assert {"window", "timestamps_watermarks", "interval_join", "broadcast_process",
            "iterate"} <= kinds


def test_shapes_of_the_plan():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    pipeline(env)
    plan = env._plan("plan")
    nodes = {n["id"]: n for n in json.loads(plan.to_json())["nodes"]}
    assigner = next(n for n in nodes.values() if n["type"] == "Timestamps/Watermarks")
    source = next(n for n in nodes.values() if n["pact"] == "Data Source")
    assert assigner["parallelism"] == 1 and assigner["chain"] == source["chain"]
    windows = [n for n in nodes.values() if n["type"].startswith("Window(")]
    assert sorted(n["parallelism"] for n in windows) == [1, 2]  # window_all runs on one
    feedback = [e for e in plan.edges if e.feedback]
    assert len(feedback) == 1 and feedback[0].partitioning.kind == "forward"
    head = plan.nodes[feedback[0].target]
    assert head.kind == "iterate" and not plan.is_chained(feedback[0])
    assert feedback[0].source > feedback[0].target  # the edge goes back


def test_every_operator_reports_metrics_before_it_is_opened():
    """Workers report metrics on a thread of their own, from the moment a task exists:
    an operator must not need open() for that (an AttributeError ended the reports)."""
    from nbstream.statefun import StatefulFunctionDataStreamBuilder, StatefulFunctions

    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    pipeline(env)
    functions = StatefulFunctions()
    functions.register("example/f", lambda context, message: None)
    StatefulFunctionDataStreamBuilder.builder("sf").with_data_stream_as_ingress(
        env.from_collection([1])).with_functions(functions).build(env)
    plan = env._plan("plan", all_nodes=True)
    for node in plan.nodes.values():
        if not node.is_virtual:
            op = build_operator(node)
            assert isinstance(op.extra_metrics(), dict), node.kind
