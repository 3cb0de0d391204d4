"""``pyflink.common.Configuration`` on nbstream: a map of keys to typed values, as Flink's.

Values keep the type they were set with (``add_all_to_dict`` gives them back so) and read as
strings through ``to_dict()`` and ``get_string``, as Java's ``Configuration`` does. The keys
nbstream understands are those of :meth:`nbstream.StreamExecutionEnvironment.configure`
(``parallelism.default``, ``python.execution-mode``, ...); the others are kept and handed on
(the ``flink`` execution mode passes them to Apache Flink).

>>> config = Configuration()
>>> config.set_string("python.execution-mode", "thread").set_integer("parallelism.default", 2)
{python.execution-mode=thread, parallelism.default=2}
>>> config.get_integer("parallelism.default", 1), config.to_dict()["parallelism.default"]
(2, '2')
>>> Configuration.parse_list_value("[a.jar, b.jar]")
['a.jar', 'b.jar']
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Set

from nbstream.api.types import java_double_string

__all__ = ["Configuration"]


class Configuration:
    """A mutable map of configuration keys to values (PyFlink's Configuration).

    ``Configuration(other)`` copies ``other``; ``j_configuration`` (PyFlink's Java
    configuration) may be anything with ``to_dict()`` or a mapping, whose entries are copied.
    """

    def __init__(self, other: Optional["Configuration"] = None,
                 j_configuration: Any = None) -> None:
        self._data: Dict[str, Any] = dict(other._data) if other is not None else {}
        if j_configuration is not None:
            entries = j_configuration.to_dict() if hasattr(j_configuration, "to_dict") \
                else dict(j_configuration)
            self._data.update((str(k), v) for k, v in entries.items())

    @staticmethod
    def from_dict(config: Mapping[str, Any]) -> "Configuration":
        """A configuration holding ``config``'s entries (values as given)."""
        conf = Configuration()
        conf._data.update((str(k), v) for k, v in config.items())
        return conf

    @staticmethod
    def parse_list_value(value: Optional[str]) -> List[str]:
        """The items of a list-valued setting written as a YAML list (``[a, b]`` or one
        ``- item`` per line) or in the legacy form ``a;b``."""
        if value is None:
            return []
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            items = text[1:-1].split(",")
        elif text.startswith("-"):
            items = [line.strip()[1:] for line in text.splitlines() if line.strip()]
        else:
            items = text.split(";")
        return [_unquote(i.strip()) for i in items if i.strip()]

    # -- setters: the value keeps its type -------------------------------------------------
    def _set(self, key: str, value: Any) -> "Configuration":
        self._data[str(key)] = value
        return self

    def set_string(self, key: str, value: str) -> "Configuration":
        return self._set(key, str(value))

    def set_integer(self, key: str, value: int) -> "Configuration":
        return self._set(key, int(value))

    def set_float(self, key: str, value: float) -> "Configuration":
        return self._set(key, float(value))

    def set_boolean(self, key: str, value: bool) -> "Configuration":
        return self._set(key, bool(value))

    def set_bytearray(self, key: str, value: bytearray) -> "Configuration":
        return self._set(key, bytearray(value))

    # -- getters: converted from what is stored, as Java's getters convert -------------------
    def get_string(self, key: str, default_value: Optional[str] = None) -> Optional[str]:
        return _as_string(self._data[key]) if key in self._data else default_value

    def get_integer(self, key: str, default_value: int = 0) -> int:
        return int(self._data[key]) if key in self._data else default_value

    def get_float(self, key: str, default_value: float = 0.0) -> float:
        return float(self._data[key]) if key in self._data else default_value

    def get_boolean(self, key: str, default_value: bool = False) -> bool:
        if key not in self._data:
            return default_value
        value = self._data[key]
        return value if isinstance(value, bool) else str(value).strip().lower() == "true"

    def get_bytearray(self, key: str, default_value: Optional[bytearray] = None) -> Any:
        value = self._data.get(key)
        return bytearray(value) if isinstance(value, (bytes, bytearray)) else default_value

    def contains_key(self, key: str) -> bool:
        return key in self._data

    def key_set(self) -> Set[str]:
        return set(self._data)

    def remove_config(self, key: str) -> bool:
        """Remove ``key``; True if it was there."""
        return self._data.pop(key, _MISSING) is not _MISSING

    def add_all(self, other: "Configuration", prefix: str = "") -> "Configuration":
        """Copy ``other``'s entries in, each key with ``prefix`` before it."""
        for k, v in other._data.items():
            self._data[prefix + k] = v
        return self

    def add_all_to_dict(self, target_dict: Dict[str, Any]) -> None:
        """Put every entry into ``target_dict`` with the value's own type."""
        target_dict.update(self._data)

    def to_dict(self) -> Dict[str, str]:
        """Every entry, values as strings (``True`` is ``'true'``)."""
        return {k: _as_string(v) for k, v in self._data.items()}

    def __deepcopy__(self, memo: Any) -> "Configuration":
        return Configuration(self)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Configuration) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(frozenset(self.to_dict().items()))

    def __str__(self) -> str:
        """As Java's ``toString``: ``{k1=v1, k2=1}`` in the order of Java's hash map."""
        entries = self.to_dict()
        return "{" + ", ".join(f"{k}={entries[k]}" for k in _java_hash_order(entries)) + "}"

    __repr__ = __str__


_MISSING = object()


def _unquote(item: str) -> str:
    return item[1:-1] if len(item) > 1 and item[0] == item[-1] and item[0] in "'\"" else item


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_string(value)
    if isinstance(value, (bytes, bytearray)):
        return str(list(value))
    return str(value)


def _java_string_hash(text: str) -> int:
    h = 0
    for unit in text.encode("utf-16-be").hex(" ", 2).split():  # Java's chars: UTF-16 units
        h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
    return h


def _java_hash_order(keys: Dict[str, Any]) -> List[str]:
    """``keys`` in the order a ``java.util.HashMap`` of them iterates: by bucket (the
    spread hash modulo the table size, 16 doubling at 3/4 full), then insertion order."""
    size = 16
    while len(keys) > size * 3 // 4:
        size *= 2

    def bucket(key: str) -> int:
        h = _java_string_hash(key)
        return (h ^ (h >> 16)) & (size - 1)
    return sorted(keys, key=bucket)  # sorted() is stable: insertion order within a bucket
