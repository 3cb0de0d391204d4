"""nbstream in Jupyter: ``%load_ext nbstream`` registers the magics.

``%%stream`` runs a cell's pipeline in the background and shows it live (a widget with
the job's header, a table of the newest rows and a chart); ``%%sql`` runs Flink SQL (an
unbounded query's changelog shown live as an upserting table); ``%set_mode``,
``%set_parallelism``, ``%stream_jobs`` and ``%stream_stop`` manage defaults and jobs.
IPython and ipywidgets are imported here only, when the extension is loaded.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    from .magics import BLOCKING_ENTRY, StreamMagics, await_blocking_cells

    magics = StreamMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    if getattr(ipython, "autoawait", False) and await_blocking_cells not in ipython.input_transformers_post:
        ipython.input_transformers_post.append(await_blocking_cells)
    ipython.push({BLOCKING_ENTRY: magics.stream_awaited}, interactive=False)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import await_blocking_cells

    if await_blocking_cells in ipython.input_transformers_post:
        ipython.input_transformers_post.remove(await_blocking_cells)
    magics = ipython.magics_manager.registry.get("StreamMagics")
    if magics is not None:
        try:
            ipython.events.unregister("pre_run_cell", magics.pre_run_cell)
        except ValueError:
            pass
        running = [j for j in magics.session.jobs.values() if not j.done]
        for job in running:
            job.stop()
        for job in running:
            job.wait(5)
