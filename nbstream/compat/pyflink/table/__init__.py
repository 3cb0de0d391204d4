"""``pyflink.table`` on nbstream: the Table API and SQL (:mod:`nbstream.table`), with the
environments of PyFlink's local mode (default parallelism: the number of CPU cores, as
Flink's mini-cluster; the notebook's mode and parallelism when it sets them)."""

from .._exports import exports

_HERE = "nbstream.compat.pyflink.table"

__all__, __getattr__ = exports(__name__, {
    "TableEnvironment": f"{_HERE}.table_environment",
    "StreamTableEnvironment": f"{_HERE}.table_environment",
    **{name: "nbstream.table" for name in (
        "Table", "StatementSet", "EnvironmentSettings", "TableConfig", "GroupedTable",
        "GroupWindowedTable", "OverWindowedTable", "WindowGroupedTable", "AggregatedTable",
        "FlatAggregateTable", "TableDescriptor", "FormatDescriptor", "Schema", "DataTypes",
        "Expression", "TableSchema", "TableResult", "Row", "RowKind", "ResultKind",
        "TablePipeline")},
    **{name: "nbstream.table.udf" for name in (
        "DataView", "ListView", "MapView", "ScalarFunction", "TableFunction",
        "AggregateFunction", "TableAggregateFunction", "FunctionContext")},
    "ExplainDetail": f"{_HERE}.explain_detail",
    "ChangelogMode": f"{_HERE}.changelog_mode",
    "SqlDialect": f"{_HERE}.sql_dialect",
}, unavailable=["Module", "ModuleEntry", "UserDefinedType", "CompiledPlan", "PlanReference",
                "AsyncScalarFunction"],
   why="this part of PyFlink's Table API is not built in nbstream yet")
