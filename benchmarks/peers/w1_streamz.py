"""W1 on streamz: map -> keyed rolling sum (accumulate with a dict) -> filter -> sink."""

from streamz import Stream

from _timing import main

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def run(n):
    final = n // 5
    source = Stream()
    out = []

    def rolling(acc, rec):
        k = rec[0]
        prev = acc.get(k)
        new = rec if prev is None else (k, prev[1] + rec[1])
        acc[k] = new
        return acc, new

    (source.map(lambda i: (WORDS[i % 5], 1))
           .accumulate(rolling, returns_state=True, start={})
           .filter(lambda t: t[1] == final)
           .sink(out.append))
    for i in range(n):
        source.emit(i)
    assert sorted(out) == sorted((w, final) for w in WORDS), out
    return out


if __name__ == "__main__":
    main(run)
