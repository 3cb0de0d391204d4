"""``TableEnvironment`` and ``StreamTableEnvironment``: the entry points of the Table API
and SQL. A job is planned onto a :class:`~nbstream.StreamExecutionEnvironment`: a fresh
one per job for a TableEnvironment (configured from its TableConfig), the user's own for
a StreamTableEnvironment (so tables and DataStreams mix).

>>> from nbstream.table import TableEnvironment, EnvironmentSettings
>>> t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
>>> t_env.execute_sql("SELECT 1 + 1 AS two, 'x' AS s").print()
+----+-------------+--------------------------------+
| op |         two |                              s |
+----+-------------+--------------------------------+
| +I |           2 |                              x |
+----+-------------+--------------------------------+
1 row in set
"""

from __future__ import annotations

import inspect
import itertools
from typing import Any, Iterable, List, Optional, Sequence, Tuple

from . import builder as B
from .catalog import Catalog, CatalogTable, CatalogView, strip_path
from .config import EnvironmentSettings, TableConfig
from .connectors import DataFrameSource, DataStreamSource, RowsSource
from .expressions import Expression
from .plan import Calc, RelNode, Scan, explain, walk_nodes
from .recipe import NotRecorded, Recipe, recorded
from .result import ResultKind, TableResult
from .rex import InputRef
from .schema import Schema, TableDescriptor
from .table import Table
from .types import DataType, RowType, ValidationError, common_type, infer_type
from .values import local_zone, to_internal

__all__ = ["TableEnvironment", "StreamTableEnvironment", "StatementSet", "TablePipeline"]

_jobs = itertools.count(1)


class TableEnvironment:
    """The entry point of the Table API and SQL (see the module text)."""

    def __init__(self, settings: Optional[EnvironmentSettings] = None,
                 config: Optional[TableConfig] = None) -> None:
        self._settings = settings or EnvironmentSettings.in_streaming_mode()
        self._config = config or TableConfig(self._settings.get_configuration())
        self._catalog = Catalog()
        #: the statements that changed the catalog, in order (flink mode replays them)
        self._program: List[Recipe] = []
        self._frames_named: dict = {}  # DataFrames named in SQL: name -> id of the frame

    @classmethod
    def create(cls, environment_settings: Any = None) -> "TableEnvironment":
        """A TableEnvironment in streaming (default) or batch mode; ``environment_settings``
        may also be a configuration dict."""
        if environment_settings is None or isinstance(environment_settings, EnvironmentSettings):
            return cls(environment_settings)
        items = (environment_settings.to_dict() if hasattr(environment_settings, "to_dict")
                 else dict(environment_settings))
        streaming = str(items.get("execution.runtime-mode", "streaming")).lower() != "batch"
        return cls(EnvironmentSettings(streaming, {k: str(v) for k, v in items.items()}))

    @staticmethod
    def _stream_environment() -> Any:
        """The StreamExecutionEnvironment class jobs run in (the PyFlink layer's has the
        local cluster's default parallelism)."""
        from ..api.environment import StreamExecutionEnvironment
        return StreamExecutionEnvironment.get_execution_environment()

    # -- context ---------------------------------------------------------------------------------
    @property
    def _streaming(self) -> bool:
        return self._settings.is_streaming_mode()

    def _zone(self) -> Any:
        return local_zone(self._config.get("table.local-time-zone"))

    def _context(self) -> B.Context:
        return B.Context(self._catalog.functions, self._zone(), self._streaming,
                         self._parse_expression)

    def _parse_expression(self, text: str) -> Expression:
        from .sql import parse_expression
        return parse_expression(text)

    def get_config(self) -> TableConfig:
        return self._config

    # -- tables in ------------------------------------------------------------------------------------
    def from_elements(self, elements: Iterable[Any], schema: Any = None,
                      verify_schema: bool = True) -> Table:
        """A table of the given rows (tuples, lists or Rows); ``schema`` is a list of names
        (types inferred: int BIGINT, float DOUBLE, str STRING) or a ROW type."""
        rows = list(elements)
        if set(map(type, rows)) != {tuple}:
            rows = [_as_tuple(e) for e in rows]
        names, types = _schema_of(rows, schema)
        data = to_internal(rows, types, kind=0)
        return self._table(Scan(RowsSource(data, names, types), names, types, "Values"))

    def from_pandas(self, pdf: Any, schema: Any = None, splits_num: int = 1) -> Table:
        """A table of a pandas DataFrame's rows (int64 BIGINT, float64 DOUBLE, object str
        STRING, bool BOOLEAN, datetime64 TIMESTAMP; NaN and None are NULL)."""
        from .frames import frame_schema
        names, types = frame_schema(pdf, schema)
        return self._table(Scan(DataFrameSource(pdf, names, types), names, types, "DataFrame"))

    def from_path(self, path: str) -> Table:
        return self._table(self._scan(path))

    def _table(self, node: RelNode) -> Table:
        return Table(self, node)

    def _register_node(self, name: str, node: RelNode) -> None:
        self._catalog.add(name, CatalogView(name, node), replace=True)

    def _record(self, name: str, *args: Any) -> None:
        """Remember a statement that changed the catalog (flink mode replays it)."""
        self._program.append(Recipe(self, name, args))

    def _scan(self, path: str) -> RelNode:
        """The plan of a table, view or DataFrame named ``path``."""
        entry = self._catalog.find(path)
        if entry is None:
            frame = _frame_in_caller(path)
            if frame is not None:
                if self._frames_named.get(path) != id(frame):
                    self._frames_named[path] = id(frame)
                    self._record("create_temporary_view", path, frame)
                return self.from_pandas(frame)._node if _is_pandas(frame) else \
                    self._from_arrow_like(frame)
            raise ValidationError(self._catalog.not_found(path))
        if isinstance(entry, CatalogView):
            return entry.node
        if isinstance(entry, CatalogTable):
            ctx = self._context()

            def resolve(expr: Any, node: RelNode) -> Any:
                e = self._parse_expression(expr) if isinstance(expr, str) else expr
                return B.Resolver(B.Scope.of(node), ctx, str(expr)).resolve(e)
            return entry.plan(resolve)
        raise ValidationError(f"'{path}' is a sink only")

    def _from_arrow_like(self, data: Any) -> RelNode:
        import pyarrow as pa
        table = data if isinstance(data, pa.Table) else pa.table(data.to_arrow()) \
            if hasattr(data, "to_arrow") else pa.table(data)
        return self.from_pandas(table.to_pandas())._node

    # -- catalog ----------------------------------------------------------------------------------------
    def create_temporary_view(self, view_path: str, table_or_data_stream: Any,
                              *fields: Any) -> None:
        """Register a Table (or, on a StreamTableEnvironment, a DataStream; or a pandas
        DataFrame, with a :class:`Schema` that may declare computed columns and a
        watermark, making a time column the rowtime) under a name.

        >>> import pandas as pd
        >>> from nbstream.table import Schema
        >>> t_env = TableEnvironment.create()
        >>> clicks = pd.DataFrame({"page": ["a", "b"],
        ...                        "ts": pd.to_datetime([1000, 2500], unit="ms")})
        >>> t_env.create_temporary_view("clicks", clicks, Schema.new_builder()
        ...     .watermark("ts", "ts - INTERVAL '1' SECOND").build())
        >>> t_env.from_path("clicks").get_schema().get_field_data_types()[1].summary_string()
        'TIMESTAMP(9) *ROWTIME*'
        """
        if isinstance(table_or_data_stream, Table):
            node = table_or_data_stream._node
        elif _is_frame(table_or_data_stream):
            node = self._frame_node(table_or_data_stream, *fields)
        else:
            node = self._from_data_stream_node(table_or_data_stream, *fields)
        self._catalog.add(view_path, CatalogView(strip_path(view_path), node),
                          what="Temporary view")

    def _frame_node(self, frame: Any, *fields: Any) -> RelNode:
        if not _is_pandas(frame):
            frame = frame.to_pandas()
        schema = fields[0] if len(fields) == 1 and isinstance(fields[0], Schema) else None
        node = self.from_pandas(frame, None if schema is not None else (list(fields) or None))._node
        if schema is None:
            return node
        ctx = self._context()

        def resolve(expr: Any, over: RelNode) -> Any:
            e = self._parse_expression(expr) if isinstance(expr, str) else expr
            return B.Resolver(B.Scope.of(over), ctx, str(expr)).resolve(e)

        from .schema import SchemaColumn
        declared = [c for c in schema.columns if c.is_physical]
        columns = list(schema.columns) if declared else \
            [SchemaColumn(n, t) for n, t in zip(node.names, node.types)] + list(schema.columns)
        return _extend(node, Schema(columns, schema.watermark, list(schema.primary_key)),
                       resolve)

    def _from_data_stream_node(self, ds: Any, *fields: Any) -> RelNode:
        raise ValidationError("a DataStream becomes a table in a StreamTableEnvironment "
                              "(StreamTableEnvironment.create(env))")

    def create_temporary_table(self, path: str, descriptor: TableDescriptor,
                               ignore_if_exists: bool = False) -> None:
        self._catalog.add(path, _catalog_table(path, descriptor), if_not_exists=ignore_if_exists)

    def create_table(self, path: str, descriptor: TableDescriptor,
                     ignore_if_exists: bool = False) -> None:
        table = _catalog_table(path, descriptor)
        table.temporary = False
        self._catalog.add(path, table, if_not_exists=ignore_if_exists)

    def create_view(self, view_path: str, table: Table, ignore_if_exists: bool = False) -> None:
        self._catalog.add(view_path, CatalogView(strip_path(view_path), table._node,
                                                 temporary=False), if_not_exists=ignore_if_exists)

    def register_table(self, name: str, table: Table) -> None:
        self._catalog.add(name, CatalogView(name, table._node), replace=True)

    def drop_temporary_table(self, table_path: str) -> bool:
        return self._catalog.drop(table_path, if_exists=True)

    def drop_temporary_view(self, view_path: str) -> bool:
        return self._catalog.drop(view_path, if_exists=True)

    def drop_table(self, table_path: str, ignore_if_not_exists: bool = True) -> bool:
        return self._catalog.drop(table_path, if_exists=ignore_if_not_exists)

    def drop_view(self, view_path: str, ignore_if_not_exists: bool = True) -> bool:
        return self._catalog.drop(view_path, if_exists=ignore_if_not_exists)

    def list_tables(self) -> List[str]:
        return self._catalog.tables()

    def list_temporary_tables(self) -> List[str]:
        return self._catalog.tables()

    def list_views(self) -> List[str]:
        return self._catalog.views()

    def list_temporary_views(self) -> List[str]:
        return self._catalog.views()

    def list_catalogs(self) -> List[str]:
        return ["default_catalog"]

    def list_databases(self) -> List[str]:
        return ["default_database"]

    def list_modules(self) -> List[str]:
        return ["core"]

    def list_full_modules(self) -> List[Any]:
        return ["core"]

    def list_user_defined_functions(self) -> List[str]:
        return self._catalog.functions.names(user_only=True)

    def list_functions(self) -> List[str]:
        return self._catalog.functions.names()

    def get_current_catalog(self) -> str:
        return "default_catalog"

    def get_current_database(self) -> str:
        return "default_database"

    def use_catalog(self, catalog_name: str) -> None:
        if catalog_name != "default_catalog":
            raise ValidationError(f"A catalog with name [{catalog_name}] does not exist.")

    def use_database(self, database_name: str) -> None:
        if database_name != "default_database":
            raise ValidationError(f"A database with name [{database_name}] does not exist in "
                                  "the catalog: [default_catalog].")

    # -- functions ----------------------------------------------------------------------------------------
    def create_temporary_system_function(self, name: str, function: Any) -> None:
        """Register a function found before the built-ins: one named like a built-in
        replaces it in SQL calls and in the Table API (its operators too: ``plus`` is
        ``+``), but not SQL's operators, as in PyFlink."""
        self._register_function(name, function)

    def create_temporary_function(self, path: str, function: Any) -> None:
        """Register a (catalog) function: found after the built-ins, so a built-in's name
        keeps meaning the built-in."""
        self._register_function(strip_path(path), function, system=False)

    def create_function(self, path: str, function_class_name: Any,
                        ignore_if_exists: bool = False) -> None:
        self._register_function(strip_path(path), function_class_name, system=False)

    def register_function(self, name: str, function: Any) -> None:
        self._register_function(name, function)

    def _register_function(self, name: str, function: Any, system: bool = True) -> None:
        if isinstance(function, str):
            function = _import_object(function)
        definition = function.function_def() if hasattr(function, "function_def") else None
        if definition is None:
            raise ValidationError(f"{function!r} is not a function nbstream can register "
                                  "(a udf/udtf/udaf object)")
        self._catalog.functions.add(_renamed(definition, name), system=system)

    def drop_temporary_function(self, path: str) -> bool:
        return self._catalog.functions.remove(strip_path(path))

    def drop_temporary_system_function(self, name: str) -> bool:
        return self._catalog.functions.remove(name)

    def drop_function(self, path: str) -> bool:
        return self._catalog.functions.remove(strip_path(path))

    # -- Python dependencies: this process runs the functions ------------------------------------------
    def add_python_file(self, file_path: str) -> None:
        import os
        import sys
        folder = file_path if os.path.isdir(file_path) else os.path.dirname(os.path.abspath(file_path))
        if folder not in sys.path:
            sys.path.append(folder)

    def set_python_requirements(self, requirements_file_path: str,
                                requirements_cache_dir: Optional[str] = None) -> None:
        pass

    def add_python_archive(self, archive_path: str, target_dir: Optional[str] = None) -> None:
        pass

    # -- SQL ------------------------------------------------------------------------------------------------
    def sql_query(self, query: str) -> Table:
        """A Table of a SELECT (lazy: nothing runs until it is executed)."""
        from .sql import SqlRunner
        return self._table(SqlRunner(self).query(query))

    def execute_sql(self, stmt: str) -> TableResult:
        """Run one SQL statement: DDL, SHOW, DESCRIBE, EXPLAIN, SET, INSERT (a job) or a
        query (a job whose rows the result reads)."""
        from .sql import SqlRunner
        result = SqlRunner(self).execute(stmt)
        if _changes_catalog(stmt):
            self._record("execute_sql", stmt)
        return result

    def explain_sql(self, stmt: str, *extra_details: Any) -> str:
        from .sql import SqlRunner
        return SqlRunner(self).explain(stmt)

    def create_statement_set(self) -> "StatementSet":
        return StatementSet(self)

    # -- execution --------------------------------------------------------------------------------------------
    def _new_env(self) -> Any:
        """A StreamExecutionEnvironment for one job, configured from the TableConfig."""
        env = self._stream_environment()
        self._configure_env(env)
        return env

    def _configure_env(self, env: Any) -> None:
        settings = dict(self._config.to_dict())
        settings.pop("table.local-time-zone", None)
        if not self._streaming:
            settings.setdefault("execution.runtime-mode", "batch")
        env.configure(settings)

    def _job_env(self) -> Any:
        return self._new_env()

    def _planner(self, env: Any) -> Any:
        from .planner import Planner
        return Planner(env, self._config.to_dict(), self._catalog.functions, self._zone(),
                       self._streaming)

    def _columnar_frame(self, node: RelNode) -> Any:
        env = self._job_env()
        if env.get_execution_mode() == "flink":
            return None
        return self._planner(env).columnar_frame(node)

    def _pass_through(self, env: Any, nodes: Sequence[RelNode]) -> Any:
        """The runner of a mode that plans and runs Table programs itself (flink mode:
        Flink's planner, ``nbstream.flink.tables``), or None: nbstream plans the job. A
        query reading a DataStream is planned by nbstream in every mode."""
        from ..runtime.executors import get_executor
        runner = getattr(get_executor(env.get_execution_mode()), "table_runner", None)
        if runner is None or any(isinstance(n, Scan) and isinstance(n.source, DataStreamSource)
                                 for node in nodes for n in walk_nodes(node)):
            return None
        return runner(self)

    def _execute_query(self, node: RelNode, source: Any = None) -> TableResult:
        """Run a query; ``source`` (the SQL text or the Table that made it) lets a mode
        with its own planner run it (flink mode)."""
        env = self._job_env()
        note = ""
        runner = self._pass_through(env, [node]) if source is not None else None
        if runner is not None:
            try:
                return runner.query(node, source)
            except NotRecorded as exc:  # nbstream plans it (onto the mode's executor)
                note = f"{exc}: nbstream planned this query"
        planner = self._planner(env)
        ds = planner.translate(node)
        rows = ds.execute_and_collect(f"collect-{next(_jobs)}")
        if note:
            rows.job.warnings.append(note)
        return TableResult(node.names, node.types, ResultKind.SUCCESS_WITH_CONTENT, rows=rows,
                           job=rows.job, streaming=self._streaming, zone=self._zone(),
                           updating=node.updating)

    def _execute_inserts(self, inserts: Sequence[Tuple[Any, RelNode]],
                         sources: Optional[Sequence[Any]] = None) -> TableResult:
        """Run INSERTs as one job; ``sources`` (each the INSERT's SQL text or its (target,
        Table)) let a mode with its own planner run them (flink mode)."""
        env = self._job_env()
        checked = []
        for target, node in inserts:
            sink, sink_names, sink_types, path = self._sink_of(target)
            node = _fit_to_sink(node, sink_names, sink_types, path)
            if node.updating and not sink.accepts_updates:
                raise ValidationError(
                    f"Table sink '{path}' doesn't support consuming update changes which is "
                    f"produced by node {node.kind()}({node.terms()})")
            checked.append((sink, sink_names, sink_types, path, node))
        names = [path for _, _, _, path, _ in checked]
        runner = self._pass_through(env, [c[-1] for c in checked]) if sources else None
        if runner is not None:
            try:
                return runner.insert(names, sources)
            except NotRecorded:  # nbstream plans it (onto the mode's executor)
                pass
        planner = self._planner(env)
        for sink, sink_names, sink_types, path, node in checked:
            sink.consume(planner.translate(node), sink_names, sink_types)
        job = env.execute_async(f"insert-into_{'_'.join(names)}")
        from .types import DataTypes
        result = TableResult(names, [DataTypes.BIGINT(False)] * len(names),
                             ResultKind.SUCCESS_WITH_CONTENT, rows=[(0,) + (-1,) * len(names)],
                             job=job, streaming=False, zone=self._zone())
        result._raw = True
        return result

    def _sink_of(self, target: Any) -> Tuple[Any, List[str], List[DataType], str]:
        if isinstance(target, TableDescriptor):
            table = _catalog_table("anonymous", target)
        else:
            table = self._catalog.get(target)
            if isinstance(table, CatalogView):
                raise ValidationError(f"'{target}' is a view: INSERT needs a table")
        cols = table.sink_columns()
        path = f"default_catalog.default_database.{table.name}"
        return table.sink(), [c.name for c in cols], [c.data_type for c in cols], path

    def _explain(self, node: RelNode) -> str:
        from .udf_ops import python_steps
        text = explain(node)
        steps = python_steps(self, node)  # where each Python function step runs, and why
        return ("== Abstract Syntax Tree ==\n" + text + "\n\n== Optimized Physical Plan ==\n"
                + text + "\n\n== Optimized Execution Plan ==\n" + text + "\n"
                + (f"\n== Python Functions ==\n{steps}\n" if steps else ""))

    # -- deprecated / JVM-only ---------------------------------------------------------------------------------
    def execute(self, job_name: str) -> Any:
        raise ValidationError("TableEnvironment.execute() is gone in Flink 2: use "
                              "execute_sql / Table.execute_insert / a StatementSet")


class StreamTableEnvironment(TableEnvironment):
    """A TableEnvironment over a StreamExecutionEnvironment: tables and DataStreams mix
    (``from_data_stream``, ``to_data_stream``, ``to_changelog_stream``)."""

    def __init__(self, env: Any, settings: Optional[EnvironmentSettings] = None) -> None:
        super().__init__(settings)
        self._env = env

    @classmethod
    def create(cls, stream_execution_environment: Any = None,  # type: ignore[override]
               environment_settings: Optional[EnvironmentSettings] = None
               ) -> "StreamTableEnvironment":
        env = stream_execution_environment
        if env is None:
            env = cls._stream_environment()
        if environment_settings is None:
            from ..api.environment import RuntimeExecutionMode
            batch = env.get_runtime_mode() is RuntimeExecutionMode.BATCH
            environment_settings = EnvironmentSettings(not batch)
        return cls(env, environment_settings)

    def _job_env(self) -> Any:
        self._configure_env(self._env)
        return self._env

    def from_data_stream(self, data_stream: Any, *fields_or_schema: Any) -> Table:
        return self._table(self._from_data_stream_node(data_stream, *fields_or_schema))

    def _from_data_stream_node(self, ds: Any, *fields: Any, changelog: bool = False) -> RelNode:
        from .streams import data_stream_columns
        schema = fields[0] if len(fields) == 1 and isinstance(fields[0], Schema) else None
        names, types = data_stream_columns(ds, fields if schema is None else ())
        if schema is None:
            return Scan(DataStreamSource(ds, names, types, changelog), names, types, "DataStream")
        return _apply_schema(self, ds, names, types, schema, changelog)

    def from_changelog_stream(self, data_stream: Any, schema: Optional[Schema] = None,
                              changelog_mode: Any = None) -> Table:
        args = (schema,) if schema is not None else ()
        return self._table(self._from_data_stream_node(data_stream, *args, changelog=True))

    def to_data_stream(self, table: Table, target: Any = None) -> Any:
        """The table as a DataStream of Rows (named fields, kind ``+I``); an updating table
        is refused (use :meth:`to_changelog_stream`)."""
        node = table._node
        if node.updating:
            raise ValidationError(
                f"Table sink 'default_catalog.default_database.Unregistered_DataStream_Sink_1' "
                f"doesn't support consuming update changes which is produced by node "
                f"{node.kind()}({node.terms()})")
        return self._to_stream(node)

    def to_changelog_stream(self, table: Table, target_schema: Any = None,
                            changelog_mode: Any = None) -> Any:
        """The table as a DataStream of Rows whose RowKind says +I/-U/+U/-D."""
        return self._to_stream(table._node)

    def to_append_stream(self, table: Table, type_info: Any = None) -> Any:
        return self.to_data_stream(table)

    def to_retract_stream(self, table: Table, type_info: Any = None) -> Any:
        from .streams import RowsToRetract
        return self._to_stream(table._node).map(RowsToRetract())

    def _to_stream(self, node: RelNode) -> Any:
        from .streams import RowsOut, row_type_info
        self._configure_env(self._env)
        ds = self._planner(self._env).translate(node)
        return ds.map(RowsOut(node.names), output_type=row_type_info(node.names, node.types))


class StatementSet:
    """Several INSERTs run as one job (``add_insert_sql``, ``add_insert``, ``execute``)."""

    def __init__(self, tenv: TableEnvironment) -> None:
        self._tenv = tenv
        self._inserts: List[Tuple[Any, RelNode]] = []
        self._sources: List[Any] = []  # each INSERT's SQL text or (target, Table)

    def add_insert_sql(self, stmt: str) -> "StatementSet":
        from .sql import SqlRunner
        self._inserts.append(SqlRunner(self._tenv).insert_target(stmt))
        self._sources.append(stmt)
        return self

    def add_insert(self, target_path_or_descriptor: Any, table: Table,
                   overwrite: bool = False) -> "StatementSet":
        self._inserts.append((target_path_or_descriptor, table._node))
        self._sources.append((target_path_or_descriptor, table))
        return self

    def attach_as_datastream(self) -> None:
        raise ValidationError("attach_as_datastream is not supported yet")

    def explain(self, *extra_details: Any) -> str:
        return "\n".join(self._tenv._explain(node) for _, node in self._inserts)

    def execute(self) -> TableResult:
        if not self._inserts:
            raise ValidationError("No operators defined in streaming topology. Cannot generate "
                                  "StreamGraph.")
        inserts, self._inserts = self._inserts, []
        sources, self._sources = self._sources, []
        return self._tenv._execute_inserts(inserts, sources)


class TablePipeline:
    """``table.insert_into(path)``: an INSERT to execute or explain."""

    def __init__(self, tenv: TableEnvironment, path: str, node: RelNode,
                 table: Optional[Table] = None) -> None:
        self._tenv, self._path, self._node, self._table = tenv, path, node, table

    def execute(self) -> TableResult:
        sources = [(self._path, self._table)] if self._table is not None else None
        return self._tenv._execute_inserts([(self._path, self._node)], sources)

    def explain(self, *extra_details: Any) -> str:
        return self._tenv._explain(self._node)


# -- helpers ---------------------------------------------------------------------------------------------------
_CATALOG_STATEMENTS = ("CREATE", "DROP", "ALTER", "SET", "RESET", "USE")


def _changes_catalog(stmt: str) -> bool:
    words = stmt.split(None, 1)
    return bool(words) and words[0].upper() in _CATALOG_STATEMENTS


def _statement(fn: Any) -> Any:
    """A TableEnvironment method that changes the catalog: remembered (flink mode)."""
    import functools

    @functools.wraps(fn)
    def method(self: "TableEnvironment", *args: Any, **kwargs: Any) -> Any:
        out = fn(self, *args, **kwargs)
        self._program.append(Recipe(self, fn.__name__, args, kwargs))
        return out
    return method


def _record_environment() -> None:
    for name in ("create_temporary_view", "create_temporary_table", "create_table",
                 "create_view", "register_table", "drop_temporary_table", "drop_temporary_view",
                 "drop_table", "drop_view", "create_temporary_system_function",
                 "create_temporary_function", "create_function", "register_function",
                 "drop_temporary_function", "drop_temporary_system_function", "drop_function",
                 "add_python_file"):
        setattr(TableEnvironment, name, _statement(getattr(TableEnvironment, name)))
    for name in ("from_elements", "from_pandas", "from_path", "sql_query"):
        setattr(TableEnvironment, name, recorded(getattr(TableEnvironment, name)))
    for name in ("from_data_stream", "from_changelog_stream"):
        setattr(StreamTableEnvironment, name, recorded(getattr(StreamTableEnvironment, name)))


def _as_tuple(e: Any) -> tuple:
    if isinstance(e, (tuple, list)):
        return tuple(e)
    if hasattr(e, "_values") and hasattr(e, "get_row_kind"):
        return tuple(e)
    return (e,)


def _schema_of(rows: List[tuple], schema: Any) -> Tuple[List[str], List[DataType]]:
    if isinstance(schema, RowType):
        return schema.names, schema.types
    if isinstance(schema, DataType):
        raise ValidationError(f"the schema must be a ROW type, not {schema.summary_string()}")
    width = len(rows[0]) if rows else (len(schema) if schema else 0)
    if schema is not None:
        names = [str(n) for n in schema]
        if rows and len(names) != width:
            raise ValidationError(f"the schema names {len(names)} columns, the rows have {width}")
    else:
        names = [f"_{i + 1}" for i in range(width)]
    types = []
    sample = _type_sample(rows)
    for i in range(width):
        inferred = _column_types(sample, i)
        t = common_type(inferred) if inferred else None
        if t is None:
            raise ValidationError(f"column {names[i]} holds values of different types: "
                                  + ", ".join(sorted({x.summary_string() for x in inferred})))
        if t.root == "NULL":
            from .types import DataTypes
            t = DataTypes.STRING()
        types.append(t.nullable_())
    return names, types


def _type_sample(rows: List[tuple]) -> List[tuple]:
    """The rows types are inferred from: all of a small input, else the first and last
    thousand (every value is checked against the types when it is converted)."""
    return rows if len(rows) <= 2000 else rows[:1000] + rows[-1000:]


def _column_types(rows: List[tuple], i: int) -> List[DataType]:
    seen: dict = {}
    for r in rows:
        v = r[i]
        k = type(v)
        if k not in seen or k in (tuple, list, dict) or hasattr(v, "_values"):
            seen[k if k not in (tuple, list, dict) and not hasattr(v, "_values")
                 else (k, len(seen))] = infer_type(v)
    return list(seen.values())


def _catalog_table(path: str, descriptor: TableDescriptor) -> CatalogTable:
    if descriptor.schema is None:
        raise ValidationError(f"the table '{path}' needs a schema (TableDescriptor...schema(...))")
    return CatalogTable(strip_path(path), descriptor.schema, dict(descriptor.options),
                        list(descriptor.partition_keys), descriptor.comment)


def _fit_to_sink(node: RelNode, names: List[str], types: List[DataType], path: str) -> RelNode:
    """The query's rows in the sink's column types (implicit casts), checked."""
    from .functions.cast import can_cast, make_cast
    if len(node.types) != len(types):
        raise ValidationError(
            f"Column types of query result and sink for '{path}' do not match.\n"
            f"Cause: Different number of columns.\n\n"
            f"Query schema: [{', '.join(f'{n}: {t.summary_string()}' for n, t in zip(node.names, node.types))}]\n"
            f"Sink schema:  [{', '.join(f'{n}: {t.summary_string()}' for n, t in zip(names, types))}]")
    projects = []
    changed = False
    for i, (qn, qt, st) in enumerate(zip(node.names, node.types, types)):
        ref = InputRef(i, qt, qn)
        if qt.copy(True) == st.copy(True) or (qt.root == st.root and qt.root in ("CHAR", "VARCHAR")):
            projects.append(ref)
            continue
        if not can_cast(qt, st):
            raise ValidationError(
                f"Column types of query result and sink for '{path}' do not match.\n"
                f"Cause: Incompatible types for sink column '{names[i]}' at position {i}.\n\n"
                f"Query schema: [{', '.join(f'{n}: {t.summary_string()}' for n, t in zip(node.names, node.types))}]\n"
                f"Sink schema:  [{', '.join(f'{n}: {t.summary_string()}' for n, t in zip(names, types))}]")
        projects.append(make_cast(ref, st))
        changed = True
    return Calc(node, projects, None, list(node.names)) if changed else node


def _apply_schema(tenv: StreamTableEnvironment, ds: Any, names: List[str], types: List[DataType],
                  schema: Schema, changelog: bool) -> RelNode:
    """from_data_stream with a Schema: declared physical types (their order, when any are
    declared), computed columns, watermark."""
    declared = {c.name: c.data_type for c in schema.columns if c.is_physical}
    for n in declared:
        if n not in names:
            raise ValidationError(f"Unable to find a field named '{n}' in the physical data "
                                  f"type derived from the given type information for schema "
                                  f"declaration. Make sure that the type information is not a "
                                  f"generic raw type. Currently available fields are: "
                                  f"[{', '.join(names)}]")
    types = [declared.get(n) or t for n, t in zip(names, types)]
    node: RelNode = Scan(DataStreamSource(ds, names, types, changelog), names, types, "DataStream")
    ctx = tenv._context()

    def resolve(expr: Any, over: RelNode) -> Any:
        e = tenv._parse_expression(expr) if isinstance(expr, str) else expr
        return B.Resolver(B.Scope.of(over), ctx, str(expr)).resolve(e)

    from .schema import SchemaColumn
    if declared:
        columns = list(schema.columns)
    else:
        columns = [SchemaColumn(n, t) for n, t in zip(names, types)] + list(schema.columns)
    return _extend(node, Schema(columns, schema.watermark, list(schema.primary_key)), resolve)


def _extend(node: RelNode, schema: Schema, resolve: Any) -> RelNode:
    """The columns of ``schema`` (computed ones resolved over the scan) and its watermark."""
    from .plan import WatermarkAssigner
    cols = schema.columns
    if [c.name for c in cols] != list(node.names):
        projects, out = [], []
        for c in cols:
            if c.is_physical:
                i = node.names.index(c.name)
                projects.append(InputRef(i, node.types[i], c.name))
            else:
                projects.append(resolve(c.expression, node))
            out.append(c.name)
        node = Calc(node, projects, None, out)
    wm = schema.watermark
    if wm is not None:
        if wm.column not in node.names:
            raise ValidationError(f"Invalid column name '{wm.column}' for rowtime attribute in "
                                  f"watermark declaration. Available columns are: "
                                  f"[{', '.join(node.names)}]")
        i = node.names.index(wm.column)
        node = WatermarkAssigner(node, i, resolve(wm.expression, node), list(node.names))
    return node


def _renamed(definition: Any, name: str) -> Any:
    import copy
    d = copy.copy(definition)
    d.name = name
    return d


def _import_object(path: str) -> Any:
    import importlib
    module, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas")


def _frame_in_caller(name: str) -> Any:
    """A DataFrame or Arrow table named ``name`` in the user's namespace (the notebook's,
    or the frames calling into nbstream), as DuckDB's replacement scans."""
    if not name.isidentifier():
        return None
    frame = inspect.currentframe()
    try:  # the calling code's names first: a shell of an earlier session may still be there
        while frame is not None:
            module = frame.f_globals.get("__name__", "")
            if not str(module).startswith("nbstream."):
                for scope in (frame.f_locals, frame.f_globals):
                    if name in scope and _is_frame(scope[name]):
                        return scope[name]
            frame = frame.f_back
    finally:
        del frame
    try:  # a %%sql cell: the magic's callers are IPython's, the names are the notebook's
        from IPython import get_ipython  # type: ignore
        shell = get_ipython()
        if shell is not None and name in shell.user_ns and _is_frame(shell.user_ns[name]):
            return shell.user_ns[name]
    except ImportError:
        pass
    return None


def _is_frame(obj: Any) -> bool:
    mod = type(obj).__module__
    return (mod.startswith("pandas") and type(obj).__name__ == "DataFrame") or (
        mod.startswith("polars") and type(obj).__name__ == "DataFrame") or (
        mod.startswith("pyarrow") and type(obj).__name__ in ("Table", "RecordBatch"))


_record_environment()
