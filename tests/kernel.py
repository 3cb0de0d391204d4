"""A real IPython kernel for tests: started with jupyter_client, this checkout on its
PYTHONPATH; every iopub message is recorded so tests can look at what a cell showed,
what arrived after it returned, and the widgets' comm traffic."""

from __future__ import annotations

import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parent.parent
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class Kernel:
    def __init__(self, extra_env: Optional[Dict[str, str]] = None) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env.pop("PYTEST_CURRENT_TEST", None)
        env.update(extra_env or {})
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=str(ROOT))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.messages: List[Dict[str, Any]] = []
        self._cond = threading.Condition()
        self._start_reader()

    def _start_reader(self) -> None:
        self._stop = False
        self._reader = threading.Thread(target=self._read, daemon=True, name="test iopub reader")
        self._reader.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.1)
            except queue.Empty:
                continue
            except Exception:
                return
            msg["received"] = time.monotonic()
            with self._cond:
                self.messages.append(msg)
                self._cond.notify_all()

    # -- running cells ------------------------------------------------------------------------
    def submit(self, code: str, cell_id: Optional[str] = None,
               deleted: Optional[List[str]] = None) -> str:
        """Send ``code`` to run; ``cell_id``: as a notebook cell of that id (JupyterLab's
        request metadata, with the ids of cells ``deleted`` since the last run)."""
        if cell_id is None and not deleted:
            return self.kc.execute(code, allow_stdin=False)
        content = {"code": code, "silent": False, "store_history": True,
                   "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
        msg = self.kc.session.msg("execute_request", content)
        msg["metadata"] = {"cellId": cell_id, "deletedCells": deleted or []}
        self.kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    def execute(self, code: str, timeout: float = 60, cell_id: Optional[str] = None,
                deleted: Optional[List[str]] = None) -> "Cell":
        """Run ``code`` (as cell ``cell_id``); return once the kernel is idle again after it."""
        msg_id = self.submit(code, cell_id, deleted)
        return Cell(self, msg_id, self.finish(msg_id, timeout))

    def finish(self, msg_id: str, timeout: float = 60) -> Dict[str, Any]:
        """The reply to request ``msg_id``, once the kernel is idle again after it (after a
        failed cell the kernel aborts requests that reach it before then)."""
        self.wait_for(lambda m: m["parent_header"].get("msg_id") == msg_id
                      and m["msg_type"] == "status"
                      and m["content"]["execution_state"] == "idle", timeout)
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        return reply

    def wait_for(self, predicate: Callable[[Dict[str, Any]], bool], timeout: float = 30,
                 start: int = 0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.messages):
                    msg = self.messages[index]
                    index += 1
                    if predicate(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no such message within the timeout; last ones: "
                                       + repr([(m["msg_type"], m["content"])
                                               for m in self.messages[-5:]]))
                self._cond.wait(left)

    def of(self, msg_id: str) -> List[Dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages if m["parent_header"].get("msg_id") == msg_id]

    # -- widgets ---------------------------------------------------------------------------------
    def widget_state(self, comm_id: str) -> Dict[str, Any]:
        """The widget's state as a front end would hold it (open + every update)."""
        state: Dict[str, Any] = {}
        with self._cond:
            for m in self.messages:
                c = m["content"]
                if c.get("comm_id") != comm_id:
                    continue
                data = c.get("data", {})
                if m["msg_type"] == "comm_open" or data.get("method") == "update":
                    state.update(data.get("state", {}))
        return state

    def widget_updates(self, comm_id: str) -> List[Dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages if m["msg_type"] == "comm_msg"
                    and m["content"].get("comm_id") == comm_id
                    and m["content"]["data"].get("method") == "update"]

    def wait_widget(self, msg_id: str, start: int = 0, timeout: float = 30) -> str:
        """The comm id of the first live view opened by cell ``msg_id``."""
        opened = self.wait_for(lambda m: m["msg_type"] == "comm_open"
                               and m["parent_header"].get("msg_id") == msg_id
                               and m["content"]["data"]["state"].get("_model_name") == "AnyModel",
                               timeout, start)
        return opened["content"]["comm_id"]

    def custom_messages(self, comm_id: str) -> List[Dict[str, Any]]:
        with self._cond:
            return [m["content"]["data"]["content"] for m in self.messages
                    if m["msg_type"] == "comm_msg" and m["content"].get("comm_id") == comm_id
                    and m["content"]["data"].get("method") == "custom"]

    def send_custom(self, comm_id: str, content: Dict[str, Any]) -> None:
        """What the widget's front end does with ``model.send(content)``."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {
            "method": "custom", "content": content}})
        self.kc.shell_channel.send(msg)

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def restart(self, timeout: float = 60) -> None:
        """Restart the kernel (same environment and folder, a fresh process), as a
        notebook's Restart Kernel does; the recorded messages are kept."""
        self._stop = True  # wait_for_ready reads iopub too: two readers of one socket
        self._reader.join(5)  # garble its messages (an empty one raised IndexError)
        self.km.restart_kernel(now=True)
        self.kc.wait_for_ready(timeout=timeout)
        self._start_reader()

    def close(self) -> None:
        self._stop = True
        self._reader.join(2)
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


class Cell:
    """The messages of one executed cell."""

    def __init__(self, kernel: Kernel, msg_id: str, reply: Dict[str, Any]) -> None:
        self.kernel = kernel
        self.msg_id = msg_id
        self.reply = reply

    @property
    def ok(self) -> bool:
        return self.reply["content"]["status"] == "ok"

    @property
    def error(self) -> Optional[Dict[str, Any]]:
        return None if self.ok else self.reply["content"]

    @property
    def messages(self) -> List[Dict[str, Any]]:
        return self.kernel.of(self.msg_id)

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(m["content"]["text"] for m in self.messages
                       if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")

    @property
    def displays(self) -> List[Dict[str, Any]]:
        return [m["content"] for m in self.messages
                if m["msg_type"] in ("display_data", "execute_result")]

    @property
    def text(self) -> str:
        """stdout plus the text/plain of displays and results."""
        parts = [self.stdout]
        parts += [d["data"].get("text/plain", "") for d in self.displays]
        return "\n".join(parts)

    def widget_ids(self) -> List[str]:
        return [d["data"][WIDGET_MIME]["model_id"] for d in self.displays
                if WIDGET_MIME in d["data"]]
