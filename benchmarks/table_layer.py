"""The table layer's own work per input row in benchmarks/sql.py's streaming GROUP BY (COUNT(*),
SUM(v) per key of 1000, 1 M rows), each part timed alone (best of 5): from_elements, the source
records, the key of each row, the group step with its keyed state (as the runtime's flat_map loop
calls it, the loop itself subtracted), and the changelog as the user's Rows. The runtime's part
(tasks, channels, the collect sink) is not in it.

    PYTHONPATH=. python benchmarks/table_layer.py
"""
import inspect
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.sql import group_rows
from nbstream.table import EnvironmentSettings, TableEnvironment
from nbstream.table.plan import Aggregate
from nbstream.table.codegen import compile_group_step, compile_key
from nbstream.table.functions.aggregates import make_accumulator
from nbstream.table.operators import GroupStep
from nbstream.table.result import CollectedRows
from nbstream.runtime.state import KeyedStateBackend

def best(f, n=5):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)

m = 1_000_000
rows = group_rows(m)
t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
a = best(lambda: t_env.from_elements(rows, ["k", "v"]))
t = t_env.from_elements(rows, ["k", "v"])
src = t._node.source
stream_records = (lambda: list(src.records)) if hasattr(src, "records") else (lambda: [(0,) + r for r in src.rows])
b = best(stream_records)
records = stream_records()
key = compile_key([0])
c = best(lambda: [key(r) for r in records])
t_env.create_temporary_view("t", t)
agg = t_env.sql_query("SELECT k, COUNT(*) AS c, SUM(v) AS s FROM t GROUP BY k")._node
while not isinstance(agg, Aggregate):
    agg = agg.input
accs = [make_accumulator(x.fn, [agg.input.types[y] for y in x.args], x.type, False, x.distinct) for x in agg.aggs]
if "in_place" in inspect.signature(compile_group_step).parameters:
    gs = GroupStep(compile_group_step(agg.aggs, accs, 1, False), 0, compile_group_step(agg.aggs, accs, 1, False, True))
else:
    gs = GroupStep(compile_group_step(agg.aggs, accs, 1, False))
keys = [r[0] for r in rows]
def run_step():
    backend = KeyedStateBackend()
    class Ctx:
        def get_state(self, d): return backend.get(d)
    gs.open(Ctx())
    f = gs.flat_map
    out = []; extend = out.extend
    for i, v in enumerate(records):
        backend.current_key = keys[i]
        extend(f(v))
    return out
def harness():
    out = []; extend = out.extend
    f = lambda v: ()
    for i, v in enumerate(records):
        keys[i]
        extend(f(v))
d = best(run_step) - best(harness)
changelog = run_step()
def consume():
    for _ in CollectedRows(iter(changelog)):
        pass
e = best(consume)
us = lambda x: x / m * 1e6
print(f"µs per input row: from_elements {us(a):.3f}  records {us(b):.3f}  key {us(c):.3f}  "
      f"group step+state {us(d):.3f}  Rows out {us(e):.3f}  table layer total {us(a+b+c+d+e):.3f}")
