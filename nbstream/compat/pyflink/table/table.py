"""``pyflink.table.table`` on nbstream."""

from nbstream.table.table import (GroupedTable, GroupWindowedTable, OverWindowedTable,  # noqa: F401
                                  Table, WindowGroupedTable)

__all__ = ["Table", "GroupedTable", "GroupWindowedTable", "OverWindowedTable", "WindowGroupedTable"]
