"""StreamExecutionEnvironment: where pipelines start and how jobs are run.

>>> from nbstream import StreamExecutionEnvironment
>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env.set_parallelism(2)
<nbstream StreamExecutionEnvironment mode=thread parallelism=2>
>>> env.from_sequence(1, 4).map(lambda x: x * x).execute_and_collect(limit=4).__len__()
4
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from ..connectors import sources as S
from ..connectors.columnar import DEFAULT_BATCH_ROWS, ArrowSource, frame_table
from ..errors import NotAvailableError, PlanError, whole_number
from ..plan.logical import StreamGraph
from ..plan.physical import PhysicalPlan, plan_job
from ..runtime.clock import Clock, SystemClock
from ..plan.config import DEFAULT_MAX_PARALLELISM, JobConfig, parallelism_of
from ..runtime.durations import to_millis
from ..runtime.executors import check_mode, executor_for, get_executor
from ..runtime.executors.auto import planned_modes
from ..runtime.job import JobClient, JobExecutionResult
from .checkpointing import (CheckpointConfig, CheckpointingMode, RestartStrategyConfiguration,
                            arm_job, configure_checkpoints)
from .columnar import ColumnarStream, columnar_source
from .datastream import DataStream, KeyedStream
from .state_backends import (HashMapStateBackend, StateBackend, check_state_backend,
                             configure_state_backend)
from .types import TypeInformation

__all__ = ["StreamExecutionEnvironment", "RuntimeExecutionMode", "ExecutionConfig"]

DEFAULT_JOB_NAME = "nbstream job"


class RuntimeExecutionMode(Enum):
    """STREAMING: results as records arrive; BATCH: bounded input, final results only."""

    STREAMING = 0
    BATCH = 1
    AUTOMATIC = 2


class ExecutionConfig:
    """Job-wide settings (``env.get_config()``), as Flink's ExecutionConfig."""

    def __init__(self) -> None:
        self._auto_watermark_interval = 200
        self._job_parameters: Dict[str, Any] = {}
        self._batch_size = 2048
        self._channel_capacity = 8

    def set_auto_watermark_interval(self, interval_ms: int) -> "ExecutionConfig":
        """How often (processing-time ms) periodic watermark generators emit."""
        self._auto_watermark_interval = whole_number(interval_ms, "the watermark interval", 0)
        return self

    def get_auto_watermark_interval(self) -> int:
        return self._auto_watermark_interval

    def set_global_job_parameters(self, parameters: Mapping[str, Any]) -> "ExecutionConfig":
        """Parameters every function can read with ``runtime_context.get_job_parameter``."""
        self._job_parameters = dict(parameters)
        return self

    def get_global_job_parameters(self) -> Dict[str, Any]:
        return dict(self._job_parameters)

    def set_batch_size(self, records: int) -> "ExecutionConfig":
        """Most records a source puts into one batch (default 2048)."""
        self._batch_size = whole_number(records, "the batch size", 1)
        return self

    def get_batch_size(self) -> int:
        return self._batch_size

    def set_channel_capacity(self, batches: int) -> "ExecutionConfig":
        """Batches a channel between tasks holds before the sender waits (default 8)."""
        self._channel_capacity = whole_number(batches, "the channel capacity", 1)
        return self


class StreamExecutionEnvironment:
    """Builds pipelines and runs them as jobs.

    Configuration keys understood by :meth:`get_execution_environment` and
    :meth:`configure`: ``parallelism.default``, ``pipeline.max-parallelism``,
    ``python.execution-mode``, ``execution.runtime-mode`` (``streaming``/``batch``),
    ``pipeline.auto-watermark-interval`` (ms), ``execution.buffer-timeout`` (ms),
    ``pipeline.operator-chaining`` (``false`` fuses no steps), ``nbstream.batch-size``,
    ``nbstream.combine-before-shuffle`` (``false``: BATCH reduces get every record across
    the shuffle, see :mod:`nbstream.runtime.combine`), ``nbstream.combine.max-keys``.
    """

    #: the class of the streams ``key_by`` returns (a compatibility layer may refine it)
    _keyed_stream_type = KeyedStream

    def __init__(self, configuration: Optional[Mapping[str, Any]] = None) -> None:
        self._graph = StreamGraph()
        self._parallelism = 1
        self._max_parallelism: Optional[int] = None  # automatic, as Flink
        self._runtime_mode = RuntimeExecutionMode.STREAMING
        self._execution_mode = "thread"
        self._chaining = True
        self._buffer_timeout_ms = 50
        self._config = ExecutionConfig()
        self._clock: Clock = SystemClock()
        self._settings: Dict[str, Any] = {}
        self._checkpoint_config = CheckpointConfig()
        self._state_backend: StateBackend = HashMapStateBackend()
        self._restart_strategy: Optional[RestartStrategyConfiguration] = None
        self._savepoint_path: Optional[str] = None
        self._allow_non_restored = False
        self._trust_savepoint = False
        if configuration:
            self.configure(configuration)

    @staticmethod
    def get_execution_environment(configuration: Any = None) -> "StreamExecutionEnvironment":
        """A new environment; ``configuration`` is a dict (or anything with ``to_dict()``)."""
        if configuration is not None and not isinstance(configuration, Mapping):
            to_dict = getattr(configuration, "to_dict", None)
            if to_dict is None:
                raise TypeError("configuration must be a dict of Flink-style keys")
            configuration = to_dict()
        return StreamExecutionEnvironment(configuration)

    def configure(self, configuration: Mapping[str, Any]) -> "StreamExecutionEnvironment":
        """Apply Flink-style configuration keys (see the class docstring)."""
        handlers = {
            "parallelism.default": lambda v: self.set_parallelism(
                whole_number(v, "configuration key 'parallelism.default'", 1, text=True)),
            "pipeline.max-parallelism": lambda v: self.set_max_parallelism(
                whole_number(v, "configuration key 'pipeline.max-parallelism'", 1, 32768, text=True)),
            "python.execution-mode": lambda v: self.set_execution_mode(str(v)),
            "execution.runtime-mode": lambda v: self.set_runtime_mode(
                RuntimeExecutionMode[str(v).upper()]),
            "pipeline.auto-watermark-interval": lambda v: self._config.set_auto_watermark_interval(
                _millis(v)),
            "execution.buffer-timeout": lambda v: self.set_buffer_timeout(_millis(v)),
            "pipeline.operator-chaining": self._configure_chaining,
            "pipeline.operator-chaining.enabled": self._configure_chaining,
            "nbstream.batch-size": lambda v: self._config.set_batch_size(
                whole_number(v, "configuration key 'nbstream.batch-size'", 1, text=True)),
            "nbstream.combine-before-shuffle": self._configure_combine,
            "nbstream.combine.max-keys": lambda v: setattr(self, "_combine_max_keys", whole_number(
                v, "configuration key 'nbstream.combine.max-keys'", 1, text=True)),
        }
        for key, value in configuration.items():
            self._settings[key] = value
            handler = handlers.get(key)
            if handler is not None:
                handler(value)
        configure_checkpoints(self, configuration)
        configure_state_backend(self, configuration)
        return self

    def _configure_chaining(self, value: Any) -> None:
        self._chaining = str(value).strip().lower() != "false"

    def _configure_combine(self, value: Any) -> None:
        self._combine = str(value).strip().lower() != "false"

    def __getattr__(self, name: str) -> Any:
        why = _NOT_YET.get(name)
        if why is None:
            raise AttributeError(f"'StreamExecutionEnvironment' object has no attribute {name!r}")
        raise NotAvailableError(f"StreamExecutionEnvironment.{name}() is not available in "
                                f"nbstream yet: {why}")

    def __repr__(self) -> str:
        return (f"<nbstream StreamExecutionEnvironment mode={self._execution_mode} "
                f"parallelism={self._parallelism}>")

    # -- settings ------------------------------------------------------------------------------
    def set_parallelism(self, parallelism: int) -> "StreamExecutionEnvironment":
        """Default parallelism of every step (sources such as from_collection keep 1)."""
        self._parallelism = parallelism_of(parallelism)
        return self

    def get_parallelism(self) -> int:
        return self._parallelism

    def set_max_parallelism(self, max_parallelism: int) -> "StreamExecutionEnvironment":
        """Number of key groups (the upper bound of any keyed step's parallelism)."""
        self._max_parallelism = parallelism_of(max_parallelism, "max parallelism", maximum=True)
        return self

    def get_max_parallelism(self) -> int:
        return self._max_parallelism or max(DEFAULT_MAX_PARALLELISM, self._parallelism)

    def set_runtime_mode(self, mode: RuntimeExecutionMode) -> "StreamExecutionEnvironment":
        if not isinstance(mode, RuntimeExecutionMode):
            raise TypeError(f"set_runtime_mode() takes a RuntimeExecutionMode, not {mode!r}")
        self._runtime_mode = mode
        return self

    def get_runtime_mode(self) -> RuntimeExecutionMode:
        return self._runtime_mode

    def set_execution_mode(self, mode: str) -> "StreamExecutionEnvironment":
        """Where tasks run: ``thread`` (threads in this kernel), ``process`` (a warm pool of
        worker processes), ``auto`` (measured per step while the job runs), ``flink`` (a job
        on Apache Flink; needs ``nbstream[flink]``). A step may override it with
        ``set_execution_mode``. A mode that cannot work here says so at once; the process
        mode starts the worker pool in the background at once."""
        check_mode(mode)
        self._execution_mode = mode
        if mode == "process":  # the workers start now, not with the first job
            from ..runtime.executors.pool import warm_up
            warm_up()
        return self

    def get_execution_mode(self) -> str:
        return self._execution_mode

    def disable_operator_chaining(self) -> "StreamExecutionEnvironment":
        """Run every step as its own task (useful to see per-step behaviour; slower)."""
        self._chaining = False
        return self

    def is_chaining_enabled(self) -> bool:
        return self._chaining

    def set_buffer_timeout(self, timeout_millis: int) -> "StreamExecutionEnvironment":
        """Longest a source holds records before sending a partial batch (default 50 ms)."""
        self._buffer_timeout_ms = whole_number(timeout_millis, "the buffer timeout (ms)", 0)
        return self

    def get_buffer_timeout(self) -> int:
        return self._buffer_timeout_ms

    def get_config(self) -> ExecutionConfig:
        return self._config

    def set_processing_time_clock(self, clock: Clock) -> "StreamExecutionEnvironment":
        """Replace the processing-time clock (a :class:`ManualClock` in tests)."""
        self._clock = clock
        return self

    # -- sources -----------------------------------------------------------------------------------
    def _source(self, spec: S.SourceSpec, name: str,
                type_info: Optional[TypeInformation] = None) -> DataStream:
        node = self._graph.add("source", name, params={"source": spec,
                                                       "non_parallel": spec.non_parallel},
                               output_type=type_info)
        return DataStream(self, node.id)

    def from_collection(self, collection: Iterable[Any],
                        type_info: Optional[TypeInformation] = None) -> DataStream:
        """The elements of a collection (a non-parallel source).

        With ``type_info=Types.ROW_NAMED(...)``, tuples become Rows with field names."""
        if isinstance(collection, (str, bytes)) or not hasattr(collection, "__iter__"):
            raise TypeError(f"from_collection() needs a collection, not {type(collection).__name__}")
        if hasattr(collection, "__next__"):
            raise TypeError("from_collection() needs a collection; for an iterator or generator "
                            "use from_iterable()")
        return self._source(S.CollectionSource(collection, type_info), "Source: Collection Source",
                            type_info)

    def from_elements(self, *elements: Any) -> DataStream:
        """The given elements, in order."""
        return self.from_collection(elements)

    def from_sequence(self, start: int, end: int) -> DataStream:
        """The integers ``start`` to ``end`` inclusive (a parallel source)."""
        return self._source(S.SequenceSource(start, end), "Source: Sequence Source")

    def generate_sequence(self, start: int, end: int) -> DataStream:
        """The old Flink Python API's name for :meth:`from_sequence`."""
        return self.from_sequence(start, end)

    def from_iterable(self, iterable: Any, name: str = "Source: Iterable") -> DataStream:
        """Records from an iterable or a generator function (possibly endless): the
        notebook's natural source. Pass the generator *function* so that every run
        starts afresh.

        >>> env = StreamExecutionEnvironment.get_execution_environment()
        >>> def ticks():
        ...     n = 0
        ...     while True:
        ...         yield n
        ...         n += 1
        >>> env.from_iterable(ticks).execute_and_collect(limit=3)
        [0, 1, 2]
        """
        return self._source(S.IterableSource(iterable), name)

    def read_text_file(self, file_path: str, charset_name: str = "UTF-8") -> DataStream:
        """The lines of a text file."""
        return self._source(S.TextFileSource(file_path, charset_name.lower()),
                            f"Source: {os.path.basename(os.fspath(file_path))}")

    def from_dataframe(self, df: Any, rows: str = "dict", timestamp_column: Optional[str] = None,
                       columnar: Optional[bool] = None) -> Any:
        """The rows of a pandas DataFrame, as dicts (default), tuples or Rows; with
        ``timestamp_column`` each row carries that column as its event time.

        The frame travels as Arrow batches (a :class:`ColumnarStream`, see
        :mod:`nbstream.api.columnar`) as far as the steps after it have a columnar form
        (watermarks, ``key_by`` on column names, windowed count/sum/mean/min/max); the
        first row step turns it into the rows asked for, once, with the values pandas
        gives (``env.explain()`` shows that ``ToRows`` step and why). A frame whose rows
        would not come back from Arrow unchanged (lists in a column, a missing string
        that is NaN, ...) is read as rows from the start, as with ``columnar=False`` and
        in flink mode; ``columnar=True`` is :meth:`from_arrow`.

        >>> import pandas as pd
        >>> env = StreamExecutionEnvironment.get_execution_environment()
        >>> df = pd.DataFrame({"page": ["a", "b", "a"], "ms": [1, 2, 3]})
        >>> env.from_dataframe(df).map(lambda r: r["page"]).execute_and_collect(limit=3)
        ['a', 'b', 'a']
        """
        if columnar:
            return self.from_arrow(df, timestamp_column=timestamp_column)
        spec = S.DataFrameSource(df, rows, timestamp_column)  # checks the arguments
        if columnar is None:  # Flink runs rows: there, a frame is rows from the start
            table = frame_table(df, timestamp_column) if self._execution_mode != "flink" \
                else "flink mode"
            if not isinstance(table, str):
                return columnar_source(self, ArrowSource.frame(table), "DataFrame",
                                       timestamp_column, frame_rows=rows)
            return self._source(spec, f"Source: DataFrame (as rows: {table})")
        return self._source(spec, "Source: DataFrame")

    def from_arrow(self, data: Any, timestamp_column: Optional[str] = None,
                   batch_rows: int = DEFAULT_BATCH_ROWS) -> "ColumnarStream":
        """A columnar stream of a ``pyarrow.Table``, a ``RecordBatchReader`` (read once),
        a pandas or a polars DataFrame, in batches of at most ``batch_rows`` rows.
        ``timestamp_column``: event time, int milliseconds or an Arrow timestamp."""
        return columnar_source(self, ArrowSource.of(data, batch_rows), "Arrow",
                               timestamp_column)

    def from_polars(self, df: Any, timestamp_column: Optional[str] = None,
                    batch_rows: int = DEFAULT_BATCH_ROWS) -> "ColumnarStream":
        """A columnar stream of a polars DataFrame (see :meth:`from_arrow`)."""
        return self.from_arrow(df, timestamp_column, batch_rows)

    def read_parquet(self, path: str, timestamp_column: Optional[str] = None,
                     columns: Optional[List[str]] = None,
                     batch_rows: int = DEFAULT_BATCH_ROWS) -> "ColumnarStream":
        """A columnar stream of a Parquet file, or of the Parquet files of a folder in
        name order, read one batch at a time (only ``columns``, if given)."""
        return columnar_source(self, ArrowSource.parquet(path, columns, batch_rows), "Parquet",
                               timestamp_column)

    def read_csv(self, path: str, timestamp_column: Optional[str] = None,
                 batch_rows: int = DEFAULT_BATCH_ROWS, **convert_options: Any) -> "ColumnarStream":
        """A columnar stream of a CSV file with a header line, read one block at a time
        (``convert_options`` go to ``pyarrow.csv.ConvertOptions``, e.g. ``column_types``)."""
        return columnar_source(self, ArrowSource.csv(path, batch_rows, **convert_options), "CSV",
                               timestamp_column)

    def socket_text_stream(self, hostname: str, port: int, delimiter: str = "\n",
                           max_retry: int = 0) -> DataStream:
        """Lines from a TCP server, read until it closes the connection."""
        return self._source(S.SocketTextSource(hostname, port, delimiter, max_retry),
                            f"Source: Socket Stream {hostname}:{port}")

    def from_source(self, source: Any, watermark_strategy: Any, source_name: str,
                    type_info: Optional[TypeInformation] = None) -> DataStream:
        """Records of a connector's source (``KafkaSource``, ``FileSource``, the live feeds
        of :mod:`nbstream.connectors.web`), with event time and watermarks from
        ``watermark_strategy``. A source that reads splits (Kafka's partitions) runs the
        strategy per split itself, as Flink does."""
        own = getattr(source, "_nbstream_from_source", None)
        if own is not None:
            return own(self, watermark_strategy, source_name, type_info)
        make = getattr(source, "_nbstream_source", None)
        if make is None:
            raise PlanError(f"from_source: {type(source).__name__} is not a source nbstream "
                            "can read (KafkaSource, FileSource, NumberSequenceSource, the "
                            "feeds of nbstream.connectors.web)")
        ds = make(self, source_name, type_info)
        if watermark_strategy is not None and watermark_strategy.describe_assigner() is not None:
            ds = ds.assign_timestamps_and_watermarks(watermark_strategy)
        return ds

    def add_source(self, source_func: Any, source_name: str = "Custom Source",
                   type_info: Optional[TypeInformation] = None) -> DataStream:
        """A user source: a SourceFunction whose ``run(ctx)`` emits with ``ctx.collect``."""
        return self._source(S.FunctionSource(source_func), f"Source: {source_name}", type_info)

    # -- running -----------------------------------------------------------------------------------
    _batch_key_order = "arrival"  # see JobConfig.batch_key_order
    _combine, _combine_max_keys = True, 10_000  # see JobConfig.combine_before_shuffle

    def _default_parallelism(self) -> int:
        """The parallelism of steps that have none of their own."""
        return self._parallelism

    def _job_config(self) -> JobConfig:
        cfg = self._config
        return JobConfig(batch_size=cfg._batch_size, buffer_timeout_ms=self._buffer_timeout_ms,
                         channel_capacity=cfg._channel_capacity,
                         auto_watermark_interval_ms=cfg._auto_watermark_interval,
                         batch_mode=self._runtime_mode is RuntimeExecutionMode.BATCH,
                         batch_key_order=self._batch_key_order,
                         combine_before_shuffle=self._combine,
                         combine_max_keys=self._combine_max_keys,
                         job_parameters=cfg.get_global_job_parameters(),
                         settings=dict(self._settings),
                         checkpoints=self._checkpoint_config.settings(),
                         restart=self._effective_restart(),
                         restore_from=self._savepoint_path,
                         allow_non_restored_state=self._allow_non_restored,
                         trust_savepoint=self._trust_savepoint,
                         state_backend=self._state_backend._settings())

    def _plan(self, job_name: str, all_nodes: bool = False) -> PhysicalPlan:
        graph = self._graph
        nodes = graph.ancestors(graph.sinks) if graph.sinks and not all_nodes else dict(graph.nodes)
        known = None
        if self._execution_mode == "auto":  # what needs no measuring is placed up front
            known = planned_modes(nodes, self._checkpoint_config.settings() is not None)
        return plan_job(nodes, job_name, self._default_parallelism(), self._chaining,
                        self._job_config(),
                        self._max_parallelism, self._execution_mode, known)

    def get_execution_plan(self) -> str:
        """The plan of the next job as JSON, in the shape of Flink's ``getExecutionPlan``:
        operators with parallelism, chain and the ship strategy of each input."""
        return self._plan(DEFAULT_JOB_NAME).to_json()

    def explain(self, code: bool = False) -> str:
        """The plan of the next job as readable text (chains, parallelism, partitioning);
        with ``code=True`` also the Python loop each fused run of steps runs as (map,
        filter and flat_map steps, a key_by at parallelism 1 and the reduce after it;
        see :mod:`nbstream.runtime.fused`)."""
        plan = self._plan(DEFAULT_JOB_NAME)
        if not code:
            return plan.explain()
        from ..runtime.fused import explain_code
        return plan.explain() + "\n\n" + explain_code(plan)

    def record(self, name: str, max_seconds: float = 600, max_bytes: int = 256 * 1024 ** 2) -> None:
        """Record the next job's sources as recording ``name`` (see
        :mod:`nbstream.connectors.recording`); a limit stops the recording, not the job."""
        self._sources_from = ("record", name, max_seconds, max_bytes)

    def replay(self, name: str, speed: Union[float, str] = 1.0, trust: bool = False) -> None:
        """Run the next job on recording ``name`` instead of its live sources, paced by the
        recorded arrival times ``speed`` times faster (``"max"``: as fast as possible).
        A recording not signed by your key (someone else's, or made before recordings were
        signed) is refused unless ``trust=True``: objects pickled in it could run code."""
        self._sources_from = ("replay", name, speed, trust)

    def _override_sources(self, plan: PhysicalPlan) -> None:
        how, self._sources_from = getattr(self, "_sources_from", None), None
        if how is None:
            return
        from ..connectors import recording

        sources = [n for n in plan.nodes.values() if n.is_source]
        if how[0] == "record":
            specs: Dict[int, Any] = recording.plan_recording(how[1], sources, how[2], how[3])
        else:
            specs = recording.plan_replay(how[1], sources, how[2], how[3])
        for nid, spec in specs.items():
            node = plan.nodes[nid]
            plan.nodes[nid] = node.replace(params={**node.params, "source": spec})  # type: ignore[index]

    # -- fault tolerance ---------------------------------------------------------------------
    def enable_checkpointing(self, interval: int,
                             mode: Optional[CheckpointingMode] = None) -> "StreamExecutionEnvironment":
        """Checkpoint every ``interval`` ms (see :mod:`nbstream.api.checkpointing`); with
        it, a failed job restarts from its last checkpoint (Flink's default strategy:
        fixed delay, 1 s apart) and exactly-once sinks hold results back until the
        checkpoint after them completes."""
        self._checkpoint_config.set_checkpoint_interval(interval)
        if mode is not None:
            self._checkpoint_config.set_checkpointing_mode(mode)
        return self

    def get_checkpoint_config(self) -> CheckpointConfig:
        return self._checkpoint_config

    def get_checkpoint_interval(self) -> int:
        return self._checkpoint_config.get_checkpoint_interval()

    def get_checkpointing_mode(self) -> CheckpointingMode:
        return self._checkpoint_config.get_checkpointing_mode()

    def set_restart_strategy(self, strategy: RestartStrategyConfiguration) -> None:
        """What a failed job does (``RestartStrategies.fixed_delay_restart(3, 1000)``...)."""
        if not isinstance(strategy, RestartStrategyConfiguration):
            raise PlanError(f"set_restart_strategy takes a RestartStrategies.*() value, "
                            f"not {strategy!r}")
        self._restart_strategy = strategy

    def get_restart_strategy(self) -> Optional[RestartStrategyConfiguration]:
        return self._restart_strategy

    def set_state_backend(self, state_backend: StateBackend) -> "StreamExecutionEnvironment":
        """Where keyed state lives: ``HashMapStateBackend()`` (the default) or
        ``EmbeddedRocksDBStateBackend()`` (see :mod:`nbstream.api.state_backends`)."""
        self._state_backend = check_state_backend(state_backend)
        return self

    def get_state_backend(self) -> StateBackend:
        return self._state_backend

    def _effective_restart(self) -> Any:
        from .checkpointing import effective_restart
        return effective_restart(self._restart_strategy,
                                 self._checkpoint_config.is_checkpointing_enabled())

    def execute_async(self, job_name: Optional[str] = None,
                      savepoint_path: Optional[str] = None,
                      allow_non_restored_state: bool = False,
                      trust_savepoint: bool = False) -> JobClient:
        """Start the job made of every sink added since the last run; return its handle.
        ``savepoint_path``: start from that savepoint or checkpoint (as the
        ``execution.savepoint.path`` setting), or from the newest checkpoint that checks
        out in a job's checkpoint folder. It must be signed by your key (see the README's
        checkpoint section); ``trust_savepoint=True`` restores one that is not (someone
        else's, or written before files were signed): its pickled objects could run code."""
        if savepoint_path is not None:
            self._savepoint_path = os.fspath(savepoint_path)
            self._allow_non_restored = allow_non_restored_state
            self._trust_savepoint = trust_savepoint
        if not self._graph.sinks:
            raise PlanError("No sinks defined: add one (print(), add_sink(), write_as_text(), "
                            "execute_and_collect()) before executing")
        name = job_name or DEFAULT_JOB_NAME
        try:  # the pending sinks belong to this attempt, whether it starts or not
            plan = self._plan(name)
            self._override_sources(plan)
            executor = get_executor(executor_for(plan.modes.values()))
            job = JobClient(name, mode=self._execution_mode, stdout=sys.stdout,
                            stderr=sys.stderr)
            job.plan = plan
            for nid, node in plan.nodes.items():
                if node.is_source:
                    node.params["source"].prepare(job)
                elif node.is_sink:
                    node.params["sink"].prepare(job, plan.parallelism[nid])
            arm_job(job, plan, executor, self._clock)
        finally:
            self._graph.sinks = []
            if savepoint_path is not None:
                self._savepoint_path, self._allow_non_restored = None, False
                self._trust_savepoint = False
        try:
            executor.start(plan, job, self._clock)
        except BaseException:
            if job.checkpoints is not None:  # the job never ran: nothing to keep
                job.checkpoints.stop()
                job.checkpoints.storage.discard()
            raise
        return job

    def execute(self, job_name: Optional[str] = None, savepoint_path: Optional[str] = None,
                allow_non_restored_state: bool = False,
                trust_savepoint: bool = False) -> JobExecutionResult:
        """Run the job to its end and return its result (raises its error if it fails).
        An interrupt (Ctrl-C, or the notebook's stop button) cancels the job."""
        job = self.execute_async(job_name, savepoint_path, allow_non_restored_state,
                                 trust_savepoint)
        try:
            return job.result()
        except KeyboardInterrupt:
            job.cancel()
            job.wait(10)
            raise


_CHECKPOINTS = ("state backends other than HashMapStateBackend and EmbeddedRocksDBStateBackend "
                "(the changelog one) and a default savepoint directory are not built yet")
#: PyFlink's environment methods that nbstream does not have yet, and why.
_NOT_YET = {name: _CHECKPOINTS for name in (
    "enable_changelog_state_backend",
    "is_changelog_state_backend_enabled", "set_default_savepoint_directory",
    "get_default_savepoint_directory")}


def _millis(value: Union[int, str]) -> int:
    return to_millis(value, "duration")
