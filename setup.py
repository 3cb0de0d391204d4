"""The package build also builds the live view's front end (scripts/build-js: esbuild
bundles js/ with uPlot into nbstream/notebook/static/, which is generated and not in git).
Without node and npm the build goes on without it and says so; the live view then names
the missing files when it is used."""

import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def build_frontend() -> None:
    script = ROOT / "scripts" / "build-js"
    if not (ROOT / "js" / "package.json").is_file():
        return  # an sdist unpacked without js/: the static files came with it
    try:
        subprocess.run(["bash", str(script)], check=True, cwd=ROOT)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"warning: the live view's front end was not built ({exc}); install node "
              "and npm, then run scripts/build-js", file=sys.stderr)


class BuildWithFrontend(build_py):
    def run(self) -> None:
        build_frontend()
        super().run()


setup(cmdclass={"build_py": BuildWithFrontend})
