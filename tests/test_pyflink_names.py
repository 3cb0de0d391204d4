"""Every public name of the PyFlink modules nbstream mirrors imports from the same module on
nbstream; one nbstream does not provide imports as a placeholder that raises
NotAvailableError, naming it and why, when used. The names come from the installed
apache-flink package (so a new PyFlink release shows what is missing), read in a separate
interpreter that imports the real PyFlink."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from nbstream.compat import pyflink as compat
from nbstream.compat.pyflink import MODULES, NotAvailableError
from nbstream.compat.pyflink._exports import is_placeholder

pytestmark = pytest.mark.flink

PUBLIC_NAMES = r'''
import importlib, json, sys
out = {}
for rel in json.loads(sys.argv[1]):
    name = "pyflink" + rel
    mod = importlib.import_module(name)
    names = set(getattr(mod, "__all__", ()))
    if hasattr(mod, "__path__"):  # a package: also what it re-exports from its own modules
        for attr, value in vars(mod).items():
            home = getattr(value, "__module__", None)
            if isinstance(home, str) and home.startswith(name + "."):
                if attr in getattr(sys.modules.get(home), "__all__", ()):
                    names.add(attr)
    out[rel] = sorted(names)
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def pyflink_names():
    out = subprocess.run([sys.executable, "-c", PUBLIC_NAMES, json.dumps(list(MODULES))],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_public_pyflink_name_imports_or_says_why(pyflink_names):
    missing = []
    refused = 0
    with compat.activated():
        for rel, names in pyflink_names.items():
            module = importlib.import_module("pyflink" + rel)
            for name in names:
                try:
                    value = getattr(module, name)
                except AttributeError:
                    missing.append(f"pyflink{rel}.{name}")
                    continue
                if is_placeholder(value):
                    with pytest.raises(NotAvailableError) as exc:
                        value()
                    assert name in str(exc.value) and "not available in nbstream" in str(exc.value)
                    refused += 1
    assert missing == []
    assert sum(len(n) for n in pyflink_names.values()) > 150 and refused > 20


def test_the_file_sink_names_import_from_the_connectors_package():
    with compat.activated():
        from pyflink.datastream.connectors import (FileSink, NumberSequenceSource,  # noqa: F401
                                                   OutputFileConfig, RollingPolicy)
        from pyflink.datastream.connectors.file_system import FileSink as direct
        assert FileSink is direct
        from pyflink.datastream.connectors import JdbcSink  # imports; using it raises
        with pytest.raises(NotAvailableError, match="JdbcSink.sink"):
            JdbcSink.sink("insert ...", None)
