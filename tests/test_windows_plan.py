"""How the new steps are planned: core operators only, window_all at parallelism 1,
the timestamp assigner chained to its source, the feedback edge of an iteration."""

from __future__ import annotations

import json

from nbstream import (MapStateDescriptor, StreamExecutionEnvironment, TumblingEventTimeWindows,
                      WatermarkStrategy)
from nbstream.runtime.operators import (OneInputOperator, Operator, SinkOperator, SourceOperator,
                                       TwoInputOperator)
from nbstream.runtime.registry import build_operator, builders
from nbstream.runtime.windows.operator import WindowOperator


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


#: the core: the only classes the task loop meets whose own handling of time, end of input
#: and life cycle it relies on (docs/ARCHITECTURE.md, "A tiny core")
CORE = (OneInputOperator, TwoInputOperator, SourceOperator, SinkOperator, WindowOperator)
#: what the task drives an operator through besides its batches: an adapter that overrides
#: one of these has a loop of its own
TASK_FACING = ("setup", "process_watermark", "process_status", "end_input", "on_timers", "run",
               "cancel")
#: the adapters that may override some of them, and why (keep this list short and true)
ALLOWED = {
    "ReduceOperator": ({"end_input"}, "BATCH mode emits each key's final value at the end"),
    "TimestampsAndWatermarksOperator": (
        {"process_watermark", "process_status", "end_input"},
        "it is where watermarks are made: upstream ones are replaced by its generator's, idleness "
        "is its own, the final one is emitted at the end"),
    "ColumnarWatermarksOperator": ({"process_watermark", "process_status", "end_input"},
                                   "the same, for Arrow batches"),
    "ColumnarWindowOperator": ({"process_watermark"},
                               "fires all windows a watermark closes at once, on columns, "
                               "without a timer per key and window"),
    "ColumnarSessionOperator": ({"process_watermark"}, "the same, for session windows"),
    "IntervalJoinOperator": ({"on_timers"}, "its cleanup timers drop buffered records"),
    "AsyncWaitOperator": ({"process_watermark", "end_input", "cancel"},
                          "a watermark waits behind the requests in flight; the end waits for "
                          "them; a cancel cancels them"),
    "BundleOperator": ({"process_watermark", "end_input"},
                       "a bundle it gathers is emitted before a watermark or the end of input "
                       "goes on (the Table API's Python functions, as Flink's bundles)"),
    "IterationHeadOperator": ({"process_watermark", "end_input"},
                              "it holds the final watermark back until its input ended, so "
                              "records still going round the loop are not late"),
}


def own_loop(cls) -> set:
    """The task-facing methods ``cls`` overrides below its core class; every method if it
    has no core class."""
    mro = cls.__mro__
    core = next((c for c in mro if c in CORE), None)
    if core is None:
        return set(TASK_FACING) | {"(no core base class)"}
    return {m for c in mro[:mro.index(core)] for m in TASK_FACING if m in vars(c)}


def loop_violations(builders) -> dict:
    """Registered operators outside the rule: kind -> what breaks it."""
    bad = {}
    for kind, builder in builders.items():
        if not isinstance(builder, type):
            bad[kind] = "its builder is not an operator class"
            continue
        allowed = ALLOWED.get(builder.__name__, (set(), ""))[0]
        extra = own_loop(builder) - allowed
        if extra:
            bad[kind] = sorted(extra)
    return bad


def test_every_registered_operator_is_core_or_an_adapter_without_its_own_loop():
    assert loop_violations(builders()) == {}
    assert ALLOWED.keys() <= {b.__name__ for b in builders().values()}, "a stale allowance"


def test_the_core_only_rule_catches_an_operator_with_its_own_loop():
    class Renegade(OneInputOperator):
        def process_watermark(self, timestamp):
            pass

    class Outsider(Operator):
        def process_batch(self, batch, input_index=0):
            pass

    assert loop_violations({"renegade": Renegade, "outsider": Outsider,
                            "made": lambda node: Renegade(node)}) == {
        "renegade": ["process_watermark"],
        "outsider": sorted(set(TASK_FACING) | {"(no core base class)"}),
        "made": "its builder is not an operator class"}


def test_only_core_operators_reach_the_runtime():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    pipeline(env)
    plan = env._plan("plan")
    registered = set(builders().values())
    kinds = set()
    for node in plan.nodes.values():
        if not node.is_virtual:
            op = build_operator(node)
            assert type(op) in registered and not loop_violations({node.kind: type(op)}), \
                node.kind
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
