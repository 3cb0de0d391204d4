"""Collection rules for the whole repository (fixtures live in tests/conftest.py).

The ``flink`` execution mode and its tests need PyFlink (``pip install -e '.[test,flink]'``,
which ``scripts/test`` and CI do). On a developer machine without it, those modules are
not collected and the run says so in its header; in CI (``CI`` set) they always are, so a
missing install fails the run instead of hiding tests.
"""

import importlib.util
import os

HAS_PYFLINK = importlib.util.find_spec("pyflink") is not None
FLINK_ONLY = ["nbstream/flink/functions.py", "nbstream/flink/translate.py",
              "tests/test_flink_*.py", "tests/test_pyflink_differential.py"]

# PyFlink programs that the tests run as scripts: data, not test modules
collect_ignore_glob = ["tests/pyflink_programs/*"]
if not HAS_PYFLINK and not os.environ.get("CI"):
    collect_ignore_glob += FLINK_ONLY


def pytest_report_header(config):
    if not HAS_PYFLINK and not os.environ.get("CI"):
        return ("PyFlink is not installed: the flink-mode tests are NOT collected "
                "(pip install -e '.[test,flink]' to run them)")
    return None
