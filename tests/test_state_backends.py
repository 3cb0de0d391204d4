"""State backends: the hash-map backend (dicts) and the embedded RocksDB backend give the
same results, at the level of single state calls (random call sequences over every state
kind, TTL and merging included) and of whole keyed pipelines (hypothesis); snapshots
move between them; RocksDB folders do not outlive their operators."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nbstream import (AggregateFunction, AggregatingStateDescriptor, CountEvictor, CountTrigger,
                      EmbeddedRocksDBStateBackend, EventTimeSessionWindows, GlobalWindows,
                      HashMapStateBackend,
                      KeyedProcessFunction, ListStateDescriptor, ManualClock, MapStateDescriptor,
                      PlanError, ReducingStateDescriptor, StateTtlConfig,
                      StreamExecutionEnvironment, TumblingEventTimeWindows, UserFunctionError,
                      ValueStateDescriptor, WatermarkStrategy)
from nbstream.runtime.state import KeyedStateBackend

from tests.conftest import collect

import rocksdict  # noqa: F401  - the test extra installs it: a missing binding fails, not skips

from nbstream.runtime import state_backends as SB  # noqa: E402
from tests.workers import kill_a_worker_of

EXAMPLES = int(os.environ.get("NBSTREAM_EXAMPLES", "40"))


class Mean(AggregateFunction):
    def create_accumulator(self):
        return [0, 0]  # a list: changed in place, as user accumulators often are

    def add(self, value, acc):
        acc[0] += value
        acc[1] += 1
        return acc

    def get_result(self, acc):
        return acc[0] / acc[1]

    def merge(self, a, b):
        return [a[0] + b[0], a[1] + b[1]]


def _add(a, b):
    return a + b


# -- single state calls ---------------------------------------------------------------------------

U, V = StateTtlConfig.UpdateType, StateTtlConfig.StateVisibility


def descriptors(ttl):
    descs = [ValueStateDescriptor("v"), ListStateDescriptor("l"), MapStateDescriptor("m"),
             ReducingStateDescriptor("r", _add), AggregatingStateDescriptor("a", Mean())]
    if ttl is not None:
        update, visibility = ttl
        config = (StateTtlConfig.new_builder("1s").set_update_type(update)
                  .set_state_visibility(visibility).build())
        for d in descs:
            d.enable_time_to_live(config)
    return descs


CALL = st.tuples(
    st.sampled_from(["v.update", "v.value", "v.clear", "l.add", "l.add_all", "l.update", "l.get",
                     "l.clear", "m.put", "m.put_all", "m.get", "m.remove", "m.contains", "m.items",
                     "m.is_empty", "r.add", "r.get", "a.add", "a.get", "merge", "tick", "keys",
                     "flush"]),
    st.integers(0, 2),  # key
    st.sampled_from([None, None, "w1", "w2"]),  # namespace
    st.integers(0, 9),  # value (a map key too)
)


def run_calls(backend, clock, calls, ttl):
    states = {d.name: backend.get(d) for d in descriptors(ttl)}
    out = []
    for call, key, ns, value in calls:
        backend.current_key, backend.namespace = key, ns
        name, _, method = call.partition(".")
        if call == "tick":
            clock.advance(value * 150)
            continue
        if call == "flush":  # RocksDB: write the cache back (what a full cache does)
            if backend.store is not None:
                backend.store.flush()
            continue
        if call == "keys":
            out.append(sorted(map(repr, states["l"].keys_with_state())))
            continue
        if call == "merge":
            if ttl is None and ns is not None:
                for d in descriptors(None):
                    if d.name in ("l", "r", "a"):  # the kinds that merge
                        backend.merge_namespaces(d, ns, ["w1" if ns == "w2" else "w2"])
            continue
        s = states[name]
        if method in ("update", "add", "put"):
            args = (value,) if name != "m" else (value % 4, value)
            if name == "l" and method == "update":
                args = ([value] * (value % 3),)
        elif method == "add_all":
            args = ([value, value + 1],)
        elif method == "put_all":
            args = ({value: value, value + 1: -value},)
        elif name == "m" and method in ("get", "remove", "contains"):
            args = (value % 4,)
        else:
            args = ()
        result = getattr(s, method)(*args)
        out.append((call, result))
    return out


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(st.lists(CALL, max_size=80),
       st.sampled_from([None, (U.OnCreateAndWrite, V.NeverReturnExpired),
                        (U.OnReadAndWrite, V.ReturnExpiredIfNotCleanedUp)]),
       st.sampled_from([1, 2, SB.CACHE_ENTRIES]))
@example(calls=[("l.add", 0, None, 1), ("flush", 0, None, 0), ("l.add", 0, None, 2),
                ("flush", 0, None, 0), ("l.get", 0, None, 0)], ttl=None, cache_entries=4096)
def test_every_state_call_gives_the_same_result_on_both_backends(calls, ttl, cache_entries):
    clock1, clock2 = ManualClock(0), ManualClock(0)
    store = SB.RocksDBStore()
    default, SB.CACHE_ENTRIES = SB.CACHE_ENTRIES, cache_entries  # small: flushes all the time
    try:
        heap = KeyedStateBackend(clock1.now_ms)
        rocks = KeyedStateBackend(clock2.now_ms, store=store.scoped(""))
        assert run_calls(heap, clock1, calls, ttl) == run_calls(rocks, clock2, calls, ttl)
        assert _plain(heap.snapshot()) == _plain(rocks.snapshot())
    finally:
        SB.CACHE_ENTRIES = default
        store.dispose()


def test_a_small_cache_writes_back_what_was_changed_in_place(monkeypatch):
    monkeypatch.setattr(SB, "CACHE_ENTRIES", 3)
    store = SB.RocksDBStore()
    try:
        backend = KeyedStateBackend(store=store.scoped(""))
        lists = backend.get(ListStateDescriptor("l"))
        means = backend.get(AggregatingStateDescriptor("a", Mean()))
        for i in range(200):
            backend.current_key = i % 17
            lists.add(i)
            means.add(i)
        backend.current_key = 3
        assert lists.get() == list(range(3, 200, 17))
        assert means.get() == sum(range(3, 200, 17)) / len(range(3, 200, 17))
        assert len(store.mapping("l")) == 17
    finally:
        store.dispose()


def test_equal_slots_are_one_entry_however_they_were_built():
    store = SB.RocksDBStore()
    try:
        backend = KeyedStateBackend(store=store.scoped(""))
        value = backend.get(ValueStateDescriptor("v"))
        word = "ab"
        backend.current_key = (word, word)  # one object twice: the pickle memo would differ
        value.update(1)
        store.flush()
        backend.current_key = ("a" + "b".strip(), "".join(["a", "b"]))
        assert value.value() == 1
    finally:
        store.dispose()


# -- snapshots ----------------------------------------------------------------------------------------

def _plain(snapshot):
    return {name: dict(data) for name, (_kind, data) in snapshot.items() if data}


def _filled(backend):
    value = backend.get(ValueStateDescriptor("v"))
    lists = backend.get(ListStateDescriptor("l"))
    maps = backend.get(MapStateDescriptor("m"))
    for i in range(50):
        backend.current_key = f"k{i % 7}"
        backend.namespace = None if i % 2 else ("w", i % 3)
        value.update(i)
        lists.add(i)
        maps.put(i % 5, str(i))
    backend.namespace = None
    return backend


@pytest.mark.parametrize("source,target", [("heap", "rocks"), ("rocks", "heap"),
                                           ("rocks", "rocks")])
def test_snapshots_restore_on_either_backend(source, target):
    stores = []

    def make(kind):
        if kind == "heap":
            return KeyedStateBackend()
        stores.append(SB.RocksDBStore())
        return KeyedStateBackend(store=stores[-1].scoped("s"))

    try:
        snap = _filled(make(source)).snapshot()
        assert {n: k for n, (k, _) in snap.items()} == {"v": "value", "l": "list", "m": "map"}
        restored = make(target)
        restored.restore(snap)
        assert _plain(restored.snapshot()) == _plain(snap)  # restored, not used yet
        restored.current_key = "k3"
        assert restored.get(ValueStateDescriptor("v")).value() == 45
        assert restored.get(ListStateDescriptor("l")).get() == [3, 17, 31, 45]
        assert _plain(restored.snapshot()) == _plain(snap)
    finally:
        for s in stores:
            s.dispose()


# -- whole pipelines ------------------------------------------------------------------------------

class EveryState(KeyedProcessFunction):
    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count"))
        self.recent = ctx.get_list_state(ListStateDescriptor("recent"))
        self.seen = ctx.get_map_state(MapStateDescriptor("seen"))
        self.total = ctx.get_reducing_state(ReducingStateDescriptor("total", _add))
        self.mean = ctx.get_aggregating_state(AggregatingStateDescriptor("mean", Mean()))

    def process_element(self, value, ctx):
        key, v = value
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        self.recent.add(v)
        if n % 3 == 0:
            self.recent.update(self.recent.get()[-2:])
        self.seen.put(v % 5, (self.seen.get(v % 5) or 0) + 1)
        if v % 7 == 0:
            self.seen.remove(v % 5)
        self.total.add(v)
        self.mean.add(v)
        yield (key, n, tuple(self.recent.get()), tuple(sorted(self.seen.items())),
               self.total.get(), self.mean.get())


def _env(mode, parallelism, backend):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    env.set_state_backend(backend)
    return env


def _rocks(tmp_path, incremental=False):
    backend = EmbeddedRocksDBStateBackend(incremental)
    backend.set_db_storage_paths(str(tmp_path))
    return backend


def keyed_process(env, data):
    return collect(env.from_collection(data).key_by(lambda t: t[0]).process(EveryState()))


def _timed(env, data):
    return env.from_collection(sorted(data, key=lambda t: t[1])).assign_timestamps_and_watermarks(
        WatermarkStrategy.for_monotonous_timestamps().with_timestamp_assigner(lambda t, _: t[1]))


def sessions(env, data):
    return collect(_timed(env, data).key_by(lambda t: t[0])
                   .window(EventTimeSessionWindows.with_gap(4))
                   .reduce(lambda a, b: (a[0], max(a[1], b[1]), a[2] + b[2])))


def sessions_counted(env, data):  # CountTrigger's count is window state, merged on merges
    return collect(_timed(env, data).key_by(lambda t: t[0])
                   .window(EventTimeSessionWindows.with_gap(4)).trigger(CountTrigger.of(2))
                   .reduce(lambda a, b: (a[0], max(a[1], b[1]), a[2] + b[2])))


def tumbling_counted(env, data):
    return collect(_timed(env, data).key_by(lambda t: t[0])
                   .window(TumblingEventTimeWindows.of(10)).trigger(CountTrigger.of(3))
                   .reduce(lambda a, b: (a[0], max(a[1], b[1]), a[2] + b[2])))


def _listed(key, window, elements):
    yield key, window.start, tuple(sorted(e[2] for e in elements))


def tumbling_listed(env, data):  # the window's contents are a list, appended to in place
    return collect(_timed(env, data).key_by(lambda t: t[0])
                   .window(TumblingEventTimeWindows.of(10)).apply(_listed))


def sessions_averaged(env, data):
    return collect(_timed(env, data).key_by(lambda t: t[0])
                   .window(EventTimeSessionWindows.with_gap(3))
                   .aggregate(WindowMean()))


def global_evicting(env, data):
    return collect(_timed(env, data).key_by(lambda t: t[0]).window(GlobalWindows.create())
                   .trigger(CountTrigger.of(3)).evictor(CountEvictor.of(2))
                   .reduce(lambda a, b: (a[0], max(a[1], b[1]), a[2] + b[2])))


class WindowMean(Mean):
    """The mean of the records' third field."""

    def add(self, value, acc):
        return super().add(value[2], acc)


class TtlLast(KeyedProcessFunction):
    def open(self, ctx):
        desc = ValueStateDescriptor("last")
        desc.enable_time_to_live(StateTtlConfig.new_builder("1h").build())
        self.last = ctx.get_state(desc)
        items = MapStateDescriptor("items")
        items.enable_time_to_live(StateTtlConfig.new_builder("1h").build())
        self.items = ctx.get_map_state(items)

    def process_element(self, value, ctx):
        before = self.last.value()
        self.last.update(value[1])
        self.items.put(value[1] % 3, value[1])
        yield value[0], before, tuple(sorted(self.items.items()))


def ttl_state(env, data):
    return collect(env.from_collection(data).key_by(lambda t: t[0]).process(TtlLast()))


PIPELINES = {"keyed_process": keyed_process, "sessions": sessions,
             "sessions_counted": sessions_counted, "tumbling_counted": tumbling_counted,
             "ttl": ttl_state, "tumbling_listed": tumbling_listed,
             "sessions_averaged": sessions_averaged, "global_evicting": global_evicting}
RECORDS = st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 60), st.integers(-5, 20)),
                   max_size=60)


def _records(pipeline, data):
    return [(k, v) for k, v, _ in data] if pipeline in ("keyed_process", "ttl") else data


def _differential(tmp_path, mode, pipeline, data, parallelism):
    records = _records(pipeline, data)
    heap = PIPELINES[pipeline](_env(mode, parallelism, HashMapStateBackend()), records)
    rocks = PIPELINES[pipeline](_env(mode, parallelism, _rocks(tmp_path)), records)
    assert sorted(rocks, key=repr) == sorted(heap, key=repr)
    assert os.listdir(tmp_path) == []  # every operator's database is gone


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
@settings(max_examples=max(EXAMPLES // 4, 3), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=RECORDS, parallelism=st.integers(1, 2))
def test_pipelines_give_the_same_results_on_both_backends_thread(tmp_path, pipeline, data,
                                                                 parallelism):
    _differential(tmp_path, "thread", pipeline, data, parallelism)


@pytest.mark.parametrize("pipeline", ["keyed_process", "sessions_counted", "tumbling_listed"])
@settings(max_examples=3, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=RECORDS, parallelism=st.integers(1, 2))
def test_pipelines_give_the_same_results_on_both_backends_process(tmp_path, pipeline, data,
                                                                  parallelism):
    _differential(tmp_path, "process", pipeline, data, parallelism)


def test_a_failed_job_removes_its_databases_too(tmp_path):
    class Fails(KeyedProcessFunction):
        def open(self, ctx):
            self.n = ctx.get_state(ValueStateDescriptor("n"))

        def process_element(self, value, ctx):
            self.n.update((self.n.value() or 0) + 1)
            if value == 30:
                raise ValueError("boom")
            yield value

    env = _env("thread", 2, _rocks(tmp_path))
    with pytest.raises(UserFunctionError, match="boom"):
        collect(env.from_collection(list(range(50))).key_by(lambda v: v % 3).process(Fails()))
    assert os.listdir(tmp_path) == []


def test_many_keys_spill_to_disk(tmp_path):
    data = [(f"k{i}", 1) for i in range(20_000)] * 2
    rows = keyed_process(_env("thread", 1, _rocks(tmp_path)), data)
    assert len(rows) == 40_000 and max(r[1] for r in rows) == 2
    assert os.listdir(tmp_path) == []


# -- the API ------------------------------------------------------------------------------------------

def test_the_environment_keeps_the_backend_in_the_job_config(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment()
    assert env.get_state_backend() == HashMapStateBackend()
    assert env._job_config().state_backend.kind == "hashmap"
    backend = EmbeddedRocksDBStateBackend(enable_incremental_checkpointing=True)
    backend.set_db_storage_paths(str(tmp_path))
    assert env.set_state_backend(backend) is env
    assert env.get_state_backend() is backend and backend.is_incremental_checkpoints_enabled()
    settings_ = env._job_config().state_backend
    assert (settings_.kind, settings_.directory, settings_.incremental) == ("rocksdb", str(tmp_path),
                                                                            True)
    with pytest.raises(PlanError, match="set_state_backend takes"):
        env.set_state_backend("rocksdb")


def test_configuration_keys_choose_the_backend(tmp_path):
    env = StreamExecutionEnvironment.get_execution_environment(
        {"state.backend.type": "rocksdb", "state.backend.incremental": "true",
         "state.backend.rocksdb.localdir": str(tmp_path)})
    backend = env.get_state_backend()
    assert isinstance(backend, EmbeddedRocksDBStateBackend)
    assert backend.is_incremental_checkpoints_enabled()
    assert backend.get_db_storage_paths() == [str(tmp_path)]
    assert StreamExecutionEnvironment.get_execution_environment(
        {"state.backend": "hashmap"}).get_state_backend() == HashMapStateBackend()
    with pytest.raises(PlanError, match="unknown state backend 'leveldb'"):
        StreamExecutionEnvironment.get_execution_environment({"state.backend.type": "leveldb"})


def test_the_pyflink_names_are_these():
    from nbstream.compat.pyflink.datastream import (EmbeddedRocksDBStateBackend as R,
                                                    HashMapStateBackend as H, StateBackend)
    # PyFlink's RocksDB backend is nbstream's with PyFlink's tuning setters (kept, no effect)
    assert issubclass(R, EmbeddedRocksDBStateBackend) and H is HashMapStateBackend
    assert isinstance(R(), StateBackend)


# -- checkpoints and recovery on RocksDB --------------------------------------------------------

@pytest.mark.parametrize("mode", ["thread", "process"])
@pytest.mark.parametrize("shape,incremental", [("process", False), ("session", False),
                                               ("process", True), ("session", True)])
def test_a_job_on_rocksdb_recovers_exactly_once_from_its_checkpoints(tmp_path, mode, shape,
                                                                      incremental):
    from collections import Counter

    from nbstream import CheckpointingMode, JobStatus, RestartStrategies
    from tests.test_checkpoints import events, pipeline, plain

    data = events(1200, 5, seed=7, disorder=2)
    expected = Counter(plain(2, data, shape))
    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode(mode)
    env.set_parallelism(2)
    env.set_state_backend(_rocks(tmp_path / "db", incremental))
    env.enable_checkpointing(20, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir(str(tmp_path / "checkpoints"))
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 0))
    it = pipeline(env, data, shape, str(tmp_path / "failed"), at=700).execute_and_collect()
    got = list(it)
    assert it.job.status is JobStatus.FINISHED and it.job.restarts == 1
    assert Counter(got) == expected
    assert os.listdir(tmp_path / "db") == []


def test_folders_of_processes_that_are_gone_are_removed(tmp_path):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    orphan = tmp_path / f"nbstream-rocksdb-{gone}-a_task-0-xyz"
    (orphan / "inside").mkdir(parents=True)
    mine = tmp_path / f"nbstream-rocksdb-{os.getpid()}-another-0-xyz"
    mine.mkdir()
    SB._swept.discard(str(tmp_path))
    store = SB.RocksDBStore(str(tmp_path), "t")
    try:
        assert not orphan.exists() and mine.exists()
    finally:
        store.dispose()


def test_native_checkpoints_share_the_files_written_before(tmp_path):
    """RocksDB's own checkpoints, the building block of incremental checkpoints."""
    store = SB.RocksDBStore(str(tmp_path / "db"))
    stores = [store]
    try:
        backend = _filled(KeyedStateBackend(store=store.scoped("s")))
        first = store.native_checkpoint(str(tmp_path / "cp1"))
        expected = _plain(backend.snapshot())
        values = backend.get(ValueStateDescriptor("v"))
        for i in range(100):
            backend.current_key = f"new{i}"
            values.update(i)
        second = store.native_checkpoint(str(tmp_path / "cp2"))
        tables = [{f for f in m["files"] if f.endswith(".sst")} for m in (first, second)]
        assert tables[0] and tables[0] < tables[1]  # the second adds files, shares the rest
        shared = next(iter(tables[0]))
        assert os.path.samefile(tmp_path / "cp1" / shared, tmp_path / "cp2" / shared)
        restored = SB.RocksDBStore.from_native_checkpoint(str(tmp_path / "cp1"),
                                                          str(tmp_path / "db"))
        stores.append(restored)
        again = KeyedStateBackend(store=restored.scoped("s"))
        again.current_key = "k3"
        assert again.get(ValueStateDescriptor("v")).value() == 45
        assert _plain(again.snapshot()) == expected
        again.current_key = "new1"
        assert again.get(ValueStateDescriptor("v")).value() is None
    finally:
        for s in stores:
            s.dispose()
    assert os.listdir(tmp_path / "db") == []


# -- incremental checkpoints ----------------------------------------------------------------------

STEPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from("ab"), st.integers(0, 40), st.integers(0, 9)),
    st.tuples(st.just("append"), st.sampled_from("ab"), st.integers(0, 40), st.integers(0, 9)),
    st.tuples(st.just("delete"), st.sampled_from("ab"), st.integers(0, 40)),
    st.tuples(st.just("clear"), st.sampled_from("ab")),
    st.tuples(st.just("checkpoint"))), max_size=80)


@settings(max_examples=max(10, EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=STEPS)
def test_incremental_checkpoints_restore_what_the_store_held(tmp_path_factory, monkeypatch,
                                                              steps):
    """Random writes, deletions (of entries and whole states), values changed in place and
    checkpoints: loading any checkpoint's files (a base and its increments) into a fresh
    store gives exactly the entries the store held when it was taken."""
    monkeypatch.setattr(SB, "CACHE_ENTRIES", 4)  # write-backs between checkpoints
    monkeypatch.setattr(SB, "MAX_INCREMENTS", 3)  # new bases on the way
    tmp = tmp_path_factory.mktemp("inc")
    shared = str(tmp / "shared")
    store = SB.RocksDBStore(str(tmp), "s", incremental=True)
    stores = [store]
    taken = []
    try:
        for step in steps + [("checkpoint",)]:
            if step[0] == "checkpoint":
                handle = store.checkpoint(shared)
                held = {n: dict(store.mapping(n).items()) for n in "ab"}
                taken.append((handle, held))
                continue
            entries = store.mapping(step[1])
            if step[0] == "put":
                entries[step[2]] = [step[3]] if step[3] % 2 else step[3]
            elif step[0] == "append" and isinstance(entries.get(step[2]), list):
                entries.get(step[2]).append(step[3])  # in place: no __setitem__
            elif step[0] == "delete":
                entries.pop(step[2], None)
            elif step[0] == "clear":
                entries.clear()
        for handle, held in taken:
            again = SB.RocksDBStore(str(tmp), "r", incremental=True)
            stores.append(again)
            again.mapping("z")["made before the load"] = 1  # a state of the new job
            again.mapping("z").clear()
            again.load(shared, handle)
            assert {n: dict(again.mapping(n).items()) for n in "ab"} == held
            assert dict(again.mapping("z").items()) == {}
    finally:
        for s in stores:
            s.dispose()


def test_an_increment_holds_only_the_changed_keys(tmp_path):
    store = SB.RocksDBStore(str(tmp_path), "s", incremental=True)
    try:
        counts = store.mapping("count")
        for i in range(20_000):
            counts[i] = i
        shared = str(tmp_path / "shared")
        first = store.checkpoint(shared)
        for i in range(0, 20_000, 100):  # 1 %
            counts[i] = -i
        del counts[1]
        second = store.checkpoint(shared)
        assert second["chain"][:1] == first["chain"] and len(second["chain"]) == 2
        base = SB._size(os.path.join(shared, first["chain"][0]))
        increment = SB._size(os.path.join(shared, second["chain"][1]))
        assert increment < base / 20, (increment, base)
        assert store.checkpoint(shared)["chain"] == second["chain"]  # nothing changed
    finally:
        store.dispose()


class CountPerKey(KeyedProcessFunction):
    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count"))

    def process_element(self, value, ctx):
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        yield value[0], n


def _slow(e):
    import time

    time.sleep(0.0003)
    return e


def incremental_job(env, data, step=_slow):
    """Counts per key; ``step`` runs in the source's task (a task blocked on a slow step
    downstream would hold a stop with a savepoint back for its grace period)."""
    return env.from_collection(data).set_parallelism(1).map(step).set_parallelism(1) \
        .key_by(lambda e: e[0]).process(CountPerKey()).uid("counts")


def _fast(e):
    return e


def incremental_env(tmp_path, mode, parallelism, retained=1):
    from nbstream import CheckpointingMode, RestartStrategies

    env = StreamExecutionEnvironment.get_execution_environment({"nbstream.batch-size": 40})
    env.set_execution_mode(mode)
    env.set_parallelism(parallelism)
    rocks = EmbeddedRocksDBStateBackend(True)
    rocks.set_db_storage_paths(str(tmp_path / "db"))
    env.set_state_backend(rocks)
    env.enable_checkpointing(20, CheckpointingMode.EXACTLY_ONCE)
    cfg = env.get_checkpoint_config()
    cfg.set_checkpoint_storage_dir(str(tmp_path / "checkpoints")).set_num_retained_checkpoints(retained)
    env.set_restart_strategy(RestartStrategies.fixed_delay_restart(3, 0))
    return env


def _shared_folder(tmp_path):
    folder = tmp_path / "checkpoints"
    jobs = list(folder.iterdir()) if folder.exists() else []
    return jobs[0] / "shared" if jobs else None


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_job_on_incremental_rocksdb_recovers_exactly_once_from_a_killed_worker(tmp_path, mode):
    """Increments are written (a base, then SST files) and a restart restores from the
    chain; thread mode fails a step, process mode kills a worker."""
    from collections import Counter

    from nbstream import JobStatus

    data = [(f"k{i % 300}", i) for i in range(4000)]
    expected = Counter(incremental_job(StreamExecutionEnvironment.get_execution_environment(),
                                       data, _fast).execute_and_collect())
    env = incremental_env(tmp_path, mode, 2)

    class FailOnce:
        def __call__(self, e):
            marker = tmp_path / "failed"
            _slow(e)
            if mode != "thread" or e[1] < 2500 or marker.exists():
                return e
            shared = _shared_folder(tmp_path)
            if shared is not None and shared.exists() \
                    and any(p.suffix == ".sst" for p in shared.iterdir()):
                marker.touch()
                raise RuntimeError("injected failure after an increment")
            return e

    it = incremental_job(env, data, FailOnce()).execute_and_collect()
    got, increments, victim = [], set(), None
    for record in it:
        got.append(record)
        shared = _shared_folder(tmp_path)
        if shared is not None and shared.exists():
            increments |= {p.name for p in shared.iterdir() if p.suffix == ".sst"}
        if mode == "process" and victim is None and increments \
                and it.job.checkpoint_info().get("completed", 0) >= 3:
            victim = kill_a_worker_of(it.job)
    assert it.job.status is JobStatus.FINISHED and it.job.restarts == 1, it.job.last_failure
    assert increments, "no increment was written"
    assert Counter(got) == expected
    assert os.listdir(tmp_path / "db") == []


def test_old_increments_go_and_every_retained_checkpoint_restores(tmp_path, monkeypatch):
    """Three checkpoints kept, a new base every third checkpoint: the shared folder holds
    exactly the files their manifests list (older increments and bases were deleted, as
    were files of checkpoints that did not complete); a job resumes from each of them to
    the same final counts."""
    import json
    import time

    from nbstream import ExternalizedCheckpointRetention, JobStatus

    data = [(f"k{i % 400}", i) for i in range(12_000)]
    final = {}
    for key, n in incremental_job(StreamExecutionEnvironment.get_execution_environment(),
                                  data, _fast).execute_and_collect():
        final[key] = max(final.get(key, 0), n)
    monkeypatch.setattr(SB, "MAX_INCREMENTS", 1)  # thread mode: the tasks read it here
    env = incremental_env(tmp_path, "thread", 2, retained=3)
    env.get_checkpoint_config().set_externalized_checkpoint_retention(
        ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION)
    incremental_job(env, data).add_sink(lambda v: None)
    job = env.execute_async()
    deadline = time.monotonic() + 60
    while job.checkpoint_info().get("completed", 0) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    job.cancel()
    job.wait(30)
    assert job.checkpoint_info()["completed"] >= 8
    root = next((tmp_path / "checkpoints").iterdir())
    kept = sorted((p for p in root.iterdir() if p.name.startswith("chk-")),
                  key=lambda p: int(p.name[4:]))
    assert len(kept) == 3
    listed = set()
    for chk in kept:
        manifest = json.loads((chk / "_metadata.json").read_text())
        for entry in manifest["operators"].values():
            for meta in entry["files"].values():
                listed.update(meta.get("shared", ()))
    assert any(name.endswith(".sst") for name in listed)
    assert {p.name for p in (root / "shared").iterdir()} == listed
    # 8 or more checkpoints made 3 or more bases per instance: those of 3 kept are 2 at most
    assert sum(name.endswith(".base") for name in listed) <= 4
    for chk in kept:
        env = incremental_env(tmp_path / chk.name, "thread", 2)
        env.configure({"execution.savepoint.path": str(chk),  # the first job's sink differs
                       "execution.savepoint.ignore-unclaimed-state": "true"})
        resumed = {}
        for key, n in incremental_job(env, data, _fast).execute_and_collect():
            resumed[key] = max(resumed.get(key, 0), n)
        assert resumed == {k: n for k, n in final.items() if k in resumed}
        assert all(resumed.get(k) == n for k, n in final.items() if n > 25)  # keys seen late
    assert job.status is JobStatus.CANCELED


def test_a_savepoint_of_incremental_state_stands_alone_and_rescales(tmp_path):
    """The savepoint copies the files it needs: the stopped job's folder is gone, and a
    job at another parallelism resumes from it (each instance keeps its keys), as does a
    job on the hash-map backend."""
    from collections import Counter

    from tests.test_checkpoint_operators import stop_with_savepoint_after

    data = [(f"k{i % 300}", i) for i in range(6000)]
    expected = Counter(incremental_job(StreamExecutionEnvironment.get_execution_environment(),
                                       data, _fast).execute_and_collect())
    it = incremental_job(incremental_env(tmp_path, "thread", 2), data).execute_and_collect()
    first, path = stop_with_savepoint_after(it, 3, str(tmp_path / "savepoint"))
    saved = [path]
    assert list((tmp_path / "checkpoints").iterdir()) == []  # discarded
    assert any(p.suffix == ".sst" for p in (tmp_path / "savepoint" / "shared").iterdir())
    env = incremental_env(tmp_path, "thread", 3)
    env.configure({"execution.savepoint.path": saved[0]})
    second = list(incremental_job(env, data, _fast).execute_and_collect())
    assert first and second
    assert Counter(first) + Counter(second) == expected
    env = incremental_env(tmp_path, "thread", 2)
    env.set_state_backend(HashMapStateBackend())
    env.configure({"execution.savepoint.path": saved[0]})
    assert Counter(incremental_job(env, data, _fast).execute_and_collect()) == Counter(second)


def test_an_increment_that_cannot_be_written_leaves_the_entries_in_the_snapshot(
        tmp_path, monkeypatch):
    """A full disk while an increment is written: that checkpoint holds the entries
    themselves (the job goes on, no restart), the next one writes a new base, and a
    failure later restores from either."""
    from collections import Counter

    from nbstream import JobStatus

    written = []
    real = SB.RocksDBStore._write_increment

    def full_disk_once(self, path):
        written.append(path)
        if len(written) == 2:
            open(path, "wb").close()  # a partial file, removed by the store
            raise OSError(28, "No space left on device")
        return real(self, path)

    monkeypatch.setattr(SB.RocksDBStore, "_write_increment", full_disk_once)
    data = [(f"k{i % 300}", i) for i in range(4000)]
    expected = Counter(incremental_job(StreamExecutionEnvironment.get_execution_environment(),
                                       data, _fast).execute_and_collect())
    env = incremental_env(tmp_path, "thread", 2)

    def fail_late(e):
        _slow(e)
        marker = tmp_path / "failed"
        if e[1] >= 3000 and len(written) > 4 and not marker.exists():
            marker.touch()
            raise RuntimeError("injected failure")
        return e

    it = incremental_job(env, data, fail_late).execute_and_collect()
    got = list(it)
    assert it.job.status is JobStatus.FINISHED and it.job.restarts == 1, it.job.last_failure
    assert "injected failure" in it.job.last_failure
    assert len(written) > 4 and not os.path.exists(written[1])
    assert Counter(got) == expected
