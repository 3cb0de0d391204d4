"""nbstream's Table API and SQL (``pyflink.table``): Flink's relational API and Flink SQL,
planned onto the same DataStream runtime (no second engine).

>>> from nbstream.table import TableEnvironment, EnvironmentSettings, col
>>> t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
>>> clicks = t_env.from_elements([("alice", 1), ("bob", 2), ("alice", 3)], ["user", "n"])
>>> t_env.create_temporary_view("clicks", clicks)
>>> t_env.execute_sql("SELECT `user`, SUM(n) AS total FROM clicks GROUP BY `user`").print()
+----+--------------------------------+----------------------+
| op |                           user |                total |
+----+--------------------------------+----------------------+
| +I |                          alice |                    1 |
| +I |                            bob |                    2 |
| -U |                          alice |                    1 |
| +U |                          alice |                    4 |
+----+--------------------------------+----------------------+
4 rows in set

How a query runs
----------------
SQL text is parsed by sqlglot with nbstream's Flink dialect (``sql/dialect.py``) and
converted (``sql/convert.py``); Table API calls build unresolved
:class:`~nbstream.table.expressions.Expression` trees. Both go through one builder
(``builder.py``) that resolves names and types into a relational plan (``plan.py``:
Scan, Values, Calc, Aggregate, WindowAggregate, OverAggregate, Join, Rank, Union, SetOp,
Sort, Correlate, WatermarkAssigner). The planner (``planner.py``) turns the plan into
DataStream steps: Calc -> one generated Python function per projection (``codegen.py``),
Aggregate -> ``key_by(...).process(GroupAggregate)`` (``operators.py``)... Rows travel as
tuples ``(kind, c0, c1, ...)``; the kind is the RowKind (+I, -U, +U, -D) as an int.
Every Table API object also keeps the call that made it (``recipe.py``), so that flink
mode can replay the program on PyFlink's own TableEnvironment (``nbstream.flink.tables``).

Extension points
----------------
* **A built-in scalar function**: a :class:`~nbstream.table.functions.ScalarFunctionDef`
  registered in :data:`~nbstream.table.functions.BUILTINS` (``functions/strings.py``,
  ``temporal.py``, ``scalar.py``); most are one line (the example below).
  ``Strict`` gives SQL's NULL-in-NULL-out; the check returns the result type or None
  (a type error naming the call and its argument types). A function needing laziness or
  implicit casts overrides ``coerce``/``infer``/``emit`` (``emit`` returns Python
  expression text; see ``Case``, ``And``). The Table API reaches it with
  ``call("reverse", col("s"))``; SQL with ``REVERSE(s)``.
* **A Python UDF** (the UDF work): an object whose ``function_def()`` returns a
  ScalarFunctionDef / AggregateFunctionDef / TableFunctionDef: the same interface as the
  built-ins, so ``f(col('x'))`` (``Expression('udf_call', f, ...)``), SQL calls of a
  registered name and the planner treat it as a built-in. Row-based operations
  (``map``, ``flat_map``, ``join_lateral``, ``aggregate``) start in ``udf_ops.py``.
* **An aggregate function**: an :class:`~nbstream.table.functions.AggregateFunctionDef`
  (``infer``, ``create(arg_types, result_type, retract)`` -> an
  :class:`~nbstream.table.functions.Accumulator` with ``create/add/retract/merge/value``)
  added to BUILTINS (``functions/aggregates.py``); ``columnar`` names its vectorized form.
* **A connector**: ``connectors.register_source(name, factory)`` /
  ``register_sink(name, factory)``; ``factory(options, names, types)`` returns a
  :class:`~nbstream.table.connectors.TableSource` (``stream(env)`` -> a DataStream of row
  tuples) or a :class:`~nbstream.table.connectors.TableSink` (``consume(stream, names,
  types)`` adds the sink steps). ``'connector' = 'name'`` in CREATE TABLE or a
  TableDescriptor then finds it.
* **A new SQL feature**: parse (extend ``FlinkParser`` in ``sql/dialect.py`` if sqlglot
  does not read it; statements are dispatched in ``sql/__init__.py``), convert the tree
  in ``sql/convert.py`` into builder calls or a new plan node in ``plan.py``, and give the
  planner a ``_<nodename>`` method that builds it from DataStream API steps. A feature not
  built yet is refused by name (``sql/dialect.py: UNSUPPORTED``, or a ValidationError).

A built-in scalar function in one line::

    BUILTINS.add(Strict("reverse", signature("STRING", result=DataTypes.STRING()),
                        lambda s: s[::-1]))
"""

from __future__ import annotations

from ..runtime.row import Row, RowKind
from .config import EnvironmentSettings, TableConfig
from .environment import StatementSet, StreamTableEnvironment, TableEnvironment, TablePipeline
from .expressions import (CURRENT_RANGE, CURRENT_ROW, UNBOUNDED_RANGE, UNBOUNDED_ROW, Expression,
                          call, call_sql, coalesce, col, concat, concat_ws, if_then_else, lit,
                          null_of, row_interval)
from .result import ResultKind, TableResult, TableSchema
from .schema import FormatDescriptor, Schema, TableDescriptor
from .table import (AggregatedTable, FlatAggregateTable, GroupedTable, GroupWindowedTable, Table,
                    OverWindowedTable, WindowGroupedTable)
from .types import DataType, DataTypes, ValidationError
from .window import Over, Session, Slide, Tumble

__all__ = ["TableEnvironment", "StreamTableEnvironment", "EnvironmentSettings", "TableConfig",
           "Table", "GroupedTable", "GroupWindowedTable", "WindowGroupedTable",
           "OverWindowedTable", "AggregatedTable", "FlatAggregateTable", "StatementSet",
           "TablePipeline", "TableResult", "ResultKind", "TableSchema", "Schema",
           "TableDescriptor", "FormatDescriptor", "DataTypes", "DataType", "Row", "RowKind",
           "Expression", "col", "lit", "call", "call_sql", "if_then_else", "coalesce", "concat",
           "concat_ws", "null_of", "row_interval", "UNBOUNDED_ROW", "UNBOUNDED_RANGE",
           "CURRENT_ROW", "CURRENT_RANGE", "Tumble", "Slide", "Session", "Over",
           "ValidationError"]
