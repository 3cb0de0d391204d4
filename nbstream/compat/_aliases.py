"""Putting another project's module names onto nbstream for a while: what the PyFlink
and the old-Flink (Jython) layers share.

A :class:`ModuleAliases` owns one top-level name (``pyflink``, ``org``): ``install()``
sets aside whatever ``sys.modules`` held under it, puts the layer's modules there and a
finder first on ``sys.meta_path`` (for the names the layer does not provide);
``uninstall()`` puts everything back. ``activated()`` does both around a block and sets
the defaults of the environments created inside.

>>> import types
>>> aliases = ModuleAliases("nbstream_demo_root", lambda: {
...     "nbstream_demo_root": types.ModuleType("nbstream_demo_root")}, finder=None)
>>> with aliases.activated({}, mode="thread"):
...     import nbstream_demo_root
>>> aliases.is_installed(), "nbstream_demo_root" in __import__("sys").modules
(False, False)
"""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any, Callable, Dict, Iterator, Optional

__all__ = ["ModuleAliases"]


class ModuleAliases:
    """The modules under ``root`` that a compatibility layer provides while installed."""

    def __init__(self, root: str, modules: Callable[[], Dict[str, types.ModuleType]],
                 finder: Any) -> None:
        self.root = root
        self._modules = modules
        self._finder = finder
        self._saved: Optional[Dict[str, types.ModuleType]] = None

    def _owned(self, name: str) -> bool:
        return name == self.root or name.startswith(self.root + ".")

    def is_installed(self) -> bool:
        return self._saved is not None

    def install(self) -> None:
        if self._saved is not None:
            return
        saved = {n: m for n, m in sys.modules.items() if self._owned(n)}
        for name in saved:
            del sys.modules[name]
        sys.modules.update(self._modules())
        if self._finder is not None:
            sys.meta_path.insert(0, self._finder)
        self._saved = saved

    def uninstall(self) -> None:
        if self._saved is None:
            return
        for name in [n for n in sys.modules if self._owned(n)]:
            del sys.modules[name]
        sys.modules.update(self._saved)
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._saved = None

    @contextlib.contextmanager
    def activated(self, defaults: Dict[str, Any], **values: Any) -> Iterator[None]:
        """Installed within the block (as it was after), with ``values`` that are not
        None set in ``defaults`` (restored after)."""
        was, before = self.is_installed(), dict(defaults)
        self.install()
        defaults.update({k: v for k, v in values.items() if v is not None})
        try:
            yield
        finally:
            defaults.clear()
            defaults.update(before)
            if not was:
                self.uninstall()
