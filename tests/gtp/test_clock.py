"""Time systems (goengine/gtp/clock.py): GTP 2 section 4.2's reading of time_settings, the accounts
kept by spend/time_left, and the seconds a move may take, worked out by hand below."""
from __future__ import annotations

import pytest

from goengine.gtp.clock import LAG_S, MIN_MOVE_S, SAFETY_FRACTION, Clock, TimeControl


def usable(raw: float) -> float:
    return max(MIN_MOVE_S, raw * SAFETY_FRACTION - LAG_S)


@pytest.mark.parametrize("main, byo, stones, control", [
    (300, 0, 0, TimeControl("absolute", 300)),
    (300, 0, 5, TimeControl("absolute", 300)),  # no byo-yomi time: absolute, whatever the stones
    (0, 30, 0, TimeControl("none")),  # byo-yomi time without stones: no limit (spec 4.2)
    (300, 30, 5, TimeControl("canadian", 300, 30, 5)),
    (0, 1, 1, TimeControl("canadian", 0, 1, 1)),  # one second per move
])
def test_time_settings_as_the_spec_reads_them(main, byo, stones, control):
    assert TimeControl.from_gtp(main, byo, stones) == control


def test_bad_controls():
    with pytest.raises(ValueError):
        TimeControl("hourglass")
    with pytest.raises(ValueError):
        TimeControl("absolute", -1)


def test_no_limit():
    clock = Clock()
    assert clock.budget("b", 30) is None
    clock.spend("b", 1000)
    assert clock.budget("b", 30) is None


def test_absolute_divides_main_time_and_spends_it():
    clock = Clock(TimeControl("absolute", 300))
    assert clock.budget("b", 30) == pytest.approx(usable(10))
    clock.spend("b", 100)
    assert clock.sides["b"].main_s == pytest.approx(200)
    assert clock.budget("b", 20) == pytest.approx(usable(10))
    assert clock.budget("w", 30) == pytest.approx(usable(10))  # White's clock did not run
    clock.spend("b", 500)
    assert clock.budget("b", 20) == MIN_MOVE_S  # flag fallen: still answer, as fast as possible


def test_canadian_periods():
    clock = Clock(TimeControl("canadian", 10, 30, 3))
    assert clock.budget("b", 10) == pytest.approx(usable(10))  # max(10 s/10 moves, 30 s/3 stones)
    clock.spend("b", 12)  # main time runs out 2 s into overtime: this move was the first of 3 stones
    side = clock.sides["b"]
    assert side.in_overtime and side.stones == 2 and side.period_s == pytest.approx(28)
    assert clock.budget("b", 10) == pytest.approx(usable(14))
    clock.spend("b", 4)
    clock.spend("b", 4)  # the third stone: a new period of 30 s for 3 stones
    assert side.stones == 3 and side.period_s == pytest.approx(30)
    clock.time_left("b", 12, 2)  # the controller's word overrides our account
    assert clock.budget("b", 10) == pytest.approx(usable(6))


def test_one_second_per_move():
    clock = Clock(TimeControl.from_gtp(0, 1, 1))
    for _ in range(3):
        assert clock.budget("w", 40) == pytest.approx(usable(1))
        clock.spend("w", 0.5)


def test_japanese_byoyomi():
    clock = Clock(TimeControl("byoyomi", 60, 10, periods=3))
    assert clock.budget("b", 30) == pytest.approx(usable(10))  # max(60/30, one period)
    clock.spend("b", 65)  # 5 s into the first period: within it, so it is restored
    side = clock.sides["b"]
    assert side.in_overtime and side.stones == 3 and side.period_s == 10
    assert clock.budget("b", 30) == pytest.approx(usable(10))
    clock.spend("b", 25)  # overruns two periods
    assert side.stones == 1
    clock.time_left("b", 7, 1)  # KGS: 7 s left in the last period
    assert clock.budget("b", 30) == pytest.approx(usable(7))
    clock.time_left("b", 50, 0)  # back in main time (a new game's clock, say)
    assert not side.in_overtime and clock.budget("b", 5) == pytest.approx(usable(10))


def test_reset_gives_full_time():
    clock = Clock(TimeControl("absolute", 60))
    clock.spend("b", 59)
    clock.reset()
    assert clock.sides["b"].main_s == 60
