"""What programs written for the statefun SDK 3.3.0 rely on beyond its documented API, as
the SDK itself does it: built-in types taking what the SDK's protobuf wrappers take (numpy
scalars, bool for numbers, UTF-8 bytes for text), ``message.typed_value`` behaving as the
SDK's protobuf message, unknown function types raising a KeyError. The SDK's own tests run
unmodified in tests/test_upstream_suites.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig

import numpy as np
import pandas as pd
import pytest

from nbstream.statefun import (DoubleType, IntType, LongType, StatefulFunctions, StringType,
                               ValueSpec, message_builder)
from nbstream.statefun.functions import run_batch
from nbstream.statefun.protocol import TypedValue as PbTypedValue
from statefun_peer import sdk_python

#: every built-in type x many inputs: what serialize gives (or which error), as JSON
PROBE = r'''
import decimal, json, sys
import numpy as np
import statefun
INPUTS = {"True": True, "0": 0, "-7": -7, "2**31": 2**31, "2**63": 2**63, "1.5": 1.5,
          "np.int64(3)": np.int64(3), "np.int32(-2)": np.int32(-2), "np.uint8(200)": np.uint8(200),
          "np.float32(2.5)": np.float32(2.5), "np.float64(1e300)": np.float64(1e300),
          "np.bool_(True)": np.bool_(True), "'x'": "x", "b'x'": b"x", "b'\\xff'": b"\xff",
          "bytearray(b'y')": bytearray(b"y"), "Decimal(2)": decimal.Decimal(2), "None": None,
          "1e40": 1e40, "nan": float("nan"), "[1]": [1], "'3'": "3", "np.array([1])": np.array([1])}
out = {}
for t in ["BoolType", "IntType", "LongType", "FloatType", "DoubleType", "StringType"]:
    ser = getattr(statefun, t).serializer()
    for label, value in INPUTS.items():
        try:
            out[f"{t} {label}"] = ["ok", ser.serialize(value).hex()]
        except ValueError:
            out[f"{t} {label}"] = ["ValueError"]
        except Exception as exc:
            out[f"{t} {label}"] = [type(exc).__name__]
print(json.dumps(out))
'''


def test_built_in_types_take_what_the_sdk_takes():
    numpy_home = sysconfig.get_paths()["purelib"]  # numpy for the SDK's interpreter too
    # the SDK with its own protobuf (it pins < 4: pure Python), whatever this process's
    # environment says: a flink-mode job puts this interpreter's sys.path on PYTHONPATH,
    # which made the SDK import our protobuf 5 (upb: BoolType of 2**63 an OverflowError)
    own_protobuf = ("import google.protobuf as pb; "
                    "assert int(pb.__version__.split('.')[0]) < 4, pb.__version__\n")
    sdk = subprocess.run([str(sdk_python()), "-c", own_protobuf + "import sys; "
                          f"sys.path.append({numpy_home!r})\n" + PROBE],
                         capture_output=True, text=True, timeout=120,
                         env={"PATH": os.environ.get("PATH", "")})
    assert sdk.returncode == 0, sdk.stderr[-2000:]
    ours = subprocess.run([sys.executable, "-c", "import nbstream.compat.statefun as c; c.install(3)\n"
                           + PROBE], capture_output=True, text=True, timeout=120)
    assert ours.returncode == 0, ours.stderr[-2000:]
    expected, got = json.loads(sdk.stdout), json.loads(ours.stdout)
    assert got == expected
    assert expected["IntType np.int64(3)"] == ["ok", "0d03000000"]
    assert expected["StringType b'x'"] == ["ok", "0a0178"]


def test_state_takes_a_dataframe_columns_sum():
    functions = StatefulFunctions()
    frame = pd.DataFrame({"n": [1, 2, 3], "x": [0.5, 0.25, 0.25]})

    @functions.bind("example/stats", [ValueSpec("total", LongType), ValueSpec("mean", DoubleType),
                                      ValueSpec("flag", IntType), ValueSpec("name", StringType)])
    def stats(context, message):
        context.storage.total = frame["n"].sum()       # numpy.int64
        context.storage.mean = frame["x"].mean()       # numpy.float64
        context.storage.flag = frame["n"].gt(2).any()  # numpy.bool_
        context.storage.name = "café".encode("utf-8")  # UTF-8 bytes for a string

    fn = functions.for_typename("example/stats")
    result = run_batch(fn, "1", {"total": None, "mean": None, "flag": None, "name": None},
                       [(None, message_builder("example/stats", "1", int_value=0).typed_value)])
    values = {name: value for name, value in result.mutations}
    assert LongType.serializer().deserialize(values["total"].value) == 6
    assert DoubleType.serializer().deserialize(values["mean"].value) == pytest.approx(1 / 3)
    assert IntType.serializer().deserialize(values["flag"].value) == 1
    assert StringType.serializer().deserialize(values["name"].value) == "café"
    assert isinstance(np.int64(6), np.integer)  # what the frame gave: numpy scalars


def test_message_typed_value_behaves_as_the_sdks_protobuf_message():
    message = message_builder("example/greeter", "Bob", str_value="hi")
    typed = message.typed_value
    wire = typed.SerializeToString()
    assert PbTypedValue.FromString(wire) == typed  # the SDK's bytes, field for field
    assert wire == PbTypedValue(typename=typed.typename, has_value=True,
                                value=typed.value).SerializeToString()
    copy = type(typed)()
    copy.CopyFrom(PbTypedValue.FromString(wire))  # and from the protobuf message
    assert copy == typed and copy.ByteSize() == len(wire)
    copy.Clear()
    assert not copy.has_value and copy.SerializeToString() == b""
    parsed = type(typed)()
    assert parsed.ParseFromString(wire) == len(wire) and parsed == typed


def test_an_unknown_function_type_is_a_key_error():
    functions = StatefulFunctions()
    functions.register("example/known", lambda context, message: None)
    with pytest.raises(KeyError) as raised:
        functions.for_typename("example/unknown")
    assert str(raised.value) == ("Unable to find a function of type example/unknown "
                                 "(bound types: example/known)")
