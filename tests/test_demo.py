"""The main job of the README: `python -m nbstream demo`."""

import os
import subprocess
import sys


def test_demo_runs_shows_progress_and_prints_a_table():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-m", "nbstream", "demo", "--records", "20000"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "20,000/20,000 records" in out.stderr and "finished" in out.stderr
    lines = out.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("page"))
    assert "views" in lines[header]
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[1] == "20,000"
    assert "chain 0  parallelism 1" in out.stdout
    # event time and a tumbling window: one row per page and minute, the watermark shown
    assert "one-minute windows" in out.stdout and "watermark end" in out.stderr


def test_demo_usage_on_bad_arguments():
    out = subprocess.run([sys.executable, "-m", "nbstream", "nonsense"], capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.returncode == 2 and "usage:" in out.stderr
