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
