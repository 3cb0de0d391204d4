"""Values declared ``Types.FLOAT()`` are 32-bit, as PyFlink's serializers make them: in a
step's output, inside rows, tuples and primitive arrays, and in keyed state."""

from __future__ import annotations

import struct

from nbstream import StreamExecutionEnvironment, Types
from nbstream.api.state import ListStateDescriptor, ValueStateDescriptor
from nbstream.api.functions import KeyedProcessFunction
from tests.conftest import collect


def f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def test_a_declared_float_output_is_32_bit(make_env):
    env = make_env()
    got = collect(env.from_collection([110.1, 1.1]).map(lambda x: x, output_type=Types.FLOAT()))
    assert got == [110.0999984741211, 1.100000023841858]


def test_floats_inside_tuples_rows_and_arrays(make_env):
    env = make_env()
    people = env.from_collection([("Alice", 110.1), ("Bob", 2.2)])
    tuples = people.map(lambda p: p, output_type=Types.TUPLE([Types.STRING(), Types.FLOAT()]))
    rows = people.map(lambda p: p, output_type=Types.ROW([Types.STRING(), Types.FLOAT()]))
    arrays = people.map(lambda p: [p[1], p[1] * 2],
                        output_type=Types.PRIMITIVE_ARRAY(Types.FLOAT()))
    doubles = people.map(lambda p: p, output_type=Types.TUPLE([Types.STRING(), Types.DOUBLE()]))
    assert collect(tuples) == [("Alice", 110.0999984741211), ("Bob", f32(2.2))]
    assert [tuple(r) for r in collect(rows)] == [("Alice", 110.0999984741211), ("Bob", f32(2.2))]
    assert collect(arrays) == [[f32(110.1), f32(220.2)], [f32(2.2), f32(4.4)]]
    assert collect(doubles) == [("Alice", 110.1), ("Bob", 2.2)]  # DOUBLE stays 64-bit


class Totals(KeyedProcessFunction):
    def open(self, ctx):
        self.total = ctx.get_state(ValueStateDescriptor("total", Types.FLOAT()))
        self.seen = ctx.get_list_state(ListStateDescriptor("seen", Types.FLOAT()))

    def process_element(self, value, ctx):
        self.total.update((self.total.value() or 0.0) + value[1])
        self.seen.add(value[1])
        yield value[0], self.total.value(), self.seen.get()


def test_float_state_holds_32_bit_values(make_env):
    env = make_env()
    got = collect(env.from_collection([("a", 0.1), ("a", 0.2)]).key_by(lambda t: t[0])
                  .process(Totals()))
    first = f32(0.1)
    assert got == [("a", first, [first]), ("a", f32(first + 0.2), [first, f32(0.2)])]


def test_a_float_printed_by_flink_shows_its_short_form(capsys):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([110.1]).map(lambda x: x, output_type=Types.FLOAT()).print()
    env.execute()
    assert capsys.readouterr().out.strip() == "110.1"  # Java's Float.toString
