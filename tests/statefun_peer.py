"""The real statefun SDK as a differential peer: a virtualenv of its own (it pins
protobuf < 4) made on first use and kept under ``.venv-statefun/<version>``, and a
subprocess that runs a module's handler there (``statefun_programs/sdk_peer.py``)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Tuple

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = Path(__file__).resolve().parent / "statefun_programs"
SDK_VERSION = "3.3.0"


def sdk_python(version: str = SDK_VERSION) -> Path:
    """The python of a virtualenv holding ``apache-flink-statefun==version`` (made if missing)."""
    home = Path(os.environ.get("NBSTREAM_STATEFUN_VENVS", ROOT / ".venv-statefun")) / version
    python = home / "bin" / "python"
    if python.exists():
        return python
    building = home.with_name(f"{version}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    # without this process's PYTHONPATH (a flink-mode job puts its sys.path there): pip
    # would take this interpreter's packages (protobuf 5) for the venv's own
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, env=env)
    subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", f"apache-flink-statefun=={version}"],
                   check=True, env=env)
    try:
        building.rename(home)  # whole or not at all: a half-made venv is never reused
    except OSError:  # another session finished first
        shutil.rmtree(building, ignore_errors=True)
    return python


class SdkPeer:
    """A module's ``handler`` run by the real SDK, request by request over pipes."""

    def __init__(self, python: Path, module: Path) -> None:
        self.process = subprocess.Popen([str(python), str(PROGRAMS / "sdk_peer.py"), str(module)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        env={"PATH": os.environ.get("PATH", "")})
        ok, hello = self._read()
        self.statefun_file, self.protobuf_version = hello.decode().split("|")

    def _read(self) -> Tuple[bool, bytes]:
        status, size = struct.unpack(">BI", self.process.stdout.read(5))
        return status == 0, self.process.stdout.read(size)

    def handle(self, request: bytes) -> Tuple[bool, bytes]:
        """(True, reply bytes), or (False, the error's text) when the handler raised."""
        self.process.stdin.write(struct.pack(">I", len(request)) + request)
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)
