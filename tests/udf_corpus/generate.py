"""Run the corpus (udf_cases.py) on real PyFlink 2.3 and print each case's rows: the expected
output nbstream must give.

    TZ=UTC PYTHONUNBUFFERED=1 python tests/udf_corpus/generate.py > tests/udf_corpus/expected.txt

(with apache-flink installed and Java on PATH; the cases run in one JVM, a few minutes).
Each case starts with ``##### <name>``; a case PyFlink refuses prints ``##### error ...``.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from udf_cases import CASES, render  # noqa: E402


def environment(batch: bool, config: dict):
    from pyflink.table import EnvironmentSettings, TableEnvironment
    t_env = TableEnvironment.create(EnvironmentSettings.in_batch_mode() if batch
                                    else EnvironmentSettings.in_streaming_mode())
    t_env.get_config().set("parallelism.default", "1")
    t_env.get_config().set("table.local-time-zone", "UTC")
    for key, value in config.items():
        t_env.get_config().set(key, value)
    return t_env


def main(names=None) -> None:
    for c in CASES:
        if names and c.name not in names:
            continue
        print(f"##### {c.name}", flush=True)
        try:
            for line in render(c.fn(environment(c.batch, c.config))):
                print(line)
        except Exception as exc:  # noqa: BLE001 - the corpus records what PyFlink refuses
            print(f"##### error {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:] or None)
