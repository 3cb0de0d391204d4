"""Stateful Functions: messages/s of a counter function (one int state, 10,000 addresses).

    python benchmarks/statefun.py                       # 100,000 messages, 3 rounds
    python benchmarks/statefun.py --messages 200000 --runs 5

Variants, in each round one after the other:

* a hand-written Python loop: a dict of ints per address (the reference);
* the function called directly through nbstream's batch runner (no job: the SDK layer's cost);
* embedded in a job (``StatefulFunctionDataStreamBuilder``), thread mode at parallelism 1 and 4,
  process mode at 2 (the functions shipped to two worker processes);
* remote over HTTP on loopback (``--remote-messages``, default 50,000, to the same 10,000
  addresses): the same function served by nbstream's handler and by the real SDK 3.3.0 (its
  virtualenv from the tests' helper, with aiohttp added), both behind aiohttp's web server
  as the SDK's examples serve it (``handler.handle_async``), driven by nbstream's runtime
  at parallelism 1 (``--remote-only`` runs just these; ``--remote-p`` another parallelism),
  with the CPU each message costs in this process (the job's side) and in the endpoint's;
* the latency of a ``send_after(0)`` round trip: a chain of 500 hops of a function sending
  itself a delayed message of 0 ms, divided by 500.

Nothing is asserted; the egress of each run is checked (the per-address totals).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any, Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

from benchmarks.common import machine, median_seconds, table  # noqa: E402
from nbstream import StreamExecutionEnvironment  # noqa: E402
from nbstream.statefun import (IntType, StatefulFunctionDataStreamBuilder, StatefulFunctions,  # noqa: E402
                               ValueSpec, egress_message_builder, message_builder)
from nbstream.statefun.functions import address_of  # noqa: E402

ADDRESSES = 10_000
COUNTER_MODULE = '''
from statefun import *
functions = StatefulFunctions()

@functions.bind("bench/counter", [ValueSpec("count", IntType)])
def counter(context, message):
    context.storage.count = (context.storage.count or 0) + message.as_int()

handler = RequestReplyHandler(functions)


def serve(port):
    """aiohttp's web server, as the SDK's examples serve a handler; prints ``serving``."""
    import asyncio
    from aiohttp import web

    async def handle(request):
        reply = await handler.handle_async(await request.read())
        return web.Response(body=reply, content_type="application/octet-stream")

    async def main():
        app = web.Application()
        app.add_routes([web.post("/statefun", handle)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("serving", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


if __name__ == "__main__":
    import sys
    serve(int(sys.argv[1]))
'''


def counter_functions(egress: bool = False) -> StatefulFunctions:
    functions = StatefulFunctions()

    @functions.bind("bench/counter", [ValueSpec("count", IntType)])
    def counter(context, message):
        context.storage.count = (context.storage.count or 0) + message.as_int()

    return functions


def messages(n: int) -> List[Any]:
    return [message_builder("bench/counter", str(i % ADDRESSES), int_value=1) for i in range(n)]


def hand_loop(msgs: List[Any]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for m in msgs:
        value = IntType.serializer().deserialize(m.typed_value.value)
        counts[m.target_id] = counts.get(m.target_id, 0) + value
    return counts


def direct(msgs: List[Any]) -> int:
    fn = counter_functions().for_typename("bench/counter")
    state: Dict[str, Any] = {}
    for m in msgs:
        result = fn.invoke(address_of("bench/counter", m.target_id),
                           {"count": state.get(m.target_id)}, [(None, m.typed_value)])
        state[m.target_id] = result.mutations[0][1]
    return len(state)


def job(msgs: List[Any], parallelism: int, functions: Any = None, remote: str = "",
        mode: str = "thread") -> int:
    env = StreamExecutionEnvironment.get_execution_environment({"python.execution-mode": mode})
    env.set_parallelism(parallelism)
    builder = (StatefulFunctionDataStreamBuilder.builder("bench")
               .with_data_stream_as_ingress(env.from_collection(msgs))
               # remote calls out keep the loop open; a loaded machine needs a margin
               .with_egress_id("bench/out").with_feedback_timeout(500 if remote else 50))
    builder = builder.with_request_reply_remote_function("bench/*", remote) if remote else \
        builder.with_functions(functions or counter_functions())
    out = builder.build(env).get_data_stream_for_egress_id("bench/out")
    records = out.execute_and_collect()
    list(records)  # the counter emits nothing: the job's end is the measure
    calls = sum(m.get("bench/counter: invocations", 0) for m in records.job.metrics().values())
    if calls != len(msgs):
        raise AssertionError(f"{calls} calls for {len(msgs)} messages")
    return calls


def serve(python: List[str], script: str) -> Any:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(python + [script, str(port)], stdout=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": os.path.dirname(HERE)})
    process.stdout.readline()
    return process, f"http://127.0.0.1:{port}/statefun"


def cpu_seconds(pid: int = 0) -> float:
    """CPU seconds (user and system) of this process, or of process ``pid`` (Linux's /proc)."""
    if not pid:
        import resource
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def served_script() -> str:
    path = os.path.join(tempfile.mkdtemp(), "counter_served.py")
    with open(path, "w") as f:
        f.write(COUNTER_MODULE)
    return path


def with_aiohttp(python: str) -> str:
    """The SDK's interpreter, with aiohttp installed (the SDK does not bring it)."""
    if subprocess.run([python, "-c", "import aiohttp"], capture_output=True).returncode:
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "aiohttp"], check=True)
    return python


def round_trip_latency(hops: int = 500) -> float:
    functions = StatefulFunctions()

    @functions.bind("bench/hop")
    def hop(context, message):
        n = message.as_int()
        if n:
            context.send_after(timedelta(0), message_builder("bench/hop", "x", int_value=n - 1))
        else:
            context.send_egress(egress_message_builder("bench/out", 0, IntType))

    env = StreamExecutionEnvironment.get_execution_environment()
    out = (StatefulFunctionDataStreamBuilder.builder("hops")
           .with_data_stream_as_ingress(env.from_collection([message_builder("bench/hop", "x",
                                                                             int_value=hops)]))
           .with_functions(functions).with_egress_id("bench/out").with_feedback_timeout(50).build(env))
    start = time.perf_counter()
    it = out.get_data_stream_for_egress_id("bench/out").execute_and_collect()
    next(it)
    elapsed = time.perf_counter() - start
    list(it)
    return elapsed / hops


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--remote-messages", type=int, default=50_000)
    parser.add_argument("--remote-p", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--remote-only", action="store_true", help="only the remote HTTP variants")
    args = parser.parse_args()
    print(machine())
    msgs, remote_msgs = messages(args.messages), messages(args.remote_messages)
    rows = [] if args.remote_only else [
        {"name": "hand-written loop", "records": len(msgs),
         "seconds": median_seconds(lambda: hand_loop(msgs), args.runs)},
        {"name": "batch runner, direct", "records": len(msgs),
         "seconds": median_seconds(lambda: direct(msgs), args.runs)},
    ]
    for mode, p in (() if args.remote_only else (("thread", 1), ("thread", 4), ("process", 2))):
        rows.append({"name": f"embedded job, {mode}, p={p}", "records": len(msgs),
                     "seconds": median_seconds(lambda mode=mode, p=p: job(msgs, p, mode=mode), args.runs)})
    script = served_script()
    from statefun_peer import sdk_python
    cpu: List[str] = []
    for name, python in [("nbstream", [sys.executable, "-m", "nbstream.compat.statefun"]),
                         ("real SDK 3.3.0", [with_aiohttp(str(sdk_python()))])]:
        process, url = serve(python, script)
        try:
            ours, theirs = cpu_seconds(), cpu_seconds(process.pid)
            rows.append({"name": f"remote HTTP, {name} endpoint", "records": len(remote_msgs),
                         "seconds": median_seconds(
                             lambda url=url: job(remote_msgs, args.remote_p, remote=url), args.runs)})
            per_message = 1e6 / (args.runs + 1) / len(remote_msgs)  # (and the warm-up run)
            ours, theirs = cpu_seconds() - ours, cpu_seconds(process.pid) - theirs
            cpu.append(f"remote HTTP, {name} endpoint: CPU a message {ours * per_message:.0f} us in "
                       f"nbstream's job, {theirs * per_message:.0f} us in the endpoint")
        finally:
            process.terminate()
            process.wait(10)
    print(table(rows, "remote HTTP, real SDK 3.3.0 endpoint" if args.remote_only else "hand-written loop"))
    print("\n".join(cpu))
    if not args.remote_only:
        print(f"send_after(0) round trip: {round_trip_latency() * 1000:.2f} ms per hop")


if __name__ == "__main__":
    main()
