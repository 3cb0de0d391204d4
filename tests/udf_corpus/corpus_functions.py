"""A function the corpus registers by its import path (CREATE TEMPORARY FUNCTION ... AS
'corpus_functions.identity' LANGUAGE PYTHON)."""

from pyflink.common import Row
from pyflink.table.udf import udtf


@udtf(result_types=["bigint"])
def identity(x):
    if x is not None:
        return Row(x)
