"""``pyflink.common.watermark_strategy`` on nbstream."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {"WatermarkStrategy": "nbstream",
                                          "TimestampAssigner": "nbstream"})
