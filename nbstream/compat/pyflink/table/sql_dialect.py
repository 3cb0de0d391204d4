"""``pyflink.table.SqlDialect``."""

__all__ = ["SqlDialect"]


class SqlDialect:
    DEFAULT = 0
    HIVE = 1
