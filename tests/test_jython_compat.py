"""Programs of Flink's old (Jython) Python streaming API run unmodified on nbstream
(``python -m nbstream.compat.jython``).

The programs in tests/jython_programs are written in that API's style (``main(factory)``,
``org.apache.flink`` imports, Java-style function classes); each test runs one through
the runner in a subprocess, in thread and process mode, and compares its output with a
plain-Python computation of what it must print. Lines are compared as multisets with
the subtask prefix (``2> ``) removed.
"""

from __future__ import annotations

import ast
import collections
import os
import re
import runpy
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, List

import pytest

from nbstream.compat import jython

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = Path(__file__).resolve().parent / "jython_programs"


def run(script: Any, *args: str, packages: List[str] = (), params: List[str] = (),
        timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "nbstream.compat.jython", *args, str(script), *packages]
    if params:
        cmd += ["-", *params]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(ROOT))


def records(stdout: str) -> collections.Counter:
    """The printed records (Python literals), without subtask prefixes."""
    return collections.Counter(ast.literal_eval(re.sub(r"^\d+> ", "", line))
                               for line in stdout.splitlines() if line.strip())


def ok(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 0, out.stderr
    return out.stdout


def word_count_reference(iterations: int) -> collections.Counter:
    """How often each word occurs in what the generator emits."""
    with jython.activated():  # the program's own sentences (it imports org.apache.flink)
        sentences = runpy.run_path(str(PROGRAMS / "word_count.py"))["SENTENCES"]
    once = collections.Counter(w for s in sentences for w in s.lower().split())
    return collections.Counter({w: n * iterations for w, n in once.items()})


def word_totals(got: collections.Counter) -> collections.Counter:
    """Each word's counts summed over its windows (how the records fall into 50 ms
    windows depends on timing; every record falls into one)."""
    totals: collections.Counter = collections.Counter()
    for (count, word), times in got.items():
        assert count >= 1
        totals[word] += count * times
    return totals


def split_select_reference(n: int) -> collections.Counter:
    return collections.Counter(
        [("even", i) for i in range(1, n + 1) if i % 2 == 0]
        + [("odd3", i) for i in range(1, n + 1) if i % 2 and i % 3 == 0]
        + [("all5", i) for i in range(1, n + 1) if i % 5 == 0]
        + [("elements", 100), ("elements", 200)]
        + [("collection", 7), ("collection", 8), ("collection", 9)])


def iterate_reference() -> collections.Counter:
    expected = []
    for start in [3, 5, 1, 0, 12]:
        current, rounds = start, 0
        while True:
            current, rounds = current - 1, rounds + 1
            if current <= 0:
                expected.append((start, current, rounds))
                break
    return collections.Counter(expected)


def rolling_counts_reference(lines: List[str]) -> collections.Counter:
    seen: collections.Counter = collections.Counter()
    expected = []
    for word in " ".join(lines).split():
        seen[word] += 1
        expected.append((word, seen[word]))
    return collections.Counter(expected)


@pytest.mark.parametrize("mode,parallelism", [("thread", 2), ("process", 2), ("thread", 1)])
def test_word_count_over_a_generator_in_50ms_windows(mode, parallelism):
    iterations = 300
    out = ok(run(PROGRAMS / "word_count.py", "--mode", mode, "--parallelism", str(parallelism),
                 params=[str(iterations), "1.5"]))
    assert word_totals(records(out)) == word_count_reference(iterations)
    if parallelism > 1:
        assert all(re.match(r"\d+> ", line) for line in out.splitlines())


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_split_select_union_filter_and_the_collection_sources(mode):
    n = 40
    out = ok(run(PROGRAMS / "split_select.py", "--mode", mode, "--parallelism", "2",
                 params=[str(n)]))
    assert records(out) == split_select_reference(n)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_iterate_feeds_records_back_until_they_leave_the_loop(mode):
    out = ok(run(PROGRAMS / "iterate.py", "--mode", mode, "--parallelism", "2"))
    assert records(out) == iterate_reference()


def count_window_reference(lines: List[str]) -> collections.Counter:
    """Flink's Java count windows: tumbling (3) fire when full; sliding (4, 2) fire every
    2 records of a key with its last 4; the blank key is filtered out after both."""
    per_key: dict = collections.defaultdict(list)
    for line in lines:
        key, value = (line.split(",")[0], int(line.split(",")[1])) if line.strip() else ("", 0)
        per_key[key].append(value)
    out = []
    for key, values in per_key.items():
        if not key:
            continue
        for i in range(0, len(values) - len(values) % 3, 3):
            out.append(("tumbling", key, 3, sum(values[i:i + 3])))
        for seen in range(2, len(values) + 1, 2):
            out.append(("sliding", key, sum(values[max(0, seen - 4):seen])))
    return collections.Counter(out)


def count_window_lines(seed: int = 7) -> List[str]:
    import random

    rng = random.Random(seed)
    return [f"{rng.choice('abcd')},{rng.randint(-5, 20)}" if rng.random() > 0.1 else ""
            for _ in range(200)]


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_count_windows_apply_and_reduce_with_rich_functions(mode, tmp_path):
    lines = count_window_lines()
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    markers = tmp_path / "closed"
    markers.mkdir()
    out = ok(run(PROGRAMS / "count_windows.py", "--mode", mode, "--parallelism", "2",
                 params=[(tmp_path / "in.txt").as_uri(), str(markers)]))
    got = records(out)
    assert got == count_window_reference(lines)
    # every instance of the rich map was opened (its state is set in open) and closed
    closed = [int(p.read_text()) for p in markers.iterdir()]
    assert len(closed) == 2
    sliding_with_blank = sum(got[r] for r in got if r[0] == "sliding") + \
        lines.count("") // 2
    assert sum(closed) == sliding_with_blank


def serve_lines(lines: List[str]) -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.sendall("".join(f"{line}\n" for line in lines).encode())
        server.close()
    threading.Thread(target=serve, daemon=True).start()
    return server


def receive(received: List[bytes]) -> socket.socket:
    server = socket.create_server(("127.0.0.1", 0))

    def receive() -> None:
        conn, _ = server.accept()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                received.append(data)
        server.close()
    threading.Thread(target=receive, daemon=True).start()
    return server


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_socket_source_and_the_sinks(mode, tmp_path):
    lines = ["to be or not to be", "that is the question", "to sleep perchance to dream"]
    source = serve_lines(lines)
    received: List[bytes] = []
    target = receive(received)
    out_file = tmp_path / "counts.txt"
    out_file.write_text("old content\n")  # OVERWRITE replaces it
    out = ok(run(PROGRAMS / "sinks.py", "--mode", mode, params=[
        "127.0.0.1", str(source.getsockname()[1]), str(target.getsockname()[1]), str(out_file)]))
    expected = rolling_counts_reference(lines)
    assert records(out) == expected
    assert records(out_file.read_text()) == expected
    assert records((tmp_path / "counts.txt.sink").read_text()) == expected
    sent = b"".join(received).decode()
    assert collections.Counter(sent.split("|")[:-1]) == collections.Counter(
        {f"{w}={n}": k for (w, n), k in expected.items()})


def test_packages_before_the_dash_are_importable_and_params_reach_argv(tmp_path):
    lib = tmp_path / "lib"
    (lib / "helpers").mkdir(parents=True)
    (lib / "helpers" / "__init__.py").write_text("def shout(s):\n    return s.upper()\n")
    (lib / "suffix.py").write_text("SUFFIX = '!'\n")
    script = tmp_path / "job.py"
    script.write_text(
        "import sys\n"
        "from helpers import shout\n"
        "from suffix import SUFFIX\n"
        "from org.apache.flink.api.common.functions import MapFunction\n"
        "class Shout(MapFunction):\n"
        "    def map(self, value):\n"
        "        return shout(value) + SUFFIX\n"
        "def main(factory):\n"
        "    env = factory.get_execution_environment()\n"
        "    env.from_collection(sys.argv[1:]).map(Shout()).output()\n"
        "    env.execute()\n")
    out = run(script, "--parallelism", "1", packages=[str(lib / "helpers"),
                                                      str(lib / "suffix.py")],
              params=["a", "b c", "-"])
    assert ok(out).splitlines() == ["A!", "B C!", "-!"]


def test_the_first_releases_style_main_without_factory(tmp_path):
    """The API's first release: ``main()`` without parameters, the environment from
    ``PythonStreamExecutionEnvironment``, ``print()`` for output and a ``__main__`` guard
    (which the runner does not trigger: it calls main itself, once)."""
    script = tmp_path / "job.py"
    script.write_text(
        "from org.apache.flink.api.common.functions import MapFunction\n"
        "from org.apache.flink.python.api.jython import PythonStreamExecutionEnvironment\n"
        "class Doubler(MapFunction):\n"
        "    def map(self, value):\n"
        "        return value * 2\n"
        "def main():\n"
        "    env = PythonStreamExecutionEnvironment.get_execution_environment()\n"
        "    env.set_parallelism(1)\n"
        "    env.generate_sequence(1, 4).map(Doubler()).print()\n"
        "    env.execute(True)\n"
        "if __name__ == '__main__':\n"
        "    main()\n")
    assert ok(run(script)).splitlines() == ["2", "4", "6", "8"]


# -- bad programs: one-line errors naming the place and what to do ---------------------------

def one_line_error(script: Path, *args: str) -> str:
    out = run(script, *args)
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_a_script_without_main_factory(tmp_path):
    script = tmp_path / "nomain.py"
    script.write_text("from org.apache.flink.api.common.functions import MapFunction\n"
                      "def run(factory):\n    pass\n")
    line = one_line_error(script)
    assert line.startswith(f"{script}:")
    assert "has no main(factory) function" in line


@pytest.mark.parametrize("statement,expected", [
    ("from org.apache.flink.streaming.connectors.kafka import FlinkKafkaConsumer09",
     "FlinkKafkaConsumer09 (org.apache.flink.streaming.connectors.kafka) is not available in "
     "nbstream's old Flink Python API: read input with socket_text_stream(host, port)"),
    ("from org.apache.flink.api.common.functions import CoGroupFunction",
     "CoGroupFunction (org.apache.flink.api.common.functions) is not available in nbstream's "
     "old Flink Python API: the old Python API has no such operation"),
    ("from org.apache.flink.api.java.utils import ParameterTool",
     "read the parameters given after `-` from sys.argv"),
    ("from org.apache.flink.api.java.functions import NullByteKeySelector",
     "from org.apache.flink.api.java.functions it provides KeySelector"),
])
def test_an_org_apache_flink_name_nbstream_lacks_is_named(tmp_path, statement, expected):
    script = tmp_path / "job.py"
    script.write_text("import sys\n" + statement + "\ndef main(factory):\n    pass\n")
    line = one_line_error(script)
    assert line.startswith(f"{script}:2: ")
    assert expected in line


def test_a_function_class_missing_its_method(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        "from org.apache.flink.api.common.functions import FlatMapFunction\n"
        "class Tokenizer(FlatMapFunction):\n"
        "    def flat_map_words(self, value, collector):\n"
        "        collector.collect(value)\n"
        "def main(factory):\n"
        "    env = factory.get_execution_environment()\n"
        "    env.from_elements('a b').flat_map(Tokenizer()).output()\n"
        "    env.execute()\n")
    line = one_line_error(script)
    assert line == (f"{script}:7: flat_map(): Tokenizer (a FlatMapFunction) has no method "
                    "flatMap(self, value, collector)")


def test_a_function_of_the_wrong_kind_is_named(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(
        "from org.apache.flink.api.common.functions import MapFunction\n"
        "class Double(MapFunction):\n"
        "    def map(self, value):\n"
        "        return 2 * value\n"
        "def main(factory):\n"
        "    env = factory.get_execution_environment()\n"
        "    env.from_elements(1).key_by(Double()).output()\n"
        "    env.execute()\n")
    assert one_line_error(script).endswith(
        "key_by(): needs a KeySelector (from the old Flink Python API), not Double")


# -- in-process ------------------------------------------------------------------------------

def test_time_window_is_processing_time_on_the_environment_clock():
    """``time_window`` fires on the environment's processing-time clock (a ManualClock
    here), not on event time; a window still open at the end of the input does not fire."""
    from nbstream import ManualClock
    from tests.window_helpers import QueueSource, metric, wait_until

    clock = ManualClock(1_000)
    results: List[Any] = []
    bounds: List[Any] = []
    with jython.activated(mode="thread", parallelism=1, clock=clock,
                          launch=lambda env, name: env.execute_async(name)):
        from org.apache.flink.api.common.functions import ReduceFunction
        from org.apache.flink.api.java.functions import KeySelector
        from org.apache.flink.streaming.api.functions.source import SourceFunction
        from org.apache.flink.streaming.api.functions.windowing import WindowFunction
        from org.apache.flink.streaming.api.windowing.time.Time import milliseconds

        class Feed(QueueSource, SourceFunction):
            pass

        class Word(KeySelector):
            def getKey(self, value):
                return value[1]

        class Sum(ReduceFunction):
            def reduce(self, a, b):
                return (a[0] + b[0], a[1])

        class Bounds(WindowFunction):
            def apply(self, key, window, values, collector):
                collector.collect((key, window.getStart(), window.getEnd(),
                                   window.maxTimestamp(), len(values)))

        source = Feed()
        env = jython.PythonEnvironmentFactory().get_execution_environment()
        keyed = env.create_python_source(source).key_by(Word())
        windowed = keyed.time_window(milliseconds(50)).reduce(Sum())
        windowed.get_nbstream_stream().add_sink(results.append)
        keyed.time_window(milliseconds(50)).apply(Bounds()) \
            .get_nbstream_stream().add_sink(bounds.append)
        job = env.execute()
    try:
        for word in ["a", "b", "a"]:
            source.push((1, word))
        wait_until(lambda: metric(job, "Window", "records_in") == 3 * 2)
        clock.advance(48)  # 1048: [1000, 1050) is still open
        source.push((1, "a"))
        wait_until(lambda: metric(job, "Window", "records_in") == 4 * 2)
        assert results == [] and bounds == []
        clock.advance(1)  # 1049, the window's last millisecond: it fires
        wait_until(lambda: len(results) == 2 and len(bounds) == 2)
        assert sorted(results) == [(1, "b"), (3, "a")]
        assert sorted(bounds) == [("a", 1000, 1050, 1049, 3), ("b", 1000, 1050, 1049, 1)]
        clock.advance(1)
        source.push((1, "b"))  # into [1050, 1100), which is open when the input ends
        wait_until(lambda: metric(job, "Window", "records_in") == 5 * 2)
        source.end()
        job.result(10)
    finally:
        job.cancel()
        job.wait(10)
    assert sorted(results) == [(1, "b"), (3, "a")] and len(bounds) == 2


def test_install_only_inside_activated_and_org_is_restored():
    assert not jython.is_installed()
    with pytest.raises(ModuleNotFoundError):
        __import__("org.apache.flink.api.common.functions")
    with jython.activated():
        from org.apache.flink.streaming.api.windowing.time import Time
        assert Time.seconds(2).to_milliseconds() == 2000
    assert not jython.is_installed() and "org" not in sys.modules


def test_function_classes_work_in_nbstreams_own_api():
    from nbstream import StreamExecutionEnvironment
    from nbstream.compat.jython.functions import FlatMapFunction, KeySelector, ReduceFunction

    class Tokenizer(FlatMapFunction):
        def flatMap(self, value, collector):
            for word in value.split():
                collector.collect((word, 1))

    class First(KeySelector):
        def getKey(self, value):
            return value[0]

    class Add(ReduceFunction):
        def reduce(self, a, b):
            return (a[0], a[1] + b[1])

    env = StreamExecutionEnvironment.get_execution_environment()
    got = env.from_collection(["a b a"]).flat_map(Tokenizer()).key_by(First()).reduce(Add())
    assert sorted(got.execute_and_collect()) == [("a", 1), ("a", 2), ("b", 1)]
