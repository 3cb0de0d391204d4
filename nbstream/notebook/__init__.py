"""nbstream in Jupyter: ``%load_ext nbstream`` registers the magics.

``%%stream`` runs a cell's pipeline in the background and shows it live (a widget with
the job's header, a table of the newest rows and a chart); ``%set_mode``,
``%set_parallelism``, ``%stream_jobs`` and ``%stream_stop`` manage defaults and jobs.
IPython and ipywidgets are imported here only, when the extension is loaded.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    from .magics import StreamMagics

    ipython.register_magics(StreamMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("StreamMagics")
    if magics is not None:
        running = [j for j in magics.session.jobs.values() if not j.done]
        for job in running:
            job.stop()
        for job in running:
            job.wait(5)
