"""Flink mode for the Table API and SQL: the program runs on Flink's own planner.

A Table program in flink mode (``python.execution-mode`` = ``flink``) is not planned by
nbstream: what it did is replayed on a PyFlink ``StreamTableEnvironment`` for each job,
and Flink plans and runs it. What it did is recorded as it ran
(:mod:`nbstream.table.recipe`): the environment's statements in order (DDL text, views,
functions), and for each Table the Table API calls that made it, from ``sql_query(text)``,
``from_path(name)`` or a notebook object. SQL text goes to PyFlink as it was written;
Table API calls are made again on PyFlink's objects (same names and arguments, with
nbstream's DataTypes, windows, descriptors and UDFs turned into PyFlink's).

Tables over notebook objects (``from_elements``, ``from_pandas``, a DataFrame view, a
DataFrame named in SQL) are fed from this process as the DataStream flink mode feeds its
Python sources (:mod:`nbstream.flink.feed`: Flink's socket source, sealed lines, the
authenticated handshake), declared with nbstream's column types (a rowtime column at
precision 3, Flink's limit) and, for a view with a :class:`~nbstream.table.Schema`, its
computed columns and watermark.

Results come back through PyFlink's ``collect()`` as nbstream's TableResult (the query's
names and types as nbstream planned them, values converted to nbstream's), with a
:class:`~nbstream.runtime.job.JobClient` of the Flink job. A query reading a DataStream
(``from_data_stream``) is not replayed: the table layer plans it onto the DataStream
flink executor as before.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..errors import JobFailedError
from ..table.recipe import NotRecorded, Recipe, Root
from ..table.types import DataType, ValidationError

__all__ = ["TableRunner", "Unreplayable", "flink_type_string"]

_jobs = itertools.count(1)

#: the nbstream environment's statements replayed on PyFlink's TableEnvironment
_STATEMENTS_WITH_TABLES = ("create_temporary_view", "register_table", "create_view")


class Unreplayable(NotRecorded):
    """A call flink mode cannot hand to PyFlink (named in the message)."""


def flink_type_string(t: DataType) -> str:
    """The SQL text of a type, without nbstream's annotations (``*ROWTIME*``)."""
    return t.summary_string().replace(" *ROWTIME*", "").replace(" *PROCTIME*", "")


class TableRunner:
    """Runs one TableEnvironment's jobs on Flink (``FlinkExecutor.table_runner``)."""

    def __init__(self, executor: Any, tenv: Any) -> None:
        self.executor = executor
        self.tenv = tenv

    # -- the table layer's two entry points ---------------------------------------------------
    def query(self, node: Any, source: Any) -> Any:
        """A query's result: ``source`` is the SQL text or the Table that made ``node``."""
        from ..table.result import ResultKind, TableResult

        replay = _Replay(self)
        try:
            table = replay.t_env.sql_query(source) if isinstance(source, str) else \
                replay.value(source)
            flink_result = table.execute()
        except BaseException as exc:
            replay.stop_feeds()
            raise _refused(exc) from exc
        job = replay.start(f"collect-flink-{next(_jobs)}", flink_result)
        rows = _Rows(flink_result, node.types, job, replay)
        return TableResult(node.names, node.types, ResultKind.SUCCESS_WITH_CONTENT, rows=rows,
                           job=job, streaming=self.tenv._streaming, zone=self.tenv._zone(),
                           updating=node.updating)

    def insert(self, names: Sequence[str], sources: Sequence[Any]) -> Any:
        """INSERTs into the sinks ``names`` as one job: ``sources`` are their SQL texts or
        (target, Table) pairs."""
        from ..table.result import ResultKind, TableResult
        from ..table.types import DataTypes

        replay = _Replay(self)
        try:
            statements = replay.t_env.create_statement_set()
            for source in sources:
                if isinstance(source, str):
                    statements.add_insert_sql(source)
                else:
                    target, table = source
                    statements.add_insert(replay.value(target), replay.value(table))
            flink_result = statements.execute()
        except BaseException as exc:
            replay.stop_feeds()
            raise _refused(exc) from exc
        job = replay.start(f"insert-into-flink-{next(_jobs)}", flink_result)
        threading.Thread(target=_await_end, args=(flink_result, job, replay), daemon=True,
                         name=f"nbstream[{job.job_name}] flink table job").start()
        result = TableResult(names, [DataTypes.BIGINT(False)] * len(names),
                             ResultKind.SUCCESS_WITH_CONTENT,
                             rows=[(0,) + (-1,) * len(names)], job=job, streaming=False,
                             zone=self.tenv._zone())
        result._raw = True
        return result


# -- one job's replay -----------------------------------------------------------------------------
class _Replay:
    """A PyFlink TableEnvironment with the nbstream environment's program replayed on it."""

    def __init__(self, runner: TableRunner) -> None:
        from pyflink.table import EnvironmentSettings, StreamTableEnvironment

        self.runner = runner
        tenv = runner.tenv
        self.settings = _settings(tenv)
        self.parallelism = int(self.settings.get("parallelism.default", 1) or 1)
        # Flink's Python functions in its process mode (its default): in PyFlink 2.3's thread
        # mode a Python UDF turns every row of a changelog into +I (seen: a LEFT JOIN's -D)
        self.fenv, conf = runner.executor.environment_for(self.settings, self.parallelism,
                                                          process=True)
        mode = (EnvironmentSettings.in_streaming_mode() if tenv._streaming
                else EnvironmentSettings.in_batch_mode())
        self.t_env = StreamTableEnvironment.create(self.fenv, environment_settings=mode)
        config = self.t_env.get_config()
        for key, value in conf.items():
            if not key.startswith("nbstream."):
                config.set(key, value)
        self.host = _driver_host(conf)
        self.feeds: List[Any] = []
        self._memo: Dict[int, Any] = {}
        self._keep: List[Any] = []  # what the memo's ids belong to, alive while it is used
        for recipe in tenv._program:
            self.statement(recipe)

    # -- statements ------------------------------------------------------------------------------
    def statement(self, recipe: Recipe) -> None:
        args = list(recipe.args)
        if recipe.name == "create_temporary_view" and len(args) >= 2 and _is_frame(args[1]):
            self.t_env.create_temporary_view(args[0], self.fed_view(args[1], args[2:]))
            return
        if recipe.name in _STATEMENTS_WITH_TABLES and len(args) >= 2 and _is_stream(args[1]):
            return  # a DataStream's table: its queries take the DataStream flink executor
        if recipe.name.endswith("function") and len(args) >= 2 and isinstance(args[1], str):
            from ..table.environment import _import_object
            args[1] = _import_object(args[1])  # 'module.attr' of a Python function
        if recipe.name == "add_python_file":
            return  # this process's sys.path already reaches Flink's Python workers
        getattr(self.t_env, recipe.name)(*[self.value(a) for a in args],
                                         **{k: self.value(v) for k, v in recipe.kwargs.items()})

    # -- values ------------------------------------------------------------------------------------
    def value(self, v: Any) -> Any:  # noqa: C901  (one branch per kind of value)
        """``v`` as PyFlink's object: a recorded Table API object made again, a type, a
        window, a descriptor, a UDF, a notebook object fed from here."""
        if v is None or isinstance(v, (str, bytes, bool, int, float)):
            return v
        key = id(v)
        if key in self._memo:
            return self._memo[key]
        out = self._convert(v)
        self._memo[key] = out
        self._keep.append(v)
        return out

    def _convert(self, v: Any) -> Any:  # noqa: C901
        from ..table import environment as E
        from ..table.expressions import _Unit
        from ..table.schema import Schema, TableDescriptor
        from ..table.udf import UserDefinedFunctionWrapper
        from ..table.window import GroupWindow, OverWindow

        if isinstance(v, (list, tuple)):
            return type(v)(self.value(x) for x in v) if type(v) in (list, tuple) else v
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, E.TableEnvironment):
            if v is not self.runner.tenv:
                raise Unreplayable("flink mode: a table of another TableEnvironment")
            return self.t_env
        if isinstance(v, Root):
            import pyflink.table.expressions as pyflink_expressions
            return pyflink_expressions
        if isinstance(v, DataType):
            return _flink_data_type(v)
        if isinstance(v, _Unit):
            import pyflink.table.expressions as pyflink_expressions
            return getattr(getattr(pyflink_expressions, v.group), v.name)
        if isinstance(v, GroupWindow):
            return self._group_window(v)
        if isinstance(v, OverWindow):
            return self._over_window(v)
        if isinstance(v, Schema):
            return self._schema(v)
        if isinstance(v, TableDescriptor):
            return self._descriptor(v)
        if isinstance(v, UserDefinedFunctionWrapper):
            return _flink_function(v, self)
        if _is_frame(v):
            return self.fed_view(v, ())
        recipe = getattr(v, "_recipe", None)
        if isinstance(recipe, Recipe):
            return self._replayed(v, recipe)
        if isinstance(v, (_dt.date, _dt.time, _dt.timedelta)) or type(v).__name__ == "Decimal":
            return v
        raise Unreplayable(f"flink mode: {v!r} was not made by a Table API call nbstream "
                           "recorded, so it cannot be handed to PyFlink")

    def _replayed(self, v: Any, recipe: Recipe) -> Any:
        if recipe.name in ("from_elements", "from_pandas") and not isinstance(recipe.owner, Root):
            return self.fed_table(v._node)
        if recipe.name in ("from_data_stream", "from_changelog_stream"):
            raise Unreplayable("flink mode: a table of a DataStream is planned onto the "
                               "DataStream executor, not replayed")
        owner = self.value(recipe.owner)
        target = getattr(owner, recipe.name)
        if recipe.attribute:
            return target
        return target(*[self.value(a) for a in recipe.args],
                      **{k: self.value(x) for k, x in recipe.kwargs.items()})

    def _group_window(self, w: Any) -> Any:
        from pyflink.table.window import Session, Slide, Tumble
        if w.kind == "TUMBLE":
            out = Tumble.over(self.value(w.size))
        elif w.kind == "HOP":
            out = Slide.over(self.value(w.size)).every(self.value(w.slide))
        else:
            out = Session.with_gap(self.value(w.gap))
        out = out.on(self.value(w.time_field))
        return out.alias(w.alias_name) if w.alias_name else out

    def _over_window(self, w: Any) -> Any:
        from pyflink.table.window import Over
        out = Over.partition_by(*[self.value(p) for p in w.partition]).order_by(
            self.value(w.order)) if w.partition else Over.order_by(self.value(w.order))
        if w.preceding_ is not None:
            out = out.preceding(self.value(w.preceding_))
        if w.following_ is not None:
            out = out.following(self.value(w.following_))
        return out.alias(w.alias_name) if w.alias_name else out

    def _schema(self, schema: Any, physical: Optional[List[Tuple[str, DataType]]] = None,
                rowtime: Optional[str] = None) -> Any:
        from pyflink.table import Schema as FlinkSchema
        builder = FlinkSchema.new_builder()
        for name, t in physical or []:
            builder.column(name, _bridged(_flink_data_type(t, rowtime == name), t))
        for c in schema.columns if schema is not None else []:
            if c.is_physical and physical is None:
                builder.column(c.name, _flink_data_type(c.data_type))
            elif not c.is_physical:
                expr = c.expression
                builder.column_by_expression(c.name, expr if isinstance(expr, str)
                                             else self.value(expr))
        if schema is not None and schema.watermark is not None:
            wm = schema.watermark.expression
            builder.watermark(schema.watermark.column, wm if isinstance(wm, str)
                              else self.value(wm))
        if schema is not None and schema.primary_key:
            builder.primary_key(*schema.primary_key)
        return builder.build()

    def _descriptor(self, d: Any) -> Any:
        from pyflink.table import TableDescriptor as FlinkDescriptor
        builder = FlinkDescriptor.for_connector(d.options["connector"])
        if d.schema is not None:
            builder.schema(self._schema(d.schema))
        for key, value in d.options.items():
            if key != "connector":
                builder.option(key, value)
        if d.partition_keys:
            builder.partitioned_by(*d.partition_keys)
        if d.comment:
            builder.comment(d.comment)
        return builder.build()

    # -- notebook objects, fed from this process -------------------------------------------------------
    def fed_view(self, frame: Any, fields: Sequence[Any]) -> Any:
        """A DataFrame (or Arrow/polars table) registered with ``fields`` (a Schema or names)."""
        from ..table.schema import Schema
        schema = fields[0] if len(fields) == 1 and isinstance(fields[0], Schema) else None
        tenv = self.runner.tenv
        node = tenv.from_pandas(frame if _is_pandas(frame) else _to_pandas(frame),
                                None if schema is not None else (list(fields) or None))._node
        names, types = list(node.names), list(node.types)
        if schema is not None:
            declared = {c.name: c.data_type for c in schema.columns if c.is_physical}
            types = [declared.get(n) or t for n, t in zip(names, types)]
        return self.fed_table(node, schema, types)

    def fed_table(self, scan: Any, schema: Any = None, types: Optional[List[DataType]] = None
                  ) -> Any:
        """The rows of a Scan over a notebook object: streaming, fed to the job from here
        through the driver feed; batch mode (which reads bounded tables only), as a
        collection in the job."""
        from pyflink.common import Types

        names, types = list(scan.names), list(types or scan.types)
        rowtime = schema.watermark.column if schema is not None and schema.watermark else None
        row_type = Types.ROW_NAMED(names, [_type_info(t, rowtime == n)
                                           for n, t in zip(names, types)])
        spec = _ScanRows(scan.source, types)
        if self.runner.tenv._streaming:
            rows = self._fed(spec, row_type, f"table {'_'.join(names)[:40]}")
        else:
            from pyflink.common import Row
            values = [Row(*r) for r in spec.create_reader(0, 1).external_rows()]
            rows = self.fenv.from_collection(values, type_info=row_type)
        return self.t_env.from_data_stream(rows, self._schema(schema, list(zip(names, types)),
                                                              rowtime))

    def _fed(self, spec: Any, row_type: Any, name: str) -> Any:
        from pyflink.datastream import DataStream as FlinkDataStream

        from .feed import DriverFeed
        feed = DriverFeed(name, spec, self.host)
        self.feeds.append(feed)
        j_env = self.fenv._j_stream_execution_environment
        lines = FlinkDataStream(j_env.socketTextStream(self.host, feed.port, "\n", 0))
        rows = lines.flat_map(feed.decoder()).map(_RowOf(), output_type=row_type)
        return rows.rebalance() if self.parallelism > 1 else rows

    # -- the job -------------------------------------------------------------------------------------------
    def start(self, name: str, flink_result: Any) -> Any:
        """The nbstream job handle of the submitted Flink job; the feeds begin serving."""
        from ..runtime.job import JobClient

        job = JobClient(name, mode="flink")
        client = flink_result.get_job_client()
        job.placement["flink"] = "the whole job: planned and run by Apache Flink"
        job._start(lambda: [])
        job.add_waker(lambda: self.cancel(client))
        for feed in self.feeds:
            feed.start(job)
        return job

    def cancel(self, client: Any) -> None:
        self.stop_feeds()
        if client is not None:
            try:
                client.cancel()
            except Exception:
                pass

    def stop_feeds(self) -> None:
        for feed in self.feeds:
            feed.stop()
            try:
                feed.server.close()
            except OSError:
                pass


# -- results -----------------------------------------------------------------------------------------------
class _Rows:
    """The job's rows as nbstream's runtime rows ``(kind, c0, ...)``, read from PyFlink's
    collect iterator as the consumer asks; the end of the rows ends the job handle."""

    def __init__(self, flink_result: Any, types: Sequence[DataType], job: Any,
                 replay: _Replay) -> None:
        from ..table.values import converter
        self._result, self.job, self._replay = flink_result, job, replay
        self._convert = [converter(t) for t in types]
        self._it: Any = None
        self._closed = False

    def __iter__(self) -> "_Rows":
        return self

    def __next__(self) -> tuple:
        if self._it is None:
            self._it = self._result.collect()
        try:
            row = next(self._it)
        except StopIteration:
            self._end(None)
            raise
        except Exception as exc:
            self._end(exc)
            raise _job_error(self.job, exc) from exc
        return (_KINDS[str(row.get_row_kind())],) + tuple(
            c(_python_value(v)) for c, v in zip(self._convert, row))

    def close(self) -> None:
        if not self.job.done:
            self.job.cancel()
        if self._it is not None:
            try:
                self._it.close()
            except Exception:
                pass
        self._end(None)

    def _end(self, error: Optional[BaseException]) -> None:
        if self._closed:
            return
        self._closed = True
        self._replay.stop_feeds()
        if error is not None and not self.job.cancelled:
            self.job.fail(_job_error(self.job, error))
        self.job._finish()


_KINDS = {"+I": 0, "-U": 1, "+U": 2, "-D": 3}


def _await_end(flink_result: Any, job: Any, replay: _Replay) -> None:
    try:
        flink_result.wait()
    except Exception as exc:
        if not job.cancelled:
            job.fail(_job_error(job, exc))
    finally:
        replay.stop_feeds()
        job._finish()


def _refused(exc: BaseException) -> BaseException:
    """What Flink's planner said when it refused the job (or ``exc`` itself when it is
    not Flink's)."""
    if isinstance(exc, ValidationError) or not type(exc).__module__.startswith(("py4j",
                                                                                 "pyflink")):
        return exc
    from .executor import _flink_reason
    said = [line.split("Exception: ", 1)[1] for line in str(exc).splitlines()
            if "Exception: " in line and not line.lstrip().startswith("at ")]
    err = JobFailedError(f"Apache Flink refused the job: {said[0] if said else _flink_reason(exc)}")
    err.flink_error = str(exc)  # type: ignore[attr-defined]
    return err


def _job_error(job: Any, exc: BaseException) -> JobFailedError:
    from .executor import _flink_reason
    err = JobFailedError(f"job '{job.job_name}' failed on Apache Flink: {_flink_reason(exc)}")
    err.flink_error = str(exc)  # type: ignore[attr-defined]
    return err


def _python_value(v: Any) -> Any:
    """A value PyFlink collected, as nbstream's converters take it."""
    if type(v).__name__ == "Row" and hasattr(v, "_values"):
        return list(v._values)
    return v


# -- feeding notebook rows ----------------------------------------------------------------------------------
class _ScanRows:
    """The source spec a DriverFeed runs: the rows of a notebook object's Scan."""

    def __init__(self, source: Any, types: List[DataType]) -> None:
        self.source, self.types = source, types

    def create_reader(self, subtask: int, parallelism: int) -> "_ScanReader":
        return _ScanReader(self.source, self.types)


class _ScanReader:
    CHUNK = 1024

    def __init__(self, source: Any, types: List[DataType]) -> None:
        self.source, self.types = source, types

    def rows(self) -> Any:
        rows = getattr(self.source, "rows", None)
        if rows is not None:
            return iter(rows)
        from ..table.connectors import _FrameRows
        return (r[1:] for r in _FrameRows(self.source.frame, self.types)())

    def external_rows(self) -> Any:
        """The rows as the Python objects PyFlink's serializers take (:func:`_external`)."""
        external = [_external(t) for t in self.types]
        return (tuple(f(v) for f, v in zip(external, r)) for r in self.rows())

    def run(self, ctx: Any) -> None:
        chunk: List[Any] = []
        for r in self.external_rows():
            chunk.append(r)
            if len(chunk) >= self.CHUNK:
                ctx.emit_batch(chunk)
                chunk = []
        if chunk:
            ctx.emit_batch(chunk)


class _RowOf:
    """In Flink: a fed ``(values, timestamp)`` pair as a Row."""

    def __call__(self, pair: Any) -> Any:
        from pyflink.common import Row
        return Row(*pair[0])


def _external(t: DataType) -> Any:
    """nbstream's runtime value of ``t`` as the Python object PyFlink's serializer of
    :func:`_type_info` takes."""
    root = t.root
    if root == "TIMESTAMP_LTZ":
        def instant(v: Any) -> Any:
            if v is None:
                return None
            from pyflink.common.time import Instant
            delta = v - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
            micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
            seconds, rest = divmod(micros, 1_000_000)
            return Instant(seconds, rest * 1000)
        return instant
    if root == "ROW":
        inner = [_external(x) for x in t.types]  # type: ignore[attr-defined]

        def row(v: Any) -> Any:
            if v is None:
                return None
            from pyflink.common import Row
            return Row(*[f(x) for f, x in zip(inner, v)])
        return row
    return lambda v: v


def _type_info(t: DataType, rowtime: bool = False) -> Any:  # noqa: C901
    from pyflink.common import Types
    root = t.root
    simple = {"BOOLEAN": Types.BOOLEAN, "TINYINT": Types.BYTE, "SMALLINT": Types.SHORT,
              "INT": Types.INT, "BIGINT": Types.LONG, "FLOAT": Types.FLOAT,
              "DOUBLE": Types.DOUBLE, "CHAR": Types.STRING, "VARCHAR": Types.STRING,
              "DECIMAL": Types.BIG_DEC, "DATE": Types.SQL_DATE, "TIME": Types.SQL_TIME,
              "TIMESTAMP": Types.SQL_TIMESTAMP, "TIMESTAMP_LTZ": Types.INSTANT}
    if root in simple:
        return simple[root]()
    if root in ("BINARY", "VARBINARY"):
        return Types.PRIMITIVE_ARRAY(Types.BYTE())
    if root == "ARRAY":
        return Types.OBJECT_ARRAY(_type_info(t.element))  # type: ignore[attr-defined]
    if root == "MAP":
        return Types.MAP(_type_info(t.key), _type_info(t.value))  # type: ignore[attr-defined]
    if root == "ROW":
        return Types.ROW_NAMED(list(t.names), [_type_info(x) for x in t.types])  # type: ignore[attr-defined]
    raise Unreplayable(f"flink mode: a notebook column of type {t.summary_string()} cannot be "
                       "fed to Flink yet")


def _bridged(flink_type: Any, t: DataType) -> Any:
    """A declared column's type with the Java class the fed values arrive as."""
    bridge = {"TIMESTAMP": "java.sql.Timestamp", "DATE": "java.sql.Date",
              "TIME": "java.sql.Time"}.get(t.root)
    return flink_type.bridged_to(bridge) if bridge else flink_type


def _flink_data_type(t: DataType, rowtime: bool = False) -> Any:
    """PyFlink's DataType of nbstream's ``t`` (parsed from its SQL text by Flink); a rowtime
    column keeps at most precision 3 (Flink's limit for a watermark's column)."""
    from pyflink.java_gateway import get_gateway
    from pyflink.table.types import _from_java_data_type

    text = flink_type_string(t)
    if rowtime and t.root in ("TIMESTAMP", "TIMESTAMP_LTZ") and getattr(t, "precision", 3) > 3:
        text = text.replace(f"({t.precision})", "(3)", 1)  # type: ignore[attr-defined]
    jvm = get_gateway().jvm
    parser = jvm.org.apache.flink.table.types.logical.utils.LogicalTypeParser
    loader = jvm.Thread.currentThread().getContextClassLoader()
    logical = parser.parse(text, loader)
    converted = jvm.org.apache.flink.table.types.utils.TypeConversions.fromLogicalToDataType(logical)
    return _from_java_data_type(converted)


# -- Python functions -----------------------------------------------------------------------------------------
def _flink_function(w: Any, replay: _Replay) -> Any:
    """PyFlink's UDF of an nbstream ``udf``/``udtf``/``udaf`` (the user's function, or a
    PyFlink function class delegating to the user's object)."""
    from pyflink.table import udf as F

    from ..table import udf as U

    types = [_flink_data_type(t) for t in w._input_types] if w._input_types else None
    func = w._func
    if isinstance(w, U.UserDefinedScalarFunctionWrapper):
        f = _ScalarDelegate(func) if isinstance(func, U.ScalarFunction) else func
        return F.udf(f, input_types=types, result_type=_flink_data_type(w._result_type),
                     deterministic=w._deterministic, name=w._name, func_type=w._func_type)
    if isinstance(w, U.UserDefinedTableFunctionWrapper):
        f = _TableDelegate(func) if isinstance(func, U.TableFunction) else func
        result = (_flink_data_type(w._result_row) if w._result_row is not None
                  else [_flink_data_type(t) for t in w._result_types])
        out = F.udtf(f, input_types=types, result_types=result,
                     deterministic=w._deterministic, name=w._name)
        return out.alias(*w._alias_names) if w._alias_names else out
    if w._func_type == "pandas":
        return F.udaf(func, input_types=types, result_type=_flink_data_type(w._result_type),
                      deterministic=w._deterministic, name=w._name, func_type="pandas")
    acc = _flink_data_type(w._accumulator_type) if w._accumulator_type is not None else None
    if w._is_table_aggregate:
        return F.udtaf(_table_aggregate_delegate(func), input_types=types,
                       result_type=_flink_data_type(w._result_type), accumulator_type=acc,
                       deterministic=w._deterministic, name=w._name)
    return F.udaf(_aggregate_delegate(func), input_types=types,
                  result_type=_flink_data_type(w._result_type), accumulator_type=acc,
                  deterministic=w._deterministic, name=w._name)


def _scalar_base() -> Any:
    from pyflink.table.udf import ScalarFunction
    return ScalarFunction


class _Hooks:
    """open/close/is_deterministic handed to the user's nbstream function object."""

    def open(self, function_context: Any) -> None:
        self.user.open(function_context)

    def close(self) -> None:
        self.user.close()

    def is_deterministic(self) -> bool:
        return self.user.is_deterministic()


def _ScalarDelegate(user: Any) -> Any:  # noqa: N802 - builds a PyFlink class instance
    from pyflink.table.udf import ScalarFunction

    class ScalarDelegate(_Hooks, ScalarFunction):
        def __init__(self, user: Any) -> None:
            self.user = user

        def eval(self, *args: Any) -> Any:
            return self.user.eval(*args)
    return ScalarDelegate(user)


def _TableDelegate(user: Any) -> Any:  # noqa: N802
    from pyflink.table.udf import TableFunction

    class TableDelegate(_Hooks, TableFunction):
        def __init__(self, user: Any) -> None:
            self.user = user

        def eval(self, *args: Any) -> Any:
            return self.user.eval(*args)
    return TableDelegate(user)


def _aggregate_methods() -> Dict[str, Any]:
    def method(name: str) -> Any:
        def call(self: Any, *args: Any) -> Any:
            return getattr(self.user, name)(*args)
        call.__name__ = name
        return call
    names = ("create_accumulator", "accumulate", "retract", "merge", "get_value",
             "get_result_type", "get_accumulator_type", "emit_value")
    out = {n: method(n) for n in names}
    out["__init__"] = lambda self, user: setattr(self, "user", user)
    return out


def _aggregate_delegate(user: Any) -> Any:
    from pyflink.table.udf import AggregateFunction
    cls = type("AggregateDelegate", (_Hooks, AggregateFunction), _aggregate_methods())
    return cls(user)


def _table_aggregate_delegate(user: Any) -> Any:
    from pyflink.table.udf import TableAggregateFunction
    cls = type("TableAggregateDelegate", (_Hooks, TableAggregateFunction), _aggregate_methods())
    return cls(user)


# -- helpers -----------------------------------------------------------------------------------------------
def _settings(tenv: Any) -> Dict[str, str]:
    settings = {k: str(v) for k, v in tenv.get_config().to_dict().items()}
    settings.pop("python.execution-mode", None)
    if not tenv._streaming:
        settings["execution.runtime-mode"] = "batch"
    return settings


def _driver_host(conf: Dict[str, str]) -> str:
    from .executor import driver_address
    return driver_address(conf)


def _is_frame(v: Any) -> bool:
    from ..table.environment import _is_frame as is_frame
    return is_frame(v)


def _is_pandas(v: Any) -> bool:
    return type(v).__module__.startswith("pandas")


def _to_pandas(v: Any) -> Any:
    return v.to_pandas()


def _is_stream(v: Any) -> bool:
    from ..api.datastream import DataStream
    return isinstance(v, DataStream)
