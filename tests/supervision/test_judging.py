"""The pure judgements: windows in Asia/Shanghai, local spans, fix plausibility."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from server.supervision.config import SupervisionSettings
from server.supervision.plausibility import Previous, judge
from server.supervision.schedule import in_span, next_window, span_day, window_at, window_on
from tests.supervision.helpers import HOME, local, north


@dataclass
class Rule:
    id: int = 1
    start_local: str = "08:00"
    end_local: str = "20:00"
    weekdays: str = "1234567"
    grace_minutes: int = 30


@dataclass
class Case:
    starts_on: date = date(2026, 11, 30)
    ends_on: date = date(2027, 5, 31)


def test_window_is_in_shanghai_time_with_grace():
    window = window_on(Rule(), Case(), date(2026, 12, 1))
    assert window is not None
    assert window.opens_at == local("2026-12-01 08:00")  # 00:00 UTC
    assert window.closes_at == local("2026-12-01 20:00")
    assert window.deadline == local("2026-12-01 20:30")
    assert window.key == "1:2026-12-01"


def test_window_respects_weekdays_and_case_dates():
    weekdays_only = Rule(weekdays="12345")
    assert window_on(weekdays_only, Case(), date(2026, 12, 5)) is None  # a Saturday
    assert window_on(Rule(), Case(), date(2026, 11, 29)) is None  # before the case


def test_window_at_includes_the_grace_across_midnight():
    late = Rule(start_local="21:00", end_local="23:50", grace_minutes=30)
    window = window_at(late, Case(), local("2026-12-02 00:10"))
    assert window is not None and window.day == date(2026, 12, 1)
    assert window_at(late, Case(), local("2026-12-02 00:30")) is None


def test_next_window_skips_days_without_one():
    weekdays_only = Rule(weekdays="12345")
    window = next_window(weekdays_only, Case(), local("2026-12-04 21:00"))  # Friday night
    assert window is not None and window.day == date(2026, 12, 7)  # Monday


@pytest.mark.parametrize("at,inside", [("2026-12-01 23:00", True), ("2026-12-02 05:59", True),
                                       ("2026-12-02 06:00", False), ("2026-12-01 12:00", False)])
def test_curfew_spans_midnight(at, inside):
    assert in_span(local(at), "22:00", "06:00") is inside


def test_a_curfew_night_belongs_to_the_evening_it_began():
    assert span_day(local("2026-12-02 03:00"), "22:00") == date(2026, 12, 1)
    assert span_day(local("2026-12-01 23:00"), "22:00") == date(2026, 12, 1)


S = SupervisionSettings()
T0 = local("2026-12-01 09:00")


def _judge(lat, lon, at, accuracy=8.0, mock=False, prev=None, received=None):
    return judge(lat, lon, at, accuracy, mock, prev, received or at, S)


def test_an_ordinary_walk_is_believable():
    prev = Previous(*HOME, T0, 8.0)
    result = _judge(*north(100), T0 + timedelta(minutes=1), prev=prev)
    assert result.flags == () and result.usable
    assert result.implied_speed_mps == pytest.approx((100 - 16) / 60, rel=0.05)


def test_a_jump_faster_than_any_train_is_flagged():
    prev = Previous(*HOME, T0, 8.0)
    result = _judge(*north(50_000), T0 + timedelta(minutes=2), prev=prev)
    assert "speed" in result.flags and not result.usable


def test_a_jump_inside_the_error_radii_is_not_speed():
    prev = Previous(*HOME, T0, 40.0)
    result = _judge(*north(60), T0 + timedelta(seconds=1), accuracy=40.0, prev=prev)
    assert "speed" not in result.flags


def test_mock_flag_and_poor_accuracy():
    assert _judge(*HOME, T0, mock=True).flags == ("mock",)
    poor = _judge(*HOME, T0, accuracy=500.0)
    assert poor.flags == ("accuracy",) and poor.usable  # poor, yet usable


def test_identical_fixes_are_flagged_from_the_third_in_a_row():
    prev = Previous(*HOME, T0, 8.0)
    second = _judge(*HOME, T0 + timedelta(minutes=1), prev=prev)
    assert "repeated" not in second.flags and second.repeat_count == 1
    prev2 = Previous(*HOME, T0 + timedelta(minutes=1), 8.0, second.repeat_count)
    third = _judge(*HOME, T0 + timedelta(minutes=2), prev=prev2)
    assert "repeated" in third.flags


def test_a_fix_stamped_after_it_arrived_is_clock_skew():
    result = _judge(*HOME, T0 + timedelta(minutes=10), received=T0)
    assert "clock_skew" in result.flags
    assert "clock_skew" not in _judge(*HOME, T0 + timedelta(seconds=30), received=T0).flags


def test_the_fast_boxes_agree_with_the_exact_distance():
    import random

    from server.supervision.geofence import Area
    from shared.geo import circle_outside_m

    class Zone:
        def __init__(self, kind, radius):
            self.id, self.kind, self.name, self.shape = 1, kind, "z", "circle"
            self.center_lat, self.center_lon, self.radius_m = HOME[0], HOME[1], radius
            self.polygon, self.grace_m, self.grace_minutes = None, 0.0, 0
            self.curfew_start = self.curfew_end = None

    rng = random.Random(2)
    for kind in ("inclusion", "exclusion"):
        for radius in (150.0, 2000.0, 20_000.0):
            area = Area.of(Zone(kind, radius))
            for _ in range(3000):
                spread = radius * 2.5 / 111_195
                lat = HOME[0] + rng.uniform(-spread, spread)
                lon = HOME[1] + rng.uniform(-spread, spread)
                exact = circle_outside_m(lat, lon, HOME, radius)
                fast = area.outside_m(lat, lon)
                assert (fast > 0) == (exact > 0), (kind, radius, lat, lon)
                if (kind == "inclusion" and exact > 0) or (kind == "exclusion" and exact < 0):
                    assert fast == exact  # a breach's depth is always the exact one


def test_thinning_marks_moves_heartbeats_and_the_end_of_a_stay():
    from server.supervision.thinning import Thinner

    thinner = Thinner(None, None, None)
    t = local("2026-12-01 08:00")
    marks = []
    for i in range(40):  # 40 minutes at home, then walking north 100 m a minute
        spot = HOME if i < 30 else north((i - 29) * 100)
        marked, back = thinner.offer(*spot, t + timedelta(minutes=i), i)
        marks.append(marked)
        if back is not None:
            marks[back] = True
    assert [i for i, m in enumerate(marks) if m][:4] == [0, 15, 29, 30]  # 29: the stay's end
    assert all(marks[30:])
