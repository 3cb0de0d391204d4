"""Flink's JVM entry points as PyFlink's tests import them. nbstream has no JVM: each one
raises :class:`JvmOnly`, except :func:`get_j_env_configuration`, whose configuration is the
environment's own (the tests set ``python.execution-mode`` through it)."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

__all__ = ["JvmOnly", "get_gateway", "get_j_env_configuration", "load_java_class",
           "is_instance_of", "get_field_value", "get_log_dir", "prepare_environment_variables",
           "on_windows", "_find_flink_source_root"]


class JvmOnly(RuntimeError):
    """A test reached for Apache Flink's JVM, which nbstream does not have."""


def _jvm(what: str) -> JvmOnly:
    return JvmOnly(f"{what} needs Apache Flink's JVM (nbstream runs PyFlink programs without one)")


def get_gateway() -> Any:
    raise _jvm("pyflink.java_gateway.get_gateway()")


def load_java_class(name: str) -> Any:
    raise _jvm(f"pyflink.util.java_utils.load_java_class({name!r})")


def is_instance_of(java_object: Any, java_class: Any) -> bool:
    raise _jvm("pyflink.util.java_utils.is_instance_of()")


def get_field_value(java_object: Any, field_name: str) -> Any:
    raise _jvm(f"pyflink.util.java_utils.get_field_value(..., {field_name!r})")


def get_log_dir() -> str:
    raise _jvm("pyflink.pyflink_gateway_server.get_log_dir()")


def prepare_environment_variables(env: Dict[str, str]) -> None:
    raise _jvm("pyflink.pyflink_gateway_server.prepare_environment_variables()")


def on_windows() -> bool:
    return os.name == "nt"


def _find_flink_source_root() -> str:
    raise _jvm("pyflink.find_flink_home._find_flink_source_root()")


class EnvConfiguration:
    """The configuration of a StreamExecutionEnvironment, as ``get_j_env_configuration``
    gives it (Java's ``Configuration``: ``setString``/``getString``)."""

    def __init__(self, env: Any) -> None:
        self._env = env

    def setString(self, key: str, value: str) -> None:  # noqa: N802 - Java's name
        self._env.configure({key: value})

    def getString(self, key: str, default: Optional[str] = None) -> Optional[str]:  # noqa: N802
        value = self._env._settings.get(key)  # the keys configure() was given
        return default if value is None else str(value)

    def getValue(self, option: Any) -> Any:  # noqa: N802
        raise _jvm("Configuration.getValue(ConfigOption)")

    def to_dict(self) -> Dict[str, str]:
        return {k: str(v) for k, v in self._env._settings.items()}


def get_j_env_configuration(j_env: Any) -> EnvConfiguration:
    """The configuration of the environment that ``env._j_stream_execution_environment``
    (nbstream's stand-in for the Java environment) belongs to."""
    return EnvConfiguration(j_env.environment)
