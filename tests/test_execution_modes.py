"""Execution modes that depend on optional extras say how to get them."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HIDE_PYFLINK = """
import importlib.abc, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "pyflink" or name.startswith("pyflink."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
from nbstream import StreamExecutionEnvironment
env = StreamExecutionEnvironment.get_execution_environment()
try:
    env.set_execution_mode("flink")
except Exception as exc:
    print(type(exc).__name__, exc)
print(env.get_execution_mode())
"""


def test_flink_mode_without_pyflink_says_how_to_install_it():
    out = subprocess.run([sys.executable, "-c", HIDE_PYFLINK], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert out.returncode == 0, out.stderr
    first, mode = out.stdout.strip().splitlines()
    assert first.startswith("PlanError the flink execution mode needs")
    assert "pip install 'nbstream[flink]'" in first
    assert mode == "thread"
