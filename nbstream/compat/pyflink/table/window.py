"""``pyflink.table.window`` on nbstream."""

from nbstream.table.window import GroupWindow, Over, OverWindow, Session, Slide, Tumble  # noqa: F401

__all__ = ["Tumble", "Session", "Slide", "Over", "GroupWindow", "OverWindow"]
