"""``Schema``, ``TableDescriptor`` and ``FormatDescriptor``: a table declared in Python, the
programmatic form of CREATE TABLE.

>>> from nbstream.table.types import DataTypes
>>> schema = (Schema.new_builder().column("id", DataTypes.BIGINT())
...           .column_by_expression("id2", "id * 2").build())
>>> [c.name for c in schema.columns]
['id', 'id2']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

from .types import DataType, ValidationError, as_type

__all__ = ["Schema", "TableDescriptor", "FormatDescriptor", "SchemaColumn", "WatermarkSpec"]


@dataclass
class SchemaColumn:
    """A column: physical (a type), computed (``expression``: SQL text or an Expression)
    or metadata."""

    name: str
    data_type: Optional[DataType] = None
    expression: Any = None
    metadata: Optional[str] = None
    virtual: bool = False
    comment: Optional[str] = None

    @property
    def is_physical(self) -> bool:
        return self.expression is None and self.metadata is None


@dataclass
class WatermarkSpec:
    column: str
    expression: Any  # SQL text or an Expression


@dataclass
class Schema:
    """The columns of a table, its watermark and primary key (``Schema.new_builder()``)."""

    columns: List[SchemaColumn] = field(default_factory=list)
    watermark: Optional[WatermarkSpec] = None
    primary_key: List[str] = field(default_factory=list)
    primary_key_name: Optional[str] = None

    @staticmethod
    def new_builder() -> "Schema.Builder":
        return Schema.Builder()

    def __str__(self) -> str:
        lines = []
        for c in self.columns:
            if c.expression is not None:
                lines.append(f"  `{c.name}` AS {c.expression}")
            else:
                lines.append(f"  `{c.name}` {c.data_type.summary_string() if c.data_type else ''}")
        if self.watermark is not None:
            lines.append(f"  WATERMARK FOR `{self.watermark.column}` AS {self.watermark.expression}")
        if self.primary_key:
            lines.append(f"  PRIMARY KEY ({', '.join('`' + k + '`' for k in self.primary_key)}) "
                         "NOT ENFORCED")
        return "(\n" + ",\n".join(lines) + "\n)"

    class Builder:
        def __init__(self) -> None:
            self._schema = Schema()

        def from_schema(self, schema: "Schema") -> "Schema.Builder":
            self._schema.columns.extend(schema.columns)
            if schema.watermark is not None:
                self._schema.watermark = schema.watermark
            self._schema.primary_key = list(schema.primary_key)
            return self

        def from_row_data_type(self, data_type: DataType) -> "Schema.Builder":
            for f in data_type.fields:  # type: ignore[attr-defined]
                self.column(f.name, f.data_type)
            return self

        def from_fields(self, field_names: List[str], field_data_types: List[DataType]
                        ) -> "Schema.Builder":
            for n, t in zip(field_names, field_data_types):
                self.column(n, t)
            return self

        def column(self, column_name: str, data_type: Union[str, DataType]) -> "Schema.Builder":
            self._schema.columns.append(SchemaColumn(column_name, as_type(data_type)))
            return self

        def column_by_expression(self, column_name: str, expr: Any) -> "Schema.Builder":
            self._schema.columns.append(SchemaColumn(column_name, expression=expr))
            return self

        def column_by_metadata(self, column_name: str, data_type: Union[str, DataType],
                               metadata_key: Optional[str] = None, is_virtual: bool = False
                               ) -> "Schema.Builder":
            self._schema.columns.append(SchemaColumn(column_name, as_type(data_type),
                                                     metadata=metadata_key or column_name,
                                                     virtual=is_virtual))
            return self

        def watermark(self, column_name: str, watermark_expr: Any) -> "Schema.Builder":
            self._schema.watermark = WatermarkSpec(column_name, watermark_expr)
            return self

        def primary_key(self, *column_names: str) -> "Schema.Builder":
            self._schema.primary_key = list(column_names)
            return self

        def primary_key_named(self, constraint_name: str, *column_names: str) -> "Schema.Builder":
            self._schema.primary_key = list(column_names)
            self._schema.primary_key_name = constraint_name
            return self

        def with_comment(self, comment: str) -> "Schema.Builder":
            if self._schema.columns:
                self._schema.columns[-1].comment = comment
            return self

        def build(self) -> "Schema":
            names = [c.name for c in self._schema.columns]
            dupes = {n for n in names if names.count(n) > 1}
            if dupes:
                raise ValidationError(f"Schema must not contain duplicate column names: "
                                      f"{sorted(dupes)}")
            return self._schema


class FormatDescriptor:
    """A format and its options (``FormatDescriptor.for_format('csv').option(...)``)."""

    def __init__(self, format: str, options: Optional[Dict[str, str]] = None) -> None:
        self.format = format
        self.options: Dict[str, str] = dict(options or {})

    @staticmethod
    def for_format(format: str) -> "FormatDescriptor.Builder":
        return FormatDescriptor.Builder(format)

    def get_format(self) -> str:
        return self.format

    def get_options(self) -> Dict[str, str]:
        return dict(self.options)

    class Builder:
        def __init__(self, format: str) -> None:
            self._d = FormatDescriptor(format)

        def option(self, key: str, value: Any) -> "FormatDescriptor.Builder":
            self._d.options[key] = _text(value)
            return self

        def build(self) -> "FormatDescriptor":
            return self._d


class TableDescriptor:
    """A table to create: connector, schema, options, format, partitioning, comment."""

    def __init__(self, connector: str) -> None:
        self.schema: Optional[Schema] = None
        self.options: Dict[str, str] = {"connector": connector}
        self.partition_keys: List[str] = []
        self.comment: Optional[str] = None

    @staticmethod
    def for_connector(connector: str) -> "TableDescriptor.Builder":
        return TableDescriptor.Builder(connector)

    def get_schema(self) -> Optional[Schema]:
        return self.schema

    def get_options(self) -> Dict[str, str]:
        return dict(self.options)

    def get_partition_keys(self) -> List[str]:
        return list(self.partition_keys)

    def get_comment(self) -> Optional[str]:
        return self.comment

    def __str__(self) -> str:
        opts = ",\n".join(f"  '{k}' = '{v}'" for k, v in self.options.items())
        return f"{self.schema or ''}\nWITH (\n{opts}\n)"

    class Builder:
        def __init__(self, connector: str) -> None:
            self._d = TableDescriptor(connector)

        def schema(self, schema: Schema) -> "TableDescriptor.Builder":
            self._d.schema = schema
            return self

        def option(self, key: str, value: Any) -> "TableDescriptor.Builder":
            self._d.options[key] = _text(value)
            return self

        def format(self, format: Union[str, FormatDescriptor],
                   format_option: Optional[str] = None) -> "TableDescriptor.Builder":
            if isinstance(format, FormatDescriptor):
                name = format.format
                self._d.options["format"] = name
                for k, v in format.options.items():
                    self._d.options[f"{name}.{k}"] = v
            else:
                key = "format" if format_option is None else format_option
                self._d.options[key] = format
            return self

        def partitioned_by(self, *partition_keys: str) -> "TableDescriptor.Builder":
            self._d.partition_keys = list(partition_keys)
            return self

        def comment(self, comment: str) -> "TableDescriptor.Builder":
            self._d.comment = comment
            return self

        def build(self) -> "TableDescriptor":
            return self._d


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
