"""Process and auto mode in a real IPython kernel (a threaded process, functions and
classes defined in cells, output routed to cells by parent header, interrupts)."""

from __future__ import annotations

import re

import pytest

from kernel import Kernel

CELL_CODE = '''
import os, time
from nbstream import MapFunction

class Tag(MapFunction):                 # a Function class defined in a cell
    def __init__(self, label):
        self.label = label
    def map(self, value):
        return (self.label, value)

offset = 100
def shout(x):                           # a function of a cell, closing over a global
    time.sleep(0.3)
    print(f"seen {x} in {os.getpid()}")
    return x + offset

def busy(x):
    s = 0
    for i in range(20_000):
        s += i * x % 7
    return x
'''


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    assert k.execute("%load_ext nbstream").ok
    assert k.execute(CELL_CODE).ok
    yield k
    k.execute("%stream_stop --all")
    k.close()


def test_cell_functions_run_in_workers_and_print_to_their_cell(kernel):
    me = kernel.execute("print(os.getpid())").stdout.strip()
    owner = kernel.submit("%%stream --name shouts --to shouts --mode process\n"
                          "env.from_collection([1, 2, 3]).map(shout).map(Tag('t'))")
    kernel.wait_for(lambda m: m["parent_header"].get("msg_id") == owner
                    and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    later = kernel.execute("time.sleep(1.5); print('later cell')")
    assert later.stdout == "later cell\n"
    done = kernel.execute("shouts.wait(20); print(sorted(map(tuple, shouts.rows())))")
    assert done.stdout.strip() == "[('t', 101), ('t', 102), ('t', 103)]"
    owned = "".join(m["content"]["text"] for m in kernel.of(owner) if m["msg_type"] == "stream")
    seen = [line.split() for line in owned.splitlines() if line.startswith("seen ")]
    assert sorted(int(s[1]) for s in seen) == [1, 2, 3]
    assert {s[3] for s in seen} and me not in {s[3] for s in seen}  # printed by a worker
    assert "later cell" not in owned


def test_a_failing_cell_function_shows_step_record_and_its_source_line(kernel):
    kernel.execute("def invert(x):\n    return 1 / x")
    cell = kernel.execute("%%stream --name inv --to inv --blocking --mode process\n"
                          "env.from_collection([2, 0]).map(invert).name('invert step')")
    assert not cell.ok
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(cell.error["traceback"]))  # no colours
    assert "invert step" in text and "on record 0" in text
    assert "----> 2     return 1 / x" in text  # the worker's frame, with the cell's source line
    assert "raised in worker" in text


def test_an_interrupt_stops_a_blocking_process_job_and_the_workers_survive(kernel):
    import time

    kernel.execute("from nbstream.runtime.executors.pool import get_pool")
    assert kernel.execute("%%stream --name warm --to warm --blocking --mode process\n"
                          "env.from_collection([1, 2]).map(busy)").ok
    before = kernel.execute("print(sorted(w.pid for w in get_pool().workers.values()))").stdout
    msg_id = kernel.submit("%%stream --name forever --to forever --blocking --mode process\n"
                           "env.from_sequence(0, 10**9).map(busy)")
    kernel.wait_for(lambda m: m["msg_type"] == "comm_open"
                    and m["parent_header"].get("msg_id") == msg_id)
    time.sleep(1.0)
    kernel.interrupt()
    reply = kernel.finish(msg_id, 30)
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert kernel.execute("print(forever.status)").stdout.strip() == "stopped"
    after = kernel.execute("print(sorted(w.pid for w in get_pool().workers.values()))").stdout
    assert after == before  # a kernel interrupt stops jobs, not the warm workers


def test_auto_mode_moves_a_cell_function_to_workers(kernel):
    cell = kernel.execute("%%stream --name heavy --to heavy --blocking --mode auto\n"
                          "env.from_collection(list(range(600))).map(busy).name('busy step')")
    assert cell.ok, cell.error
    placed = kernel.execute("print([v for k, v in heavy.client.placement.items() "
                            "if 'busy step' in k][0])").stdout
    assert placed.startswith("process on worker"), placed
