"""PyFlink DataStream programs on nbstream, unmodified.

This package mirrors PyFlink's module tree (``pyflink.common``, ``pyflink.datastream``,
``.functions``, ``.state``, ``.window``, ``.connectors.number_seq``,
``.connectors.file_system``, ...) with nbstream's classes. :func:`install` makes
``import pyflink...`` resolve to it; the runner does that around a script::

    python -m nbstream.compat.pyflink my_job.py --input words.txt

Inside a running program ``python.execution-mode`` selects nbstream's thread or process
mode. ``pyflink.table`` is nbstream's Table API and SQL (:mod:`nbstream.table`). Flink's
JVM connectors are not there: their names import as placeholders, and using one raises
:class:`NotAvailableError` naming it.

>>> with activated():
...     from pyflink.common import Types
...     from pyflink.datastream import StreamExecutionEnvironment
...     env = StreamExecutionEnvironment.get_execution_environment()
...     _ = env.set_parallelism(1)
...     _ = env.from_collection([("a", 1)], Types.TUPLE([Types.STRING(), Types.INT()])).print()
...     _ = env.execute()
(a,1)
>>> is_installed()  # afterwards, pyflink is Apache Flink's again (if installed)
False
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import types
from typing import Any, ContextManager, Dict, Optional

from .._aliases import ModuleAliases
from ._exports import NotAvailableError, not_available, placeholder

__all__ = ["install", "uninstall", "activated", "is_installed", "NotAvailableError", "MODULES",
           "__version__"]

#: the PyFlink release whose DataStream API this layer mirrors (``pyflink.__version__``)
__version__ = "2.3.0"

#: PyFlink's modules that nbstream provides (relative to ``pyflink``).
MODULES = (
    "", ".common", ".common.configuration", ".common.typeinfo", ".common.types", ".common.time",
    ".common.watermark_strategy", ".common.serialization", ".common.job_execution_result",
    ".common.execution_config", ".metrics", ".datastream.slot_sharing_group",
    ".datastream.state_backend", ".datastream.checkpoint_storage", ".datastream.checkpoint_config",
    ".datastream", ".datastream.stream_execution_environment", ".datastream.data_stream",
    ".datastream.functions", ".datastream.state", ".datastream.window",
    ".datastream.timerservice", ".datastream.output_tag", ".datastream.time_domain",
    ".datastream.execution_mode", ".datastream.connectors", ".datastream.connectors.number_seq",
    ".datastream.connectors.file_system", ".datastream.async_data_stream",
    ".datastream.async_retry_strategies", ".datastream.async_retry_predicates",
    ".table", ".table.table_environment", ".table.expressions",
    ".table.expression", ".table.window", ".table.types", ".table.udf", ".table.data_view",
    ".table.explain_detail",
    ".table.changelog_mode", ".table.sql_dialect", ".table.table_descriptor", ".table.schema",
    ".table.table_result", ".table.result_kind", ".table.environment_settings",
    ".table.table_config", ".table.table_schema", ".table.statement_set", ".table.table",
)
_OPTIONAL_PACKAGES = ("pyflink.datastream.connectors.", "pyflink.datastream.formats.")

#: defaults of the environments a program creates (the notebook's mode and parallelism)
DEFAULTS: Dict[str, Any] = {}


class _Unavailable(importlib.abc.Loader):
    """A PyFlink module nbstream does not provide (a JVM connector or format, the Table
    API): importable, every name in it a placeholder that raises when used."""

    def __init__(self, why: str = "") -> None:
        self.why = why

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = types.ModuleType(spec.name)
        name, why, names = spec.name, self.why, module.__dict__

        def __getattr__(attr: str) -> Any:
            if attr.startswith("__"):
                raise AttributeError(attr)
            names[attr] = placeholder(attr, name, why)
            return names[attr]
        module.__getattr__ = __getattr__  # type: ignore[method-assign]
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _Finder(importlib.abc.MetaPathFinder):
    """Answers for ``pyflink.*`` modules nbstream does not provide."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "pyflink" and not fullname.startswith("pyflink."):
            return None
        if fullname.startswith(_OPTIONAL_PACKAGES) or fullname + "." in _OPTIONAL_PACKAGES:
            return importlib.machinery.ModuleSpec(fullname, _Unavailable(), is_package=True)
        raise not_available(fullname, "this module",
                            "nbstream provides PyFlink's DataStream and Table APIs, not this "
                            "part of PyFlink")


def _modules() -> Dict[str, types.ModuleType]:
    return {"pyflink" + rel: importlib.import_module(__name__ + rel) for rel in MODULES}


_ALIASES = ModuleAliases("pyflink", _modules, _Finder())


def is_installed() -> bool:
    return _ALIASES.is_installed()


def install() -> None:
    """Make ``import pyflink...`` resolve to this package (until :func:`uninstall`)."""
    _ALIASES.install()


def uninstall() -> None:
    """Undo :func:`install`: ``pyflink`` is Apache Flink's again (if it is installed)."""
    _ALIASES.uninstall()


def activated(mode: Optional[str] = None, parallelism: Optional[int] = None
              ) -> ContextManager[None]:
    """``with activated():`` PyFlink imports inside resolve to nbstream. ``mode`` and
    ``parallelism`` are the defaults of the environments created inside (a program's
    own configuration and ``set_parallelism`` still win)."""
    return _ALIASES.activated(DEFAULTS, mode=mode, parallelism=parallelism)
