"""Row and type information, shaped like PyFlink's ``pyflink.common``.

nbstream moves plain Python objects, so type information is optional. Where it is
given it means what it means in PyFlink: ``Types.ROW``/``ROW_NAMED`` turn tuples
into :class:`Row` (so fields can be addressed by name), and the print and text
sinks write typed values in Flink's text form (``(hi,0,5,4)``, ``+I[a, 4]``).

>>> from nbstream import Row, Types
>>> Types.ROW_NAMED(["word", "n"], [Types.STRING(), Types.INT()]).from_value(("hi", 2))
Row(word='hi', n=2)
"""

from __future__ import annotations

from typing import Any, List, Optional

from ..runtime.row import Row, RowKind, _make_row

__all__ = ["Row", "RowKind", "Types", "TypeInformation"]


class TypeInformation:
    """Describes a value's type: how to convert a Python value and how Flink prints it."""

    name = "PICKLED_BYTE_ARRAY"

    def from_value(self, value: Any) -> Any:
        """Bring a Python value into this type's representation (e.g. tuple -> Row)."""
        return value

    def to_flink_string(self, value: Any) -> str:
        """The text Flink's print and text sinks write for ``value`` of this type."""
        return _flink_scalar(value)

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash(self.name)


def _flink_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BasicTypeInfo(TypeInformation):
    def __init__(self, name: str) -> None:
        self.name = name


class PickledTypeInfo(TypeInformation):
    """Any Python object (PyFlink's default): printed with ``str()``."""

    name = "PICKLED_BYTE_ARRAY"

    def to_flink_string(self, value: Any) -> str:
        return value if isinstance(value, str) else str(value)


class RowTypeInfo(TypeInformation):
    """Rows with typed fields, optionally named; printed as ``+I[a, 4]``."""

    def __init__(self, field_types: List[TypeInformation],
                 field_names: Optional[List[str]] = None) -> None:
        self.field_types = list(field_types)
        self.field_names = list(field_names) if field_names is not None else [
            f"f{i}" for i in range(len(field_types))]
        if len(self.field_names) != len(self.field_types):
            raise ValueError("ROW_NAMED needs as many names as types")
        self.name = "ROW"

    def get_field_names(self) -> List[str]:
        return list(self.field_names)

    def from_value(self, value: Any) -> Any:
        if isinstance(value, Row):
            if value._fields is None:
                value = _make_row(self.field_names, value._values, value._row_kind)
            return value
        if isinstance(value, (tuple, list)):
            return _make_row(self.field_names, value, RowKind.INSERT)
        return value

    def to_flink_string(self, value: Any) -> str:
        kind = value.get_row_kind().short_string() if isinstance(value, Row) else "+I"
        items = [t.to_flink_string(v) for t, v in zip(self.field_types, value)]
        return f"{kind}[{', '.join(items)}]"


class TupleTypeInfo(TypeInformation):
    """Fixed-length tuples; printed as ``(hi,0,5,4)``."""

    def __init__(self, field_types: List[TypeInformation]) -> None:
        self.field_types = list(field_types)
        self.name = "TUPLE"

    def from_value(self, value: Any) -> Any:
        return tuple(value) if isinstance(value, (list, Row)) else value

    def to_flink_string(self, value: Any) -> str:
        items = [t.to_flink_string(v) for t, v in zip(self.field_types, value)]
        return f"({','.join(items)})"


class ListTypeInfo(TypeInformation):
    def __init__(self, element_type: TypeInformation, name: str = "LIST") -> None:
        self.element_type = element_type
        self.name = name

    def to_flink_string(self, value: Any) -> str:
        return "[" + ", ".join(self.element_type.to_flink_string(v) for v in value) + "]"


class MapTypeInfo(TypeInformation):
    def __init__(self, key_type: TypeInformation, value_type: TypeInformation) -> None:
        self.key_type, self.value_type = key_type, value_type
        self.name = "MAP"

    def to_flink_string(self, value: Any) -> str:
        items = (f"{self.key_type.to_flink_string(k)}={self.value_type.to_flink_string(v)}"
                 for k, v in value.items())
        return "{" + ", ".join(items) + "}"


class Types:
    """Factory of type information, as PyFlink's ``Types``."""

    @staticmethod
    def STRING() -> TypeInformation:
        return BasicTypeInfo("STRING")

    @staticmethod
    def BYTE() -> TypeInformation:
        return BasicTypeInfo("BYTE")

    @staticmethod
    def BOOLEAN() -> TypeInformation:
        return BasicTypeInfo("BOOLEAN")

    @staticmethod
    def SHORT() -> TypeInformation:
        return BasicTypeInfo("SHORT")

    @staticmethod
    def INT() -> TypeInformation:
        return BasicTypeInfo("INT")

    @staticmethod
    def LONG() -> TypeInformation:
        return BasicTypeInfo("LONG")

    @staticmethod
    def FLOAT() -> TypeInformation:
        return BasicTypeInfo("FLOAT")

    @staticmethod
    def DOUBLE() -> TypeInformation:
        return BasicTypeInfo("DOUBLE")

    @staticmethod
    def CHAR() -> TypeInformation:
        return BasicTypeInfo("CHAR")

    @staticmethod
    def BIG_INT() -> TypeInformation:
        return BasicTypeInfo("BIG_INT")

    @staticmethod
    def BIG_DEC() -> TypeInformation:
        return BasicTypeInfo("BIG_DEC")

    @staticmethod
    def SQL_DATE() -> TypeInformation:
        return BasicTypeInfo("SQL_DATE")

    @staticmethod
    def SQL_TIME() -> TypeInformation:
        return BasicTypeInfo("SQL_TIME")

    @staticmethod
    def SQL_TIMESTAMP() -> TypeInformation:
        return BasicTypeInfo("SQL_TIMESTAMP")

    @staticmethod
    def INSTANT() -> TypeInformation:
        return BasicTypeInfo("INSTANT")

    @staticmethod
    def PICKLED_BYTE_ARRAY() -> TypeInformation:
        return PickledTypeInfo()

    @staticmethod
    def ROW(field_types: List[TypeInformation]) -> RowTypeInfo:
        return RowTypeInfo(field_types)

    @staticmethod
    def ROW_NAMED(field_names: List[str], field_types: List[TypeInformation]) -> RowTypeInfo:
        return RowTypeInfo(field_types, field_names)

    @staticmethod
    def TUPLE(field_types: List[TypeInformation]) -> TupleTypeInfo:
        return TupleTypeInfo(field_types)

    @staticmethod
    def PRIMITIVE_ARRAY(element_type: TypeInformation) -> ListTypeInfo:
        return ListTypeInfo(element_type, "PRIMITIVE_ARRAY")

    @staticmethod
    def BASIC_ARRAY(element_type: TypeInformation) -> ListTypeInfo:
        return ListTypeInfo(element_type, "BASIC_ARRAY")

    @staticmethod
    def OBJECT_ARRAY(element_type: TypeInformation) -> ListTypeInfo:
        return ListTypeInfo(element_type, "OBJECT_ARRAY")

    @staticmethod
    def LIST(element_type: TypeInformation) -> ListTypeInfo:
        return ListTypeInfo(element_type)

    @staticmethod
    def MAP(key_type: TypeInformation, value_type: TypeInformation) -> MapTypeInfo:
        return MapTypeInfo(key_type, value_type)
