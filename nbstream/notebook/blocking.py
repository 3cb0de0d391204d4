"""``%%stream --blocking`` (and ``%%sql --blocking``) in a kernel: an input transformer
turns the cell into an ``await`` of the magic, so the kernel's event loop keeps turning
while the job runs (the widget's Stop button is handled) and a kernel interrupt cancels
the wait."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import shlex
import signal
import threading
from typing import Any, Iterator, List, Optional

__all__ = ["BLOCKING_ENTRY", "await_blocking_cells", "interrupt_cancels", "kernel_stays_busy"]

BLOCKING_ENTRY = "__nbstream_blocking__"


@contextlib.contextmanager
def interrupt_cancels(task: Optional["asyncio.Task[Any]"]) -> Iterator[None]:
    """While the block runs, SIGINT (a kernel interrupt) cancels ``task`` at once.
    (ipykernel's own handler for async cells may only act on the loop's next event.)"""
    if task is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.signal(signal.SIGINT,
                             lambda *_: loop.call_soon_threadsafe(task.cancel))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def await_blocking_cells(lines: List[str]) -> List[str]:
    """An IPython input transformer: a ``%%stream --blocking`` or ``%%sql --blocking`` cell
    (by then turned into ``get_ipython().run_cell_magic('stream', ...)``) becomes ``await``
    of the magic, so the kernel runs it as an async cell."""
    text = "".join(lines)
    if not text.startswith(("get_ipython().run_cell_magic('stream',",
                            "get_ipython().run_cell_magic('sql',")):
        return lines
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return lines
    call = tree.body[0].value if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) else None
    if (not isinstance(call, ast.Call) or len(call.args) != 3 or call.keywords
            or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args)):
        return lines
    magic, line, cell = (a.value for a in call.args)  # type: ignore[attr-defined]
    try:
        words = shlex.split(line)
    except ValueError:
        return lines
    if "--blocking" not in words or "-h" in words or "--help" in words:
        return lines
    return [f"await {BLOCKING_ENTRY}({line!r}, {cell!r}, {magic!r})\n"]


@contextlib.contextmanager
def kernel_stays_busy(shell: Any) -> Iterator[None]:
    """While a blocking cell waits, the kernel handles the widgets' messages (a view that
    opens, the Stop button), and ipykernel reports each one busy, then idle: a front end
    then shows the kernel idle although the cell still runs. Here each such idle is
    followed by busy again, on behalf of the cell."""
    kernel = getattr(shell, "kernel", None)
    publish = getattr(kernel, "_publish_status", None)
    get_parent = getattr(kernel, "get_parent", None)
    if publish is None or get_parent is None:
        yield
        return
    cell = get_parent("shell")
    cell_id = (cell or {}).get("header", {}).get("msg_id")

    def publish_status(status: str, channel: str, parent: Any = None) -> None:
        publish(status, channel, parent)
        if status != "idle" or cell_id is None:
            return
        about = parent or get_parent(channel) or {}
        if about.get("header", {}).get("msg_id") != cell_id:
            publish("busy", "shell", cell)

    kernel._publish_status = publish_status
    try:
        yield
    finally:
        del kernel._publish_status  # the class's method again
