"""The expected outputs of tests/pyflink_programs, checked against Apache Flink itself:
each program runs on PyFlink (a JVM mini-cluster, ~10 s each) and must print what its
``.expected`` file says, which is also what it prints on nbstream
(tests/test_pyflink_compat.py)."""

import pytest

from tests.test_pyflink_compat import EXPECTED, expected_lines, normalized, run_program

pytestmark = [pytest.mark.slow, pytest.mark.flink]


@pytest.mark.parametrize("name", EXPECTED)
def test_pyflink_prints_the_expected_output(name):
    out = run_program(name, on_nbstream=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert normalized(out.stdout.splitlines()) == normalized(expected_lines(name))
