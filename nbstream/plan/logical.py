"""The logical graph: what the user asked for, as frozen data.

Each API call adds a :class:`Node`. Real nodes become operators; three kinds are
virtual and only shape the edges between real nodes: ``partition`` (how records
are routed), ``union`` (several inputs as one) and ``side_output`` (a tagged output).
Nodes are immutable: renaming or re-parallelising a stream replaces its node.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

__all__ = ["UserFn", "Partitioning", "Node", "StreamGraph", "VIRTUAL_KINDS", "TWO_INPUT_KINDS",
           "STATELESS_KINDS"]

VIRTUAL_KINDS = frozenset({"partition", "union", "side_output"})
TWO_INPUT_KINDS = frozenset({"co_map", "co_flat_map", "co_process", "broadcast_process",
                             "interval_join", "iterate"})
# Operators that keep nothing between records when they are not keyed: a batch may be
# processed by any copy of them (the automatic execution mode relies on this).
STATELESS_KINDS = frozenset({"map", "flat_map", "filter", "process", "co_map", "co_flat_map",
                             "co_process"})


@dataclass(frozen=True, eq=False)
class UserFn:
    """A user function made uniform: the callables to invoke and the object that owns them.

    ``calls`` holds what runs per record (``(f,)`` for a lambda, ``(obj.map,)`` for a
    MapFunction, ``(obj.map1, obj.map2)`` for a CoMapFunction). ``owner`` is the
    Function instance whose ``open``/``close`` bracket the work, or None.
    """

    calls: Tuple[Callable[..., Any], ...]
    owner: Any = None
    name: str = "<function>"

    @property
    def call(self) -> Callable[..., Any]:
        return self.calls[0]

    def open(self, runtime_context: Any) -> None:
        if self.owner is not None and hasattr(self.owner, "open"):
            self.owner.open(runtime_context)

    def close(self) -> None:
        if self.owner is not None and hasattr(self.owner, "close"):
            self.owner.close()


@dataclass(frozen=True, eq=False)
class Partitioning:
    """How records move along an edge.

    kind: ``forward``, ``rebalance``, ``rescale``, ``shuffle``, ``broadcast``, ``global``,
    ``hash`` (by ``key_selector`` into key groups), ``custom`` (``partitioner(key, n)``)
    or ``columns`` (columnar batches split by a hash of the key ``columns``).
    ``key_type``: the keys' declared type, if any (``key_by(f, key_type)``).
    """

    kind: str
    key_selector: Optional[UserFn] = None
    partitioner: Optional[UserFn] = None
    key_type: Any = None
    columns: Tuple[str, ...] = ()

    @property
    def ship_strategy(self) -> str:
        """Flink's name for this strategy, as shown in execution plans."""
        names = {"hash": "HASH", "custom": "CUSTOM", "columns": "HASH"}
        return names.get(self.kind, self.kind.upper())


@dataclass(frozen=True, eq=False)
class Node:
    """One step of the pipeline."""

    id: int
    kind: str
    name: str
    inputs: Tuple[int, ...] = ()
    fn: Optional[UserFn] = None
    params: Mapping[str, Any] = field(default_factory=dict)
    parallelism: Optional[int] = None
    max_parallelism: Optional[int] = None
    uid: Optional[str] = None
    chaining: str = "default"  # "default" | "head" (start_new_chain) | "never"
    execution_mode: Optional[str] = None
    output_type: Any = None

    @property
    def is_virtual(self) -> bool:
        return self.kind in VIRTUAL_KINDS

    @property
    def is_source(self) -> bool:
        return self.kind == "source"

    @property
    def is_sink(self) -> bool:
        return self.kind == "sink"

    def replace(self, **changes: Any) -> "Node":
        return dataclasses.replace(self, **changes)


class StreamGraph:
    """The nodes an environment has collected, and the sinks that make up its next job."""

    def __init__(self) -> None:
        self.nodes: Dict[int, Node] = {}
        self.sinks: List[int] = []
        self._ids = itertools.count(1)

    def add(self, kind: str, name: str, inputs: Tuple[int, ...] = (), **fields: Any) -> Node:
        node = Node(id=next(self._ids), kind=kind, name=name, inputs=inputs, **fields)
        self.nodes[node.id] = node
        if node.is_sink:
            self.sinks.append(node.id)
        return node

    def update(self, node_id: int, **changes: Any) -> Node:
        node = self.nodes[node_id].replace(**changes)
        self.nodes[node_id] = node
        return node

    def ancestors(self, roots: List[int]) -> Dict[int, Node]:
        """The nodes that ``roots`` depend on (roots included), in id order."""
        seen: Dict[int, Node] = {}
        stack = list(roots)
        while stack:
            nid = stack.pop()
            if nid in seen:
                continue
            seen[nid] = self.nodes[nid]
            stack.extend(self.nodes[nid].inputs)
        return dict(sorted(seen.items()))
