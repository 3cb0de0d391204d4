"""map, filter, flat_map: callables and Function classes, lifecycles, contexts, errors."""

import json
from decimal import Decimal

import pytest

from nbstream import (FilterFunction, FlatMapFunction, MapFunction, Row, Types,
                      UserFunctionError)
from tests.conftest import collect


def test_d1_basic_operations_with_function_types(make_env):
    """D1: map -> flat_map -> filter -> map to Row, with output types."""
    env = make_env(2)
    ds = env.from_collection(
        [("ab", Row("a", Decimal(1))), ("bdc", Row("b", 2)), ("cfgs", Row("c", 3)),
         ("deeefg", Row("d", 4))],
        type_info=Types.ROW([Types.STRING(), Types.ROW([Types.STRING(), Types.INT()])]))

    class AddLength(MapFunction):
        def map(self, value):
            return value[0], len(value[0]), value[1][1]

    class EvenLength(FlatMapFunction):
        def flat_map(self, value):
            if value[1] % 2 == 0:
                yield value

    class LongerThanTwo(FilterFunction):
        def filter(self, value):
            return value[1] > 2

    out = (ds.map(AddLength(), output_type=Types.ROW([Types.STRING(), Types.INT(), Types.INT()]))
             .flat_map(EvenLength(), output_type=Types.ROW([Types.STRING(), Types.INT(), Types.INT()]))
             .filter(LongerThanTwo())
             .map(lambda v: Row(v[0], v[1] + 1, v[2]),
                  output_type=Types.ROW([Types.STRING(), Types.INT(), Types.INT()])))
    got = collect(out)
    assert sorted(tuple(r) for r in got) == [("cfgs", 5, 3), ("deeefg", 7, 4)]
    assert all(isinstance(r, Row) for r in got)


def test_d2_basic_operations_with_callables(make_env):
    """D2: the same chain with plain functions and no output types."""
    env = make_env(2)
    ds = env.from_collection([("ab", Decimal(1)), ("bdc", Decimal(2)), ("cfgs", Decimal(3)),
                              ("deeefg", Decimal(4))])

    def flat(v):
        if v[1] % 2 == 0:
            yield v

    out = (ds.map(lambda i: (i[0], len(i[0]), i[1])).flat_map(flat)
             .filter(lambda v: v[1] > 2).map(lambda v: Row(v[0], v[1] + 1, v[2])))
    got = sorted(collect(out), key=lambda r: r[0])
    assert [repr(r) for r in got] == ["<Row('cfgs', 5, Decimal('3'))>",
                                      "<Row('deeefg', 7, Decimal('4'))>"]


def test_d18_custom_class_records(env):
    class Data:
        def __init__(self, name, num):
            self.name, self.num = name, num

    ds = env.from_collection([("a", 0), ("b", 1), ("c", 2)])
    got = collect(ds.map(lambda v: Data(*v)).flat_map(lambda d: [d.name] * d.num))
    assert sorted(got) == ["b", "c", "c"]


def test_open_and_close_bracket_every_instance(make_env, tmp_path):
    env = make_env(3)
    log = tmp_path / "events"  # a file, not a list: functions may run in worker processes

    def note(*event):
        with open(log, "a") as f:
            f.write(json.dumps(event) + "\n")

    class Tagged(MapFunction):
        def open(self, runtime_context):
            self.index = runtime_context.get_index_of_this_subtask()
            note("open", runtime_context.get_number_of_parallel_subtasks(),
                 runtime_context.get_max_number_of_parallel_subtasks(),
                 runtime_context.get_task_name())

        def map(self, value):
            return self.index

        def close(self):
            note("close")

    got = collect(env.from_sequence(1, 300).map(Tagged()).name("tagger"))
    assert sorted(set(got)) == [0, 1, 2]
    events = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    opens = [e for e in events if e[0] == "open"]
    assert len(opens) == 3 and len([e for e in events if e[0] == "close"]) == 3
    assert {e[1:3] for e in opens} == {(3, 128)}
    assert all("tagger" in e[3] for e in opens)


def test_job_parameters_reach_functions(env):
    env.get_config().set_global_job_parameters({"factor": 7})

    class Scale(MapFunction):
        def open(self, ctx):
            self.factor = ctx.get_job_parameter("factor", 1)
            self.missing = ctx.get_job_parameter("nope", "dflt")

        def map(self, v):
            return v * self.factor, self.missing

    assert collect(env.from_collection([1, 2]).map(Scale())) == [(7, "dflt"), (14, "dflt")]


def test_flat_map_returning_a_list_or_nothing(env):
    got = collect(env.from_collection([0, 1, 2, 3]).flat_map(lambda n: list(range(n))))
    assert got == [0, 0, 1, 0, 1, 2]


def test_flat_map_returning_none_is_a_clear_error(env):
    with pytest.raises(UserFunctionError, match=r"returned None; return an iterable") as info:
        collect(env.from_collection([5]).flat_map(lambda v: None).name("explode"))
    assert info.value.step == "explode" and info.value.record == 5


def test_flat_map_returning_a_number_is_a_clear_error(env):
    with pytest.raises(UserFunctionError, match=r"returned int 7; flat_map must return an iterable"):
        collect(env.from_collection([7]).flat_map(lambda v: v))


def test_map_error_names_step_function_record_and_keeps_traceback(make_env):
    env = make_env(2)

    def invert(x):
        return 1 / x

    ds = env.from_collection([4, 2, 0, 1]).map(invert).name("invert")
    with pytest.raises(UserFunctionError) as info:
        collect(ds)
    err = info.value
    assert err.step == "invert" and err.record == 0
    assert "invert" in err.function and "test_map_filter_flat_map.py" in err.function
    assert isinstance(err.__cause__, ZeroDivisionError)
    frames = []
    tb = err.__cause__.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert frames[-1] == "invert"
    assert str(err).startswith("step 'invert' (subtask ") and "on record 0: ZeroDivisionError" in str(err)


def test_long_records_are_truncated_in_messages(env):
    with pytest.raises(UserFunctionError) as info:
        collect(env.from_collection(["x" * 10_000]).map(lambda s: int(s)))
    assert len(str(info.value)) < 600 and "..." in str(info.value)


def test_wrong_function_type_is_refused_at_build_time(env):
    ds = env.from_collection([1])

    class NotAMapper(FilterFunction):
        def filter(self, value):
            return True

    with pytest.raises(TypeError, match=r"map\(\) needs a MapFunction or a callable, not NotAMapper"):
        ds.map(NotAMapper())
    with pytest.raises(TypeError, match=r"filter\(\) needs a FilterFunction or a callable, not int"):
        ds.filter(3)


def test_failing_open_fails_the_job(env):
    class Bad(MapFunction):
        def open(self, ctx):
            raise OSError("model file missing")

        def map(self, v):
            return v

    with pytest.raises(UserFunctionError, match=r"open\(\).*model file missing"):
        collect(env.from_collection([1]).map(Bad()))


def test_nothing_runs_until_executed(env):
    seen = []
    env.from_collection([1, 2]).map(seen.append)
    assert seen == []


def test_contexts_are_instances_of_the_api_interfaces(env):
    from nbstream import KeyedProcessFunction, ProcessFunction, RuntimeContext

    class Check(ProcessFunction):  # reports through its output: it may run in a worker
        def open(self, runtime_context):
            self.opened_with = isinstance(runtime_context, RuntimeContext)

        def process_element(self, value, ctx):
            yield (self.opened_with, isinstance(ctx, ProcessFunction.Context),
                   isinstance(ctx, KeyedProcessFunction.Context))

    assert collect(env.from_collection([1]).process(Check())) == [(True, True, True)]
