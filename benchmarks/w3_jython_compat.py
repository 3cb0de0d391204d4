"""W3: the cost of the old Flink (Jython) Python API layer. Word count over lines of five
words: flat_map into (word, 1) -> key_by word -> rolling reduce (sum) -> filter the final
counts -> collect, written three ways and measured in the same run:

- a hand-written Python loop doing the same work;
- nbstream's own API with plain functions;
- an old-API program (``FlatMapFunction.flatMap(value, collector)``, ``KeySelector.getKey``,
  ``ReduceFunction``, ``FilterFunction``) through :mod:`nbstream.compat.jython`.

Apache Flink's Jython runtime (Flink 1.7 and earlier, Java 8) is not measured: it cannot
run here. Prints records/s (words) and the ratio to the loop, medians of --runs runs.

    python benchmarks/w3_jython_compat.py [--records 500000] [--runs 5] [--modes thread]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import machine, median_seconds, table  # noqa: E402

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]
LINE = " ".join(WORDS)


def expected(n: int):
    return sorted((w, n // len(WORDS)) for w in WORDS)


def hand_loop(n: int):
    final = n // len(WORDS)
    acc, out = {}, []
    for line in [LINE] * (n // len(WORDS)):
        for word in line.split():
            a = acc.get(word)
            r = (word, 1) if a is None else (word, a[1] + 1)
            acc[word] = r
            if r[1] == final:
                out.append(r)
    return out


def nbstream_native(n: int, parallelism: int, mode: str):
    from nbstream import StreamExecutionEnvironment

    final = n // len(WORDS)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism).set_execution_mode(mode)
    ds = (env.from_collection([LINE] * (n // len(WORDS)))
          .flat_map(lambda line: [(w, 1) for w in line.split()])
          .key_by(lambda t: t[0]).reduce(lambda a, b: (a[0], a[1] + b[1]))
          .filter(lambda t: t[1] == final))
    return list(ds.execute_and_collect("W3 native"))


def old_api(n: int, parallelism: int, mode: str):
    from nbstream.compat import jython

    with jython.activated(mode=mode, parallelism=parallelism):
        from org.apache.flink.api.common.functions import (FilterFunction, FlatMapFunction,
                                                           ReduceFunction)
        from org.apache.flink.api.java.functions import KeySelector

        class Tokenizer(FlatMapFunction):
            def flatMap(self, value, collector):
                for word in value.split():
                    collector.collect((word, 1))

        class Word(KeySelector):
            def getKey(self, value):
                return value[0]

        class Sum(ReduceFunction):
            def reduce(self, a, b):
                return (a[0], a[1] + b[1])

        class Final(FilterFunction):
            def __init__(self, final):
                self.final = final

            def filter(self, value):
                return value[1] == self.final

        env = jython.PythonEnvironmentFactory().get_execution_environment()
        ds = (env.from_collection([LINE] * (n // len(WORDS))).flat_map(Tokenizer())
              .key_by(Word()).reduce(Sum()).filter(Final(n // len(WORDS))))
        return list(ds.get_nbstream_stream().execute_and_collect("W3 old API"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500_000, help="words (a multiple of 5)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modes", default="thread", help="comma-separated execution modes")
    args = parser.parse_args()
    n, runs = args.records - args.records % len(WORDS), args.runs
    ok = lambda out: sorted(out) == expected(n)  # noqa: E731
    print(f"W3 old-API word count, {n:,} words, median of {runs} runs; {machine()}")
    rows = [{"name": "hand-written loop", "records": n,
             "seconds": median_seconds(lambda: hand_loop(n), runs, ok)}]
    for mode in args.modes.split(","):
        for p in (1, 2):
            rows.append({"name": f"nbstream API {mode} p={p}", "records": n,
                         "seconds": median_seconds(lambda: nbstream_native(n, p, mode), runs, ok)})
            rows.append({"name": f"old API (jython) {mode} p={p}", "records": n,
                         "seconds": median_seconds(lambda: old_api(n, p, mode), runs, ok)})
    print(table(rows, "hand-written loop"))


if __name__ == "__main__":
    main()
