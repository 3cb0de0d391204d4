"""Windows, as Flink has them: what a window is (:mod:`.window`), which windows a record
falls into (:mod:`.assigners`), when a window fires or is purged (:mod:`.triggers`),
what is removed from it before or after its function (:mod:`.evictors`), and the
operator that drives them per key exactly as Flink's ``WindowOperator`` does
(:mod:`.operator`).

>>> TumblingEventTimeWindows.of(Time.seconds(5)).assign_windows(None, 7_300, None)
[TimeWindow(start=5000, end=10000)]
"""

from ..durations import Time  # noqa: F401 - doctests
from .assigners import *  # noqa: F401,F403
from .assigners import __all__ as _assigners
from .evictors import *  # noqa: F401,F403
from .evictors import __all__ as _evictors
from .operator import MergingWindowSet, WindowFunctionSpec, WindowOperator
from .triggers import *  # noqa: F401,F403
from .triggers import __all__ as _triggers
from .window import *  # noqa: F401,F403
from .window import __all__ as _window

__all__ = [*_window, *_assigners, *_triggers, *_evictors,
           "WindowOperator", "WindowFunctionSpec", "MergingWindowSet"]
