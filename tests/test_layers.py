"""The layers import one way only (docs/ARCHITECTURE.md): a lower layer never imports a
higher one, not even lazily inside a function. Read from the source with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import nbstream

PACKAGE = Path(nbstream.__file__).resolve().parent

#: what each part of nbstream may import from nbstream (itself always)
ALLOWED: Dict[str, set] = {
    "errors": set(),
    "plan": {"errors"},
    "runtime": {"errors", "plan"},
    "connectors": {"errors", "plan", "runtime"},
    "api": {"errors", "plan", "runtime", "connectors"},
    "table": {"errors", "plan", "runtime", "connectors", "api"},
}


def part_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def nbstream_imports(path: Path, root: Path) -> Iterator[Tuple[int, str]]:
    """(line, absolute module) of every nbstream import in ``path``, lazy ones included."""
    module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nbstream"):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("nbstream"):
                if target == "nbstream" or (node.level and not node.module):
                    # `from . import x`, `from .. import x`: each name is a module or a name
                    for alias in node.names:
                        yield node.lineno, f"{target}.{alias.name}"
                else:
                    yield node.lineno, target


def wrong_way_imports(root: Path = PACKAGE) -> List[str]:
    wrong = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        here = part_of(module)
        allowed = ALLOWED.get(here)
        if allowed is None:
            continue  # the top layers (notebook, compat, flink, statefun) may import below
        for line, target in nbstream_imports(path, root):
            there = part_of(target)
            if there != here and there not in allowed and target != "nbstream":
                wrong.append(f"{path.relative_to(root.parent)}:{line} ({here}) imports {target}")
    return wrong


def test_lower_layers_never_import_higher_ones():
    assert wrong_way_imports() == []


def test_the_rule_catches_a_wrong_way_import(tmp_path):
    # the check itself can fail: lazy and relative imports upwards are reported
    root = tmp_path / "nbstream"
    (root / "runtime" / "executors").mkdir(parents=True)
    (root / "plan").mkdir()
    (root / "runtime" / "executors" / "probe.py").write_text(
        "from ...errors import PlanError\n"
        "def f():\n    from ...api.environment import StreamExecutionEnvironment\n")
    (root / "plan" / "probe.py").write_text("from .. import runtime\nfrom ..plan import logical\n")
    assert wrong_way_imports(root) == [
        "nbstream/plan/probe.py:1 (plan) imports nbstream.runtime",
        "nbstream/runtime/executors/probe.py:3 (runtime) imports nbstream.api.environment"]
