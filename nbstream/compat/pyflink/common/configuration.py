"""``pyflink.common.Configuration`` on nbstream: string keys and values, as Flink keeps them.

The keys nbstream understands are those of
:meth:`nbstream.StreamExecutionEnvironment.configure` (``parallelism.default``,
``python.execution-mode``, ...); the others are kept and handed on (the ``flink``
execution mode passes them to Apache Flink).

>>> config = Configuration()
>>> config.set_string("python.execution-mode", "thread").set_integer("parallelism.default", 2)
<Configuration {'python.execution-mode': 'thread', 'parallelism.default': '2'}>
>>> config.get_integer("parallelism.default", 1)
2
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Set

__all__ = ["Configuration"]


class Configuration:
    """A mutable map of configuration keys to string values (PyFlink's Configuration)."""

    def __init__(self, other: Optional["Configuration"] = None) -> None:
        self._data: Dict[str, str] = dict(other._data) if other is not None else {}

    def _set(self, key: str, value: Any) -> "Configuration":
        self._data[str(key)] = value if isinstance(value, str) else (
            str(value).lower() if isinstance(value, bool) else str(value))
        return self

    set_string = set_integer = set_float = set_boolean = _set

    def get_string(self, key: str, default_value: Optional[str] = None) -> Optional[str]:
        return self._data.get(key, default_value)

    def get_integer(self, key: str, default_value: int = 0) -> int:
        return int(self._data[key]) if key in self._data else default_value

    def get_float(self, key: str, default_value: float = 0.0) -> float:
        return float(self._data[key]) if key in self._data else default_value

    def get_boolean(self, key: str, default_value: bool = False) -> bool:
        return self._data[key].lower() == "true" if key in self._data else default_value

    def contains_key(self, key: str) -> bool:
        return key in self._data

    def key_set(self) -> Set[str]:
        return set(self._data)

    def remove_config(self, key: str) -> bool:
        return self._data.pop(key, None) is not None

    def add_all(self, other: "Configuration", prefix: str = "") -> "Configuration":
        for k, v in other._data.items():
            self._data[prefix + k] = v
        return self

    def to_dict(self) -> Dict[str, str]:
        return dict(self._data)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Configuration) and other._data == self._data

    def __repr__(self) -> str:
        return f"<Configuration {self._data!r}>"
