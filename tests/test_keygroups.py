"""Key groups: a stable hash, the same in every process, spreading keys evenly."""

import subprocess
import sys
from collections import Counter
from decimal import Decimal

import pytest

from nbstream import Row
from nbstream.runtime.keygroups import key_group, stable_hash, subtask_for_key
from tests.conftest import collect

KEYS = ["user-1", "é", b"bytes", 0, 1, -5, 2**70, 3.5, 2.0, None, True, ("a", 1), Row("a", 1),
        frozenset({"x", "y"}), Decimal("1.5")]


def _hashes_in_subprocess(seed: str):
    code = ("import json, sys; from decimal import Decimal\n"
            "from nbstream import Row\n"
            "from nbstream.runtime.keygroups import stable_hash\n"
            "keys = ['user-1', 'é', b'bytes', 0, 1, -5, 2**70, 3.5, 2.0, None, True, ('a', 1),"
            " Row('a', 1), frozenset({'x', 'y'}), Decimal('1.5')]\n"
            "print(json.dumps([stable_hash(k) for k in keys]))")
    env = {"PYTHONHASHSEED": seed, "PATH": ""}
    import json
    import os
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    return json.loads(out.stdout)


def test_hash_is_the_same_in_every_process():
    here = [stable_hash(k) for k in KEYS]
    assert _hashes_in_subprocess("1") == here == _hashes_in_subprocess("2")


def test_equal_keys_hash_equal():
    assert stable_hash(1) == stable_hash(True) == stable_hash(1.0)
    assert stable_hash(("a", 1)) == stable_hash(Row("a", 1))


def test_keys_spread_evenly_over_subtasks():
    counts = Counter(subtask_for_key(i, 128, 4) for i in range(10_000))
    assert set(counts) == {0, 1, 2, 3} and min(counts.values()) > 2000
    counts = Counter(subtask_for_key(f"page-{i}", 128, 3) for i in range(3_000))
    assert min(counts.values()) > 800


def test_key_groups_are_in_range():
    assert all(0 <= key_group(k, 7) < 7 for k in KEYS)


def test_equal_keys_of_other_types_hash_equal():
    from decimal import Decimal
    from fractions import Fraction

    import numpy as np
    for one in (np.int64(1), np.int8(1), np.uint32(1), np.float32(1), np.float64(1.0), np.bool_(True),
                Decimal(1), Fraction(1), 1.0, True):
        assert one == 1 and stable_hash(one) == stable_hash(1), type(one)
    assert stable_hash(np.float64(2.5)) == stable_hash(2.5) == stable_hash(Fraction(5, 2))
    assert stable_hash((np.int64(3), np.str_("a"))) == stable_hash((3, "a"))


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_python_and_numpy_ints_are_one_key(make_env, parallelism):
    import numpy as np
    env = make_env(parallelism)
    records = [(1 if i % 2 else np.int64(1), 1) for i in range(4000)]
    sums = collect(env.from_collection(records).key_by(lambda r: r[0]).sum(1))
    assert len(sums) == 4000 and max(s for _, s in sums) == 4000
