"""W1 on bytewax: map -> key_on -> stateful_map (rolling sum) -> filter -> testing sink."""

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from _timing import main

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def run(n):
    final = n // 5
    out = []
    flow = Dataflow("w1")
    nums = op.input("in", flow, TestingSource(range(n), batch_size=1024))
    pairs = op.map("word", nums, lambda i: (WORDS[i % 5], 1))
    keyed = op.key_on("key", pairs, lambda t: t[0])

    def rolling(state, rec):
        new = rec if state is None else (rec[0], state[1] + rec[1])
        return new, new

    sums = op.stateful_map("sum", keyed, rolling)
    finals = op.filter("final", sums, lambda kv: kv[1][1] == final)
    op.output("out", finals, TestingSink(out))
    run_main(flow)
    got = sorted(v for _, v in out)
    assert got == sorted((w, final) for w in WORDS), got
    return out


if __name__ == "__main__":
    main(run)
