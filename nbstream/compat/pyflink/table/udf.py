"""``pyflink.table.udf``: Python user-defined functions (scalar, table, aggregate).

nbstream's Table API takes a user's function through one interface (an object whose
``function_def()`` gives the function to the planner, see :mod:`nbstream.table`); the
UDF classes and decorators below are the part built on it."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {
    **{name: "nbstream.table.udf" for name in (
        "udf", "udtf", "udaf", "udtaf", "ScalarFunction", "TableFunction", "AggregateFunction",
        "TableAggregateFunction", "FunctionContext")},
}, unavailable=["AsyncScalarFunction"],
    why="asynchronous Python functions of the Table API are not built yet")
