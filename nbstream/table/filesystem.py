"""The ``filesystem`` connector: bounded scans of a file or a folder of files and writes of
part files, in the ``csv``, ``json``, ``raw`` and ``parquet`` formats.

Reading: every non-hidden file under ``path`` (sorted by name), one row per line (csv,
json, raw) or per Parquet row. Writing: part files through nbstream's FileSink (hidden
while in progress, published at the end of a bounded input or when a checkpoint
completes: exactly once), named ``part-<uuid>-<subtask>-<n>``; Parquet is written once, at
the end of a bounded input.

Flink's formats: csv without a header, strings quoted only when needed, NULL an empty
field (read back: an empty STRING field is ``''``; an empty number fails the job unless
``csv.ignore-parse-errors``); json one object per line, NULL ``null``, timestamps in SQL
form (``2024-01-02 03:04:05.678``).
"""

from __future__ import annotations

import csv
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from ..api.functions import SinkFunction
from .connectors import TableSink, TableSource, register_sink, register_source
from .types import DataType, ValidationError
from .values import converter, java_double, java_float

__all__ = ["FileSystemSource", "FileSystemSink", "decoder", "encoder"]


def _files(path: str) -> List[str]:
    if os.path.isdir(path):
        out = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            out.extend(os.path.join(root, n) for n in sorted(names)
                       if not n.startswith((".", "_")))
        return out
    if os.path.exists(path):
        return [path]
    raise ValidationError(f"filesystem: no file or folder at 'path' = '{path}'")


# -- decoding -----------------------------------------------------------------------------------
def _text_value(t: DataType, ignore_errors: bool, null_literal: Optional[str]) -> Callable[[str], Any]:
    conv = converter(t)
    root = t.root

    def parse(text: str) -> Any:
        if null_literal is not None and text == null_literal:
            return None
        if root in ("CHAR", "VARCHAR"):
            return text
        if text == "" and root not in ("CHAR", "VARCHAR"):
            if ignore_errors:
                return None
            raise ValueError(f"NumberFormatException: empty String (a {t.summary_string()} "
                             "field is empty; set 'csv.ignore-parse-errors' = 'true' to read "
                             "it as NULL)")
        try:
            if root in ("TINYINT", "SMALLINT", "INT", "BIGINT"):
                return int(text)
            if root in ("FLOAT", "DOUBLE", "DECIMAL"):
                return conv(float(text) if root != "DECIMAL" else __import__("decimal").Decimal(text))
            if root == "BOOLEAN":
                return text.strip().lower() == "true"
            if root in ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE", "TIME"):
                from .functions.cast import Caster
                from .types import DataTypes
                return Caster(DataTypes.STRING(), t)(text)
            if root in ("BINARY", "VARBINARY"):
                import base64
                return base64.b64decode(text)
        except (ValueError, ArithmeticError):
            if ignore_errors:
                return None
            raise
        return conv(text)
    return parse


def decoder(fmt: str, names: Sequence[str], types: Sequence[DataType],
            options: Dict[str, str]) -> Callable[[str], Optional[tuple]]:
    """A function from one line of a file to a row tuple (kind first), or None to skip."""
    ignore = options.get(f"{fmt}.ignore-parse-errors", "false").lower() == "true"
    if fmt == "csv":
        delimiter = options.get("csv.field-delimiter", ",")
        quote = options.get("csv.quote-character", '"')
        parsers = [_text_value(t, ignore, options.get("csv.null-literal")) for t in types]
        width = len(types)

        def csv_row(line: str) -> Optional[tuple]:
            fields = next(csv.reader([line], delimiter=delimiter, quotechar=quote))
            if len(fields) < width:
                fields += [""] * (width - len(fields))
            try:
                return (0,) + tuple(p(f) for p, f in zip(parsers, fields))
            except (ValueError, ArithmeticError):
                if ignore:
                    return None
                raise
        return csv_row
    if fmt == "json":
        convs = [converter(t) for t in types]
        text_types = [_text_value(t, ignore, None) if t.root in (
            "TIMESTAMP", "TIMESTAMP_LTZ", "DATE", "TIME", "DECIMAL") else None for t in types]

        def json_row(line: str) -> Optional[tuple]:
            try:
                obj = json.loads(line)
            except ValueError:
                if ignore:
                    return None
                raise
            out = []
            for n, c, tt in zip(names, convs, text_types):
                v = obj.get(n)
                if v is not None and tt is not None:
                    v = tt(str(v))
                out.append(c(v) if v is not None else None)
            return (0,) + tuple(out)
        return json_row
    if fmt == "raw":
        return lambda line: (0, line)
    raise ValidationError(f"Could not find any format factory for identifier '{fmt}' "
                          "(nbstream's filesystem formats: csv, json, raw, parquet)")


class _FileRows:
    """The rows of the files under a path (a generator function, so each run rereads)."""

    def __init__(self, path: str, fmt: str, names: List[str], types: List[DataType],
                 options: Dict[str, str]) -> None:
        self.path, self.fmt, self.names, self.types = path, fmt, names, types
        self.options = options

    def __call__(self) -> Iterator[tuple]:
        if self.fmt == "parquet":
            yield from _parquet_rows(self.path, self.names, self.types)
            return
        decode = decoder(self.fmt, self.names, self.types, self.options)
        for f in _files(self.path):
            with open(f, encoding="utf-8", newline="") as fh:
                for line in fh:
                    line = line.rstrip("\r\n")
                    if not line and self.fmt != "raw":
                        continue
                    row = decode(line)
                    if row is not None:
                        yield row


def _parquet_rows(path: str, names: List[str], types: List[DataType]) -> Iterator[tuple]:
    import pyarrow.parquet as pq
    convs = [converter(t) for t in types]
    for f in _files(path):
        pf = pq.ParquetFile(f)
        for batch in pf.iter_batches(columns=names):
            cols = [batch.column(n).to_pylist() for n in names]
            for values in zip(*cols):
                yield (0,) + tuple(c(v) for c, v in zip(convs, values))


class FileSystemSource(TableSource):
    description = "filesystem"

    def __init__(self, options: Dict[str, str], names: List[str], types: List[DataType]) -> None:
        if "path" not in options:
            raise ValidationError("filesystem: the option 'path' is required")
        self.options, self.names, self.types = options, names, types
        self.format = options.get("format", "")
        if not self.format:
            raise ValidationError("filesystem: the option 'format' is required (csv, json, raw, "
                                  "parquet)")
        if self.format == "raw" and len(types) != 1:
            raise ValidationError("The 'raw' format only supports single physical column.")

    def stream(self, env: Any) -> Any:
        return env.from_iterable(_FileRows(self.options["path"], self.format, self.names,
                                           self.types, self.options),
                                 f"Source: filesystem {os.path.basename(self.options['path'])}")

    def columnar(self, env: Any, timestamp_column: Optional[str] = None) -> Any:
        if self.format != "parquet":
            return None
        return env.read_parquet(self.options["path"], timestamp_column=timestamp_column,
                                columns=list(self.names))


# -- encoding -----------------------------------------------------------------------------------
def _sql_time_text(v: Any) -> str:
    """A timestamp as Flink's json/csv writers give it: fraction digits only when not zero."""
    text = v.strftime("%Y-%m-%d %H:%M:%S")
    if v.microsecond:
        text += ("." + f"{v.microsecond:06d}").rstrip("0")
    return text


def _field_text(v: Any, t: DataType) -> Optional[str]:
    if v is None:
        return None
    root = t.root
    if root == "BOOLEAN":
        return "true" if v else "false"
    if root == "DOUBLE":
        return java_double(v)
    if root == "FLOAT":
        return java_float(v)
    if root == "DECIMAL":
        return format(v, "f")
    if root in ("TIMESTAMP",):
        return _sql_time_text(v)
    if root == "TIMESTAMP_LTZ":
        return _sql_time_text(v.replace(tzinfo=None)) + "Z"
    if root in ("DATE", "TIME"):
        return v.isoformat()
    return str(v)


def encoder(fmt: str, names: Sequence[str], types: Sequence[DataType]) -> Callable[[tuple], str]:
    """A function from a row tuple (kind first) to its line in the file."""
    if fmt == "csv":
        def csv_line(r: tuple) -> str:
            out = []
            for v, t in zip(r[1:], types):
                text = _field_text(v, t)
                if text is None:
                    out.append("")
                elif any(c in text for c in ',"\r\n') or (
                        " " in text and t.root in ("TIMESTAMP", "TIMESTAMP_LTZ")):
                    out.append('"' + text.replace('"', '""') + '"')
                else:
                    out.append(text)
            return ",".join(out)
        return csv_line
    if fmt == "json":
        def json_line(r: tuple) -> str:
            obj = {}
            for n, v, t in zip(names, r[1:], types):
                if v is None:
                    obj[n] = None
                elif t.root in ("TINYINT", "SMALLINT", "INT", "BIGINT", "BOOLEAN"):
                    obj[n] = v
                elif t.root in ("DOUBLE", "FLOAT"):
                    obj[n] = v
                elif t.root == "DECIMAL":
                    obj[n] = _RawNumber(format(v, "f"))
                else:
                    obj[n] = _field_text(v, t)
            return _dumps(obj)
        return json_line
    if fmt == "raw":
        return lambda r: "" if r[1] is None else str(r[1])
    raise ValidationError(f"Could not find any format factory for identifier '{fmt}' "
                          "(nbstream's filesystem formats: csv, json, raw, parquet)")


class _RawNumber(str):
    pass


def _dumps(obj: Dict[str, Any]) -> str:
    parts = []
    for k, v in obj.items():
        if isinstance(v, _RawNumber):
            text = str(v)
        else:
            text = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        parts.append(json.dumps(k) + ":" + text)
    return "{" + ",".join(parts) + "}"


class FileSystemSink(TableSink):
    """Rows into part files (see the module text). An updating input is refused."""

    description = "filesystem"
    accepts_updates = False

    def __init__(self, options: Dict[str, str], names: List[str], types: List[DataType]) -> None:
        if "path" not in options:
            raise ValidationError("filesystem: the option 'path' is required")
        self.options, self.names, self.types = options, names, types
        self.format = options.get("format", "")
        if self.format not in ("csv", "json", "raw", "parquet"):
            raise ValidationError(f"Could not find any format factory for identifier "
                                  f"'{self.format}' (filesystem formats: csv, json, raw, parquet)")

    def consume(self, stream: Any, names: Sequence[str], types: Sequence[DataType]) -> Any:
        path = self.options["path"]
        if self.format == "parquet":
            return stream.add_sink(_ParquetSinkFunction(path, list(names), list(types)))
        from ..connectors.files import BucketAssigner, FileSink, RollingPolicy
        sink = (FileSink.for_row_format(path)
                .with_bucket_assigner(BucketAssigner.base_path_bucket_assigner())
                .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy()).build())
        lines = stream.map(_Encode(encoder(self.format, names, types)))
        return lines.sink_to(sink)


class _Encode:
    def __init__(self, encode: Callable[[tuple], str]) -> None:
        self.encode = encode

    def __call__(self, r: tuple) -> str:
        return self.encode(r)


class _ParquetSinkFunction(SinkFunction):
    """Parquet rows of a bounded job: collected, written as one file at the end."""

    def __init__(self, path: str, names: List[str], types: List[DataType]) -> None:
        self.path, self.names, self.types = path, names, types

    def open(self, runtime_context: Any) -> None:
        self.rows: List[tuple] = []
        self.subtask = runtime_context.get_index_of_this_subtask()

    def invoke(self, value: tuple, context: Any = None) -> None:
        self.rows.append(value[1:])

    def close(self) -> None:
        import uuid

        import pyarrow as pa
        import pyarrow.parquet as pq

        from .values import arrow_type
        if not self.rows:
            return
        os.makedirs(self.path, exist_ok=True)
        cols = [pa.array([r[i] for r in self.rows], type=arrow_type(t))
                for i, t in enumerate(self.types)]
        table = pa.Table.from_arrays(cols, names=self.names)
        name = f"part-{uuid.uuid4()}-{self.subtask}-0.parquet"
        pq.write_table(table, os.path.join(self.path, name))


register_source("filesystem", FileSystemSource)
register_sink("filesystem", FileSystemSink)
