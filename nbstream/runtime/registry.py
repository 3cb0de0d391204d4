"""The registry that turns a planned node into an operator instance.

Each module of operators registers the kinds it builds with :func:`register` when it
is imported; :func:`build_operator` imports them all on first use. Operator modules
import this module, never each other's registries, so there is no import cycle.

>>> build_operator.__name__, "map" in kinds()
('build_operator', True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable, Dict, Tuple

if TYPE_CHECKING:  # pragma: no cover
    from ..plan.logical import Node
    from .operators import Operator

__all__ = ["register", "build_operator", "kinds", "builders", "OPERATOR_MODULES"]

Builder = Callable[["Node"], "Operator"]

#: the modules (of ``nbstream.runtime``) whose operators register themselves on import
OPERATOR_MODULES: Tuple[str, ...] = ("adapters", "async_io", "broadcast", "bundles", "columnar",
                                     "columnar_sessions", "iterate",
                                     "joins", "watermarks", "windows")

_BUILDERS: Dict[str, Builder] = {}
_loaded = False


def register(kind: str) -> Callable[[Builder], Builder]:
    """Register the builder of operators for nodes of ``kind``."""
    def deco(builder: Builder) -> Builder:
        _BUILDERS[kind] = builder
        return builder
    return deco


def _load() -> None:
    global _loaded
    if not _loaded:
        for name in OPERATOR_MODULES:
            importlib.import_module(f"{__package__}.{name}")
        _loaded = True


def kinds() -> Tuple[str, ...]:
    """Every node kind an operator is registered for."""
    _load()
    return tuple(_BUILDERS)


def builders() -> Dict[str, Builder]:
    """Every registered builder by node kind (the core-only test reads them)."""
    _load()
    return dict(_BUILDERS)


def build_operator(node: "Node") -> "Operator":
    """The operator instance that runs ``node``."""
    _load()
    try:
        builder = _BUILDERS[node.kind]
    except KeyError:
        raise ValueError(f"no operator is registered for '{node.kind}' (step '{node.name}')")
    return builder(node)
