"""Async I/O inside a real IPython kernel, whose own event loop is running: the calls run on
the operator's loop, and their prints reach the cell that started the job."""

from __future__ import annotations

import pytest

from kernel import Kernel

pytestmark = pytest.mark.slow

CELL_CODE = '''
import asyncio, time
from nbstream import AsyncDataStream, Time

async def lookup(x):
    await asyncio.sleep(0.4)
    print(f"looked up {x}")
    return [x * 100]
'''


@pytest.fixture(scope="module")
def kernel():
    k = Kernel()
    assert k.execute("%load_ext nbstream").ok
    assert k.execute(CELL_CODE).ok
    yield k
    k.execute("%stream_stop --all")
    k.close()


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_calls_run_in_a_kernel_and_print_to_their_cell(kernel, mode):
    name = f"looks_{mode}"
    owner = kernel.submit(f"%%stream --name {name} --to {name} --mode {mode}\n"
                          "AsyncDataStream.unordered_wait(env.from_collection([1, 2, 3]), lookup, "
                          "Time.seconds(10))")
    kernel.wait_for(lambda m: m["parent_header"].get("msg_id") == owner
                    and m["msg_type"] == "status" and m["content"]["execution_state"] == "idle")
    later = kernel.execute("time.sleep(1.0); print('later cell')")
    assert later.stdout == "later cell\n"
    done = kernel.execute(f"{name}.wait(20); print(sorted({name}.rows()))")
    assert done.stdout.strip() == "[100, 200, 300]"
    owned = "".join(m["content"]["text"] for m in kernel.of(owner) if m["msg_type"] == "stream")
    assert sorted(line for line in owned.splitlines() if line.startswith("looked up")) == [
        "looked up 1", "looked up 2", "looked up 3"]
