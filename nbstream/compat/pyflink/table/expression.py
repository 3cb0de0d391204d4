"""``pyflink.table.expression`` on nbstream."""

from nbstream.table.expressions import (Expression, JsonExistsOnError, JsonOnNull,  # noqa: F401
                                        JsonQueryOnEmptyOrError, JsonQueryWrapper, JsonType,
                                        JsonValueOnEmptyOrError, TimeIntervalUnit, TimePointUnit)

__all__ = ["Expression", "TimeIntervalUnit", "TimePointUnit", "JsonOnNull", "JsonType",
           "JsonExistsOnError", "JsonValueOnEmptyOrError", "JsonQueryWrapper",
           "JsonQueryOnEmptyOrError"]
