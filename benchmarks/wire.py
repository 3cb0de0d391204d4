"""Process mode's record encoding: microseconds per record to pickle and unpickle a batch.

    python benchmarks/wire.py                  # batches of 2,048 records, 7 rounds
    python benchmarks/wire.py --runs 11

Records of four shapes: W1's ``(word, count)`` tuples, ``Row`` objects with names,
StateFun envelopes (a named tuple holding a ``TypedValue``: messages between functions), and
the ``Message`` records an ingress sends into the loop as they are. Each is encoded by nbstream's
``wire.encode`` (cloudpickle's pickler, which records must go through: a record may hold
a class or function defined in the notebook) and, as the reference, by the standard C
pickler (``pickle.dumps``, protocol 5), which is as fast as pickling gets but cannot carry
such records. Decoding is the same ``pickle.loads`` for both. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time
from typing import Any, Callable, Dict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine  # noqa: E402
from nbstream import Row  # noqa: E402
from nbstream.runtime.executors.wire import decode, encode  # noqa: E402
from nbstream.runtime.records import Batch  # noqa: E402
from nbstream.statefun import message_builder  # noqa: E402
from nbstream.statefun.datastream import Envelope, _address_key  # noqa: E402

BATCH = 2048


def batches() -> Dict[str, Batch]:
    words = [(f"word{i % 5}", 1) for i in range(BATCH)]
    rows = [Row(user=f"u{i % 100}", clicks=i, ms=i * 10) for i in range(BATCH)]
    messages = [message_builder("bench/counter", str(i), int_value=1) for i in range(BATCH)]
    envelopes = [Envelope(m.target_typename, m.target_id, m.typed_value, None) for m in messages]
    keys = [_address_key(e) for e in envelopes]
    return {"(word, count) tuples": Batch(words), "Row objects": Batch(rows),
            "StateFun envelopes": Batch(envelopes, None, keys),
            "StateFun ingress Message": Batch(messages, None, keys)}


def micros_per_record(fn: Callable[[], Any], runs: int, rounds: int = 20) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        times.append((time.perf_counter() - start) / rounds / BATCH * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(machine())
    print(f"{'records':24} {'encode':>8} {'pickle':>8} {'ratio':>6} {'decode':>8}  (us/record)")
    for name, batch in batches().items():
        frames = encode(batch)
        assert decode(frames[0], frames[1:]).values == batch.values
        ours = micros_per_record(lambda: encode(batch), args.runs)
        plain = micros_per_record(lambda: pickle.dumps(batch, protocol=5), args.runs)
        back = micros_per_record(lambda: decode(frames[0], frames[1:]), args.runs)
        print(f"{name:24} {ours:8.2f} {plain:8.2f} {ours / plain:5.2f}x {back:8.2f}")


if __name__ == "__main__":
    main()
