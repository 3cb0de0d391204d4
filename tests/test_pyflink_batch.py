"""BATCH runtime mode as PyFlink runs it: a keyed reduce's final values come in the order
of Flink's sorted batch input (by the serialized key), and steps without a parallelism of
their own run at 1 (Flink's adaptive batch scheduler, small inputs), so print writes no
``N>`` prefix. One program of several jobs, run on real PyFlink and on nbstream's runner;
the outputs must match line for line (and as multisets where a sink runs at 2)."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = textwrap.dedent('''
    import sys
    from pyflink.common import Types
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

    WORDS = [("a", 0), ("c", 1), ("d", 1), ("b", 0), ("e", 1), ("Be", 0), ("Is", 1), ("a", 0),
             ("zz", 1), ("A", 1)]
    NUMBERS = [(k, 1) for k in (5, 300, -1, 70000, 0, 2, -300, 10 ** 12, 255, 256, 5)]

    def job(name, parallelism, data, data_type, key_type, sink_parallelism=None):
        print("== " + name, flush=True)
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_runtime_mode(RuntimeExecutionMode.BATCH)
        env.set_parallelism(parallelism)
        ds = env.from_collection(data, type_info=data_type)
        sums = ds.key_by(lambda v: v[0], key_type=key_type).reduce(
            lambda a, b: (a[0], a[1] + b[1] + 10))
        sink = sums.print()
        if sink_parallelism:
            sink.set_parallelism(sink_parallelism)
        env.execute(name)

    words = Types.TUPLE([Types.STRING(), Types.INT()])
    numbers = Types.TUPLE([Types.LONG(), Types.INT()])
    job("string keys p1", 1, WORDS, words, Types.STRING())
    job("string keys p2", 2, WORDS, words, Types.STRING())
    job("pickled string keys p2", 2, WORDS, words, None)
    job("long keys p2", 2, NUMBERS, numbers, Types.LONG())
    job("pickled int keys p1", 1, NUMBERS, numbers, None)
    job("sink at 2", 2, WORDS, words, Types.STRING(), sink_parallelism=2)
''')


def run(script: Path, on_nbstream: bool) -> str:
    cmd = ([sys.executable, "-m", "nbstream.compat.pyflink", str(script)] if on_nbstream
           else [sys.executable, str(script)])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def sections(stdout: str) -> dict:
    out: dict = {}
    name = None
    for line in stdout.splitlines():
        if line.startswith("== "):
            name = line[3:]
            out[name] = []
        elif name is not None and line.strip():
            out[name].append(line)
    return out


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    script = tmp_path_factory.mktemp("batch") / "batch_order.py"
    script.write_text(PROGRAM)
    return sections(run(script, on_nbstream=False)), sections(run(script, on_nbstream=True))


@pytest.mark.slow
@pytest.mark.flink
@pytest.mark.parametrize("name", ["string keys p1", "string keys p2", "pickled string keys p2",
                                  "long keys p2", "pickled int keys p1"])
def test_batch_reduce_order_and_no_prefix_match_pyflink_line_for_line(outputs, name):
    pyflink, nbstream = outputs
    assert len(pyflink[name]) >= 7 and not any(re.match(r"\d+> ", x) for x in pyflink[name])
    assert nbstream[name] == pyflink[name]


@pytest.mark.slow
@pytest.mark.flink
def test_a_sink_given_parallelism_2_prints_subtask_prefixes_as_pyflink_does(outputs):
    pyflink, nbstream = outputs
    assert all(re.match(r"[12]> ", x) for x in pyflink["sink at 2"])
    strip = lambda lines: collections.Counter(re.sub(r"^\d+> ", "", x) for x in lines)  # noqa: E731
    assert all(re.match(r"[12]> ", x) for x in nbstream["sink at 2"])
    assert strip(nbstream["sink at 2"]) == strip(pyflink["sink at 2"])
