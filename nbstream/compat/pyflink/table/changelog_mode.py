"""``pyflink.table.ChangelogMode``."""

from typing import Any, Set

__all__ = ["ChangelogMode"]


class ChangelogMode:
    """The kinds of rows a changelog holds."""

    def __init__(self, kinds: Set[Any]) -> None:
        self.kinds = set(kinds)

    @staticmethod
    def insert_only() -> "ChangelogMode":
        from nbstream import RowKind
        return ChangelogMode({RowKind.INSERT})

    @staticmethod
    def upsert() -> "ChangelogMode":
        from nbstream import RowKind
        return ChangelogMode({RowKind.INSERT, RowKind.UPDATE_AFTER, RowKind.DELETE})

    @staticmethod
    def all() -> "ChangelogMode":
        from nbstream import RowKind
        return ChangelogMode(set(RowKind))
