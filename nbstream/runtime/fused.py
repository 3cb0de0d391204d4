"""Fused runs: consecutive map, filter and flat_map steps of a chain, a key_by chained at
parallelism 1 (see :mod:`nbstream.plan.physical`) and the rolling reduce after it run as
one generated Python loop per batch (in BATCH mode a reduce ends its run: the loop folds
the records and the reduce emits its final values at the end of input). No list per step: each record goes through the whole
run before the next; the key is computed once, the reduce's accumulator looked up once.

The operators stay what they are for everything but batches: watermarks, barriers, timers,
state, checkpoints, ``open``/``close`` and metrics go through them as before. A run's head
takes the batches (its ``process_batch`` is the run's); the run's last step emits.
Errors name the step, the function and the record, as the steps themselves do: the
generated frame's line says which step raised and its locals hold that step's record.
``env.explain(code=True)`` shows the code of every run.

>>> print(source([Step("map", "Map"), Step("filter", "Filter")], has_ts=False,
...              keys_in=False))  # doctest: +NORMALIZE_WHITESPACE
def fused(values, tss, keys):
    out = []
    append = out.append
    for v0 in values:
        # [0] Map
        v1 = f0(v0)
        # [1] Filter
        if not f1(v1):
            continue
        append(v1)
    return out, None, ()
"""

from __future__ import annotations

import itertools
import linecache
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..errors import USER_ERRORS, UserFunctionError
from .adapters import ReduceOperator, _not_iterable
from .keygroups import canonical_key, hashable_key
from .operators import ChainTarget, Operator
from .partitioners import check_hashable
from .records import Batch

__all__ = ["KeyedChainTarget", "FusedRun", "Step", "runs", "source", "fuse", "explain_code"]

_FUSIBLE = ("map", "filter", "flat_map", "reduce")
_KNOWN_LIMIT = 1 << 16  # keys remembered as already canonical (as the hash partitioner)
_MISSING = object()
_names = itertools.count(1)


class KeyedChainTarget(ChainTarget):
    """A key_by chained at parallelism 1: the keys are computed in the task, as the hash
    partitioner computes them for a network edge, and go with the batch to the keyed step."""

    __slots__ = ("partitioner",)

    def __init__(self, op: Operator, partitioner: Any) -> None:
        super().__init__(op)
        self.partitioner = partitioner

    def send(self, batch: Batch) -> None:
        op = self.op
        for _, part in self.partitioner.route(batch):
            op.records_in += len(part.values)
            op.process_batch(part)


# -- which steps fuse (from the plan alone) ---------------------------------------------------

def runs(plan: Any, chain: Any) -> List[List[Tuple[int, Any]]]:
    """The fused runs of ``chain``: lists of (node id, the chained key_by edge into it or
    None), two steps at least, in chain order."""
    found: List[List[Tuple[int, Any]]] = []
    current: List[Tuple[int, Any]] = []
    for nid in chain.nodes:
        if not _fusible(plan, nid):
            current = _closed(found, current)
            continue
        edges = [e for e in plan.in_edges(nid) if plan.is_chained(e)]
        edge = edges[0] if edges else None
        if current and edge is not None and edge.source == current[-1][0] \
                and _one_way_on(plan, current[-1][0]):
            current.append((nid, edge if edge.partitioning.kind == "hash" else None))
        else:
            current = _closed(found, current)
            current = [(nid, None)]
        if _final_only(plan, nid):  # nothing follows it per record
            current = _closed(found, current)
    _closed(found, current)
    return found


def _closed(found: List[Any], current: List[Any]) -> List[Any]:
    if len(current) > 1:
        found.append(current)
    return []


def _fusible(plan: Any, nid: int) -> bool:
    node = plan.nodes[nid]
    if node.kind not in _FUSIBLE or getattr(node.output_type, "converts", False):
        return False
    return True


def _final_only(plan: Any, nid: int) -> bool:
    """A reduce in BATCH mode: it emits one value per key at the end of input, so it
    ends its run (its loop folds the records and emits nothing)."""
    return plan.nodes[nid].kind == "reduce" and plan.config.batch_mode


def _one_way_on(plan: Any, nid: int) -> bool:
    """Whether the step's only output is the main one, chained to the next step."""
    outs = plan.out_edges(nid)
    return len(outs) == 1 and outs[0].tag is None and plan.is_chained(outs[0])


# -- the generated loop -------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """What the code of one step depends on."""

    kind: str                   # map, filter, flat_map, reduce
    name: str                   # the step's name, for the comments
    key: bool = False           # a key_by comes right before it
    fn: str = ""                # its function, for the comments
    key_fn: str = ""            # the key selector, for the comments
    state: bool = False         # it has keyed state whose current key to set
    first: bool = False         # reduce: a check of a key's first record (sum, min, max ...)
    final: bool = False         # reduce in BATCH mode: emits at the end of input, not here


def source(steps: Sequence[Step], has_ts: bool, keys_in: bool,
           lines: Optional[Dict[int, Tuple[int, str, str]]] = None) -> str:
    """The Python source of a run's loop. ``lines`` (if given) gets, per line that calls a
    user function, (step, what, the variable holding the step's record)."""
    code = ["def fused(values, tss, keys):", "    out = []", "    append = out.append"]
    if has_ts:
        code += ["    tout = []", "    tappend = tout.append"]
    counted = [j for j, s in enumerate(steps[:-1]) if s.kind in ("filter", "flat_map")]
    code += [f"    n{j} = 0" for j in counted]
    items = ["v0"] + (["t"] if has_ts else []) + (["k"] if keys_in else [])
    streams = ["values"] + (["tss"] if has_ts else []) + (["keys"] if keys_in else [])
    code.append(f"    for {', '.join(items)} in zip({', '.join(streams)}):" if len(items) > 1
                else "    for v0 in values:")
    pad, cur = " " * 8, "v0"

    def add(text: str, step: int = -1, what: str = "", record: str = "") -> None:
        code.append(pad + text)
        if lines is not None and step >= 0:
            lines[len(code)] = (step, what, record)

    keyed = keys_in
    for j, s in enumerate(steps):
        if s.key:
            add(f"# key_by{': ' + s.key_fn if s.key_fn else ''}")
        add(f"# [{j}] {s.name}{': ' + s.fn if s.fn else ''}")
        if s.key and s.kind == "reduce":  # the accumulator's lookup tells a key not seen
            add(f"k = key{j}({cur})", j, "key", cur)
            add("try:")
            add(f"    a = get{j}(k, MISSING)")
            add("except TypeError:")
            add("    a = MISSING")
            add("if a is MISSING:")
            add(f"    k = newkey{j}(k, {cur})", j, "key", cur)
            add(f"    a = get{j}(k, MISSING)")
            keyed = True
        elif s.key:
            add(f"k = key{j}({cur})", j, "key", cur)
            add("try:")
            add(f"    fresh = k not in known{j}")
            add("except TypeError:")
            add("    fresh = True")
            add("if fresh:")
            add(f"    k = newkey{j}(k, {cur})", j, "key", cur)
            keyed = True
        if keyed and s.state:
            add(f"state{j}.current_key = k")
        nxt = f"v{j + 1}"
        if s.kind == "map":
            add(f"{nxt} = f{j}({cur})", j, "call", cur)
            cur = nxt
        elif s.kind == "filter":
            add(f"if not f{j}({cur}):", j, "call", cur)
            add("    continue")
            if j in counted:
                add(f"n{j} += 1")
        elif s.kind == "flat_map":
            add(f"r{j} = f{j}({cur})", j, "call", cur)
            add(f"for {nxt} in r{j}:", j, "iterate", cur)
            pad += "    "
            cur = nxt
            if j in counted:
                add(f"n{j} += 1")
        else:  # reduce: one accumulator per key
            if not s.key:
                add(f"a = get{j}(k, MISSING)")
            add("if a is not MISSING:")
            add(f"    {nxt} = f{j}(a, {cur})", j, "call", cur)
            add("else:")
            if s.first:
                add(f"    first{j}({cur})", j, "call", cur)
            add(f"    {nxt} = {cur}")
            add(f"acc{j}[k] = {nxt}", j, "call", cur)
            cur = nxt
        keyed = False
    if not steps[-1].final:
        add(f"append({cur})")
        if has_ts:
            add("tappend(t)")
    counts = ", ".join(f"n{j}" for j in counted)
    code.append(f"    return out, {'tout' if has_ts else 'None'}, ({counts}{',' if counted else ''})")
    return "\n".join(code)


class FusedRun:
    """Steps of a chain run as one loop (see the module text); made by :func:`fuse`."""

    def __init__(self, ops: List[Operator], keys: List[Any]) -> None:
        self.ops, self.keys = ops, keys  # keys[j]: the key_by partitioner before step j
        self.head = ops[0]
        # a reduce in BATCH mode last: it folds here and emits at the end of input
        self.final = isinstance(ops[-1], ReduceOperator) and ops[-1].task.config.batch_mode
        # per step but the last: counted (filter, flat_map) or as many out as in
        self._counted = [_kind(op) in ("filter", "flat_map") for op in ops[:-1]]
        self._loops: Dict[Tuple[bool, bool], Any] = {}
        self.head.process_batch = self.process_batch  # type: ignore[method-assign]

    def steps(self) -> List[Step]:
        return [Step(_kind(op), op.name, key=self.keys[j] is not None, fn=op.fn_name,
                     key_fn=self.keys[j].fn_name if self.keys[j] is not None else "",
                     state=op.state is not None and (
                         not isinstance(op, ReduceOperator) or op.track_key),
                     first=isinstance(op, ReduceOperator)
                     and getattr(op.reduce, "check_first", None) is not None,
                     final=self.final and op is self.ops[-1])
                for j, op in enumerate(self.ops)]

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        ops = self.ops
        for op in ops[1:]:  # a step wrapped meanwhile (a restore's key check) runs alone
            if "process_batch" in op.__dict__:
                type(self.head).process_batch(self.head, batch, input_index)
                return
        values, tss, keys = batch.values, batch.timestamps, batch.keys
        loop = self._loops.get((tss is not None, keys is not None))
        if loop is None or loop[2] != [getattr(op, "acc", None) for op in ops]:
            loop = self._compile(tss is not None, keys is not None)
        fn, lines, _ = loop
        try:
            out, tout, counts = fn(values, tss, keys)
        except USER_ERRORS as exc:
            raise self._error(exc, fn, lines) from exc
        self._count(len(values), counts)
        if out or not self.final:
            ops[-1].output.emit(Batch(out, tout))

    def _count(self, n: int, counts: Tuple[int, ...]) -> None:
        """Each step's records in and out, as its own loop would have counted them (the
        last step's out are counted by its emit)."""
        counted, ops = iter(counts), self.ops
        for j, filters in enumerate(self._counted):
            if filters:
                n = next(counted)
            ops[j].output.count += n
            ops[j + 1].records_in += n

    def _compile(self, has_ts: bool, keys_in: bool) -> Tuple[Any, Dict[int, Any], List[Any]]:
        lines: Dict[int, Tuple[int, str, str]] = {}
        text = source(self.steps(), has_ts, keys_in, lines)
        namespace: Dict[str, Any] = {"MISSING": _MISSING}
        for j, op in enumerate(self.ops):
            if isinstance(op, ReduceOperator):
                namespace.update({f"f{j}": op.reduce, f"get{j}": op.acc.get, f"acc{j}": op.acc,
                                  f"first{j}": getattr(op.reduce, "check_first", None)})
            else:
                namespace[f"f{j}"] = op.process_element
            if op.state is not None:
                namespace[f"state{j}"] = op.state
            key = self.keys[j]
            if key is not None:
                namespace.update({f"key{j}": key.key_fn, f"known{j}": key.known,
                                  f"newkey{j}": _new_key(key)})
        filename = f"<nbstream fused run {next(_names)}: {' -> '.join(op.name for op in self.ops)}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own code
        loop = (namespace["fused"], lines, [getattr(op, "acc", None) for op in self.ops])
        self._loops[(has_ts, keys_in)] = loop
        return loop

    def _error(self, exc: BaseException, fn: Any, lines: Dict[int, Any]) -> BaseException:
        """The error a step would have raised: its step, function and record."""
        if isinstance(exc, UserFunctionError):
            return exc
        tb, frame_tb = exc.__traceback__, None
        while tb is not None:
            if tb.tb_frame.f_code is fn.__code__:
                frame_tb = tb
            tb = tb.tb_next
        where = lines.get(frame_tb.tb_lineno) if frame_tb is not None else None
        if where is None:
            return exc
        j, what, var = where
        frame_locals = frame_tb.tb_frame.f_locals
        record = frame_locals.get(var)
        op = self.ops[j]
        if what == "key":
            key = self.keys[j]
            return UserFunctionError(key.step, key.fn_name, record, exc, phase="key selector")
        if what == "iterate" and isinstance(exc, TypeError):
            wrong = _not_iterable(op, frame_locals.get(f"r{j}"))
            return op.error(wrong if wrong is not None else exc, record)
        if isinstance(op, ReduceOperator):
            return op.failure(exc, frame_locals.get("k"), record)
        return op.error(exc, record)


def _kind(op: Operator) -> str:
    from .adapters import FilterOperator, FlatMapOperator, MapOperator

    return {MapOperator: "map", FilterOperator: "filter", FlatMapOperator: "flat_map",
            ReduceOperator: "reduce"}[type(op)]


def _new_key(partitioner: Any) -> Callable[[Any, Any], Any]:
    """A key not seen lately, made what the hash partitioner makes of it: hashable by its
    content (a list, a dict), one key for every NaN; then remembered."""
    known = partitioner.known

    def new_key(key: Any, record: Any) -> Any:
        try:
            hash(key)
        except TypeError:
            try:
                key = hashable_key(key)
            except TypeError:
                check_hashable(key, partitioner.step, partitioner.fn_name, record)
                raise
        key = canonical_key(key)
        if len(known) > _KNOWN_LIMIT:
            known.clear()
        known.add(key)
        return key

    return new_key


def fuse(plan: Any, chain: Any, ops: Dict[int, Operator]) -> List[FusedRun]:
    """Make the fused runs of a task's chain (its operators wired already)."""
    made = []
    for run in runs(plan, chain):
        steps = [ops[nid] for nid, _ in run]
        keys = [None] + [_key_target(ops[prev]) if edge is not None else None
                         for (prev, _), (_, edge) in zip(run, run[1:])]
        made.append(FusedRun(steps, keys))
    return made


def _described(fn: Any) -> str:
    from ..errors import describe_function

    return describe_function(fn.owner or fn.call) if fn is not None else ""


def _key_target(op: Operator) -> Any:
    (target,) = op.output.main
    return target.partitioner


def explain_code(plan: Any) -> str:
    """The code of every fused run of ``plan`` (for ``env.explain(code=True)``)."""
    out = []
    for chain in plan.chains:
        hashed_in = any(e.partitioning.kind == "hash" for e in plan.network_in_edges(chain.id))
        for run in runs(plan, chain):
            steps = []
            for nid, edge in run:
                node = plan.nodes[nid]
                call = node.fn.call if node.fn is not None else None
                keyed = edge is not None or nid == chain.head and hashed_in
                steps.append(Step(node.kind, node.name, key=edge is not None,
                                  fn=_described(node.fn), key_fn=_described(
                                      edge.partitioning.key_selector if edge is not None else None),
                                  state=keyed and (node.kind != "reduce"
                                                   or node.fn.owner is not None),
                                  first=getattr(call, "check_first", None) is not None,
                                  final=_final_only(plan, nid)))
            names = ", ".join(f"[{j}] {plan.nodes[nid].name}" for j, (nid, _) in enumerate(run))
            keys_in = hashed_in and run[0][0] == chain.head  # the batches come with their keys
            out.append(f"# chain {chain.id}: {names}\n" + source(steps, False, keys_in))
    return "\n\n".join(out) if out else "# no fused runs"
