"""The catalog of a TableEnvironment: tables (a connector and a schema), views (a plan),
tables given in Python (a plan), and temporary functions.

Names may be written with their catalog and database (``default_catalog.default_database.t``)
or in backticks; SHOW TABLES lists views too, sorted, as Flink.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from .connectors import TableSink, sink_for, source_for
from .functions import BUILTINS, FunctionRegistry
from .plan import Calc, RelNode, Scan, WatermarkAssigner
from .rex import InputRef
from .schema import Schema
from .types import DataType, ValidationError

__all__ = ["Catalog", "CatalogTable", "CatalogView", "strip_path"]

CATALOG, DATABASE = "default_catalog", "default_database"


def strip_path(path: str) -> str:
    """``default_catalog.default_database.t`` and ```t``` -> ``t``."""
    parts = _split(path)
    if len(parts) == 3 and parts[0] == CATALOG and parts[1] == DATABASE:
        return parts[2]
    if len(parts) == 2 and parts[0] == DATABASE:
        return parts[1]
    if len(parts) == 1:
        return parts[0]
    raise ValidationError(f"Catalog or database of '{path}' does not exist (nbstream has "
                          f"{CATALOG}.{DATABASE} only)")


def _split(path: str) -> List[str]:
    out, cur, quoted = [], [], False
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "`":
            if quoted and i + 1 < len(path) and path[i + 1] == "`":
                cur.append("`")
                i += 2
                continue
            quoted = not quoted
        elif ch == "." and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    out.append("".join(cur))
    return out


@dataclass
class CatalogTable:
    """A table declared by CREATE TABLE or a TableDescriptor."""

    name: str
    schema: Schema
    options: Dict[str, str]
    partition_keys: List[str] = field(default_factory=list)
    comment: Optional[str] = None
    temporary: bool = True

    def physical(self) -> List[Any]:
        return [c for c in self.schema.columns if c.is_physical or (c.metadata and not c.virtual)]

    def plan(self, resolve: Callable[[Any, RelNode], Any]) -> RelNode:
        """Scan of the connector -> computed columns -> watermark. ``resolve(expr, node)``
        resolves a column expression (SQL text or Expression) over ``node``."""
        phys = self.physical()
        names = [c.name for c in phys]
        types = [c.data_type for c in phys]
        source = source_for(self.options, names, types)
        node: RelNode = Scan(source, names, types, self.name)
        if len(phys) != len(self.schema.columns):
            projects, out_names = [], []
            for c in self.schema.columns:
                if c.is_physical or (c.metadata and not c.virtual):
                    i = names.index(c.name)
                    projects.append(InputRef(i, types[i], c.name))
                elif c.expression is not None:
                    projects.append(resolve(c.expression, node))
                else:
                    raise ValidationError(f"metadata column '{c.name}' is not supported by "
                                          f"connector '{self.options.get('connector')}'")
                out_names.append(c.name)
            node = Calc(node, projects, None, out_names)
        wm = self.schema.watermark
        if wm is not None:
            if wm.column not in node.names:
                raise ValidationError(f"Invalid column name '{wm.column}' for rowtime attribute "
                                      f"in watermark declaration. Available columns are: "
                                      f"[{', '.join(node.names)}]")
            i = node.names.index(wm.column)
            t = node.types[i]
            if t.root not in ("TIMESTAMP", "TIMESTAMP_LTZ") or getattr(t, "precision", 3) > 3:
                raise ValidationError(
                    f"Invalid data type of time field for watermark definition. The field must "
                    f"be of type TIMESTAMP(p) or TIMESTAMP_LTZ(p), the supported precision 'p' "
                    f"is from 0 to 3, but the time field type is {t.summary_string()}")
            strategy = resolve(wm.expression, node)
            if not strategy.type.is_timestamp:
                raise ValidationError(f"Watermark strategy {wm.expression} must be of type "
                                      f"TIMESTAMP or TIMESTAMP_LTZ but is {strategy.type.summary_string()}")
            node = WatermarkAssigner(node, i, strategy, list(node.names))
        return node

    def sink(self) -> TableSink:
        phys = [c for c in self.schema.columns if c.is_physical]
        return sink_for(self.options, [c.name for c in phys], [c.data_type for c in phys])

    def sink_columns(self) -> List[Any]:
        return [c for c in self.schema.columns if c.is_physical]


@dataclass
class CatalogView:
    """A view, or a table given in Python (``create_temporary_view``, ``from_elements``):
    a plan already resolved."""

    name: str
    node: RelNode
    query: Optional[str] = None
    temporary: bool = True


@dataclass
class InlineSink:
    """A sink given in Python (``register_table_sink``): names, types and the sink."""

    name: str
    names: List[str]
    types: List[DataType]
    target: TableSink


class Catalog:
    """Tables, views and functions of one TableEnvironment."""

    def __init__(self) -> None:
        self.entries: Dict[str, Any] = {}
        self.functions = FunctionRegistry(BUILTINS)

    def add(self, name: str, entry: Any, replace: bool = False, if_not_exists: bool = False,
            what: str = "Table") -> bool:
        key = strip_path(name)
        if key in self.entries and not replace:
            if if_not_exists:
                return False
            raise ValidationError(f"Could not execute CreateTable in path "
                                  f"`{CATALOG}`.`{DATABASE}`.`{key}`: {what} "
                                  f"`{CATALOG}`.`{DATABASE}`.`{key}` already exists")
        self.entries[key] = entry
        return True

    def get(self, name: str) -> Any:
        key = strip_path(name)
        entry = self.entries.get(key)
        if entry is None:
            raise ValidationError(self.not_found(name))
        return entry

    def find(self, name: str) -> Any:
        try:
            return self.entries.get(strip_path(name))
        except ValidationError:
            return None

    def not_found(self, name: str) -> str:
        names = sorted(n for n in self.entries if not n.startswith("UnnamedTable$"))
        close = difflib.get_close_matches(name, names, n=3)
        return (f"Object '{name}' not found within '{CATALOG}.{DATABASE}'"
                + (f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "")
                + (f" Tables and views: {', '.join(names)}" if names else
                   " (no tables or views are registered)"))

    def drop(self, name: str, if_exists: bool = False, view: Optional[bool] = None) -> bool:
        key = strip_path(name)
        entry = self.entries.get(key)
        if entry is None or (view is True and not isinstance(entry, CatalogView)) or (
                view is False and isinstance(entry, CatalogView) and entry.query is not None):
            if if_exists:
                return False
            kind = "View" if view else "Table"
            raise ValidationError(f"{kind} with identifier '{CATALOG}.{DATABASE}.{key}' does not "
                                  "exist.")
        del self.entries[key]
        return True

    def tables(self) -> List[str]:
        return sorted(n for n in self.entries if not n.startswith("UnnamedTable$"))

    def views(self) -> List[str]:
        return sorted(n for n, e in self.entries.items() if isinstance(e, CatalogView)
                      and not n.startswith("UnnamedTable$"))
