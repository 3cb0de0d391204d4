"""binder/ installs into a fresh virtual environment (as repo2docker does: the
requirements, then postBuild from the repository root) at the versions binder/constraints.txt
pins, every installed package pinned there; the package build makes the live view's front end
from js/ (a checkout without it); and there the installed package (not this checkout) runs the
quickstart with its live view."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_binder_files_install_into_a_fresh_venv(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "build", ".pytest_cache", "artifacts",
        ".hypothesis", "benchmarks", "node_modules", "site"))
    shutil.rmtree(repo / "nbstream" / "notebook" / "static")  # generated: as in a fresh clone
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_ = venv / "bin"
    env = dict(os.environ, PATH=f"{bin_}{os.pathsep}{os.environ['PATH']}", VIRTUAL_ENV=str(venv))
    env.pop("PYTHONPATH", None)
    env.pop("PYTEST_CURRENT_TEST", None)

    def run(*cmd, cwd=repo, timeout=900):
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"{cmd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout + done.stderr

    run("python", "-m", "pip", "install", "-q", "-r", "binder/requirements.txt")
    run("bash", "binder/postBuild")
    pins = dict(line.split("==") for line in (repo / "binder" / "constraints.txt").read_text().split()
                if "==" in line)
    frozen = run("python", "-m", "pip", "freeze", "--exclude", "nbstream", "--exclude", "pip",
                 "--exclude", "setuptools").split()
    installed = dict(line.split("==") for line in frozen if "==" in line)
    assert installed == pins  # the lock is whole, and it is what got installed
    where = run("python", "-c", "import nbstream, pathlib; "
                "from nbstream.notebook.widget import STATIC, StreamView; "
                "print(nbstream.__file__, (STATIC / 'widget.js').resolve(), "
                "len(str(StreamView._esm)))", cwd=tmp_path)
    installed, module, esm_chars = where.split()[-3:]
    assert installed.startswith(str(venv)) and module.startswith(str(venv))  # installed copies
    assert int(esm_chars) > 1000  # the front end module came with the package
    extensions = run("jupyter", "labextension", "list", cwd=tmp_path)
    assert "anywidget" in extensions and "@jupyter-widgets/jupyterlab-manager" in extensions
    notebooks = tmp_path / "notebooks"
    shutil.copytree(repo / "notebooks", notebooks)
    run("jupyter", "nbconvert", "--to", "notebook", "--execute", "quickstart.ipynb",
        "--output", "executed.ipynb", "--ExecutePreprocessor.timeout=120", cwd=notebooks)
    executed = nbformat.read(notebooks / "executed.ipynb", as_version=4)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
