"""The text a FileSink writes for records of declared types: Java's ``toString`` of each
field as Flink's serializers give it back (a SHORT or INT out of range wraps, SQL_TIME has
no fraction, SQL_TIMESTAMP the shortest one, bytes print as Java's signed byte lists).

Expected output (java_strings.expected) made on apache-flink 2.3.0 with
``python tests/pyflink_programs/java_strings.py > tests/pyflink_programs/java_strings.expected``.
"""

import datetime
import decimal
import os
import tempfile

from pyflink.common import Encoder, Types
from pyflink.datastream import StreamExecutionEnvironment
from pyflink.datastream.connectors.file_system import FileSink

ROWS = [
    (1, 43878, 9147483648, 32767, -2147483648, 1.23, 1.98932, bytearray(b"flink"),
     datetime.date(2014, 9, 13), datetime.time(12, 0, 0, 123000),
     datetime.datetime(2018, 3, 11, 3, 0, 0, 123000), [1, 2, 3], [None, "hi"],
     decimal.Decimal("1000000000000000000.05")),
    (2, -32769, -2147483649, 0, 70000, 110.1, 1e20, bytearray(b"\x00\xc8\xff"),
     datetime.date(1969, 12, 31), datetime.time(23, 59, 59),
     datetime.datetime(2021, 1, 9, 12, 0, 0, 11000), [], ["flink"],
     decimal.Decimal("-0.5")),
    (3, 65536, 4294967296, -1, 2147483647, 0.0001, -0.0, bytearray(),
     datetime.date(2000, 2, 29), datetime.time(0, 0, 0, 1),
     datetime.datetime(1999, 12, 31, 23, 59, 59), [9], [],
     decimal.Decimal("3")),
    (4, 1, 1, 1, 1, 3.0, 12345678.0, bytearray(b"a"),
     datetime.date(2024, 1, 1), datetime.time(1, 2, 3),
     datetime.datetime(2024, 1, 1, 0, 0, 0, 1), [4, 5], ["a", None],
     decimal.Decimal("1E+3")),
]
TYPE = Types.ROW([Types.LONG(), Types.SHORT(), Types.INT(), Types.SHORT(), Types.INT(),
                  Types.FLOAT(), Types.DOUBLE(), Types.PICKLED_BYTE_ARRAY(), Types.SQL_DATE(),
                  Types.SQL_TIME(), Types.SQL_TIMESTAMP(), Types.BASIC_ARRAY(Types.LONG()),
                  Types.BASIC_ARRAY(Types.STRING()), Types.BIG_DEC()])


def main():
    out = tempfile.mkdtemp()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(1)
    env.from_collection(ROWS, type_info=TYPE).sink_to(
        FileSink.for_row_format(out, Encoder.simple_string_encoder()).build())
    env.execute("java strings")
    lines = []
    for folder, _dirs, files in os.walk(out):
        for name in files:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                lines += f.read().splitlines()
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
