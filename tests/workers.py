"""Process-mode helpers for the tests."""

import os
import re
import signal
from typing import Any

from nbstream.runtime.executors.pool import get_pool


def kill_a_worker_of(job: Any) -> Any:
    """SIGKILL a worker that runs tasks of ``job`` and return it (the pool may also hold
    idle workers of earlier tests, whose death the job would never notice)."""
    pids = {int(p) for p in re.findall(r"pid (\d+)", " ".join(map(str, job.placement.values())))}
    victim = next(w for w in get_pool().workers.values() if w.pid in pids)
    os.kill(victim.pid, signal.SIGKILL)
    return victim
