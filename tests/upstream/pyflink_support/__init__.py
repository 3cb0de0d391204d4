"""What Flink's PyFlink tests import besides PyFlink itself, in Python, for running them
unmodified on nbstream's compatibility layer (see ``tests/upstream/harness.py``).

- ``pyflink.testing.test_case_utils``: the test base classes (:mod:`.case_utils`);
- ``pyflink.datastream.tests.test_util``: ``DataStreamTestSinkFunction`` and
  ``SecondColumnTimestampAssigner`` (:mod:`.sink`);
- the JVM's entry points (``pyflink.java_gateway``, ``pyflink.util.java_utils``, ...):
  each call raises :class:`.jvm.JvmOnly`, except ``get_j_env_configuration``, whose
  configuration is the environment's own (:mod:`.jvm`).

:func:`install` puts nbstream's ``pyflink`` in place and these modules under their PyFlink
names; worker processes find them under the same names, as they find the user's modules.
"""

from __future__ import annotations

import importlib
import sys
from typing import Optional

#: PyFlink's module name -> the module standing for it here
MODULES = {
    "pyflink.testing": "pyflink_support",
    "pyflink.testing.test_case_utils": "pyflink_support.case_utils",
    "pyflink.datastream.tests": "pyflink_support",
    "pyflink.datastream.tests.test_util": "pyflink_support.sink",
    "pyflink.java_gateway": "pyflink_support.jvm",
    "pyflink.util": "pyflink_support",
    "pyflink.util.java_utils": "pyflink_support.jvm",
    "pyflink.pyflink_gateway_server": "pyflink_support.jvm",
    "pyflink.find_flink_home": "pyflink_support.jvm",
}


def install(mode: Optional[str] = None) -> None:
    """``import pyflink...`` resolves to nbstream's layer and the modules above; the
    environments made afterwards run in execution mode ``mode`` unless a test configures
    ``python.execution-mode`` itself."""
    import nbstream.compat.pyflink as layer

    layer.install()
    if mode:
        layer.DEFAULTS["mode"] = mode
    for name, here in MODULES.items():
        sys.modules[name] = importlib.import_module(here)
