"""Errors a user meets name what they need: the step, the function, the record, the key,
the argument or setting and its value."""

from __future__ import annotations

import sys

import pytest

from nbstream import JobStatus, UserFunctionError
from tests.conftest import collect


def leave(x):
    sys.exit(3)


def interrupt(x):
    raise KeyboardInterrupt("stop here")


@pytest.mark.parametrize("fn,cause", [(leave, SystemExit), (interrupt, KeyboardInterrupt)])
def test_sys_exit_and_keyboard_interrupt_in_a_function_name_step_function_and_record(
        make_env, fn, cause):
    env = make_env()
    env.from_collection([7, 8]).map(fn).name("leaving").add_sink(lambda x: None)
    job = env.execute_async()
    assert job.wait(30) and job.status is JobStatus.FAILED
    error = job.error
    assert isinstance(error, UserFunctionError) and isinstance(error.__cause__, cause)
    assert f"step 'leaving' failed in {fn.__name__} (tests/test_error_messages.py:" in str(error)
    assert "on record 7" in str(error)


def test_sys_exit_in_a_sink_function_names_the_sink(make_env):
    env = make_env()
    env.from_collection([1]).add_sink(leave).name("exit sink")
    with pytest.raises(UserFunctionError, match=r"step 'exit sink' failed in leave .* on record 1"):
        env.execute()


@pytest.mark.parametrize("records,kind,field,says", [
    ([("a", 1), ("b", 2)], "sum", "nofield", "sum('nofield'): cannot read field 'nofield' of the record ('a', 1)"),
    ([("a", 1), ("b", 2)], "sum", 5, "sum(5): field 5 is out of range for the record ('a', 1) of 2 fields"),
    ([{"k": "a", "v": 1}], "max", "w", "max('w'): the record {'k': 'a', 'v': 1} has no field 'w'"),
    ([("a", 1), ("a",)], "min_by", 1, "min_by(1): field 1 is out of range for the record ('a',)"),
])
def test_an_aggregation_of_a_missing_field_fails_at_the_first_record_naming_step_and_field(
        make_env, records, kind, field, says):
    env = make_env()
    stream = getattr(env.from_collection(records).key_by(lambda r: r[0] if isinstance(r, tuple)
                                                         else r["k"]), kind)(field).name("totals")
    with pytest.raises(UserFunctionError) as info:
        collect(stream)
    message = str(info.value)
    assert message.startswith(f"step 'totals' failed in {kind}({field!r}) on record ")
    assert says in message and "aggregations.py" not in message


def _env(config=None):
    from nbstream import StreamExecutionEnvironment
    return StreamExecutionEnvironment.get_execution_environment(config)


@pytest.mark.parametrize("make,says", [
    (lambda: _env({"parallelism.default": "abc"}),
     "configuration key 'parallelism.default' must be a positive int, not 'abc'"),
    (lambda: _env({"pipeline.max-parallelism": "0"}),
     "configuration key 'pipeline.max-parallelism' must be an int in 1..32768, not '0'"),
    (lambda: _env({"nbstream.batch-size": "1k"}),
     "configuration key 'nbstream.batch-size' must be a positive int, not '1k'"),
    (lambda: _env().from_sequence("a", "b"), "from_sequence: start must be an int, not 'a'"),
    (lambda: _env().socket_text_stream("localhost", port="abc"),
     "socket_text_stream: port must be an int in 0..65535, not 'abc'"),
    (lambda: _env().set_parallelism(True), "parallelism must be a positive int, not True"),
    (lambda: _env().from_collection([1]).map(str).name("fmt").set_parallelism(2.5),
     "'fmt': parallelism must be a positive int, not 2.5"),
    (lambda: _env().get_config().set_batch_size(0), "the batch size must be a positive int, not 0"),
    (lambda: _env().set_buffer_timeout(-1), "the buffer timeout (ms) must be a non-negative int, not -1"),
])
def test_bad_numbers_name_the_setting_or_argument_and_the_value(make, says):
    from nbstream import PlanError
    with pytest.raises(PlanError) as info:
        make()
    assert str(info.value) == says


def test_numbers_given_as_text_or_numpy_still_configure():
    import numpy as np
    env = _env({"parallelism.default": "3", "nbstream.batch-size": "64"})
    assert env.get_parallelism() == 3 and env.get_config().get_batch_size() == 64
    assert env.set_parallelism(np.int64(2)).get_parallelism() == 2


CELL_LIKE = '''
import sys
from nbstream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
env.set_execution_mode("process")

def f_raise(x):
    return 1 // (x - 2)

env.from_collection([1, 2, 3]).map(f_raise).add_sink(lambda x: None)
try:
    env.execute()
except Exception as exc:
    import cloudpickle, traceback
    print(cloudpickle.__version__)
    print(exc)
    traceback.print_exception(exc.__cause__, file=sys.stdout)
'''


@pytest.mark.parametrize("cloudpickle_dir", ["installed", "latest"])
def test_process_mode_keeps_the_file_line_and_source_of_a_main_function(tmp_path, cloudpickle_dir):
    """Workers get functions of ``__main__`` by value; their errors still name the file
    and show the line, with the cloudpickle nbstream installs and the newest one."""
    import os
    import subprocess
    from pathlib import Path
    script = tmp_path / "job.py"
    script.write_text(CELL_LIKE)
    env = dict(os.environ)
    path = [str(Path(__file__).resolve().parent.parent)]
    if cloudpickle_dir == "latest":
        latest = Path(sys.prefix) / "cloudpickle-latest"
        assert latest.is_dir(), "scripts/test installs the newest cloudpickle there"
        path.insert(0, str(latest))
    env["PYTHONPATH"] = os.pathsep.join(path)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env,
                         timeout=120).stdout
    version, message, trace = out.split("\n", 2)
    if cloudpickle_dir == "latest":
        assert tuple(int(p) for p in version.split(".")[:2]) >= (3, 1)
    assert f"failed in f_raise ({tmp_path.name}/job.py:7) on record 2" in message
    assert f'File "{script}", line 8, in f_raise' in trace and "return 1 // (x - 2)" in trace
    assert "<dynamic-code>" not in out and "nbstream/runtime" not in trace


def make_lock(x):
    import threading
    return (x, threading.Lock()) if x == 2 else (x, None)


@pytest.mark.parametrize("after", ["key_by", "sink"])
def test_a_record_that_cannot_leave_a_worker_blames_the_step_that_made_it(after):
    from nbstream import StreamExecutionEnvironment
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("process")
    made = env.from_collection([1, 2, 3]).map(lambda x: x + 1).name("inc").map(make_lock).name("lock")
    out = []
    if after == "key_by":
        # a chain of its own: a key_by from one instance to one is chained otherwise
        made.key_by(lambda t: t[0]).map(str).name("fmt").start_new_chain().add_sink(out.append)
        target = "fmt"
    else:
        made.add_sink(out.append).name("keep")
        target = "keep"
    with pytest.raises(UserFunctionError) as info:
        env.execute()
    message = str(info.value)
    assert message.startswith(f"step 'lock' failed (sending its output to '{target}' in another "
                              "process) on record (2, <unlocked _thread.lock object")
    assert "TypeError: cannot pickle '_thread.lock' object" in message


def test_a_text_file_with_bad_utf8_names_the_file_line_and_bytes(make_env, tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(2500)) + b"caf\xe9 au lait\nlast\n")
    env = make_env()
    with pytest.raises(UserFunctionError) as info:
        collect(env.read_text_file(str(path)))
    message = str(info.value)
    assert (f"read_text_file: {path}, line 2501: not valid utf-8: invalid continuation byte "
            "at byte 4 of the line (b'\\xe9' in b'caf\\xe9 au lait')") in message


@pytest.mark.parametrize("method", ["enable_changelog_state_backend",
                                    "is_changelog_state_backend_enabled"])
def test_pyflink_environment_methods_not_built_yet_say_so(method):
    from nbstream import NotAvailableError
    env = _env()
    with pytest.raises(NotAvailableError, match=rf"StreamExecutionEnvironment\.{method}\(\) is not "
                                                r"available in nbstream yet: state backends"):
        getattr(env, method)
    with pytest.raises(AttributeError, match="has no attribute 'enable_teleport'"):
        env.enable_teleport


def test_the_pyflink_compat_layer_keeps_the_changelog_setting_and_names_java_methods():
    from nbstream import NotAvailableError
    from nbstream.compat.pyflink.datastream import StreamExecutionEnvironment as PyFlinkEnv
    env = PyFlinkEnv.get_execution_environment()
    assert env.is_changelog_state_backend_enabled() is None
    assert env.enable_changelog_state_backend(True).is_changelog_state_backend_enabled() is True
    with pytest.raises(NotAvailableError, match=r"StreamExecutionEnvironment.getStreamGraph\(\) "
                                                r"of the Java environment"):
        env._j_stream_execution_environment.getStreamGraph(True)
