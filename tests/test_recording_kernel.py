"""Record & replay in a real kernel: record a loopback socket for a few seconds, edit the
window size, replay twice: identical results, equal to plain Python over the recorded records;
the recording outlives the kernel."""

from __future__ import annotations

import ast
import collections
import pickle

import pyarrow as pa
import pytest

from kernel import Kernel
from test_recording import LineServer, live_lines

pytestmark = pytest.mark.slow

CELL_CODE = '''
from nbstream import Duration, Time, TumblingEventTimeWindows, WatermarkStrategy

def windowed(stream, size_ms):
    parsed = stream.map(lambda line: (line.split(",")[0], int(line.split(",")[1])))
    return (parsed.assign_timestamps_and_watermarks(
                WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(100))
                .with_timestamp_assigner(lambda e, _: e[1]))
            .map(lambda e: (e[0], 1)).key_by(lambda e: e[0])
            .window(TumblingEventTimeWindows.of(Time.milliseconds(size_ms)))
            .reduce(lambda a, b: (a[0], a[1] + b[1])))
'''


def recorded_lines(directory):
    lines = []
    for path in sorted(directory.glob("*.arrow")):
        with pa.memory_map(str(path)) as source:
            reader = pa.ipc.open_file(source)
            pickled = reader.schema.metadata[b"encoding"] == b"pickle"
            values = reader.read_all().column("value").to_pylist()
        lines += [pickle.loads(v) for v in values] if pickled else values
    return lines


def reference(lines, size_ms):
    counts = collections.Counter()
    for line in lines:
        key, ts = line.split(",")
        counts[(key, int(ts) // size_ms)] += 1
    return sorted((k, c) for (k, _), c in counts.items())


def test_record_a_socket_edit_the_window_replay_twice(tmp_path):
    env = {"NBSTREAM_RECORDINGS": str(tmp_path)}
    server = LineServer(live_lines(200), pause=0.01)  # about 2 s of live data
    k = Kernel(extra_env=env)
    try:
        assert k.execute("%load_ext nbstream").ok
        assert k.execute(CELL_CODE).ok
        live = k.execute(f"%%stream --name live --to live --record clicks --blocking\n"
                         f"windowed(env.socket_text_stream('127.0.0.1', {server.port}), 1000)",
                         timeout=60)
        assert live.ok, live.messages
        runs = []
        for run in ("r1", "r2"):  # edited: 700 ms windows, on the recording (the socket is gone)
            cell = k.execute(f"%%stream --name {run} --to {run} --replay clicks --speed max "
                             f"--blocking\nwindowed(env.socket_text_stream('127.0.0.1', "
                             f"{server.port}), 700)", timeout=60)
            assert cell.ok, cell.messages
            out = k.execute(f"print(sorted(map(tuple, {run}.rows())))").stdout
            runs.append(ast.literal_eval(out.strip()))
        lines = recorded_lines(tmp_path / "clicks")
        assert len(lines) == 200
        assert runs[0] == runs[1] == reference(lines, 700)
        missing = k.execute("%%stream --name bad --replay nothing --blocking\n"
                            "env.from_collection([1])")
        assert not missing.ok and "there is no recording named 'nothing'" in str(missing.messages)
    finally:
        k.execute("%stream_stop --all")
        k.close()
    again = Kernel(extra_env=env)  # a new kernel still finds the recording
    try:
        assert again.execute("%load_ext nbstream").ok
        table = again.execute("r = %stream_recordings\nprint(r[['name', 'records']].values.tolist())")
        assert table.stdout.strip() == "[['clicks', 200]]"
        assert again.execute("%stream_recordings --clear clicks").stdout.strip() == \
            "deleted recording 'clicks'"
    finally:
        again.close()
