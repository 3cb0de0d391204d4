"""From the logical graph to a physical plan: edges, parallelism, chains.

Virtual nodes (partition, union, side output) dissolve into :class:`Edge` objects
between real nodes. Operators joined by a forward edge of equal parallelism are
fused into one :class:`Chain` (one task per parallel instance, no queue between
them), as Flink chains operators; so is a key_by from parallelism 1 to parallelism 1
(there is no other instance a key could go to): nothing crosses a thread at p=1. Every
other edge becomes a network edge between tasks, with a partitioning that decides
which downstream instance gets a record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..errors import PlanError
from .config import DEFAULT_MAX_PARALLELISM, UPPER_BOUND_MAX_PARALLELISM, JobConfig
from .logical import STATELESS_KINDS, TWO_INPUT_KINDS, Node, Partitioning

__all__ = ["Edge", "Chain", "PhysicalPlan", "plan_job"]

FORWARD = Partitioning("forward")
REBALANCE = Partitioning("rebalance")


@dataclass(frozen=True, eq=False)
class Edge:
    """Records flowing from ``source`` (main output, or side output ``tag``) to input
    ``input_index`` (0 or 1) of ``target``. A ``feedback`` edge closes an iteration:
    it goes back to a node created earlier."""

    index: int
    source: int
    target: int
    partitioning: Partitioning
    tag: object = None
    input_index: int = 0
    feedback: bool = False  # the edge closing an iteration (it never blocks its sender)


@dataclass(frozen=True)
class Chain:
    """Operators fused into one task per parallel instance; ``nodes[0]`` is the head."""

    id: int
    nodes: Tuple[int, ...]
    parallelism: int
    max_parallelism: int

    @property
    def head(self) -> int:
        return self.nodes[0]


@dataclass(frozen=True, eq=False)
class PhysicalPlan:
    """Everything an executor needs to run a job."""

    job_name: str
    nodes: Mapping[int, Node]
    parallelism: Mapping[int, int]
    max_parallelism: Mapping[int, int]
    edges: Tuple[Edge, ...]
    chains: Tuple[Chain, ...]
    chain_of: Mapping[int, int]
    config: JobConfig = field(default_factory=JobConfig)
    modes: Mapping[int, str] = field(default_factory=dict)  # chain id -> execution mode
    mode_reasons: Mapping[int, str] = field(default_factory=dict)  # chain id -> why
    # derived lookups, built on first use (a copy made with dataclasses.replace starts empty)
    _cache: Dict[object, object] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_cache", {})

    def _edges_by(self, end: str) -> Dict[int, List[Edge]]:
        by = self._cache.get(end)
        if by is None:
            by = {}
            for e in self.edges:
                by.setdefault(getattr(e, end), []).append(e)
            self._cache[end] = by
        return by  # type: ignore[return-value]

    # -- structure ------------------------------------------------------------------
    def chain(self, chain_id: int) -> Chain:
        return self.chains[chain_id]

    def chain_mode(self, chain_id: int) -> str:
        """Where the tasks of a chain run: ``thread``, ``process``, ``auto``, ..."""
        return self.modes.get(chain_id, "thread")

    def is_chained(self, edge: Edge) -> bool:
        return not edge.feedback and self.chain_of[edge.source] == self.chain_of[edge.target]

    def out_edges(self, node_id: int) -> List[Edge]:
        return list(self._edges_by("source").get(node_id, ()))

    def in_edges(self, node_id: int) -> List[Edge]:
        return list(self._edges_by("target").get(node_id, ()))

    def network_in_edges(self, chain_id: int) -> List[Edge]:
        by_chain = self._cache.get("network_in")
        if by_chain is None:
            by_chain = self._cache["network_in"] = {}
            for e in self.edges:
                if not self.is_chained(e):
                    by_chain.setdefault(self.chain_of[e.target], []).append(e)
        return list(by_chain.get(chain_id, ()))  # type: ignore[union-attr]

    # -- channels ---------------------------------------------------------------------
    def receivers(self, edge: Edge, sender: int) -> List[int]:
        """Downstream subtasks that subtask ``sender`` of ``edge.source`` writes to."""
        up, down = self.parallelism[edge.source], self.parallelism[edge.target]
        kind = edge.partitioning.kind
        if kind == "forward":
            return [sender]
        if kind == "global":
            return [0]
        if kind == "rescale":
            if up >= down:
                return [sender * down // up]
            return [j for j in range(down) if j * up // down == sender]
        return list(range(down))

    def senders(self, edge: Edge, receiver: int) -> List[int]:
        """Upstream subtasks of ``edge.source`` that write to subtask ``receiver`` (the
        inverse of :meth:`receivers`, in the time it takes to list them)."""
        up, down = self.parallelism[edge.source], self.parallelism[edge.target]
        kind = edge.partitioning.kind
        if kind == "forward":
            return [receiver]
        if kind == "global":
            return list(range(up)) if receiver == 0 else []
        if kind == "rescale":
            if up >= down:  # sender i writes to i * down // up
                return [i for i in range(-(-receiver * up // down), -(-(receiver + 1) * up // down))]
            return [receiver * up // down]
        return list(range(up))

    def input_channels(self, chain_id: int, subtask: int) -> List[Tuple[Edge, int]]:
        """The input channels of one task, in a fixed order: ``(edge, sender subtask)``.

        The position in this list is the channel number both ends agree on.
        """
        key = ("inputs", chain_id, subtask)
        channels = self._cache.get(key)
        if channels is None:
            channels = self._cache[key] = [(e, s) for e in self.network_in_edges(chain_id)
                                           for s in self.senders(e, subtask)]
        return list(channels)  # type: ignore[arg-type]

    def channel_index(self, edge: Edge, sender: int, receiver: int) -> int:
        chain_id = self.chain_of[edge.target]
        key = ("index", chain_id, receiver)
        index = self._cache.get(key)
        if index is None:
            index = self._cache[key] = {(e.index, s): i for i, (e, s) in
                                        enumerate(self.input_channels(chain_id, receiver))}
        try:
            return index[(edge.index, sender)]  # type: ignore[index]
        except KeyError:
            raise KeyError((edge.index, sender, receiver)) from None

    def combines(self, edge: Edge) -> bool:
        """Whether ``edge`` is combined before its shuffle (across tasks; see
        :mod:`nbstream.runtime.combine`): a key_by into a keyed reduce (sum, min, max,
        min_by, max_by, reduce) in BATCH mode, whose sending tasks fold each key's records
        with the reduce function, or into an event-time window of built-in aggregates the
        API marked ``combine_panes``, whose sending tasks add each key's and pane's records
        into one accumulator. A rolling reduce in STREAMING mode is never combined (every
        rolling value is output), nor a ReduceFunction with its own ``open``/``close`` (it
        may use keyed state or resources only the reduce step's instance has)."""
        target = self.nodes[edge.target]
        if not (self.config.combine_before_shuffle and edge.partitioning.kind == "hash"
                and not self.is_chained(edge) and not edge.feedback
                and self.chain_mode(self.chain_of[edge.target]) != "flink"):
            return False
        if target.kind == "reduce":
            return self.config.batch_mode and _plain_function(target.fn)
        return target.kind == "window" and target.params.get("combine_panes") is not None

    # -- views --------------------------------------------------------------------------
    def to_json(self) -> str:
        """The plan in the JSON form of Flink's ``getExecutionPlan`` (plus chain ids)."""
        out = []
        for nid, node in self.nodes.items():
            if node.is_virtual:
                continue
            pact = "Data Source" if node.is_source else "Data Sink" if node.is_sink else "Operator"
            entry: Dict[str, object] = {
                "id": nid, "type": node.name, "pact": pact, "contents": node.name,
                "parallelism": self.parallelism[nid], "chain": self.chain_of[nid]}
            preds = [{"id": e.source, "ship_strategy": e.partitioning.ship_strategy,
                      "side": "second" if e.input_index else "first"}
                     for e in self.in_edges(nid)]
            if preds:
                entry["predecessors"] = preds
            out.append(entry)
        return json.dumps({"nodes": out}, indent=2, default=str)

    def explain(self) -> str:
        """A readable summary: one block per chain, with its operators and inputs."""
        tasks = sum(c.parallelism for c in self.chains)
        lines = [f"Job '{self.job_name}': {len(self.chains)} chains, {tasks} tasks"]
        show_modes = any(self.chain_mode(c.id) != "thread" or "auto:" in self.mode_reasons.get(c.id, "")
                         for c in self.chains)
        for c in self.chains:
            inputs = ", ".join(
                f"{e.partitioning.ship_strategy} from chain {self.chain_of[e.source]}"
                + (f" (side output {getattr(e.tag, 'tag_id', e.tag)})" if e.tag is not None else "")
                for e in self.network_in_edges(c.id))
            mode = (f"  {self.chain_mode(c.id)} ({self.mode_reasons.get(c.id, '')})"
                    if show_modes else "")
            lines.append(f"chain {c.id}  parallelism {c.parallelism}{mode}"
                         + (f"  <- {inputs}" if inputs else ""))
            for nid in c.nodes:
                node = self.nodes[nid]
                extra = f"  mode={node.execution_mode}" if node.execution_mode else ""
                live = getattr(node.params.get("source"), "live", "") if node.is_source else ""
                if live:  # a live feed: say how to make it replayable, checkpoints or not
                    extra += f"  (live: {live})"
                if any(e.partitioning.kind in ("hash", "columns") and self.is_chained(e)
                       for e in self.in_edges(nid)):
                    extra += "  (keyed in the chain: one instance, no thread between)"
                if any(self.combines(e) for e in self.in_edges(nid)):
                    extra += ("  (combine before shuffle: partial aggregates per key and "
                              "pane in the sending tasks)" if node.kind == "window" else
                              "  (combine before shuffle: partial values per key in the "
                              "sending tasks; the reduce function must be associative)")
                if self.config.checkpoints is not None and node.is_source:
                    replay = getattr(node.params.get("source"), "after_restore", "")
                    extra += f"  (after a restore: {replay})" if replay else ""
                lines.append(f"  [{nid}] {node.name}{extra}")
        return "\n".join(lines)


def _plain_function(fn: object) -> bool:
    """A function the sending tasks may call too: a plain callable, or a function object
    whose own classes define no ``open``/``close`` (nbstream's and the compat layer's
    Function bases do, as no-ops)."""
    owner = getattr(fn, "owner", None)
    if fn is None:
        return False
    if owner is None:
        return True
    return not any(("open" in vars(c) or "close" in vars(c))
                   for c in type(owner).__mro__ if not c.__module__.startswith("nbstream."))


# -- planning ----------------------------------------------------------------------------

def plan_job(nodes: Mapping[int, Node], job_name: str, default_parallelism: int,
             chaining: bool = True, config: Optional[JobConfig] = None,
             default_max_parallelism: Optional[int] = None,
             execution_mode: str = "thread",
             known_modes: Optional[Mapping[int, Tuple[str, str]]] = None) -> PhysicalPlan:
    """Plan the real nodes among ``nodes`` (which must include all their ancestors);
    ``execution_mode`` is the job's mode, which steps may override; ``known_modes``
    places steps the automatic mode would measure (``{node id: (mode, why)}``).

    ``default_max_parallelism`` None means "automatic": at least 128 and at least
    the step's parallelism, as Flink chooses when none was set.
    """
    real = {nid: n for nid, n in nodes.items() if not n.is_virtual}
    if not real:
        raise PlanError("No operators defined in streaming topology. Cannot execute.")
    _check_uids(real)
    parallelism = {nid: _parallelism(n, default_parallelism) for nid, n in real.items()}
    max_par = {nid: _max_parallelism(n, parallelism[nid], default_max_parallelism)
               for nid, n in real.items()}
    edges = tuple(_edges(nodes, real, parallelism))
    keyed = {e.target for e in edges if e.partitioning.kind == "hash"}
    node_modes: Dict[int, Tuple[str, str]] = {}
    for nid in sorted(real):  # inputs first
        ins = [e for e in edges if e.target == nid]
        if (real[nid].kind == "timestamps_watermarks" and not real[nid].execution_mode
                and len(ins) == 1 and ins[0].partitioning.kind == "forward"):
            # part of its source (Flink chains them): its periodic watermarks then see the
            # records the source emitted before each tick of the clock
            node_modes[nid] = (node_modes[ins[0].source][0], "runs where its input runs")
        else:
            node_modes[nid] = _node_mode(real[nid], nid in keyed, execution_mode)
            if node_modes[nid][0] == "auto" and known_modes and nid in known_modes:
                node_modes[nid] = known_modes[nid]
    chains, chain_of = _chain(real, edges, parallelism, max_par, chaining, node_modes)
    return PhysicalPlan(job_name, dict(nodes), parallelism, max_par, edges, chains, chain_of,
                        config or JobConfig(),
                        {c.id: node_modes[c.head][0] for c in chains},
                        {c.id: _chain_reason(c, real, node_modes) for c in chains})


def _chain_reason(chain: Chain, real: Mapping[int, Node],
                  node_modes: Mapping[int, Tuple[str, str]]) -> str:
    """Why a chain runs where it does: its head's reason, then, in the automatic mode, each
    other step's own where it differs (steps it placed up front chain with others)."""
    head = node_modes[chain.head][1]
    others = [f"'{real[n].name}': {node_modes[n][1]}" for n in chain.nodes
              if n != chain.head and node_modes[n][1].startswith("auto: ")
              and node_modes[n][1] != head]
    return "; ".join([head, *others])


def _check_uids(real: Mapping[int, Node]) -> None:
    """A uid names a step's state in checkpoints and savepoints: two steps with one uid
    would share (and so lose) it. Refused, as Flink refuses a uid's hash collision."""
    seen: Dict[str, Node] = {}
    for nid in sorted(real):
        node = real[nid]
        if node.uid is None:
            continue
        first = seen.setdefault(str(node.uid), node)
        if first is not node:
            raise PlanError(f"uid '{node.uid}' is given to two steps: '{first.name}' and "
                            f"'{node.name}'; a uid names a step's state in checkpoints and "
                            "savepoints, so each step needs its own")


def _node_mode(node: Node, keyed: bool, default: str) -> Tuple[str, str]:
    """The execution mode of one step, and why."""
    pinned = node.execution_mode
    if default == "flink":  # the whole job runs on Flink; results come back to the kernel
        if pinned not in (None, "flink"):
            raise PlanError(f"'{node.name}' is set to run in mode {pinned!r}, but a job in "
                            "flink mode runs every step on Flink")
        return "flink", "the job runs on Apache Flink"
    if getattr(node.params.get("sink"), "driver_only", False):
        if pinned not in (None, "thread"):
            raise PlanError(f"'{node.name}' hands its records to objects in this kernel, so it "
                            f"runs on a thread here; it cannot run in mode {pinned!r}")
        return "thread", "its records go to objects in the kernel"
    if pinned:
        mode, why = pinned, "set on the step"
    elif default == "process" and getattr(node.params.get("source"), "user_code", False):
        # a generator or SourceFunction often reaches objects of the kernel
        return "thread", "process mode: a source running your code stays in the kernel"
    elif default == "process" and getattr(node.params.get("source"), "in_memory", False):
        # shipping a large table to a worker would copy it whole before the first batch
        return "thread", "process mode: a table in the kernel's memory is read there"
    else:
        mode, why = default, "the job's mode"
    if mode != "auto":
        return mode, why
    if node.is_source or node.is_sink:
        return "thread", "auto: sources and sinks run in the kernel"
    if keyed:
        return "thread", "auto: keyed state and timers stay on threads"
    if node.kind not in STATELESS_KINDS:
        return "thread", f"auto: {node.kind} steps stay on threads"
    return "auto", "measured on its first records, then on threads or in worker processes"


def _parallelism(node: Node, default: int) -> int:
    if node.params.get("non_parallel"):
        if node.parallelism not in (None, 1):
            raise PlanError(f"'{node.name}' is a non-parallel source: its parallelism must be 1, "
                            f"not {node.parallelism}")
        return 1
    p = node.parallelism or default
    if p < 1:
        raise PlanError(f"'{node.name}': parallelism must be at least 1, not {p}")
    return p


def _max_parallelism(node: Node, parallelism: int, default: Optional[int]) -> int:
    m = node.max_parallelism or default or \
        min(max(DEFAULT_MAX_PARALLELISM, parallelism), UPPER_BOUND_MAX_PARALLELISM)
    if m < parallelism:
        raise PlanError(f"'{node.name}': max parallelism {m} is below its parallelism {parallelism}")
    return m


def _walk(nodes: Mapping[int, Node], nid: int, part: Optional[Partitioning],
          tag: object) -> Iterator[Tuple[int, Optional[Partitioning], object]]:
    """Follow virtual nodes upstream to real ones; the partitioning nearest the consumer wins."""
    node = nodes[nid]
    if node.kind == "partition":
        yield from _walk(nodes, node.inputs[0], part or node.params["partitioning"], tag)
    elif node.kind == "union":
        for inp in node.inputs:
            yield from _walk(nodes, inp, part, tag)
    elif node.kind == "side_output":
        yield from _walk(nodes, node.inputs[0], part, node.params["tag"])
    else:
        yield nid, part, tag


def _edges(nodes: Mapping[int, Node], real: Mapping[int, Node],
           parallelism: Mapping[int, int]) -> Iterator[Edge]:
    index = 0
    for nid, node in real.items():
        for input_index, inp in enumerate(node.inputs):
            for src, part, tag in _walk(nodes, inp, None, None):
                same = parallelism[src] == parallelism[nid]
                if part is None:
                    part = FORWARD if same else REBALANCE
                elif part.kind == "forward" and not same:
                    raise PlanError(
                        f"forward partitioning between '{nodes[src].name}' (parallelism "
                        f"{parallelism[src]}) and '{node.name}' (parallelism {parallelism[nid]}) "
                        "needs equal parallelism; use rebalance() or rescale()")
                ii = input_index if node.kind in TWO_INPUT_KINDS else 0
                feedback = node.kind == "iterate" and ii == 1
                if feedback and (part.kind != "forward" or not same):
                    raise PlanError(
                        f"the feedback of '{node.name}' must keep the loop's parallelism "
                        f"({parallelism[nid]}) and partitioning: '{nodes[src].name}' has "
                        f"parallelism {parallelism[src]} and {part.ship_strategy} partitioning")
                yield Edge(index, src, nid, part, tag, ii, feedback)
                index += 1


def _chainable(edge: Edge, up: Node, down: Node, in_degree: int,
               parallelism: Mapping[int, int], max_par: Mapping[int, int],
               modes: Mapping[int, Tuple[str, str]]) -> bool:
    return (in_degree == 1
            and (edge.partitioning.kind == "forward" or _single_keyed(edge, parallelism, max_par))
            and parallelism[up.id] == parallelism[down.id]
            and down.chaining == "default"
            and up.chaining != "never"
            and down.kind not in TWO_INPUT_KINDS
            and modes[up.id][0] == modes[down.id][0])


def _single_keyed(edge: Edge, parallelism: Mapping[int, int], max_par: Mapping[int, int]) -> bool:
    """A key_by from one instance to one instance (of the same key groups): every key goes
    to the only receiver, so the keyed step is chained, its keys computed in the task."""
    return (edge.partitioning.kind in ("hash", "columns")
            and parallelism[edge.source] == parallelism[edge.target] == 1
            and max_par[edge.source] == max_par[edge.target])


def _chain(real: Mapping[int, Node], edges: Sequence[Edge], parallelism: Mapping[int, int],
           max_par: Mapping[int, int], enabled: bool,
           modes: Mapping[int, Tuple[str, str]]) -> Tuple[Tuple[Chain, ...], Dict[int, int]]:
    in_edges: Dict[int, List[Edge]] = {nid: [] for nid in real}
    for e in edges:
        in_edges[e.target].append(e)
    members: List[List[int]] = []
    chain_of: Dict[int, int] = {}
    for nid in sorted(real):  # ids grow with creation, so inputs come first
        ins = in_edges[nid]
        if enabled and ins and _chainable(ins[0], real[ins[0].source], real[nid], len(ins),
                                          parallelism, max_par, modes):
            cid = chain_of[ins[0].source]
            members[cid].append(nid)
        else:
            cid = len(members)
            members.append([nid])
        chain_of[nid] = cid
    chains = tuple(Chain(i, tuple(m), parallelism[m[0]], max_par[m[0]])
                   for i, m in enumerate(members))
    return chains, chain_of
