"""``pyflink.table.expressions`` on nbstream."""

from nbstream.table import expressions as _e
from nbstream.table.expressions import *  # noqa: F401,F403

__all__ = list(_e.__all__)
