"""``pyflink.datastream.window`` on nbstream: window assigners, triggers, windows."""

from .._exports import exports

__all__, __getattr__ = exports(__name__, {name: "nbstream" for name in (
    "Window", "TimeWindow", "CountWindow", "GlobalWindow", "WindowAssigner",
    "TumblingProcessingTimeWindows", "TumblingEventTimeWindows", "SlidingProcessingTimeWindows",
    "SlidingEventTimeWindows", "ProcessingTimeSessionWindows", "EventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows", "DynamicEventTimeSessionWindows", "GlobalWindows",
    "MergingWindowAssigner", "CountTumblingWindowAssigner", "CountSlidingWindowAssigner",
    "TriggerResult", "Trigger", "EventTimeTrigger", "ProcessingTimeTrigger",
    "ContinuousEventTimeTrigger", "ContinuousProcessingTimeTrigger", "NeverTrigger",
    "PurgingTrigger", "CountTrigger", "SessionWindowTimeGapExtractor")},
    unavailable=["TimeWindowSerializer", "CountWindowSerializer", "GlobalWindowSerializer"])
