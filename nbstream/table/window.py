"""Group windows and over windows of the Table API (``pyflink.table.window``):
``Tumble.over(lit(10).minutes).on(col('ts')).alias('w')``,
``Slide.over(...).every(...)``, ``Session.with_gap(...)``,
``Over.partition_by(...).order_by(col('ts')).preceding(...).alias('w')``."""

from __future__ import annotations

from typing import Any, Optional, Tuple

from .expressions import Expression, col

__all__ = ["Tumble", "Slide", "Session", "Over", "GroupWindow", "OverWindow"]


def _expr(v: Any) -> Expression:
    return col(v) if isinstance(v, str) else v


class GroupWindow:
    """A group window: kind (TUMBLE/HOP/SESSION), size / slide / gap, time field, alias."""

    def __init__(self, kind: str, size: Optional[Expression] = None,
                 slide: Optional[Expression] = None, gap: Optional[Expression] = None,
                 time_field: Optional[Expression] = None, alias: Optional[str] = None) -> None:
        self.kind, self.size, self.slide, self.gap = kind, size, slide, gap
        self.time_field, self.alias_name = time_field, alias

    def on(self, time_field: Any) -> "GroupWindow":
        return GroupWindow(self.kind, self.size, self.slide, self.gap, _expr(time_field),
                           self.alias_name)

    def every(self, slide: Any) -> "GroupWindow":
        return GroupWindow(self.kind, self.size, slide, self.gap, self.time_field,
                           self.alias_name)

    def alias(self, alias: str) -> "GroupWindow":
        return GroupWindow(self.kind, self.size, self.slide, self.gap, self.time_field, alias)

    def __repr__(self) -> str:
        return f"{self.kind}Window(size={self.size}, slide={self.slide}, gap={self.gap})"


class Tumble:
    @staticmethod
    def over(size: Any) -> GroupWindow:
        return GroupWindow("TUMBLE", size=size)


class Slide:
    @staticmethod
    def over(size: Any) -> GroupWindow:
        return GroupWindow("HOP", size=size)


class Session:
    @staticmethod
    def with_gap(gap: Any) -> GroupWindow:
        return GroupWindow("SESSION", gap=gap)


class OverWindow:
    """An over window: partition keys, order (a time attribute), frame, alias."""

    def __init__(self, partition: Tuple[Expression, ...] = (), order: Optional[Expression] = None,
                 preceding: Optional[Expression] = None, following: Optional[Expression] = None,
                 alias: Optional[str] = None) -> None:
        self.partition, self.order = partition, order
        self.preceding_, self.following_, self.alias_name = preceding, following, alias

    def order_by(self, order_by: Any) -> "OverWindow":
        return OverWindow(self.partition, _expr(order_by), self.preceding_, self.following_,
                          self.alias_name)

    def preceding(self, preceding: Any) -> "OverWindow":
        return OverWindow(self.partition, self.order, preceding, self.following_, self.alias_name)

    def following(self, following: Any) -> "OverWindow":
        return OverWindow(self.partition, self.order, self.preceding_, following, self.alias_name)

    def alias(self, alias: str) -> "OverWindow":
        return OverWindow(self.partition, self.order, self.preceding_, self.following_, alias)


class Over:
    @staticmethod
    def partition_by(*partition_by: Any) -> OverWindow:
        return OverWindow(tuple(_expr(p) for p in partition_by))

    @staticmethod
    def order_by(order_by: Any) -> OverWindow:
        return OverWindow((), _expr(order_by))
