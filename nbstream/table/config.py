"""``EnvironmentSettings`` and ``TableConfig``: streaming or batch, and the string-valued
settings a Table job runs with (``parallelism.default``, ``python.execution-mode``,
``table.exec.state.ttl``, ``table.local-time-zone``, checkpointing...).

>>> config = TableConfig()
>>> config.set("parallelism.default", "2").get("parallelism.default", None)
'2'
>>> parse_duration("1 min"), parse_duration("10 s"), parse_duration("250")
(60000, 10000, 250)
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional

from .types import ValidationError

__all__ = ["EnvironmentSettings", "TableConfig", "parse_duration"]

_UNITS = {"": 1, "ms": 1, "milli": 1, "millis": 1, "millisecond": 1, "milliseconds": 1,
          "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
          "min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000, "m": 60_000,
          "h": 3_600_000, "hour": 3_600_000, "hours": 3_600_000,
          "d": 86_400_000, "day": 86_400_000, "days": 86_400_000}


def parse_duration(text: Any) -> int:
    """Milliseconds of a Flink duration string (``'1 h'``, ``'10s'``, ``'500 ms'``, ``'0'``)."""
    if isinstance(text, (int, float)):
        return int(text)
    m = re.fullmatch(r"\s*(\d+)\s*([a-zA-Z]*)\s*", str(text))
    if m is None or m.group(2).lower() not in _UNITS:
        raise ValidationError(f"cannot read the duration {text!r} (e.g. '10 s', '1 min', '1 h')")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


class EnvironmentSettings:
    """Streaming (the default) or batch mode of a TableEnvironment."""

    def __init__(self, streaming: bool = True, configuration: Optional[Dict[str, str]] = None
                 ) -> None:
        self._streaming = streaming
        self._configuration: Dict[str, str] = dict(configuration or {})

    @staticmethod
    def in_streaming_mode() -> "EnvironmentSettings":
        return EnvironmentSettings(True)

    @staticmethod
    def in_batch_mode() -> "EnvironmentSettings":
        return EnvironmentSettings(False)

    @staticmethod
    def new_instance() -> "EnvironmentSettings.Builder":
        return EnvironmentSettings.Builder()

    def is_streaming_mode(self) -> bool:
        return self._streaming

    def get_configuration(self) -> Dict[str, str]:
        return dict(self._configuration)

    def to_configuration(self) -> Dict[str, str]:
        return self.get_configuration()

    def get_built_in_catalog_name(self) -> str:
        return "default_catalog"

    def get_built_in_database_name(self) -> str:
        return "default_database"

    class Builder:
        def __init__(self) -> None:
            self._streaming = True
            self._configuration: Dict[str, str] = {}

        def in_streaming_mode(self) -> "EnvironmentSettings.Builder":
            self._streaming = True
            return self

        def in_batch_mode(self) -> "EnvironmentSettings.Builder":
            self._streaming = False
            return self

        def with_configuration(self, config: Any) -> "EnvironmentSettings.Builder":
            items = config.to_dict() if hasattr(config, "to_dict") else dict(config)
            self._configuration.update({k: str(v) for k, v in items.items()})
            return self

        def with_built_in_catalog_name(self, name: str) -> "EnvironmentSettings.Builder":
            return self

        def with_built_in_database_name(self, name: str) -> "EnvironmentSettings.Builder":
            return self

        def build(self) -> "EnvironmentSettings":
            return EnvironmentSettings(self._streaming, self._configuration)


class TableConfig:
    """The settings of a TableEnvironment: string keys to string values, as Flink's."""

    def __init__(self, values: Optional[Dict[str, str]] = None) -> None:
        self._values: Dict[str, str] = dict(values or {})

    def set(self, key: str, value: Any) -> "TableConfig":
        self._values[key] = str(value) if not isinstance(value, bool) else str(value).lower()
        return self

    def get(self, key: str, default_value: Any = None) -> Any:
        return self._values.get(key, default_value)

    def get_configuration(self) -> "TableConfig":
        return self

    def add_configuration(self, configuration: Any) -> None:
        items = configuration.to_dict() if hasattr(configuration, "to_dict") else dict(configuration)
        for k, v in items.items():
            self.set(k, v)

    def set_string(self, key: str, value: str) -> "TableConfig":
        return self.set(key, value)

    def get_string(self, key: str, default_value: str) -> str:
        return self._values.get(key, default_value)

    def set_integer(self, key: str, value: int) -> "TableConfig":
        return self.set(key, value)

    def to_dict(self) -> Dict[str, str]:
        return dict(self._values)

    def contains_key(self, key: str) -> bool:
        return key in self._values

    def get_local_timezone(self) -> str:
        return self._values.get("table.local-time-zone", "default")

    def set_local_timezone(self, timezone_id: str) -> None:
        self.set("table.local-time-zone", timezone_id)

    def set_idle_state_retention(self, duration: Any) -> None:
        ms = duration.to_milliseconds() if hasattr(duration, "to_milliseconds") else int(duration)
        self.set("table.exec.state.ttl", f"{ms} ms")

    def get_idle_state_retention(self) -> int:
        return parse_duration(self._values.get("table.exec.state.ttl", "0"))

    def set_max_generated_code_length(self, length: int) -> None:
        pass

    def get_max_generated_code_length(self) -> int:
        return 4000

    def set_python_executable(self, python_exec: str) -> None:
        self.set("python.executable", python_exec)

    def get_python_executable(self) -> Optional[str]:
        return self._values.get("python.executable")

    def __repr__(self) -> str:
        return f"TableConfig({self._values})"
