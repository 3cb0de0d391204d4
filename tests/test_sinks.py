"""Sinks: print, text files, sockets, user sinks, collection and DataFrames."""

import os
import socket
import threading
import time

import pytest

from nbstream import (DataFrameSink, JobStatus, PlanError, Row, SinkFunction, Types,
                      UserFunctionError, WriteMode)


def test_print_writes_str_of_each_record(env, capsys):
    env.from_collection(["a", 1, ("x", 2), Row("r", 3)]).print()
    env.execute()
    assert capsys.readouterr().out.splitlines() == ["a", "1", "('x', 2)", "<Row('r', 3)>"]


def test_print_of_typed_records_uses_flink_text(env, capsys):
    # as PyFlink 2.3 prints them: tuples through Java's toString, rows formatted in Python
    env.from_collection([("hi", 0, 5, 4)], type_info=Types.TUPLE(
        [Types.STRING(), Types.INT(), Types.INT(), Types.INT()])).print()
    env.from_collection([("a", 4)], type_info=Types.ROW([Types.STRING(), Types.INT()])).print()
    env.from_collection([("b", None, 1e20, True)], type_info=Types.ROW(
        [Types.STRING(), Types.INT(), Types.DOUBLE(), Types.BOOLEAN()])).print()
    env.from_collection([("c", None, 1e20, False)], type_info=Types.TUPLE(
        [Types.STRING(), Types.INT(), Types.DOUBLE(), Types.BOOLEAN()])).print()
    env.execute()
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(
        ["(hi,0,5,4)", "+I[a,4]", "+I[b,None,1e+20,True]", "(c,null,1.0E20,false)"])


def test_text_files_of_typed_records_use_java_to_string(env, tmp_path):
    path = tmp_path / "rows.txt"
    env.from_collection([("a", 4, 2.5)], type_info=Types.ROW(
        [Types.STRING(), Types.INT(), Types.FLOAT()])).write_as_text(str(path))
    env.execute()
    assert path.read_text() == "+I[a, 4, 2.5]\n"


def test_print_prefixes_subtask_when_parallel(make_env, capsys):
    env = make_env(2)
    env.from_collection(list(range(6))).rebalance().map(lambda x: x).print("out")
    env.execute()
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines) == sorted(f"out:{1 + i % 2}> {i}" for i in range(6))


def test_output_is_the_old_name_of_print(env, capsys):
    env.from_collection([7]).output()
    env.execute()
    assert capsys.readouterr().out == "7\n"


def test_write_as_text_single_file(env, tmp_path):
    path = tmp_path / "out.txt"
    env.from_collection([1, "two", (3,)]).write_as_text(str(path))
    env.execute()
    assert path.read_text().splitlines() == ["1", "two", "(3,)"]


def test_write_as_text_refuses_to_overwrite_unless_asked(env, tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    env.from_collection([1]).write_as_text(str(path))
    with pytest.raises(PlanError, match="exists; pass write_mode=WriteMode.OVERWRITE"):
        env.execute()
    assert path.read_text() == "old\n"
    env.from_collection([1]).write_as_text(str(path), WriteMode.OVERWRITE)
    env.execute()
    assert path.read_text() == "1\n"


def test_write_as_text_parallel_writes_a_directory(make_env, tmp_path):
    env = make_env(3)
    path = tmp_path / "out"
    env.from_sequence(1, 30).write_as_text(str(path))
    env.execute()
    assert sorted(os.listdir(path)) == ["1", "2", "3"]
    lines = [int(x) for f in os.listdir(path) for x in (path / f).read_text().split()]
    assert sorted(lines) == list(range(1, 31))


def _socket_server():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = []

    def serve():
        conn, _ = server.accept()
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                received.append(data)
        server.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server.getsockname()[1], received, thread


def test_write_to_socket(env):
    port, received, thread = _socket_server()
    env.from_collection(["alpha", 2]).write_to_socket("127.0.0.1", port)
    env.execute()
    thread.join(5)
    assert b"".join(received) == b"alpha\n2\n"


def test_write_to_socket_with_serializer(env):
    port, received, thread = _socket_server()
    env.from_collection([1, 2]).write_to_socket("127.0.0.1", port, lambda v: f"<{v}>".encode())
    env.execute()
    thread.join(5)
    assert b"".join(received) == b"<1><2>"


def test_add_sink_with_sink_function_and_callable(make_env):
    env = make_env(2)
    got, closed = [], []

    class Collect(SinkFunction):
        def open(self, ctx):
            self.me = ctx.get_index_of_this_subtask()

        def invoke(self, value, context):
            got.append((value, context.timestamp()))

        def close(self):
            closed.append(self.me)

    env.from_collection([1, 2, 3]).add_sink(Collect())
    plain = []
    env.from_collection(["x"]).add_sink(plain.append)
    env.execute()
    assert sorted(got) == [(1, None), (2, None), (3, None)]
    assert sorted(closed) == [0, 1] and plain == ["x"]


def test_failing_sink_names_the_record(env):
    def store(v):
        if v == 2:
            raise IOError("disk full")

    env.from_collection([1, 2, 3]).add_sink(store).name("store")
    with pytest.raises(UserFunctionError, match=r"step 'store' failed in .*store \(tests/test_sinks.py:\d+\) on record 2: OSError: disk full"):
        env.execute()


def test_add_sink_refuses_other_things(env):
    with pytest.raises(TypeError, match="SinkFunction or a callable"):
        env.from_collection([1]).add_sink(42)


def test_execute_and_collect_limit_and_iterator(env):
    ds = env.from_collection(["pyflink", "datastream", "execute", "collect"])
    assert ds.execute_and_collect(limit=3) == ["pyflink", "datastream", "execute"]
    with ds.execute_and_collect() as it:
        assert list(it) == ["pyflink", "datastream", "execute", "collect"]
    assert it.job.status is JobStatus.FINISHED


def test_d16_keyed_execute_and_collect_yields_records(env):
    ds = env.from_collection([("pyflink", 1), ("datastream", 2), ("pyflink", 1), ("collect", 2)])
    got = list(ds.key_by(lambda i: i[0]).execute_and_collect())
    assert sorted(got) == sorted([("pyflink", 1), ("datastream", 2), ("pyflink", 1), ("collect", 2)])


def test_iterator_streams_results_while_the_job_runs(env):
    release = threading.Event()

    def gen():
        yield "early"
        release.wait(10)
        yield "late"

    it = env.from_iterable(gen).execute_and_collect()
    assert next(it) == "early"
    assert it.job.status is JobStatus.RUNNING
    release.set()
    assert next(it) == "late"
    with pytest.raises(StopIteration):
        next(it)
    assert it.job.status is JobStatus.FINISHED


def test_closing_the_iterator_cancels_the_job(env):
    def endless():
        while True:
            yield 1
            time.sleep(0.001)

    it = env.from_iterable(endless).execute_and_collect()
    next(it)
    it.close()
    assert it.job.wait(5) and it.job.status is JobStatus.CANCELED


def test_iterator_raises_the_job_error(env):
    it = env.from_collection([1, 0]).map(lambda x: 1 / x).execute_and_collect()
    with pytest.raises(UserFunctionError, match="division by zero"):
        list(it)


def test_to_pandas(env):
    df = env.from_collection([("a", 1), ("b", 2)]).to_pandas()
    assert df.columns.tolist() == ["f0", "f1"] and df["f1"].sum() == 3
    df = env.from_collection([{"page": "/x", "n": 3}]).to_pandas()
    assert df.to_dict("records") == [{"page": "/x", "n": 3}]
    df = env.from_collection([Row(k="a", v=1)]).to_pandas()
    assert df.columns.tolist() == ["k", "v"]
    assert env.from_collection([5, 6]).to_pandas()["value"].tolist() == [5, 6]


def test_dataframe_sink_is_bounded_and_counts_dropped_rows(make_env):
    env = make_env(2)
    sink = DataFrameSink(max_rows=10)
    env.from_sequence(1, 100).add_sink(sink)
    env.execute()
    assert len(sink.to_pandas()) == 10 and sink.dropped == 90 and sink.received == 100
    table = sink.to_arrow()
    assert table.num_rows == 10 and table.column_names == ["value"]


def test_dataframe_sink_readable_while_the_job_runs(env):
    sink = DataFrameSink()
    go = threading.Event()

    def gen():
        yield from range(5)
        go.wait(10)
        yield from range(5, 10)

    env.from_iterable(gen).add_sink(sink)
    job = env.execute_async()
    deadline = time.monotonic() + 5
    while len(sink.rows()) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sink.to_pandas()["value"].tolist() == [0, 1, 2, 3, 4]
    go.set()
    job.result(10)
    assert len(sink.to_pandas()) == 10
