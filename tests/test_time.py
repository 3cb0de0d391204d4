"""Durations: Time, Duration, strings, timedeltas, wherever a duration is taken."""

from __future__ import annotations

import datetime

import pytest

from nbstream import Duration, StreamExecutionEnvironment, Time, TumblingEventTimeWindows
from nbstream.runtime.durations import to_millis


@pytest.mark.parametrize("value, ms", [
    (250, 250), ("250ms", 250), ("5s", 5000), ("1.5s", 1500), ("2min", 120_000), ("3m", 180_000),
    ("1h", 3_600_000), ("1d", 86_400_000), (" 10 s ", 10_000), ("-2s", -2000),
    (Time.milliseconds(7), 7), (Time.seconds(2), 2000), (Time.minutes(1), 60_000),
    (Time.hours(1), 3_600_000), (Time.days(1), 86_400_000), (Duration.of_millis(9), 9),
    (Duration.of_seconds(3), 3000), (Duration.of_minutes(2), 120_000),
    (Duration.of_hours(2), 7_200_000), (Duration.of_days(1), 86_400_000), (Duration.ZERO, 0),
    (datetime.timedelta(seconds=1.25), 1250), (4.0, 4),
])
def test_to_millis(value, ms):
    assert to_millis(value) == ms


@pytest.mark.parametrize("value", ["5 parsecs", "s", "", True, 1.5, None, [1]])
def test_bad_durations_are_refused_with_a_hint(value):
    with pytest.raises((TypeError, ValueError), match="duration|milliseconds"):
        to_millis(value)


def test_durations_compare_and_survive_pickling():
    import pickle

    assert Time.seconds(1) == Time.milliseconds(1000)
    assert pickle.loads(pickle.dumps(Duration.of_seconds(2))) == Duration.of_millis(2000)
    assert Time.seconds(1).to_milliseconds() == 1000 and Duration.of_seconds(1).to_millis() == 1000


def test_every_api_takes_every_form():
    assert TumblingEventTimeWindows.of("10s").size == TumblingEventTimeWindows.of(
        Time.seconds(10)).size == TumblingEventTimeWindows.of(Duration.of_seconds(10)).size == 10_000
    env = StreamExecutionEnvironment.get_execution_environment(
        {"pipeline.auto-watermark-interval": "1s"})
    assert env.get_config().get_auto_watermark_interval() == 1000
