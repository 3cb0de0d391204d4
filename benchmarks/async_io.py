"""Async I/O: one HTTP request per record to a server on loopback that answers after 50 ms.

    python benchmarks/async_io.py                 # 200 records, 3 rounds
    python benchmarks/async_io.py --records 400 --runs 5

Variants, measured one after the other in each round (so they share the machine's noise):

* a hand-written Python loop of blocking requests (urllib), and a hand-written asyncio
  loop (aiohttp, ``asyncio.gather`` under a semaphore of 100): the two references;
* ``map`` with the blocking request, thread mode, parallelism 1 and 8;
* ``AsyncDataStream.ordered_wait`` at capacity 10 and 100 (aiohttp), thread mode, parallelism 1;
* the issue's case: 1,000 records at capacity 100 (reported as its median time too).

The server (aiohttp, from the test extra) runs in a process of its own. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any, Callable, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, table  # noqa: E402

LATENCY_S = 0.05


def serve() -> None:
    """The server process: prints its port, serves until stdin closes."""
    from aiohttp import web

    async def echo(request: Any) -> Any:
        await asyncio.sleep(LATENCY_S)
        return web.json_response({"n": int(request.match_info["n"])})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/echo/{n}", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


def blocking_get(url: str) -> int:
    with urllib.request.urlopen(url) as response:
        return json.loads(response.read())["n"]


def make_echo(port: int) -> Any:
    import aiohttp

    from nbstream import AsyncFunction

    class AsyncEcho(AsyncFunction):
        async def open(self, runtime_context: Any) -> None:
            self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

        async def close(self) -> None:
            await self.session.close()

        async def async_invoke(self, value: int) -> List[int]:
            async with self.session.get(f"http://127.0.0.1:{port}/echo/{value}") as r:
                return [(await r.json())["n"]]

    return AsyncEcho()


def variants(port: int, n: int) -> Dict[str, Callable[[], List[int]]]:
    import aiohttp

    from nbstream import AsyncDataStream, StreamExecutionEnvironment, Time

    base = f"http://127.0.0.1:{port}/echo/"
    data = list(range(n))

    def python_blocking() -> List[int]:
        return [blocking_get(base + str(x)) for x in data]

    def python_asyncio() -> List[int]:
        async def main() -> List[int]:
            limit = asyncio.Semaphore(100)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
                async def one(x: int) -> int:
                    async with limit, s.get(base + str(x)) as r:
                        return (await r.json())["n"]
                return list(await asyncio.gather(*(one(x) for x in data)))
        return asyncio.run(main())

    def map_blocking(parallelism: int) -> Callable[[], List[int]]:
        def run() -> List[int]:
            env = StreamExecutionEnvironment.get_execution_environment()
            env.set_parallelism(parallelism)
            ds = env.from_collection(data)
            if parallelism > 1:
                ds = ds.rebalance()
            return sorted(ds.map(lambda x: blocking_get(base + str(x))).execute_and_collect())
        return run

    def async_wait(capacity: int, records: List[int]) -> Callable[[], List[int]]:
        def run() -> List[int]:
            env = StreamExecutionEnvironment.get_execution_environment()
            env.set_parallelism(1)
            return list(AsyncDataStream.ordered_wait(env.from_collection(records), make_echo(port),
                                                     Time.seconds(30), capacity=capacity)
                        .execute_and_collect())
        return run

    return {"python loop, blocking": python_blocking,
            "python asyncio, 100 at once": python_asyncio,
            "map blocking, parallelism 1": map_blocking(1),
            "map blocking, parallelism 8": map_blocking(8),
            "async wait, capacity 10": async_wait(10, data),
            "async wait, capacity 100": async_wait(100, data)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    print(f"async I/O: {args.records} records, {LATENCY_S * 1000:.0f} ms per request; {machine()}")
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        runs = variants(port, args.records)
        issue_case = variants(port, 1000)["async wait, capacity 100"]
        times: Dict[str, List[float]] = {name: [] for name in runs}
        thousand: List[float] = []
        expected = list(range(args.records))
        for name, fn in runs.items():  # warm up (and check) once
            out = fn()
            if sorted(out) != expected:
                raise AssertionError(f"{name} produced a wrong result")
        for _ in range(args.runs):
            for name, fn in runs.items():
                t = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            issue_case()
            thousand.append(time.perf_counter() - t)
        rows = [{"name": name, "records": args.records, "seconds": statistics.median(ts)}
                for name, ts in times.items()]
        print(table(rows, "python loop, blocking"))
        print(f"1,000 records at capacity 100: median {statistics.median(thousand):.2f} s "
              f"over {args.runs} runs (goal: under 1 s)")
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        server.wait(10)


if __name__ == "__main__":
    main()
