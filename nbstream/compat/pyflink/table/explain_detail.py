"""``pyflink.table.ExplainDetail``."""

__all__ = ["ExplainDetail"]


class ExplainDetail:
    """Extra details of an explain (accepted; nbstream's plan text has one form)."""

    ESTIMATED_COST = 0
    CHANGELOG_MODE = 1
    JSON_EXECUTION_PLAN = 2
    PLAN_ADVICE = 3
