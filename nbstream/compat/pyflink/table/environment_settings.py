"""``pyflink.table.environment_settings`` on nbstream."""

from nbstream.table.config import EnvironmentSettings  # noqa: F401

__all__ = ["EnvironmentSettings"]
