"""The broadcast process operator: input 0 is the (keyed or plain) data stream, input 1
the broadcast stream. Each parallel instance keeps its own copy of the broadcast
states; every instance receives every broadcast element, so the copies agree.

Checkpoints take every instance's copy; a restore gives each instance one (at another
parallelism, instance ``i`` takes the copy of old instance ``i mod old parallelism``, as
Flink does), and keyed state of the data side as any keyed operator."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from .registry import register
from .context import ProcessContext
from .operators import Operator, TwoInputOperator
from .records import Batch

__all__ = ["BroadcastProcessOperator", "BroadcastState", "ReadOnlyBroadcastState"]


class ReadOnlyBroadcastState:
    """A broadcast MapState as the data side sees it: ``get``, ``contains``, ``items`` ..."""

    def __init__(self, name: str, data: Dict[Any, Any]) -> None:
        self._name = name
        self._data = data

    def get(self, key: Any) -> Any:
        return self._data.get(key)

    def contains(self, key: Any) -> bool:
        return key in self._data

    def items(self) -> List[Tuple[Any, Any]]:
        return list(self._data.items())

    def keys(self) -> List[Any]:
        return list(self._data)

    def values(self) -> List[Any]:
        return list(self._data.values())

    def is_empty(self) -> bool:
        return not self._data

    def immutable_entries(self) -> List[Tuple[Any, Any]]:
        return self.items()

    def __contains__(self, key: Any) -> bool:
        return key in self._data

    def __getitem__(self, key: Any) -> Any:
        return self._data.get(key)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def _refuse(self, *args: Any) -> None:
        raise RuntimeError(f"broadcast state '{self._name}' is read-only in process_element; "
                           "change it in process_broadcast_element")

    put = put_all = remove = clear = __setitem__ = __delitem__ = _refuse


class BroadcastState(ReadOnlyBroadcastState):
    """A broadcast MapState as the broadcast side sees it (read and write)."""

    def put(self, key: Any, value: Any) -> None:  # type: ignore[override]
        self._data[key] = value

    def put_all(self, mapping: Dict[Any, Any]) -> None:  # type: ignore[override]
        self._data.update(mapping)

    def remove(self, key: Any) -> None:  # type: ignore[override]
        self._data.pop(key, None)

    def clear(self) -> None:  # type: ignore[override]
        self._data.clear()

    __setitem__ = put  # type: ignore[assignment]
    __delitem__ = remove  # type: ignore[assignment]


class _BroadcastContext(ProcessContext):
    __slots__ = ("_writable",)

    def __init__(self, op: "BroadcastProcessOperator", writable: bool) -> None:
        super().__init__(op)
        self._writable = writable

    def get_broadcast_state(self, descriptor: Any) -> ReadOnlyBroadcastState:
        op: BroadcastProcessOperator = self._op  # type: ignore[assignment]
        data = op.broadcast_states.setdefault(descriptor.name, {})
        cls = BroadcastState if self._writable else ReadOnlyBroadcastState
        return cls(descriptor.name, data)

    def current_processing_time(self) -> int:
        return self._op.task.time_service.now_ms()

    def apply_to_keyed_state(self, descriptor: Any, function: Callable[[Any, Any], None]) -> None:
        """Call ``function(key, state)`` for every key that has state ``descriptor``."""
        backend = self._op.state
        if backend is None:
            raise RuntimeError("apply_to_keyed_state() needs a keyed stream")
        state = backend.get(descriptor)
        saved = backend.current_key
        try:
            for slot in list(state.keys_with_state()):
                backend.current_key = slot
                function(slot, state)
        finally:
            backend.current_key = saved


@register("broadcast_process")
class BroadcastProcessOperator(TwoInputOperator):

    def open(self) -> None:
        owner = self.fn.owner
        self.fns = (owner.process_element, owner.process_broadcast_element)
        self.on_timer = getattr(owner, "on_timer", None)
        self.broadcast_states: Dict[str, Dict[Any, Any]] = {
            d.name: {} for d in self.params.get("descriptors", ())}
        self.ctx = self.read_ctx = _BroadcastContext(self, writable=False)
        self.write_ctx = _BroadcastContext(self, writable=True)
        Operator.open(self)

    def snapshot_state(self, checkpoint_id: int) -> Dict[str, Any]:
        snap = super().snapshot_state(checkpoint_id)
        snap["broadcast_states"] = self.broadcast_states
        return snap

    def restore_state(self, snaps: List[Dict[str, Any]], owns: Optional[Callable[[Any], bool]],
                      same_instance: bool) -> None:
        super().restore_state(snaps, owns, same_instance)
        copy = snaps[0] if same_instance else snaps[self.task.subtask % len(snaps)]
        for name, data in copy["broadcast_states"].items():
            mine = self.broadcast_states.setdefault(name, {})
            mine.clear()
            mine.update(data)

    def process_batch(self, batch: Batch, input_index: int = 0) -> None:
        if input_index == 0:
            self.run_process(self.fns[0], batch)
            return
        self.ctx = self.write_ctx
        try:
            self.run_process(self.fns[1], batch)
        finally:
            self.ctx = self.read_ctx
