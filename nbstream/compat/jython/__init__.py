"""Programs of Flink's old (Jython) Python streaming API, unmodified, on nbstream.

Flink 1.3-1.7 shipped a streaming Python API run by Jython (``pyflink-stream.sh``). Its
programs define ``main(factory)``, get ``env = factory.get_execution_environment()``,
import Flink's Java classes (``from org.apache.flink.api.common.functions import
FlatMapFunction``) and subclass them with Java-style methods (``flatMap(self, value,
collector)``, ``getKey(self, value)``). The runner runs such a script here::

    python -m nbstream.compat.jython [--mode MODE] [--parallelism N] SCRIPT [PACKAGE ...] [- PARAM ...]

``PARAM``s after ``-`` are the script's ``sys.argv[1:]``; ``PACKAGE``s (modules or
folders the script imports) become importable. In a notebook, ``%%stream --jython``
runs a cell holding such a program, in the notebook's mode and parallelism, live.

Where the old API's semantics differ from nbstream's own API, this layer follows the
old API:

- ``time_window(size[, slide])`` on a keyed stream is a **processing-time** window (on
  the environment's processing-time clock; a ManualClock makes it testable). As in
  Flink, windows still open when a bounded input ends do not fire.
- ``output()`` prints ``str()`` of each record (Python's text of a tuple, as Jython
  printed it), with ``N> `` before it when the parallelism is above 1.
- ``count_window(size, slide)`` is Flink's Java one: every ``slide`` records of a key it
  fires with the last ``size`` of them (the first firings hold fewer); nbstream's own
  (PyFlink's) sliding count windows fire only when full. Windows not full when a
  bounded input ends do not fire.
- A ``SourceFunction`` runs as one instance (``ParallelSourceFunction``: one per subtask).
- ``split(selector)`` / ``select(names...)``: a record goes to a selection once, however
  many of its names are selected.
- ``iterate()`` without a wait time ends 1000 ms after the input and the loop go
  quiet (the old API's never ended).
- The default parallelism is the number of CPU cores (as Flink's local environment);
  ``--parallelism`` or the notebook's parallelism set it instead.
- A rich function's ``open(config)`` receives nbstream's runtime context (the old API
  passed Flink's empty Configuration).

Outside the runner, ``with activated():`` (or :func:`install`) makes the ``org.apache.flink``
imports resolve; a name nbstream does not provide raises :class:`NotAvailableError`
naming it and what to use instead.

>>> program = '''
... from org.apache.flink.api.common.functions import FlatMapFunction
... class Tokenizer(FlatMapFunction):
...     def flatMap(self, value, collector):
...         for word in value.split():
...             collector.collect(word)
... def main(factory):
...     env = factory.get_execution_environment()
...     env.set_parallelism(1)
...     env.from_elements("to be", "or not").flat_map(Tokenizer()).output()
...     env.execute(local=True)
... '''
>>> run_source(program, "<program>")
to
be
or
not
>>> is_installed()
False
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import inspect
import os
import traceback
import types
from typing import Any, ContextManager, Dict, Optional

from .._aliases import ModuleAliases
from ..pyflink._exports import NotAvailableError
from ._modules import MODULES, unavailable
from .environment import DEFAULTS, PythonEnvironmentFactory, PythonStreamExecutionEnvironment
from .functions import ProgramError

__all__ = ["install", "uninstall", "activated", "is_installed", "run_main", "run_source",
           "error_line", "ProgramError", "NotAvailableError", "MODULES", "PythonStreamExecutionEnvironment",
           "PythonEnvironmentFactory"]

_ROOT = "org"


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Answers for the ``org.*`` modules not in :data:`MODULES`: an empty module whose
    every name raises :class:`NotAvailableError` (so the error names the class too)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname == _ROOT or fullname.startswith(_ROOT + "."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _module(spec.name, {})

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def _module(name: str, names: Dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(name, f"Flink's {name}, as nbstream provides it.")
    module.__path__ = []  # a package: its children come from sys.modules
    module.__dict__.update(names)

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise unavailable(attr, name)
    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def _modules() -> Dict[str, types.ModuleType]:
    """:data:`MODULES` as modules, and every package above them."""
    modules: Dict[str, types.ModuleType] = {}
    packages = {name.rsplit(".", i)[0] for name in MODULES for i in range(name.count(".") + 1)}
    for name in sorted(packages, key=lambda n: n.count(".")):
        modules[name] = _module(name, MODULES.get(name, {}))
        if "." in name:
            parent, _, child = name.rpartition(".")
            setattr(modules[parent], child, modules[name])
    return modules


_ALIASES = ModuleAliases(_ROOT, _modules, _Finder())


def is_installed() -> bool:
    return _ALIASES.is_installed()


def install() -> None:
    """Make ``import org.apache.flink...`` resolve to nbstream (until :func:`uninstall`)."""
    _ALIASES.install()


def uninstall() -> None:
    """Undo :func:`install`."""
    _ALIASES.uninstall()


def activated(mode: Optional[str] = None, parallelism: Optional[int] = None,
              clock: Any = None, launch: Any = None) -> ContextManager[None]:
    """``with activated():`` the ``org.apache.flink`` imports resolve to nbstream, and the
    environments created inside start with ``mode``, ``parallelism`` and processing-time
    ``clock``; ``launch(env, job_name)``, if given, runs their jobs instead of
    ``execute`` (the notebook uses it to show them live)."""
    return _ALIASES.activated(DEFAULTS, mode=mode, parallelism=parallelism, clock=clock,
                              launch=launch)


def run_main(namespace: Dict[str, Any], where: str) -> Any:
    """Call the program's ``main(factory)`` (a ``main()`` without parameters, as in the
    API's first release, is called as it is); ``where`` names the program in errors."""
    main = namespace.get("main")
    if not callable(main):
        raise ProgramError(f"{where} has no main(factory) function: an old Flink Python "
                           "program defines `def main(factory):` and builds its job there "
                           "with env = factory.get_execution_environment()")
    try:
        takes_factory = bool(inspect.signature(main).parameters)
    except (TypeError, ValueError):
        takes_factory = True
    return main(PythonEnvironmentFactory()) if takes_factory else main()


def error_line(exc: BaseException, filename: str) -> Optional[int]:
    """The line of ``filename`` (the program) where ``exc`` arose, if it did there."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(filename):
            line = frame.lineno
    return line


def run_source(source: str, where: str, namespace: Optional[Dict[str, Any]] = None,
               **defaults: Any) -> Any:
    """Run a program given as text: its imports resolve to nbstream while it runs, then
    its ``main`` is called (``defaults`` as :func:`activated` takes them)."""
    ns: Dict[str, Any] = {"__name__": "__jython_main__"} if namespace is None else namespace
    with activated(**defaults):
        exec(compile(source, where, "exec"), ns)  # noqa: S102 - the user's own program
        return run_main(ns, where)
