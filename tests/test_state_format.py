"""The state format of checkpoints, savepoints and recordings: plain values round-trip as
data (no pickle), other objects are pickled apart and refused when the reader says so, and
damaged bytes raise StateFormatError, never anything else."""

from __future__ import annotations

import datetime as dt
import math
import pickle
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbstream import Row
from nbstream.runtime import state_format
from nbstream.runtime.records import Batch
from nbstream.runtime.state_format import ObjectsRefused, StateFormatError, dumps, loads, object_types
from nbstream.runtime.windows.window import GlobalWindow, TimeWindow

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text() | st.binary())
hashable = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(scalars),
                        max_leaves=6)
plain = st.recursive(
    scalars | st.builds(TimeWindow, st.integers(-10 ** 12, 10 ** 12), st.integers(-10 ** 12, 10 ** 12)),
    lambda inner: (st.lists(inner, max_size=6) | st.tuples(inner, inner)
                   | st.lists(inner, max_size=4).map(tuple)
                   | st.dictionaries(hashable, inner, max_size=5) | st.sets(hashable, max_size=4)
                   | st.builds(bytearray, st.binary(max_size=8))),
    max_leaves=40)


def same(a, b) -> bool:
    """Equal, with the same types all the way down (True is not 1, a tuple not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


@settings(max_examples=300, deadline=None)
@given(value=plain)
def test_plain_values_round_trip_exactly_as_data(value):
    blob = dumps(value)
    assert object_types(blob) == []
    assert same(loads(blob, objects=False), value)


@settings(max_examples=200, deadline=None)
@given(columns=st.lists(st.lists(scalars, min_size=1, max_size=50), min_size=1, max_size=4))
def test_columns_of_every_shape_round_trip(columns):
    # dicts of many keys and tuple values: the columnar paths (transposed tuples, unions)
    state = {i: tuple(col) for i, col in enumerate(columns)}
    state["rows"] = [tuple(col[:1]) * 3 for col in columns]
    assert same(loads(dumps(state), objects=False), state)


def test_floats_keep_their_bits_and_strings_their_surrogates():
    values = [float("nan"), -0.0, float("inf"), 1e-310, "a\x00b", "\ud800", "", "é" * 3]
    back = loads(dumps(values))
    assert math.isnan(back[0]) and math.copysign(1, back[1]) == -1
    assert back[2:] == values[2:]


def test_big_ints_and_runtime_types_are_data():
    value = {"big": [2 ** 100, -(2 ** 70), 3], "windows": [TimeWindow(0, 5)] * 3 + [GlobalWindow()],
             "row": Row(name="a", n=1), "batch": Batch([1, 2], [10, 20]),
             "when": dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc),
             "day": dt.date(2024, 5, 1), "span": dt.timedelta(seconds=90),
             "price": Decimal("12.30"), "z": 1 + 2j}
    blob = dumps(value)
    assert object_types(blob) == []
    back = loads(blob, objects=False)
    assert back["big"] == value["big"] and back["windows"] == value["windows"]
    assert back["row"] == value["row"] and back["row"].as_dict() == {"name": "a", "n": 1}
    assert back["batch"].values == [1, 2] and back["batch"].timestamps == [10, 20]
    assert back["when"] == value["when"] and back["when"].tzinfo == dt.timezone.utc
    assert back["price"] == Decimal("12.30") and str(back["price"]) == "12.30"
    assert back["span"] == value["span"] and back["z"] == value["z"] and back["day"] == value["day"]


class Acc:
    def __init__(self, n: int) -> None:
        self.n = n


def test_other_objects_are_pickled_apart_and_refused_on_request():
    blob = dumps({"plain": [1, 2], "acc": Acc(3), "more": [Acc(4), 5]})
    assert object_types(blob) == [f"{__name__}.Acc"]
    with pytest.raises(ObjectsRefused, match=f"holds pickled objects \\({__name__}.Acc\\)"):
        loads(blob, objects=False)
    back = loads(blob)
    assert back["acc"].n == 3 and back["more"][0].n == 4 and back["more"][1] == 5
    # a time zone ISO text would not keep is an object too
    zoned = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1), "CET"))
    assert object_types(dumps(zoned)) == ["datetime.datetime"]


def test_nesting_deeper_than_the_column_walk_is_kept_whole():
    deep: list = []
    for _ in range(400):
        deep = [deep]
    blob = dumps(deep)
    assert object_types(blob) == ["builtins.list"] and loads(blob) == deep


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('code from a file ran')",))


def test_a_blob_is_no_pickle_and_a_pickle_is_no_blob():
    with pytest.raises(StateFormatError, match="no NBST header"):
        loads(pickle.dumps(Boom()))
    # objects are only unpickled when allowed: the code of one does not run
    crafted = dumps({"x": Acc(1)}).replace(pickle.dumps([Acc(1)], protocol=5),
                                           pickle.dumps([Boom()], protocol=5))
    with pytest.raises(ObjectsRefused):
        loads(crafted, objects=False)


@settings(max_examples=300, deadline=None)
@given(value=plain, data=st.data())
def test_damaged_bytes_raise_state_format_error_only(value, data):
    blob = bytearray(dumps(value))
    at = data.draw(st.integers(0, len(blob) - 1))
    if data.draw(st.booleans()):
        del blob[at:]
    else:
        blob[at] ^= data.draw(st.integers(1, 255))
    try:
        loads(bytes(blob), objects=False)
    except StateFormatError:
        pass


def test_registered_types_need_no_change_of_the_format():
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    state_format.register(Point, "tests.Point", lambda p: (p.x, p.y), lambda t: Point(*t))
    back = loads(dumps({"p": [Point(1, 2), Point(3, 4)]}), objects=False)
    assert [(p.x, p.y) for p in back["p"]] == [(1, 2), (3, 4)]
