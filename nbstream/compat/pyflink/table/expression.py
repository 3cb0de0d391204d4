"""``pyflink.table.expression`` on nbstream."""

from nbstream.table.expressions import (Expression, JsonOnNull, TimeIntervalUnit,  # noqa: F401
                                        TimePointUnit)

__all__ = ["Expression", "TimeIntervalUnit", "TimePointUnit", "JsonOnNull"]
