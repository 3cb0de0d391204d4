"""What ``str()`` of PyFlink's type information gives (Java's class names).

Expected output (type_names.expected) made on apache-flink 2.3.0 with
``python tests/pyflink_programs/type_names.py > tests/pyflink_programs/type_names.expected``.
"""

from pyflink.common.typeinfo import RowTypeInfo, TupleTypeInfo, Types

TYPES = [
    RowTypeInfo([Types.STRING(), Types.STRING()], ["a", "b"]),
    RowTypeInfo([Types.STRING(), Types.LONG()]),
    Types.ROW([Types.INT(), Types.DOUBLE()]),
    Types.ROW_NAMED(["id", "pair", "tags"], [Types.LONG(), Types.TUPLE([Types.INT(), Types.FLOAT()]),
                                             Types.LIST(Types.STRING())]),
    TupleTypeInfo([Types.STRING(), Types.INT()]),
    Types.MAP(Types.STRING(), Types.BIG_DEC()),
    Types.PRIMITIVE_ARRAY(Types.BYTE()),
    Types.BASIC_ARRAY(Types.BOOLEAN()),
    Types.OBJECT_ARRAY(Types.SQL_TIMESTAMP()),
    Types.PICKLED_BYTE_ARRAY(),
    Types.SHORT(), Types.CHAR(), Types.BIG_INT(), Types.SQL_DATE(), Types.SQL_TIME(),
    Types.INSTANT(),
]

if __name__ == "__main__":
    for t in TYPES:
        print(t)
