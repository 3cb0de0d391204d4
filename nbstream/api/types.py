"""Row and type information, shaped like PyFlink's ``pyflink.common``.

nbstream moves plain Python objects, so type information is optional. Where it is
given it means what it means in PyFlink: ``Types.ROW``/``ROW_NAMED`` turn tuples
into :class:`Row` (so fields can be addressed by name), and the print and text
sinks write typed values in Flink's text form: ``print()`` as PyFlink prints them
(``(hi,0,5,4)``, ``+I[a,4]``), text files as Java's ``toString`` (``+I[a, 4]``).

>>> from nbstream import Row, Types
>>> Types.ROW_NAMED(["word", "n"], [Types.STRING(), Types.INT()]).from_value(("hi", 2))
Row(word='hi', n=2)
"""

from __future__ import annotations

import datetime
import decimal
import math
import struct
from typing import Any, List, Optional

from ..runtime.row import Row, RowKind, _make_row

__all__ = ["Row", "RowKind", "Types", "TypeInformation"]


class TypeInformation:
    """Describes a value's type: how to convert a Python value and how Flink prints it."""

    name = "PICKLED_BYTE_ARRAY"
    #: whether :meth:`from_value` changes values (an operator then converts its output)
    converts = False

    def from_value(self, value: Any) -> Any:
        """Bring a Python value into this type's representation (e.g. tuple -> Row, a
        FLOAT to the 32-bit value PyFlink's serializer gives back)."""
        return value

    def to_flink_string(self, value: Any) -> str:
        """The text Flink writes for ``value`` of this type with Java's ``toString``
        (file sinks with a string encoder, Flink's own collect sinks)."""
        return _flink_scalar(value)

    def to_print_string(self, value: Any) -> str:
        """The line PyFlink's ``print()`` writes for ``value`` of this type: Java's
        ``toString`` for most types; PyFlink formats rows and untyped values in Python."""
        return self.to_flink_string(value)

    def __repr__(self) -> str:
        return self.name

    def __str__(self) -> str:
        """The name PyFlink gives this type (Java's class names: ``Integer``,
        ``RowTypeInfo(a: String, b: Long)``, ``ListTypeInfo<Integer>``)."""
        return _JAVA_NAMES.get(self.name, self.name)

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash(self.name)


#: PyFlink's names of the basic types (``str(Types.INT())``)
_JAVA_NAMES = {"STRING": "String", "BYTE": "Byte", "BOOLEAN": "Boolean", "SHORT": "Short",
               "INT": "Integer", "LONG": "Long", "FLOAT": "Float", "DOUBLE": "Double",
               "CHAR": "Char", "BIG_INT": "BigInteger", "BIG_DEC": "BigDecimal",
               "INSTANT": "Instant", "SQL_DATE": "DateTypeInfo", "SQL_TIME": "TimeTypeInfo",
               "SQL_TIMESTAMP": "TimestampTypeInfo", "PICKLED_BYTE_ARRAY": "PickledByteArrayTypeInfo",
               "LIST": "ListTypeInfo", "PRIMITIVE_ARRAY": "PrimitiveArrayTypeInfo",
               "BASIC_ARRAY": "BasicArrayTypeInfo", "OBJECT_ARRAY": "ObjectArrayTypeInfo"}


def _flink_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_string(value)
    if isinstance(value, (bytes, bytearray)):  # Java's byte[]: signed bytes
        return "[" + ", ".join(str(b - 256 if b > 127 else b) for b in value) + "]"
    return str(value)


def java_double_string(value: float, float32: bool = False) -> str:
    """``value`` as Java's ``Double.toString`` (``Float.toString`` with ``float32``) writes it.

    >>> [java_double_string(v) for v in (3.0, 1e20, 0.0001, 1234567.5, 12345678.0)]
    ['3.0', '1.0E20', '1.0E-4', '1234567.5', '1.2345678E7']
    >>> java_double_string(110.1, float32=True)
    '110.1'
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    text = repr(value)
    if float32:  # the shortest digits that give back the same 32-bit float
        single = struct.unpack("f", struct.pack("f", value))[0]
        for digits in range(1, 10):
            text = f"{single:.{digits}g}"
            if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
                break
    sign, digits, exponent = decimal.Decimal(text).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    point = len(mantissa) + int(exponent)  # the decimal point sits after this many digits
    head = "-" if sign else ""
    if 1e-3 <= abs(value) < 1e7:
        if point <= 0:
            return f"{head}0.{'0' * -point}{mantissa}"
        whole, frac = mantissa[:point].ljust(point, "0"), mantissa[point:] or "0"
        return f"{head}{whole}.{frac}"
    return f"{head}{mantissa[0]}.{mantissa[1:] or '0'}E{point - 1}"


def float32(value: float) -> float:
    """The 32-bit float nearest ``value``, as a Python float (what a FLOAT field holds
    after PyFlink's serializer: ``float32(110.1) == 110.0999984741211``).

    >>> float32(110.1), float32(1.1)
    (110.0999984741211, 1.100000023841858)
    """
    return _F32.unpack(_F32.pack(value))[0]


_F32 = struct.Struct("f")


class BasicTypeInfo(TypeInformation):
    def __init__(self, name: str) -> None:
        self.name = name
        self.converts = name == "FLOAT"

    def from_value(self, value: Any) -> Any:
        if self.converts and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float32(value)
        return value

    def to_flink_string(self, value: Any) -> str:
        """Java's ``toString`` of the value Flink's serializer gives back: a SHORT, INT,
        LONG or BYTE out of range wraps around as Java's two's complement does; SQL_TIME
        is ``hh:mm:ss``; SQL_TIMESTAMP keeps milliseconds, written as java.sql.Timestamp
        writes them (``2021-01-09 12:00:00.011``, ``... 12:00:00.0``).

        >>> Types.SHORT().to_flink_string(43878), Types.INT().to_flink_string(9147483648)
        ('-21658', '557549056')
        >>> import datetime
        >>> Types.SQL_TIMESTAMP().to_flink_string(datetime.datetime(2021, 1, 9, 12, 0, 0, 11000))
        '2021-01-09 12:00:00.011'
        """
        name = self.name
        if name == "FLOAT" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return java_double_string(float(value), float32=True)
        if name == "DOUBLE" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        bits = _INT_BITS.get(name)
        if bits is not None and isinstance(value, int) and not isinstance(value, bool):
            value = (value + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))
        elif name == "SQL_TIME" and isinstance(value, datetime.time):
            return value.strftime("%H:%M:%S")
        elif name == "SQL_TIMESTAMP" and isinstance(value, datetime.datetime):
            millis = value.microsecond // 1000
            fraction = f"{millis:03d}".rstrip("0") if millis else "0"
            return f"{value.strftime('%Y-%m-%d %H:%M:%S')}.{fraction}"
        return _flink_scalar(value)


_INT_BITS = {"BYTE": 8, "SHORT": 16, "INT": 32, "LONG": 64}


class PickledTypeInfo(TypeInformation):
    """Any Python object (PyFlink's default): printed with ``str()``; in Flink's text
    (a field of a row, a file sink) bytes are Java's list of signed bytes."""

    name = "PICKLED_BYTE_ARRAY"

    def to_flink_string(self, value: Any) -> str:
        if isinstance(value, (bytes, bytearray)):
            return _flink_scalar(value)
        return value if isinstance(value, str) else str(value)

    def to_print_string(self, value: Any) -> str:
        return value if isinstance(value, str) else str(value)


class RowTypeInfo(TypeInformation):
    """Rows with typed fields, optionally named; printed as ``+I[a, 4]``."""

    def __init__(self, field_types: List[TypeInformation],
                 field_names: Optional[List[str]] = None) -> None:
        self.field_types = list(field_types)
        self.named = field_names is not None  # PyFlink's str() shows names given explicitly
        self.field_names = list(field_names) if field_names is not None else [
            f"f{i}" for i in range(len(field_types))]
        if len(self.field_names) != len(self.field_types):
            raise ValueError("ROW_NAMED needs as many names as types")
        self.name = "ROW"
        self.converts = True

    def get_field_names(self) -> List[str]:
        return list(self.field_names)

    def get_field_types(self) -> List[TypeInformation]:
        return list(self.field_types)

    def get_field_index(self, field_name: str) -> int:
        """The position of ``field_name`` (-1 if there is none)."""
        return self.field_names.index(field_name) if field_name in self.field_names else -1

    def __str__(self) -> str:
        fields = [f"{n}: {t}" if self.named else str(t)
                  for n, t in zip(self.field_names, self.field_types)]
        return f"RowTypeInfo({', '.join(fields)})"

    def from_value(self, value: Any) -> Any:
        if isinstance(value, Row):
            kind = value._row_kind
            if value._fields is None or any(t.converts for t in self.field_types):
                value = _make_row(self.field_names, _fields_of(self.field_types, value._values),
                                  kind)
            return value
        if isinstance(value, (tuple, list)):
            return _make_row(self.field_names, _fields_of(self.field_types, value), RowKind.INSERT)
        return value

    def to_flink_string(self, value: Any) -> str:
        kind = value.get_row_kind().short_string() if isinstance(value, Row) else "+I"
        items = [t.to_flink_string(v) for t, v in zip(self.field_types, value)]
        return f"{kind}[{', '.join(items)}]"

    def to_print_string(self, value: Any) -> str:
        """PyFlink prints rows from Python: ``+I[a,4]``, each field as ``str()`` gives it."""
        kind = value.get_row_kind().short_string() if isinstance(value, Row) else "+I"
        return f"{kind}[{','.join(str(v) for v in value)}]"


class TupleTypeInfo(TypeInformation):
    """Fixed-length tuples; printed as ``(hi,0,5,4)``."""

    def __init__(self, field_types: List[TypeInformation]) -> None:
        self.field_types = list(field_types)
        self.name = "TUPLE"
        self.converts = True

    def get_field_types(self) -> List[TypeInformation]:
        return list(self.field_types)

    def __str__(self) -> str:
        return f"TupleTypeInfo({', '.join(str(t) for t in self.field_types)})"

    def from_value(self, value: Any) -> Any:
        if isinstance(value, (tuple, list, Row)):
            return tuple(_fields_of(self.field_types, value))
        return value

    def to_flink_string(self, value: Any) -> str:
        items = [t.to_flink_string(v) for t, v in zip(self.field_types, value)]
        return f"({','.join(items)})"


def _fields_of(types: List[TypeInformation], values: Any) -> List[Any]:
    """``values`` with each field brought into its declared type (fields past the
    declared ones stay as they are)."""
    values = list(values)
    for i, t in enumerate(types[:len(values)]):
        if t.converts:
            values[i] = t.from_value(values[i])
    return values


class ListTypeInfo(TypeInformation):
    def __init__(self, element_type: TypeInformation, name: str = "LIST") -> None:
        self.element_type = element_type
        self.name = name
        self.converts = element_type.converts

    def from_value(self, value: Any) -> Any:
        if self.converts and isinstance(value, (list, tuple)):
            return [self.element_type.from_value(v) for v in value]
        return value

    def to_flink_string(self, value: Any) -> str:
        return "[" + ", ".join(self.element_type.to_flink_string(v) for v in value) + "]"

    def __str__(self) -> str:
        return f"{_JAVA_NAMES[self.name]}<{self.element_type}>"


class MapTypeInfo(TypeInformation):
    def __init__(self, key_type: TypeInformation, value_type: TypeInformation) -> None:
        self.key_type, self.value_type = key_type, value_type
        self.name = "MAP"
        self.converts = key_type.converts or value_type.converts

    def from_value(self, value: Any) -> Any:
        if self.converts and isinstance(value, dict):
            return {self.key_type.from_value(k): self.value_type.from_value(v)
                    for k, v in value.items()}
        return value

    def to_flink_string(self, value: Any) -> str:
        items = (f"{self.key_type.to_flink_string(k)}={self.value_type.to_flink_string(v)}"
                 for k, v in value.items())
        return "{" + ", ".join(items) + "}"

    def __str__(self) -> str:
        return f"MapTypeInfo<{self.key_type}, {self.value_type}>"


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
