"""Run the corpus (cases.py) on real PyFlink and print what it prints: the expected output.

    TZ=UTC PYTHONUNBUFFERED=1 python tests/table_corpus/generate.py > tests/table_corpus/expected.txt

Each case starts with a line ``##### <name>``; a failing statement prints
``##### error <ExceptionClass>: <first line of the message>``.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cases import CASES, DDL  # noqa: E402


def environments():
    from pyflink.table import EnvironmentSettings, TableEnvironment
    out = {}
    for mode, settings in (("streaming", EnvironmentSettings.in_streaming_mode()),
                           ("batch", EnvironmentSettings.in_batch_mode())):
        t_env = TableEnvironment.create(settings)
        t_env.get_config().set("parallelism.default", "1")
        t_env.get_config().set("table.local-time-zone", "UTC")
        for ddl in DDL:
            t_env.execute_sql(ddl.replace("{data}", os.path.join(HERE, "data")))
        out[mode] = t_env
    return out


def error_line(exc: BaseException) -> str:
    text = str(exc)
    for line in text.splitlines():
        line = line.strip()
        if "Exception:" in line:
            return line[:300]
    return (text.splitlines() or [""])[0][:300]


def main(names=None) -> None:
    envs = environments()
    for name, mode, stmt, _compare in CASES:
        if names and name not in names:
            continue
        print(f"##### {name}", flush=True)
        try:
            result = envs[mode].execute_sql(stmt)
            head = stmt.lstrip().split()[0].upper()
            if head in ("INSERT", "EXECUTE"):
                result.wait()
            result.print()
        except Exception as exc:  # the expected output records Flink's failure
            print(f"##### error {type(exc).__name__}: {error_line(exc)}", flush=True)
        sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
