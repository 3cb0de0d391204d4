"""What W1 costs per record at parallelism 2 in process mode, part by part, and the best
speed-up over parallelism 1 those costs allow on two free cores.

Each part runs alone on W1's batches (2,048 records, as the source makes them), best of
--runs timings, with the runtime's own pieces where the part is the runtime's: the hash
split (``partitioners.Hash.route``), a batch's pickle (``wire.encode``, ``Encoded.decode``)
and a Unix socket between two threads (``multiprocessing`` connections, as between
workers). The user's functions run in loops shaped as the runtime's (the map's batch
loop, the fused reduce -> filter loop over records and their keys). At p=2 worker i runs
source i -> map and reducer i; a record crosses to the other worker when its key's group
belongs to the other reducer (5 words: 3 to one reducer, 2 to the other).

    python benchmarks/w1_parallel_parts.py
    python benchmarks/w1_parallel_parts.py --keys 64
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Callable, Dict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import w1_wordcount as w1  # noqa: E402
from nbstream.runtime.executors.wire import Encoded, encode  # noqa: E402
from nbstream.runtime.partitioners import Hash  # noqa: E402
from nbstream.runtime.records import Batch  # noqa: E402

BATCH = 2048


def best_ns(fn: Callable[[], object], records: int, runs: int, reps: int = 50) -> float:
    """The best of ``runs`` timings of ``reps`` calls, in ns per record."""
    fn()
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / reps / records * 1e9


def transport_ns(frames: list, records: int, messages: int = 400) -> float:
    """One message's frames through a Unix socket, written by one thread, read by another."""
    a, b = socket.socketpair()
    send, recv = Connection(a.detach()), Connection(b.detach())

    def read() -> None:
        for _ in range(messages * len(frames)):
            recv.recv_bytes()

    reader = threading.Thread(target=read)
    reader.start()
    start = time.perf_counter()
    for _ in range(messages):
        for frame in frames:
            send.send_bytes(frame)
    reader.join()
    took = time.perf_counter() - start
    send.close()
    recv.close()
    return took / messages / records * 1e9


def parts(keys: int, runs: int) -> Dict[str, float]:
    n = BATCH * keys * 10
    to_word, key, add, is_final = w1.make_functions(n, keys)
    numbers = list(range(BATCH))

    def map_loop(values=numbers):
        out = []
        append = out.append
        for v in values:
            append(to_word(v))
        return out

    words = map_loop()
    split = Hash(2, key, 128, "key_by", "key")
    routed = split.route(Batch(words))
    # the part for the other worker, from source 0 (reducer 0 is local to it)
    remote = next((b for ch, b in routed if ch == 1), routed[0][1])
    frames = encode(remote)
    crossing = w1.key_split(keys, 2)

    def reduce_filter(values=remote.values, ks=remote.keys):
        acc, out = {}, []
        get = acc.get
        for v0, k in zip(values, ks):
            a = get(k, None)
            v1 = add(a, v0) if a is not None else v0
            acc[k] = v1
            if is_final(v1):
                out.append(v1)
        return out

    def fused_p1(values=numbers):  # parallelism 1: one loop from the map to the filter
        acc, out = {}, []
        get = acc.get
        for v in values:
            v0 = to_word(v)
            k = key(v0)
            a = get(k, None)
            v1 = add(a, v0) if a is not None else v0
            acc[k] = v1
            if is_final(v1):
                out.append(v1)
        return out

    r = len(remote.values)
    return {
        "source batch (list of range)": best_ns(lambda: list(range(BATCH)), BATCH, runs),
        "map (batch loop + to_word)": best_ns(map_loop, BATCH, runs),
        "hash split (key_by's keys, channels, parts)": best_ns(
            lambda: split.route(Batch(words)), BATCH, runs),
        "encode a crossing record (wire.encode)": best_ns(lambda: encode(remote), r, runs),
        "transport a crossing record (Unix socket)": transport_ns(frames, r),
        "decode a crossing record (Encoded.decode)": best_ns(
            lambda: Encoded(frames[0], frames[1:]).decode(), r, runs),
        "reduce -> filter (fused loop, keys given)": best_ns(reduce_filter, r, runs),
        "p=1: whole fused loop (map .. filter)": best_ns(fused_p1, BATCH, runs),
        "_share_busiest": max(crossing) / keys,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=5)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    p = parts(args.keys, args.runs)
    share = p.pop("_share_busiest")
    p1 = p.pop("p=1: whole fused loop (map .. filter)")
    print(f"W1 at p=2, process mode, {args.keys} keys (words per reducer "
          f"{':'.join(map(str, w1.key_split(args.keys, 2)))}), ns per record, best of "
          f"{args.runs}; load average {os.getloadavg()[0]:.2f}")
    for name, ns in p.items():
        print(f"  {name:50s} {ns:7.1f}")
    source_side = sum(p[k] for k in list(p)[:3])
    crossing = p["encode a crossing record (wire.encode)"] + \
        p["transport a crossing record (Unix socket)"] + \
        p["decode a crossing record (Encoded.decode)"]
    reduce = p["reduce -> filter (fused loop, keys given)"]
    total = source_side + 0.5 * crossing + reduce  # half the records cross at p=2
    # the busier worker: half the sources' work, its reducer's share, its crossings
    busiest = 0.5 * source_side + share * reduce + 0.5 * crossing
    p1_total = p["source batch (list of range)"] + p1
    print(f"  {'p=2 CPU per record (half the records cross)':50s} {total:7.1f}")
    print(f"  {'p=1 CPU per record (source + one fused loop)':50s} {p1_total:7.1f}")
    print(f"  {'p=2 busier worker per record (wall, 2 free cores)':50s} {busiest:7.1f}")
    print(f"best p=2 / p=1 on two free cores: {p1_total / busiest:.2f}x "
          f"(no GIL hand-overs, thread switches or other load counted)")


if __name__ == "__main__":
    main()
