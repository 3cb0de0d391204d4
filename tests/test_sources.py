"""Sources: collections, sequences, generators, files, DataFrames, sockets, user sources."""

import socket
import threading
import time

import pandas as pd
import pytest

from nbstream import PlanError, Row, SourceFunction, Types, UserFunctionError
from tests.conftest import collect


def test_from_collection_keeps_order_and_values(env):
    data = [3, "x", (1, 2), None, {"a": 1}]
    assert collect(env.from_collection(data)) == data


def test_from_collection_with_row_type_names_fields(env):
    ds = env.from_collection([("a", 1)], type_info=Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.INT()]))
    (row,) = collect(ds)
    assert row == Row(k="a", v=1) and row.k == "a" and row["v"] == 1


def test_from_collection_refuses_iterators_and_strings(env):
    with pytest.raises(TypeError, match="from_iterable"):
        env.from_collection(iter([1, 2]))
    with pytest.raises(TypeError, match="needs a collection"):
        env.from_collection("abc")


def test_from_elements(env):
    assert collect(env.from_elements(1, 2, 3)) == [1, 2, 3]


@pytest.mark.parametrize("parallelism", [1, 2, 3])
def test_from_sequence_splits_over_instances(make_env, parallelism):
    env = make_env(parallelism)
    got = collect(env.from_sequence(5, 5004))
    assert sorted(got) == list(range(5, 5005))


def test_generate_sequence_is_the_old_name(env):
    assert collect(env.generate_sequence(1, 3)) == [1, 2, 3]


def test_from_sequence_rejects_empty_range(env):
    with pytest.raises(PlanError, match="before start"):
        env.from_sequence(5, 1)


def test_from_iterable_generator_function_restarts_each_run(env):
    def gen():
        yield from range(4)

    ds = env.from_iterable(gen)
    assert collect(ds) == [0, 1, 2, 3]
    assert collect(ds.map(lambda x: -x)) == [0, -1, -2, -3]


def test_from_iterable_generator_object_is_single_use(env):
    ds = env.from_iterable(x for x in range(3))
    assert collect(ds) == [0, 1, 2]
    with pytest.raises(PlanError, match="consumed by an earlier run"):
        collect(ds)


def test_from_iterable_endless_generator_stops_at_limit(env):
    closed = threading.Event()

    def endless():
        n = 0
        try:
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    assert env.from_iterable(endless).execute_and_collect(limit=5) == [0, 1, 2, 3, 4]
    assert closed.wait(5), "the generator was not closed when the job stopped"


def test_slow_generator_records_are_not_held_back(env):
    """A record of a slow source reaches the sink long before the next one is produced."""
    def slow():
        yield "first"
        time.sleep(3)
        yield "second"

    with env.from_iterable(slow).execute_and_collect() as it:
        t = time.monotonic()
        assert next(it) == "first"
        assert time.monotonic() - t < 1.5


def test_read_text_file(env, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("alpha\nbeta\r\n\ngamma", encoding="utf-8")
    assert collect(env.read_text_file(str(path))) == ["alpha", "beta", "", "gamma"]


def test_read_text_file_missing_fails_before_running(env, tmp_path):
    ds = env.read_text_file(str(tmp_path / "nope.txt"))
    with pytest.raises(PlanError, match="no such file"):
        collect(ds)


def test_from_dataframe_as_dicts_tuples_and_rows(env):
    df = pd.DataFrame({"page": ["/a", "/b"], "n": [1, 2]})
    assert collect(env.from_dataframe(df)) == [{"page": "/a", "n": 1}, {"page": "/b", "n": 2}]
    assert collect(env.from_dataframe(df, rows="tuple")) == [("/a", 1), ("/b", 2)]
    rows = collect(env.from_dataframe(df, rows="row"))
    assert [r.page for r in rows] == ["/a", "/b"] and rows[1]["n"] == 2


def test_from_dataframe_timestamp_column(env):
    df = pd.DataFrame({"t": pd.to_datetime(["2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"]),
                       "v": [1, 2]})

    class Stamp:
        def __call__(self, value, ctx):
            yield (value["v"], ctx.timestamp())

    from nbstream import ProcessFunction

    class P(ProcessFunction):
        def process_element(self, value, ctx):
            yield (value["v"], ctx.timestamp())

    got = collect(env.from_dataframe(df, timestamp_column="t").process(P()))
    assert got == [(1, 1704067200000), (2, 1704067201000)]


def test_from_dataframe_bad_arguments(env):
    df = pd.DataFrame({"a": [1]})
    with pytest.raises(PlanError, match="rows must be one of"):
        env.from_dataframe(df, rows="list")
    with pytest.raises(PlanError, match="no column 'ts'"):
        env.from_dataframe(df, timestamp_column="ts")


def _serve_lines(payload: bytes):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        with conn:
            for i in range(0, len(payload), 7):  # arrive in pieces, splitting lines
                conn.sendall(payload[i:i + 7])
                time.sleep(0.005)
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def test_socket_text_stream_reads_lines_until_close(env):
    port = _serve_lines(b"hello world\nsecond line\nlast without newline")
    got = collect(env.socket_text_stream("127.0.0.1", port))
    assert got == ["hello world", "second line", "last without newline"]


def test_socket_text_stream_custom_delimiter(env):
    port = _serve_lines(b"a;b;c;")
    assert collect(env.socket_text_stream("127.0.0.1", port, delimiter=";")) == ["a", "b", "c"]


def test_socket_text_stream_connection_refused_fails_clearly(env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(UserFunctionError, match=f"cannot connect to 127.0.0.1:{port}"):
        collect(env.socket_text_stream("127.0.0.1", port))


class Counter(SourceFunction):
    def __init__(self, n):
        self.n = n
        self.opened = False

    def open(self, runtime_context):
        self.opened = runtime_context.get_number_of_parallel_subtasks() == 1

    def run(self, ctx):
        for i in range(self.n):
            ctx.collect_with_timestamp(("tick", i), 1000 + i)

    def cancel(self):
        pass


def test_add_source_with_timestamps(env):
    from nbstream import ProcessFunction

    class WithTs(ProcessFunction):
        def process_element(self, value, ctx):
            yield value[1], ctx.timestamp()

    src = Counter(5)
    got = collect(env.add_source(src).process(WithTs()))
    assert got == [(i, 1000 + i) for i in range(5)]
    assert src.opened


class Endless(SourceFunction):
    def __init__(self):
        self.running = True
        self.cancelled = threading.Event()

    def run(self, ctx):
        i = 0
        while self.running:
            ctx.collect(i)
            i += 1
            time.sleep(0.001)

    def cancel(self):
        self.running = False
        self.cancelled.set()


def test_add_source_cancel_stops_the_loop(env):
    src = Endless()
    got = env.add_source(src).execute_and_collect(limit=10)
    assert got == list(range(10))
    assert src.cancelled.wait(5)


def test_failing_source_fails_the_job(env):
    class Broken(SourceFunction):
        def run(self, ctx):
            ctx.collect(1)
            raise RuntimeError("sensor offline")

    with pytest.raises(UserFunctionError, match="sensor offline") as info:
        collect(env.add_source(Broken(), "sensors"))
    assert info.value.step == "Source: sensors"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_source_function_that_only_flushes_stops_when_the_job_is_cancelled(env):
    import time

    class Idle:
        def run(self, ctx):
            while True:  # no cancel(), no records: only flushes, as an idle poller does
                time.sleep(0.005)
                ctx.flush()

    env.add_source(Idle()).add_sink(lambda v: None)
    job = env.execute_async()
    time.sleep(0.2)
    job.cancel()
    assert job.wait(10)
