"""Async I/O (AsyncDataStream): against a real HTTP server on loopback, in thread and process mode."""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
import threading
import time

import aiohttp
import pytest
from aiohttp import web

from nbstream import StreamExecutionEnvironment, Time, UserFunctionError
from nbstream.api.async_io import (AsyncDataStream, AsyncFunction, AsyncRetryStrategy,
                                   empty_result_predicate, exception_type_predicate,
                                   has_exception_predicate)
from nbstream.api.functions import ProcessFunction, SourceFunction

LATENCY_S = 0.05


class Server:
    """An aiohttp server on 127.0.0.1 answering ``/echo/{n}`` with ``{"n": n}`` after 50 ms."""

    def __init__(self) -> None:
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.sock = sock
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.started = threading.Event()
        self.thread.start()
        self.started.wait(10)

    async def echo(self, request: web.Request) -> web.Response:
        self.requests += 1
        await asyncio.sleep(LATENCY_S)
        return web.json_response({"n": int(request.match_info["n"])})

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/echo/{n}", self.echo)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.SockSite(self.runner, self.sock).start())
        self.started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


class Echo(AsyncFunction):
    """One HTTP GET per record, through a session made on the operator's own loop."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/echo/"

    async def open(self, runtime_context):
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def close(self):
        await self.session.close()

    async def async_invoke(self, value):
        async with self.session.get(f"{self.url}{value}") as response:
            return [(await response.json())["n"]]


def run(make_env, wait, fn, data, **kw):
    env = make_env()
    out = wait(env.from_collection(data), fn, Time.seconds(10), **kw)
    it = out.execute_and_collect()
    return list(it), it.job


def test_1000_http_calls_at_capacity_100_ordered(make_env, server):
    data = list(range(1000))
    started = time.perf_counter()
    out, job = run(make_env, AsyncDataStream.ordered_wait, Echo(server.port), data, capacity=100)
    print(f"1000 calls of 50 ms at capacity 100: {time.perf_counter() - started:.2f} s")
    assert out == data
    m = next(v for k, v in job.metrics().items() if "AsyncWait" in k)
    assert m["records_in"] == 1000 and m["records_out"] == 1000 and m["async_in_flight"] == 0


def test_unordered_is_the_same_multiset(make_env, server):
    data = list(range(300))
    out, _ = run(make_env, AsyncDataStream.unordered_wait, Echo(server.port), data, capacity=50)
    assert collections.Counter(out) == collections.Counter(data)


async def jitter(x):
    await asyncio.sleep((x * 7919 % 13) / 1000)
    return [x]


def test_at_most_capacity_calls_in_flight():
    state = {"now": 0, "max": 0}

    async def tracked(x):
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        await asyncio.sleep(0.002)
        state["now"] -= 1
        return [x]

    env = StreamExecutionEnvironment.get_execution_environment()
    out = AsyncDataStream.unordered_wait(env.from_collection(list(range(200))), tracked,
                                         Time.seconds(5), capacity=7).execute_and_collect()
    assert sorted(out) == list(range(200))
    assert state["max"] == 7


class Segments(SourceFunction):
    """Records with timestamps 0..n-1 and a watermark after every ``every`` records."""

    def __init__(self, n: int, every: int) -> None:
        self.n, self.every = n, every

    def run(self, ctx):
        for i in range(self.n):
            ctx.collect_with_timestamp(i, i)
            if i % self.every == self.every - 1:
                ctx.emit_watermark(i)


class SeenWatermark(ProcessFunction):
    def process_element(self, value, ctx):
        yield value, ctx.timer_service().current_watermark()


def test_unordered_never_crosses_a_watermark(make_env):
    env = make_env()
    src = env.add_source(Segments(400, 20))
    out = AsyncDataStream.unordered_wait(src, jitter, Time.seconds(5), capacity=30)
    seen = list(out.process(SeenWatermark()).execute_and_collect())
    values = [v for v, _ in seen]
    assert sorted(values) == list(range(400))
    for v, wm in seen:  # no record arrives behind a watermark that followed it
        assert v > wm
    segment = [v // 20 for v in values]
    assert segment == sorted(segment)  # records move within their segment only


def test_ordered_keeps_input_order_with_watermarks(make_env):
    env = make_env()
    src = env.add_source(Segments(200, 10))
    out = AsyncDataStream.ordered_wait(src, jitter, Time.seconds(5), capacity=16)
    seen = list(out.process(SeenWatermark()).execute_and_collect())
    assert [v for v, _ in seen] == list(range(200))
    assert all(v > wm for v, wm in seen)


class Slow(AsyncFunction):
    async def async_invoke(self, value):
        await asyncio.sleep(5 if value % 4 == 0 else 0)
        return [value]

    def timeout(self, value):
        return [("timed out", value)]


def test_timeouts_call_timeout_and_are_counted(make_env):
    env = make_env()
    out = AsyncDataStream.ordered_wait(env.from_collection(list(range(12))), Slow(),
                                       Time.milliseconds(100), capacity=12)
    it = out.execute_and_collect()
    got = list(it)
    assert got == [("timed out", v) if v % 4 == 0 else v for v in range(12)]
    m = next(v for k, v in it.job.metrics().items() if "AsyncWait" in k)
    assert m["async_timeouts"] == 3


def test_default_timeout_fails_naming_the_record(make_env):
    async def hang(x):
        await asyncio.sleep(5 if x == 3 else 0)
        return [x]

    env = make_env()
    out = AsyncDataStream.unordered_wait(env.from_collection([1, 2, 3]), hang, Time.milliseconds(50))
    with pytest.raises(UserFunctionError) as info:
        list(out.execute_and_collect())
    assert "AsyncWait" in str(info.value) and "hang" in str(info.value)
    assert "on record 3" in str(info.value) and "TimeoutError" in str(info.value)


class Flaky(AsyncFunction):
    """Fails the first two attempts at each record, then answers; returns [] once for odd ones."""

    def __init__(self) -> None:
        self.attempts = collections.Counter()

    async def async_invoke(self, value):
        self.attempts[value] += 1
        n = self.attempts[value]
        if n <= 2:
            raise ConnectionError(f"attempt {n}")
        if n == 3 and value % 2:
            return []
        return [value]


@pytest.mark.parametrize("strategy", [
    AsyncRetryStrategy.fixed_delay(3, 5, empty_result_predicate, has_exception_predicate),
    AsyncRetryStrategy.exponential_backoff(
        3, 1, 10, 2.0, empty_result_predicate,
        functools.partial(exception_type_predicate, expected_error_type=ConnectionError)),
])
def test_retries_on_exception_and_result_are_counted(make_env, strategy):
    env = make_env()
    out = AsyncDataStream.ordered_wait_with_retry(env.from_collection(list(range(10))), Flaky(),
                                                  Time.seconds(5), strategy)
    it = out.execute_and_collect()
    assert list(it) == list(range(10))
    m = next(v for k, v in it.job.metrics().items() if "AsyncWait" in k)
    assert m["async_retries"] == 2 * 10 + 5


def test_retries_stop_after_max_attempts(make_env):
    env = make_env()
    strategy = AsyncRetryStrategy.fixed_delay(1, 5, None, has_exception_predicate)
    out = AsyncDataStream.unordered_wait_with_retry(env.from_collection([7]), Flaky(),
                                                    Time.seconds(5), strategy)
    with pytest.raises(UserFunctionError, match="ConnectionError: attempt 2"):
        list(out.execute_and_collect())


RUNNING: set = set()
CANCELLED: list = []


async def boom_or_wait(x):
    if x == 5:
        await asyncio.sleep(0.05)
        raise ValueError("bad record")
    RUNNING.add(x)
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        CANCELLED.append(x)
        raise
    finally:
        RUNNING.discard(x)
    return [x]


def test_a_failing_call_fails_the_job_and_leaves_no_call_running():
    RUNNING.clear()
    CANCELLED.clear()
    env = StreamExecutionEnvironment.get_execution_environment()
    out = AsyncDataStream.unordered_wait(env.from_collection(list(range(20))), boom_or_wait,
                                         Time.seconds(60), capacity=20)
    started = time.monotonic()
    with pytest.raises(UserFunctionError) as info:
        list(out.execute_and_collect())
    assert time.monotonic() - started < 20  # it did not wait for the 30 s calls
    err = info.value
    assert err.step == "AsyncWait" and "boom_or_wait" in err.function and err.record == 5
    assert isinstance(err.cause, ValueError)
    assert RUNNING == set() and sorted(CANCELLED) == [x for x in range(20) if x != 5]


def test_print_in_the_coroutine_reaches_the_jobs_output(make_env, capsys):
    async def say(x):
        print(f"calling for {x}")
        return [x]

    env = make_env()
    AsyncDataStream.ordered_wait(env.from_collection([1, 2]), say, Time.seconds(5)).add_sink(
        lambda v: None)
    env.execute()
    out = capsys.readouterr().out
    assert "calling for 1" in out and "calling for 2" in out


def test_parallel_instances_each_have_their_loop(make_env, server):
    env = make_env(parallelism=3)
    out = AsyncDataStream.unordered_wait(env.from_collection(list(range(120))).rebalance(),
                                         Echo(server.port), Time.seconds(10), capacity=10)
    assert sorted(out.execute_and_collect()) == list(range(120))


class FailsToOpen(AsyncFunction):
    def open(self, runtime_context):
        raise RuntimeError("no credentials")

    async def async_invoke(self, value):
        return [value]


def test_a_failing_open_fails_the_job_and_stops_the_loop(make_env):
    env = make_env()
    out = AsyncDataStream.ordered_wait(env.from_collection([1]), FailsToOpen(), Time.seconds(1))
    with pytest.raises(UserFunctionError, match=r"AsyncWait.*open\(\).*no credentials"):
        list(out.execute_and_collect())
    # (the autouse fixture checks that no event loop thread is left)


# -- validation, as PyFlink's ------------------------------------------------------------------
class NotAsync(AsyncFunction):
    def async_invoke(self, value):  # type: ignore[override]
        return [value]


def test_validation_messages():
    env = StreamExecutionEnvironment.get_execution_environment()
    ds = env.from_collection([1])
    with pytest.raises(TypeError, match="Method 'async_invoke' of class .*NotAsync.* should be "
                                        "declared as 'async def'"):
        AsyncDataStream.ordered_wait(ds, NotAsync(), Time.seconds(1))
    with pytest.raises(TypeError, match="must be declared as 'async def'"):
        AsyncDataStream.ordered_wait(ds, lambda x: [x], Time.seconds(1))
    with pytest.raises(ValueError, match="Async retry strategy should not be None"):
        AsyncDataStream.ordered_wait_with_retry(ds, jitter, Time.seconds(1), None)
    retry = AsyncRetryStrategy.fixed_delay(2, 10, None, has_exception_predicate)
    with pytest.raises(ValueError, match="Timeout should be configured when do async with retry"):
        AsyncDataStream.unordered_wait_with_retry(ds, jitter, Time.seconds(0), retry)
    with pytest.raises(ValueError, match="max_attempts should be greater than zero"):
        AsyncRetryStrategy.fixed_delay(0, 10, None, None)
    with pytest.raises(ValueError, match="multiplier should be greater than zero"):
        AsyncRetryStrategy.exponential_backoff(1, 10, 10, 0, None, None)
    with pytest.raises(ValueError, match="capacity"):
        AsyncDataStream.ordered_wait(ds, jitter, Time.seconds(1), capacity=0)


def test_a_result_that_is_not_a_list_fails_clearly(make_env):
    async def single(x):
        return x

    env = make_env()
    out = AsyncDataStream.ordered_wait(env.from_collection([1]), single, Time.seconds(1))
    with pytest.raises(UserFunctionError, match="returned int 1; return a list"):
        list(out.execute_and_collect())


PYFLINK_PROGRAM = '''
import asyncio, functools
from typing import List
from pyflink.common import Time, Types
from pyflink.datastream import (StreamExecutionEnvironment, AsyncDataStream, AsyncFunction,
                                AsyncRetryStrategy, async_retry_predicates)


class Lookup(AsyncFunction[int, str]):
    def __init__(self):
        self.failed = set()

    async def async_invoke(self, value: int) -> List[str]:
        await asyncio.sleep(0.001 * (value % 5))
        if value not in self.failed and value % 3 == 0:
            self.failed.add(value)
            raise TimeoutError
        return [f"v{value}"]


env = StreamExecutionEnvironment.get_execution_environment()
env.set_parallelism(1)
strategy = AsyncRetryStrategy.fixed_delay(
    max_attempts=3, backoff_time_millis=10, result_predicate=None,
    exception_predicate=functools.partial(async_retry_predicates.exception_type_predicate,
                                          expected_error_type=TimeoutError))
ds = env.from_collection(list(range(9)), Types.INT())
AsyncDataStream.ordered_wait_with_retry(
    data_stream=ds, async_function=Lookup(), timeout=Time.seconds(10),
    async_retry_strategy=strategy, capacity=4, output_type=Types.STRING()).print()
env.execute("async")
'''


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_pyflink_async_program_runs_unmodified(mode, capsys):
    from nbstream.compat.pyflink import activated

    with activated(mode=mode):
        exec(compile(PYFLINK_PROGRAM, "<pyflink program>", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.split() == [f"v{i}" for i in range(9)]


@pytest.mark.flink
def test_flink_mode_in_thread_python_mode_refuses_async_io_naming_the_step():
    from nbstream import PlanError

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode("flink")
    AsyncDataStream.ordered_wait(env.from_collection([1]), jitter, Time.seconds(1)).name(
        "lookup").print()
    with pytest.raises(PlanError, match=r"step 'lookup' \(async_wait\) cannot run in flink mode: "
                                        r"PyFlink runs an AsyncFunction only in its process"):
        env.execute()


@pytest.mark.slow
@pytest.mark.flink
def test_flink_mode_runs_async_io_with_retries_as_thread_mode_does():
    """PyFlink's own async operator (process Python mode) gives what nbstream's gives."""
    got = {}
    for mode in ("thread", "flink"):
        env = StreamExecutionEnvironment.get_execution_environment(
            {"nbstream.flink.python-mode": "process"})
        env.set_execution_mode(mode)
        env.set_parallelism(1)
        strategy = AsyncRetryStrategy.fixed_delay(3, 5, empty_result_predicate,
                                                  has_exception_predicate)
        out = AsyncDataStream.ordered_wait_with_retry(env.from_collection(list(range(30))),
                                                      Flaky(), Time.seconds(10), strategy,
                                                      capacity=8)
        got[mode] = list(out.execute_and_collect())
    assert got["flink"] == got["thread"] == list(range(30))


def test_cancelling_a_job_at_capacity_stops_its_calls(make_env):
    async def forever(x):
        await asyncio.sleep(60)
        return [x]

    env = make_env()
    AsyncDataStream.unordered_wait(env.from_collection(list(range(100))), forever,
                                   Time.seconds(120), capacity=5).add_sink(lambda v: None)
    job = env.execute_async()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(
            m.get("async_in_flight") == 5 for m in job.metrics().values()):
        time.sleep(0.01)
    assert any(m.get("async_in_flight") == 5 for m in job.metrics().values())  # full: blocked
    job.cancel()
    job.wait(20)
    assert str(job.status).endswith("CANCELED")
    # (the autouse fixture checks that the task and its event loop thread have ended)
