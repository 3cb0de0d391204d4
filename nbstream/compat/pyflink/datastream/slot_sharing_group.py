"""``pyflink.datastream.slot_sharing_group`` on nbstream: the resources a group of steps asks
a Flink cluster for (``ds.slot_sharing_group(group)``, ``env.register_slot_sharing_group``).
nbstream runs on one machine and keeps them in the plan; they do not change how a job runs.

>>> group = (SlotSharingGroup.builder("heavy").set_cpu_cores(1.0)
...          .set_task_heap_memory_mb(100).build())
>>> group.get_task_heap_memory(), group.get_managed_memory()
(MemorySize(104857600), MemorySize(0))
>>> str(MemorySize.of_mebi_bytes(100))
'100 mb'
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional

__all__ = ["MemorySize", "SlotSharingGroup"]

_UNITS = [(1 << 40, "tb"), (1 << 30, "gb"), (1 << 20, "mb"), (1 << 10, "kb")]


@functools.total_ordering
class MemorySize:
    """An amount of memory in bytes, as Flink's ``MemorySize``."""

    def __init__(self, j_memory_size: Any = None, bytes_size: Optional[int] = None) -> None:
        if j_memory_size is not None:  # PyFlink's Java object: nbstream has none, but a size
            bytes_size = int(getattr(j_memory_size, "get_bytes", lambda: j_memory_size)())
        if bytes_size is None or int(bytes_size) < 0:
            raise ValueError(f"bytes must be >= 0, not {bytes_size!r}")
        self._bytes = int(bytes_size)

    @staticmethod
    def of_mebi_bytes(mebi_bytes: int) -> "MemorySize":
        return MemorySize(bytes_size=int(mebi_bytes) << 20)

    def get_bytes(self) -> int:
        return self._bytes

    def get_kibi_bytes(self) -> int:
        return self._bytes >> 10

    def get_mebi_bytes(self) -> int:
        return self._bytes >> 20

    def get_gibi_bytes(self) -> int:
        return self._bytes >> 30

    def get_tebi_bytes(self) -> int:
        return self._bytes >> 40

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MemorySize) and other._bytes == self._bytes

    def __lt__(self, other: "MemorySize") -> bool:
        return self._bytes < other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __str__(self) -> str:
        """As Java's ``toString``: in the largest unit that divides it (``100 mb``)."""
        for size, unit in _UNITS:
            if self._bytes and self._bytes % size == 0:
                return f"{self._bytes // size} {unit}"
        return f"{self._bytes} bytes"

    def __repr__(self) -> str:
        return f"MemorySize({self._bytes})"


class SlotSharingGroup:
    """A named group of steps and, optionally, the resources it asks for."""

    def __init__(self, name: str, cpu_cores: Optional[float] = None,
                 task_heap_memory: Optional[MemorySize] = None,
                 task_off_heap_memory: Optional[MemorySize] = None,
                 managed_memory: Optional[MemorySize] = None,
                 external_resources: Optional[Dict[str, float]] = None) -> None:
        self._name = name
        self._cpu_cores = cpu_cores
        self._heap, self._off_heap, self._managed = task_heap_memory, task_off_heap_memory, \
            managed_memory
        self._external = dict(external_resources or {})

    def get_name(self) -> str:
        return self._name

    def get_cpu_cores(self) -> Optional[float]:
        return self._cpu_cores

    def get_task_heap_memory(self) -> Optional[MemorySize]:
        return self._heap

    def get_task_off_heap_memory(self) -> Optional[MemorySize]:
        return self._off_heap

    def get_managed_memory(self) -> Optional[MemorySize]:
        return self._managed

    def get_external_resources(self) -> Dict[str, float]:
        return dict(self._external)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, SlotSharingGroup) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f"SlotSharingGroup({self._name!r})"

    @staticmethod
    def builder(name: str) -> "SlotSharingGroup.Builder":
        return SlotSharingGroup.Builder(name)

    class Builder:
        """Sets a group's resources; the cpu cores and the task heap memory are required
        as soon as any resource is given (as Flink's builder checks)."""

        def __init__(self, name: str) -> None:
            self._name = name
            self._cpu: Optional[float] = None
            self._memory: Dict[str, MemorySize] = {}
            self._external: Dict[str, float] = {}

        def set_cpu_cores(self, cpu_cores: float) -> "SlotSharingGroup.Builder":
            if not cpu_cores > 0:
                raise ValueError("The cpu cores should be positive.")
            self._cpu = float(cpu_cores)
            return self

        def set_task_heap_memory(self, task_heap_memory: MemorySize) -> "SlotSharingGroup.Builder":
            if not task_heap_memory.get_bytes() > 0:
                raise ValueError("The task heap memory should be positive.")
            self._memory["heap"] = task_heap_memory
            return self

        def set_task_heap_memory_mb(self, task_heap_memory_mb: int) -> "SlotSharingGroup.Builder":
            return self.set_task_heap_memory(MemorySize.of_mebi_bytes(task_heap_memory_mb))

        def set_task_off_heap_memory(self, task_off_heap_memory: MemorySize
                                     ) -> "SlotSharingGroup.Builder":
            self._memory["off_heap"] = task_off_heap_memory
            return self

        def set_task_off_heap_memory_mb(self, task_off_heap_memory_mb: int
                                        ) -> "SlotSharingGroup.Builder":
            return self.set_task_off_heap_memory(MemorySize.of_mebi_bytes(task_off_heap_memory_mb))

        def set_managed_memory(self, managed_memory: MemorySize) -> "SlotSharingGroup.Builder":
            self._memory["managed"] = managed_memory
            return self

        def set_managed_memory_mb(self, managed_memory_mb: int) -> "SlotSharingGroup.Builder":
            return self.set_managed_memory(MemorySize.of_mebi_bytes(managed_memory_mb))

        def set_external_resource(self, name: str, value: float) -> "SlotSharingGroup.Builder":
            self._external[name] = float(value)
            return self

        def build(self) -> "SlotSharingGroup":
            if self._cpu is not None and "heap" in self._memory:
                zero = MemorySize(bytes_size=0)
                return SlotSharingGroup(self._name, self._cpu, self._memory["heap"],
                                        self._memory.get("off_heap", zero),
                                        self._memory.get("managed", zero), self._external)
            if self._cpu is not None or self._memory or self._external:
                raise ValueError(
                    "The cpu cores and task heap memory are required when specifying the "
                    "resource of a slot sharing group. You need to explicitly configure them "
                    "with positive value.")
            return SlotSharingGroup(self._name)
