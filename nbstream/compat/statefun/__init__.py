"""Modules written for the ``statefun`` Python SDK, unmodified, on nbstream.

While installed, ``import statefun`` (and the SDK's generated ``statefun.*_pb2`` modules)
resolve to nbstream's: the 3.x API (:mod:`nbstream.statefun`) or the 2.x one
(:mod:`nbstream.statefun.v2`). The generation is ``api=3`` / ``api=2`` when given, else 2
when the module's source names something only 2.x has (``kafka_egress_record``,
``kinesis_egress_record``, ``AsyncRequestReplyHandler``, ``StateSpec``...), else 3.

- ``python -m nbstream.compat.statefun [--api 2|3] MODULE.py [ARGS...]`` runs the module as
  ``__main__``: its server (aiohttp, Flask...) then serves the request-reply protocol with
  nbstream's handler, a valid remote module for a StateFun cluster.
- :func:`load_module` imports such a module (a path or a module name) for embedding, in a
  notebook too; ``import statefun`` is put back as it was afterwards.

>>> import pathlib, tempfile
>>> source = '''
... from statefun import *
... functions = StatefulFunctions()
... @functions.bind("example/hello", [ValueSpec("seen", IntType)])
... def hello(context, message):
...     context.storage.seen = (context.storage.seen or 0) + 1
... '''
>>> path = pathlib.Path(tempfile.mkdtemp()) / "hello_module.py"
>>> _ = path.write_text(source)
>>> module = load_module(str(path))
>>> module.functions.for_typename("example/hello").specs
[ValueSpec('seen', io.statefun.types/int)]
>>> is_installed()
False
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import types
from typing import Dict, Optional

from .._aliases import ModuleAliases

__all__ = ["install", "uninstall", "is_installed", "activated", "load_module", "detect_api",
           "sdk_modules"]

#: names only the 2.x SDK has: a module importing one is a 2.x module
V2_ONLY = frozenset({"kafka_egress_record", "kinesis_egress_record", "AsyncRequestReplyHandler",
                     "StateSpec", "AfterInvoke", "AfterWrite", "BatchContext"})
#: names only the 3.x SDK has
V3_ONLY = frozenset({"ValueSpec", "message_builder", "egress_message_builder", "kafka_egress_message",
                     "kinesis_egress_message", "make_json_type", "make_protobuf_type", "simple_type",
                     "IntType", "StringType", "BoolType", "LongType", "FloatType", "DoubleType"})


def _facade(name: str, source: types.ModuleType, names: list) -> types.ModuleType:
    module = types.ModuleType(name, source.__doc__)
    for attr in names:
        setattr(module, attr, getattr(source, attr))
    module.__all__ = list(names)
    return module


#: the 3.x SDK's other modules: ``statefun.<name>`` -> (nbstream's module, the names there)
SDK_LAYOUT = {
    "core": ("core", ["SdkAddress", "ValueSpec", "parse_typename"], "types",
             ["Type", "TypeSerializer", "simple_type", "SimpleType"]),
    "utils": ("utils", ["to_typed_value", "from_typed_value", "to_typed_value_deduce",
                        "make_json_type", "make_protobuf_type"]),
    "storage": ("storage", ["Cell", "StorageSpec", "Resolution", "make_address_storage_spec",
                            "resolve", "ValueSpec"], "types", ["Type"]),
    "wrapper_types": ("types", ["BoolType", "IntType", "FloatType", "DoubleType", "LongType",
                                "StringType"]),
    "messages": ("messages", ["Message", "EgressMessage", "message_builder",
                              "egress_message_builder"]),
    "egress_io": ("messages", ["kafka_egress_message", "kinesis_egress_message"]),
    "context": ("functions", ["Context"]),
    "statefun_builder": ("functions", ["StatefulFunctions", "StatefulFunction"]),
    "request_reply_v3": ("handler", ["RequestReplyHandler"]),
}


def _layout_module(name: str, parts: tuple) -> types.ModuleType:
    module = types.ModuleType(f"statefun.{name}", f"The statefun SDK's statefun.{name}, on nbstream.")
    names: list = []
    for source, attrs in zip(parts[::2], parts[1::2]):
        home = importlib.import_module(f"nbstream.statefun.{source}")
        for attr in attrs:
            setattr(module, attr, getattr(home, attr))
        names += attrs
    module.__all__ = names
    return module


def sdk_modules(api: int = 3) -> Dict[str, types.ModuleType]:
    """The modules standing for the SDK's: ``statefun``, its generated ``*_pb2`` ones and, for
    the 3.x API, the others its code and tests import (``statefun.core``, ``.utils``,
    ``.storage``, ...: :data:`SDK_LAYOUT`)."""
    from ...statefun import protocol
    if api == 2:
        from ...statefun import v2 as top
    else:
        import nbstream.statefun as top
    pb = {"request_reply_pb2": ["ToFunction", "FromFunction", "Address", "TypedValue"],
          "kafka_egress_pb2": ["KafkaProducerRecord"], "kinesis_egress_pb2": ["KinesisEgressRecord"],
          "types_pb2": ["BooleanWrapper", "IntWrapper", "FloatWrapper", "LongWrapper", "DoubleWrapper",
                        "StringWrapper"]}
    modules = {f"statefun.{name}": _facade(f"statefun.{name}", protocol, attrs) for name, attrs in pb.items()}
    if api == 3:
        modules.update({f"statefun.{name}": _layout_module(name, parts)
                        for name, parts in SDK_LAYOUT.items()})
    root = _facade("statefun", top, top.__all__)
    root.__path__ = []  # a package, so that statefun.<name> imports find the modules above
    for name in modules:
        setattr(root, name.split(".", 1)[1], modules[name])
    modules["statefun"] = root
    return modules


_ALIASES = {api: ModuleAliases("statefun", lambda api=api: sdk_modules(api), finder=None) for api in (2, 3)}


def install(api: int = 3) -> None:
    """Make ``import statefun`` resolve to nbstream's (API generation ``api``) until :func:`uninstall`."""
    uninstall()
    _ALIASES[_check(api)].install()


def uninstall() -> None:
    for aliases in _ALIASES.values():
        aliases.uninstall()


def is_installed() -> bool:
    return any(aliases.is_installed() for aliases in _ALIASES.values())


def activated(api: int = 3):  # -> ContextManager[None]
    """A context manager: ``import statefun`` resolves to nbstream's inside the block."""
    return _ALIASES[_check(api)].activated({})


def _check(api: int) -> int:
    if api not in (2, 3):
        raise ValueError(f"api must be 2 or 3 (the statefun SDK generation), not {api!r}")
    return api


def detect_api(source: str) -> int:
    """2 when ``source`` names something only the 2.x SDK has (and nothing only 3.x has), else 3."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "statefun":
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id == "statefun":
            names.add(node.attr)
    return 2 if names & V2_ONLY and not names & V3_ONLY else 3


def _spec_for(path_or_name: str):
    if path_or_name.endswith(".py") or os.path.sep in path_or_name or os.path.isfile(path_or_name):
        path = os.path.abspath(path_or_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such module file: {path_or_name}")
        name = os.path.splitext(os.path.basename(path))[0]
        return importlib.util.spec_from_file_location(name, path)
    spec = importlib.util.find_spec(path_or_name)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {path_or_name!r}", name=path_or_name)
    return spec


def _ship_by_value(module: types.ModuleType) -> None:
    """Worker processes cannot import a module loaded from a path: cloudpickle sends its
    functions by value instead."""
    import cloudpickle
    try:
        cloudpickle.register_pickle_by_value(module)
    except AttributeError:  # pragma: no cover - cloudpickle < 2.0
        pass


def load_module(path_or_name: str, api: Optional[int] = None) -> types.ModuleType:
    """Import a module written for the ``statefun`` SDK (a ``.py`` path or a module name) with
    ``import statefun`` resolving to nbstream's; its registries are then nbstream's."""
    spec = _spec_for(path_or_name)
    if api is None:
        origin = spec.origin if spec.origin and os.path.isfile(spec.origin) else None
        api = detect_api(open(origin, encoding="utf-8").read()) if origin else 3
    module = importlib.util.module_from_spec(spec)
    with activated(api):
        sys.modules[spec.name] = module
        _ship_by_value(module)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(spec.name, None)
            raise
    return module
