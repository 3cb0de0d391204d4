"""Workers import the user's code as the kernel (the driver) does.

A step's functions travel pickled: a function or class defined in an importable module
(a ``helper.py`` beside the script, a notebook's local module, a test module) travels by
name, and the worker imports that module. For the import to find what the driver found,
each job's start message carries :func:`driver_imports`:

- ``sys_path``: the driver's ``sys.path``, in its order (the script's folder, the user's
  additions, ``add_python_file`` folders), put first in the worker's;
- ``aliases``: names under which the driver's ``sys.modules`` holds a module of another
  name (``pyflink.datastream`` is ``nbstream.compat.pyflink.datastream`` while the PyFlink
  layer is installed): the worker resolves them to the same modules, on first import;
- ``modules``: the driver's own modules loaded from files outside the installed packages,
  with the file's size and modification time: a worker holding an older version (the
  user edited ``helper.py`` and reloaded it in the notebook) drops it, so it is imported
  afresh when a function needs it.

>>> spec = driver_imports()
>>> spec["sys_path"][:1] == sys.path[:1] and "nbstream" not in spec["modules"]
True
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import site
import sys
import sysconfig
import threading
import types
from typing import Any, Dict, Iterable, List, Optional, Tuple

__all__ = ["driver_imports", "apply_driver_imports"]

Fingerprint = Tuple[int, int]  # (size, mtime in ns)


def _installed_roots() -> Tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        roots.add(sysconfig.get_paths().get(key, ""))
    roots.update(getattr(site, "getsitepackages", lambda: [])())
    roots.add(getattr(site, "USER_SITE", None) or "")
    found = {os.path.join(p, "") for r in roots if r for p in (os.path.abspath(r), os.path.realpath(r))}
    return tuple(found)


def _fingerprint(path: str) -> Optional[Fingerprint]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _user_modules(modules: Dict[str, Any], skip: Iterable[str] = ()
                  ) -> Dict[str, Tuple[str, Fingerprint]]:
    """The modules loaded from ``.py`` files outside the installed packages (and nbstream)."""
    installed, skip = _installed_roots(), set(skip)
    out = {}
    for name, module in modules.items():
        path = getattr(module, "__file__", None)
        if (name in skip or name == "__main__" or not isinstance(path, str)
                or not path.endswith(".py") or path.startswith(installed)
                or getattr(module, "__name__", None) != name):
            continue
        fingerprint = _fingerprint(path)
        if fingerprint is not None:
            out[name] = (path, fingerprint)
    return out


def _aliases(modules: Dict[str, Any]) -> Dict[str, str]:
    out = {}
    for name, module in modules.items():
        real = getattr(module, "__name__", None) if isinstance(module, types.ModuleType) else None
        if isinstance(real, str) and real != name and modules.get(real) is module:
            out[name] = real
    return out


def driver_imports() -> Dict[str, Any]:
    """What a worker needs to import the driver's modules as the driver does (see above)."""
    modules = dict(sys.modules)
    return {"sys_path": [p for p in sys.path if isinstance(p, str)], "cwd": os.getcwd(),
            "aliases": _aliases(modules), "modules": _user_modules(modules)}


class _Aliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves the driver's module aliases to the modules they stand for."""

    def __init__(self) -> None:
        self.names: Dict[str, str] = {}
        self._specs: Dict[int, Any] = {}

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.names:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        module = importlib.import_module(self.names[spec.name])
        self._specs[id(module)] = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # the import system gave the module the alias's spec: it keeps its own
        module.__spec__ = self._specs.pop(id(module), getattr(module, "__spec__", None))


_ALIASES = _Aliases()
_REMEMBERING = threading.Lock()


def _put_first(entries: Iterable[str]) -> None:
    first = list(dict.fromkeys(entries))
    chosen = set(first)
    sys.path[:] = first + [p for p in sys.path if p not in chosen]


def apply_driver_imports(spec: Dict[str, Any], loaded: Dict[str, Fingerprint]) -> None:
    """In a worker, before a job's steps are unpickled: the driver's path first, its
    aliases, and no older version of its modules than the driver's. ``loaded`` is the
    version of each user module this worker imported (see :func:`remember_loaded`)."""
    _put_first(spec["sys_path"])
    if spec["cwd"] != os.getcwd():
        try:
            os.chdir(spec["cwd"])
        except OSError:
            pass
    aliases = spec.get("aliases", {})
    for name in set(_ALIASES.names) | set(aliases):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__name__", None) != aliases.get(name):
            del sys.modules[name]  # bound to another module than the driver's: re-resolve
    _ALIASES.names = dict(aliases)
    if _ALIASES not in sys.meta_path:
        sys.meta_path.insert(0, _ALIASES)
    for name, (_path, fingerprint) in spec.get("modules", {}).items():
        mine = loaded.get(name)
        if name in sys.modules and mine is not None and tuple(mine) != tuple(fingerprint):
            del sys.modules[name]  # an older version: imported again when needed
            loaded.pop(name)


def remember_loaded(loaded: Dict[str, Fingerprint]) -> None:
    """Note the version of each user module imported since the last call (call it right
    after imports happen: loading a job, a task's end before the driver hears of it)."""
    with _REMEMBERING:  # task threads and the worker's loop
        for name, (_path, fingerprint) in _user_modules(dict(sys.modules), skip=loaded).items():
            loaded[name] = fingerprint
