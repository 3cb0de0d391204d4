"""The job registry of one IPython shell: the defaults of later ``%%stream`` cells (mode,
parallelism) and the jobs they started, by name, with what ``%stream_jobs`` lists. A job
belongs to the cell that started it (``LiveJob.cell``: the cell's id, as JupyterLab and
nbclient send it, and its execution count): running the cell again replaces its jobs.

>>> session = NotebookSession()
>>> session.new_name(), session.new_name()
('stream-1', 'stream-2')
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Set

from .live import LiveJob, format_watermark

__all__ = ["NotebookSession", "STOP_WAIT_S", "KEEP_FINISHED", "JOB_COLUMNS"]

STOP_WAIT_S = 5.0
KEEP_FINISHED = 50
JOB_COLUMNS = ["name", "cell", "mode", "status", "records_in", "records_out", "records_per_s",
               "watermark", "uptime_s", "restarts", "checkpoint", "error"]


class NotebookSession:
    """Defaults (mode, parallelism) and jobs of one IPython shell."""

    def __init__(self) -> None:
        self.mode = "thread"
        self.parallelism = 1
        self.jobs: Dict[str, LiveJob] = {}
        self.pumps: Dict[str, List[Any]] = {}
        self._counter = 0
        self._lock = threading.Lock()

    def new_name(self) -> str:
        with self._lock:
            while True:
                self._counter += 1
                name = f"stream-{self._counter}"
                if name not in self.jobs:
                    return name

    def add(self, job: LiveJob, pumps: List[Any]) -> None:
        with self._lock:
            self.jobs.pop(job.name, None)
            self.jobs[job.name] = job
            self.pumps[job.name] = pumps
            finished = [n for n, j in self.jobs.items() if j.done]
            for name in finished[:-KEEP_FINISHED] if len(finished) > KEEP_FINISHED else []:
                del self.jobs[name]
                self.pumps.pop(name, None)

    def stop(self, name: str, wait: float = STOP_WAIT_S) -> bool:
        """Stop job ``name``; True if it was running."""
        job = self.jobs.get(name)
        if job is None or job.done:
            return False
        job.stop()
        job.wait(wait)
        return True

    def replace_cell(self, cell: Dict[str, Any], wait: float = STOP_WAIT_S) -> List[str]:
        """Stop the running jobs that ``cell`` (``{"id", "execution"}``) started when it
        ran before: re-running a cell replaces its jobs. Returns their names."""
        if not cell.get("id"):
            return []
        return self._stop_where(lambda j: j.cell.get("id") == cell["id"]
                                and j.cell.get("execution") != cell.get("execution"), wait)

    def stop_cells(self, cell_ids: Set[str], wait: float = STOP_WAIT_S) -> List[str]:
        """Stop the running jobs of the cells ``cell_ids`` (deleted cells)."""
        return self._stop_where(lambda j: j.cell.get("id") in cell_ids, wait)

    def _stop_where(self, which: Callable[[LiveJob], bool], wait: float) -> List[str]:
        with self._lock:
            jobs = [j for j in self.jobs.values() if not j.done and which(j)]
        for job in jobs:
            job.stop()
        for job in jobs:
            job.wait(wait)
        return [j.name for j in jobs]

    def stop_all(self, wait: float = STOP_WAIT_S) -> List[str]:
        """Stop every running job; the names of those that were running."""
        running = [n for n, j in list(self.jobs.items()) if not j.done]
        for name in running:
            self.jobs[name].stop()
        for name in running:
            self.jobs[name].wait(wait)
        return running

    def table(self) -> List[Dict[str, Any]]:
        """A row per job, as ``%stream_jobs`` shows it (see :data:`JOB_COLUMNS`)."""
        rows = []
        for name, job in list(self.jobs.items()):
            s = job.stats()
            ft = job.fault_tolerance()
            execution = job.cell.get("execution")
            rows.append({"name": name, "cell": f"In[{execution}]" if execution else "",
                         "mode": job.mode, "status": job.status_text,
                         "records_in": s["records_in"], "records_out": s["records_out"],
                         "records_per_s": round(s["rate"], 1),
                         "watermark": format_watermark(s["watermark"]),
                         "uptime_s": round(s["elapsed_s"], 1),
                         "restarts": ft.get("restarts", 0),
                         "checkpoint": "" if ft.get("id") is None else ft["id"],
                         "error": "" if job.error is None else str(job.error)})
        return rows
