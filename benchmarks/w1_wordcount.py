"""W1: 1,000,000 integers -> map to (word, 1) over 5 words -> key_by word -> rolling reduce
(sum) -> filter final counts -> collect.

Prints records/s of nbstream (thread mode, parallelism 1 and 2) and of peers, with each
one's ratio to a hand-written Python loop calling the same functions, measured in the same
run (medians of --runs runs). Goal for thread mode at parallelism 1: >= 0.5 of the loop.

    python benchmarks/w1_wordcount.py              # nbstream and the loop
    python benchmarks/w1_wordcount.py --peers      # plus streamz, bytewax (setup_peers.sh)
    python benchmarks/w1_wordcount.py --pyflink    # plus PyFlink (slow: ~9,000 records/s)
    python benchmarks/w1_wordcount.py --modes thread,process --keys 64   # more keys
    python benchmarks/w1_wordcount.py --paired --runs 9       # process p=2 against thread p=1

``--paired`` runs thread p=1, thread p=1 with the reduce in a task of its own (the
price of one task boundary, nothing pickled) and process p=2 in turn, run by run, so all
see the same load; it prints the medians of the runs' ratios to thread p=1, the load
average, and the CPU seconds of the busiest worker process against those of the whole
thread p=1 job: their ratio is the speed-up two free cores would allow, and it moves
less with other programs' load than the wall times do.

Where process p=2's time goes (perf and py-spy of the workers, 2 cores, Python 3.11): the
busiest worker spends about as much CPU as the whole thread p=1 job. The p=2-specific parts
are each small (the hash split, a pickle and an unpickle per crossing record, thread
wake-ups) and most of the rest is what any task boundary costs in CPython: the map's output
and its keys made into lists, iterated again by the next stage, freed later, where the
fused p=1 loop hands each record on while it is in the cache. The "split" row prices that
boundary alone, in one process, nothing pickled: 0.66-0.71x of fused thread p=1.

With 5 words, parallelism 2 cannot split the keyed work evenly: the words' key groups put
3 on one subtask and 2 on the other (printed), so the busier reducer takes 60% of the
records; ``--keys K`` counts K words (``w0``...; records a multiple of K) instead.
"""

from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import time
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, median_seconds, run_peer, table  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def words(keys: int = 5):
    return WORDS if keys == 5 else [f"w{i}" for i in range(keys)]


def make_functions(n: int, keys: int = 5):
    final = n // keys
    names = words(keys)

    def to_word(i):
        return names[i % keys], 1

    def key(t):
        return t[0]

    def add(a, b):
        return a[0], a[1] + b[1]

    def is_final(t):
        return t[1] == final

    return to_word, key, add, is_final


def expected(n: int, keys: int = 5):
    return sorted((w, n // keys) for w in words(keys))


def key_split(keys: int, parallelism: int) -> List[int]:
    """How many of the words each subtask of the keyed step gets."""
    from nbstream.runtime.keygroups import subtask_for_key

    counts = [0] * parallelism
    for w in words(keys):
        counts[subtask_for_key(w, 128, parallelism)] += 1
    return counts


def hand_loop(n: int, keys: int = 5):
    """The same work as a plain Python loop calling the same four functions."""
    to_word, key, add, is_final = make_functions(n, keys)
    acc, out = {}, []
    for i in range(n):
        r = to_word(i)
        k = key(r)
        a = acc.get(k)
        if a is not None:
            r = add(a, r)
        acc[k] = r
        if is_final(r):
            out.append(r)
    return out


def nbstream_w1(n: int, parallelism: int, mode: str = "thread", keys: int = 5,
                batch_size: int = 0, split: bool = False):
    """W1 in nbstream; ``split``: the reduce starts a new chain (a task of its own, so
    the records cross a thread at the key_by, as they cross tasks at parallelism 2)."""
    from nbstream import StreamExecutionEnvironment

    to_word, key, add, is_final = make_functions(n, keys)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    if batch_size:
        env.get_config().set_batch_size(batch_size)
    reduced = env.from_sequence(0, n - 1).map(to_word).key_by(key).reduce(add)
    if split:
        reduced = reduced.start_new_chain()
    return list(reduced.filter(is_final).execute_and_collect("W1"))


def _children_cpu() -> Dict[int, float]:
    """CPU seconds (user + system) of each child process of this one (the worker pool)."""
    me, tick, out = str(os.getpid()), os.sysconf("SC_CLK_TCK"), {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me:
            out[int(stat.split("/")[2])] = (int(fields[11]) + int(fields[12])) / tick
    return out


PAIRED = (("thread p=1", "thread", 1, False),
          ("thread p=1 split", "thread", 1, True),  # one task boundary, nothing pickled
          ("process p=2", "process", 2, False))


def paired(n: int, runs: int, keys: int, batch_size: int) -> None:
    """Thread p=1, thread p=1 with a task boundary at the key_by, and process p=2, in turn
    (see the module text)."""
    if not os.path.isdir("/proc"):
        raise SystemExit("--paired reads the workers' CPU time from /proc (Linux)")
    want = expected(n, keys)
    walls: Dict[str, List[float]] = {name: [] for name, *_ in PAIRED}
    cpus: Dict[str, List[float]] = {name: [] for name, *_ in PAIRED}
    nbstream_w1(10_000, 2, "process", keys)  # the pool warm, the code imported
    print(f"W1 word count, {n:,} records, {keys} keys (words per subtask at p=2: "
          f"{':'.join(map(str, key_split(keys, 2)))}), {runs} paired runs; {machine()}")
    for rnd in range(runs + 1):
        for name, mode, p, split in PAIRED:
            before, mine = _children_cpu(), os.times()
            start = time.perf_counter()
            out = nbstream_w1(n, p, mode, keys, batch_size, split)
            wall = time.perf_counter() - start
            after, mine_after = _children_cpu(), os.times()
            if sorted(out) != want:
                raise AssertionError(f"{name} produced a wrong result")
            if mode == "thread":  # the kernel's own CPU time
                cpu = mine_after.user - mine.user + mine_after.system - mine.system
            else:  # the busiest worker's
                cpu = max(after[pid] - before.get(pid, 0.0) for pid in after)
            if rnd:
                walls[name].append(wall)
                cpus[name].append(cpu)
    base_wall, base_cpu = walls["thread p=1"], cpus["thread p=1"]
    for name, mode, *_ in PAIRED:
        by_wall = statistics.median(a / b for a, b in zip(base_wall, walls[name]))
        by_cpu = statistics.median(a / b for a, b in zip(base_cpu, cpus[name]))
        print(f"  {name:17} {statistics.median(walls[name]):.3f} s wall ({by_wall:.2f}x), "
              f"{statistics.median(cpus[name]):.3f} s CPU{' of the busiest worker' if mode == 'process' else ''}"
              f" ({by_cpu:.2f}x)")
    print("(x: thread p=1's time over the row's, median of the runs' ratios; by CPU, the "
          "speed-up two free cores would allow)")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modes", default="thread", help="comma-separated execution modes")
    parser.add_argument("--peers", action="store_true", help="also measure streamz and bytewax")
    parser.add_argument("--pyflink", action="store_true", help="also measure PyFlink (slow)")
    parser.add_argument("--pyflink-records", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=5, help="distinct words (default 5)")
    parser.add_argument("--paired", action="store_true",
                        help="thread p=1 and process p=2 in turn, with the workers' CPU time")
    parser.add_argument("--batch-size", type=int, default=0, help="records a source batch holds")
    args = parser.parse_args()
    n, runs, k = args.records, args.runs, args.keys
    if k < 1 or n % k:
        parser.error("--keys must divide --records")
    if args.paired:
        paired(n, runs, k, args.batch_size)
        return
    if k != 5 and (args.peers or args.pyflink):
        parser.error("the peers' scripts count the 5 words: leave --keys out with --peers, --pyflink")
    ok = lambda out: sorted(out) == expected(n, k)  # noqa: E731
    print(f"W1 word count, {n:,} records, {k} keys (words per subtask at p=2: "
          f"{':'.join(map(str, key_split(k, 2)))}), median of {runs} runs; {machine()}")
    rows = [{"name": "hand-written loop", "records": n,
             "seconds": median_seconds(lambda: hand_loop(n, k), runs, ok)}]
    for mode in args.modes.split(","):
        for p in (1, 2):
            secs = median_seconds(lambda: nbstream_w1(n, p, mode, k), runs, ok)
            rows.append({"name": f"nbstream {mode} p={p}", "records": n, "seconds": secs})
    if args.peers:
        for peer in ("streamz", "bytewax"):
            rows.append({"name": peer, "records": n, **run_peer(f"w1_{peer}.py", n, runs)})
    if args.pyflink:
        m = args.pyflink_records
        rows.append({"name": f"pyflink thread ({m:,} records)", "records": m,
                     **run_peer("w1_pyflink.py", m, 1)})
    print(table(rows, "hand-written loop"))


if __name__ == "__main__":
    main()
