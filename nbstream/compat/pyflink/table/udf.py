"""``pyflink.table.udf``: Python user-defined functions (scalar, table, aggregate), from
:mod:`nbstream.table.udf`."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream.table.udf" for name in (
    "udf", "udtf", "udaf", "udtaf", "FunctionContext", "UserDefinedFunction", "ScalarFunction",
    "TableFunction", "AggregateFunction", "TableAggregateFunction",
    "UserDefinedFunctionWrapper", "UserDefinedScalarFunctionWrapper",
    "UserDefinedTableFunctionWrapper", "UserDefinedAggregateFunctionWrapper")},
    unavailable=["AsyncScalarFunction"],
    why="async scalar functions are not supported by nbstream yet")
