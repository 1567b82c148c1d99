"""Loop Habit Tracker's own score cases, replayed on `progress.score`.

Every case of Loop's `ScoreListTest` (uhabits-core, src/jvmTest/.../models/ScoreListTest.kt)
whose frequency maps onto a Loopin schedule is here with Loop's expected values (1e-6, as
Loop asserts them). Loop's frequencies map as: 1/1 → daily, N/7 → N per week, 1/30 → once a
month; its numeric fixtures (HabitFixtures.kt) have target 2.0 and store values x 1000. Left
out, because Loopin has no such schedule or target: `Frequency(1, 2)` (every other day, the
second half of each `test_recompute`) and `test_withZeroTarget` (Loopin targets are > 0).

Loop scores a day whether or not it is logged; Loopin counts today once it is checked in (a
product decision, docs/loop-parity.md). So Loop's value for a day is Loopin's score at the
end of that day (`end_of_day`: asked the next morning, before anything is logged), and
`TestTodayCountsOnceCheckedIn` pins how the two differ during the day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.domain import progress
from app.domain.progress import Entry, Rule, Schedule, Timeline
from app.models.enums import CheckinStatus, HabitType, TargetDirection

# BaseUnitTest.FIXED_LOCAL_TIME (1422172800000 ms): Loop's tests run on 2015-01-25.
TODAY = date(2015, 1, 25)
E = 1e-6  # BaseScoreListTest.E
LOOP_TARGET = "2"  # HabitFixtures.createEmptyNumericalHabit: targetValue = 2.0

DAILY = Schedule("daily")


def per_week(times: int) -> Schedule:
    return Schedule("per_period", times=times, period="week")


def per_month(times: int) -> Schedule:
    return Schedule("per_period", times=times, period="month")


YES = Entry(CheckinStatus.DONE)
SKIP = Entry(CheckinStatus.SKIPPED)


def amount(loop_value: int) -> Entry:
    """A numeric Loop entry: Loop stores the amount times 1000."""
    return Entry(CheckinStatus.DONE, Decimal(loop_value) / 1000)


@dataclass
class LoopHabit:
    """A habit as Loop's test builds it: entries by days before TODAY. The habit starts on
    its oldest entry, where Loop's `Habit.recompute` starts its scores (today without any)."""

    schedule: Schedule = DAILY
    type: HabitType = HabitType.BOOLEAN
    direction: TargetDirection | None = None
    entries: dict[int, Entry] = field(default_factory=dict)

    def add(self, days_ago: int, entry: Entry) -> None:
        self.entries[days_ago] = entry

    def add_range(self, first: int, last_exclusive: int, entry: Entry) -> None:
        for days_ago in range(first, last_exclusive):
            self.entries[days_ago] = entry

    @property
    def rule(self) -> Rule:
        target = None if self.type == HabitType.BOOLEAN else Decimal(LOOP_TARGET)
        return Rule(1, self.start, self.schedule, self.type, target, self.direction)

    @property
    def start(self) -> date:
        return TODAY - timedelta(days=max(self.entries, default=0))

    def dated(self) -> dict[date, Entry]:
        return {TODAY - timedelta(days=n): entry for n, entry in self.entries.items()}

    def score_as_of(self, day: date) -> float:
        timeline = Timeline([self.rule], start_date=self.start)
        return progress.score(timeline, self.dated(), day)

    def end_of_day(self, day: date) -> float:
        """Loopin's score once `day` is over: asked the next day, before it is logged. Before
        the habit starts there is none (Loop's ScoreList answers 0 there)."""
        if day < self.start:
            return 0.0
        entries = {d: e for d, e in self.dated().items() if d <= day}
        timeline = Timeline([self.rule], start_date=self.start)
        return progress.score(timeline, entries, day + timedelta(days=1))

    def loop_score(self, days_ago: int = 0) -> float:
        """Loop's `scores[today.minus(days_ago)]`."""
        return self.end_of_day(TODAY - timedelta(days=days_ago))

    def check_score_values(self, expected: list[float]) -> None:
        """BaseScoreListTest.checkScoreValues: today first, then each day before."""
        for days_ago, value in enumerate(expected):
            assert self.loop_score(days_ago) == pytest.approx(value, abs=E), days_ago


def numerical(direction: TargetDirection, schedule: Schedule = DAILY) -> LoopHabit:
    return LoopHabit(schedule, HabitType.NUMERIC, direction)


TWENTY_DAYS = [
    0.655747, 0.636894, 0.617008, 0.596033, 0.573910, 0.550574, 0.525961, 0.500000,
    0.472617, 0.443734, 0.413270, 0.381137, 0.347244, 0.311495, 0.273788, 0.234017,
    0.192067, 0.147820, 0.101149, 0.051922, 0.000000, 0.000000, 0.000000,
]  # fmt: skip


class TestYesNoScoreList:
    def test_get_value(self) -> None:
        habit = LoopHabit()
        habit.add_range(0, 20, YES)
        habit.check_score_values(TWENTY_DAYS)

    def test_get_value_with_skip(self) -> None:
        habit = LoopHabit()
        habit.add_range(0, 20, YES)
        for days_ago in (5, 10, 11):
            habit.add(days_ago, SKIP)
        habit.check_score_values([
            0.596033, 0.573910, 0.550574, 0.525961, 0.500000, 0.472617, 0.472617, 0.443734,
            0.413270, 0.381137, 0.347244, 0.347244, 0.347244, 0.311495, 0.273788, 0.234017,
            0.192067, 0.147820, 0.101149, 0.051922, 0.000000, 0.000000, 0.000000,
        ])  # fmt: skip

    def test_get_value_with_skip2(self) -> None:
        habit = LoopHabit()
        habit.add(5, YES)
        habit.add(4, SKIP)
        habit.check_score_values([0.041949, 0.044247, 0.046670, 0.049226, 0.051922, 0.051922, 0.0])

    def test_imperfect_non_daily(self) -> None:
        # 3 times a week, one repetition missed each week: converges to 2/3.
        habit = LoopHabit(per_week(3))
        for week in range(100):
            habit.add(7 * week, YES)
            habit.add(7 * week + 1, YES)
        assert habit.loop_score() == pytest.approx(2 / 3, abs=E)
        # 4 times a week, 2 of 4 missed: 50 %.
        habit.schedule = per_week(4)
        assert habit.loop_score() == pytest.approx(0.5, abs=E)

    def test_irregular_non_daily(self) -> None:
        # Once a week, every week, on alternating weekdays: still 100 %.
        habit = LoopHabit(per_week(1))
        for fortnight in range(100):
            habit.add(14 * fortnight, YES)
            habit.add(14 * fortnight + 13, YES)
        assert habit.loop_score() == pytest.approx(1.0, abs=1e-3)

    def test_should_achieve_high_score_in_reasonable_time(self) -> None:
        daily = LoopHabit(DAILY)
        daily.add_range(0, 90, YES)
        assert daily.loop_score() > 0.99  # daily: 3 months

        weekly = LoopHabit(per_week(1))
        for week in range(39):
            weekly.add(7 * week, YES)
        assert weekly.loop_score() > 0.99  # weekly: 9 months

        monthly = weekly  # Loop keeps the weekly entries and adds monthly ones
        monthly.schedule = per_month(1)
        for month in range(18):
            monthly.add(30 * month, YES)
        assert monthly.loop_score() > 0.99  # monthly: 18 months

    def test_recompute(self) -> None:
        habit = LoopHabit()
        assert habit.loop_score() == pytest.approx(0.0, abs=E)
        habit.add_range(0, 2, YES)
        assert habit.loop_score() == pytest.approx(0.101149, abs=E)

    def test_add_then_remove(self) -> None:
        habit = LoopHabit()
        assert habit.loop_score() == pytest.approx(0.0, abs=E)
        habit.add(0, YES)
        assert habit.loop_score() == pytest.approx(0.051922, abs=E)
        del habit.entries[0]  # Loop writes Entry.UNKNOWN: Loopin deletes the check-in
        assert habit.loop_score() == pytest.approx(0.0, abs=E)


class TestNumericalAtLeastScoreList:
    def test_get_value(self) -> None:
        habit = numerical(TargetDirection.AT_LEAST)
        habit.add_range(0, 20, amount(2000))
        habit.check_score_values(TWENTY_DAYS)

    def test_recompute(self) -> None:
        habit = numerical(TargetDirection.AT_LEAST)
        assert habit.loop_score() == pytest.approx(0.0, abs=E)
        habit.add_range(0, 2, amount(2000))
        assert habit.loop_score() == pytest.approx(0.101149, abs=E)

    def test_should_achieve_high_score_in_reasonable_time(self) -> None:
        daily = numerical(TargetDirection.AT_LEAST)
        daily.add_range(0, 90, amount(2000))
        assert daily.loop_score() > 0.99

        weekly = numerical(TargetDirection.AT_LEAST, per_week(1))
        for week in range(39):
            weekly.add(7 * week, amount(2000))
        assert weekly.loop_score() > 0.99

        monthly = weekly
        monthly.schedule = per_month(1)
        for month in range(18):
            monthly.add(30 * month, amount(2000))
        assert monthly.loop_score() > 0.99

    def test_should_achieve_comparable_score_to_progress(self) -> None:
        habit = numerical(TargetDirection.AT_LEAST)
        habit.add_range(0, 500, amount(1000))
        assert habit.loop_score() == pytest.approx(0.5, abs=E)
        habit.add_range(0, 500, amount(500))
        assert habit.loop_score() == pytest.approx(0.25, abs=E)

    def test_overachieving_isnt_relevant(self) -> None:
        habit = numerical(TargetDirection.AT_LEAST)
        habit.add(0, amount(10000000))
        assert habit.loop_score() == pytest.approx(0.051922, abs=E)


class TestNumericalAtLeastScoreListWithSkip:
    def test_get_value(self) -> None:
        habit = numerical(TargetDirection.AT_LEAST)
        habit.add_range(0, 20, amount(2000))
        habit.add(10, SKIP)
        habit.add(15, SKIP)
        habit.check_score_values([
            0.617008, 0.596033, 0.573910, 0.550574, 0.525961, 0.500000, 0.472617, 0.443734,
            0.413270, 0.381137, 0.347244, 0.347244, 0.311495, 0.273788, 0.234017, 0.192067,
            0.192067, 0.147820, 0.101149, 0.051922, 0.000000, 0.000000, 0.000000,
        ])  # fmt: skip

    def test_skips_should_not_affect_score(self) -> None:
        habit = numerical(TargetDirection.AT_LEAST)
        habit.add_range(0, 500, amount(1000))
        initial = habit.loop_score()

        habit.add_range(500, 1000, SKIP)
        assert habit.loop_score() == pytest.approx(initial, abs=E)

        habit.add_range(0, 300, amount(1000))
        habit.add_range(300, 500, SKIP)
        habit.add_range(500, 700, amount(1000))
        assert habit.loop_score() == pytest.approx(initial, abs=E)


class TestNumericalAtMostScoreList:
    def test_get_value(self) -> None:
        habit = numerical(TargetDirection.AT_MOST)
        habit.add(20, amount(1000))
        habit.add_range(0, 20, amount(5000))
        habit.check_score_values([
            0.344253, 0.363106, 0.382992, 0.403967, 0.426090, 0.449426, 0.474039, 0.500000,
            0.527383, 0.556266, 0.586730, 0.618863, 0.652756, 0.688505, 0.726212, 0.765983,
            0.807933, 0.852180, 0.898851, 0.948078, 1.0, 0.0, 0.0,
        ])  # fmt: skip

    def test_recompute(self) -> None:
        habit = numerical(TargetDirection.AT_MOST)
        assert habit.loop_score() == pytest.approx(1.0, abs=E)
        habit.add_range(0, 2, amount(5000))
        assert habit.loop_score() == pytest.approx(0.898850, abs=E)

    def test_should_achieve_comparable_score_to_progress(self) -> None:
        habit = numerical(TargetDirection.AT_MOST)
        habit.add_range(0, 500, amount(3000))
        assert habit.loop_score() == pytest.approx(0.5, abs=E)
        habit.add_range(0, 500, amount(3500))
        assert habit.loop_score() == pytest.approx(0.25, abs=E)

    def test_underachieving_isnt_relevant(self) -> None:
        habit = numerical(TargetDirection.AT_MOST)
        habit.add(1, amount(10000000))
        assert habit.loop_score() == pytest.approx(0.950773, abs=E)

    def test_overachieving_isnt_relevant(self) -> None:
        habit = numerical(TargetDirection.AT_MOST)
        habit.add(0, amount(5000))
        habit.add(1, amount(0))
        assert habit.loop_score() == pytest.approx(0.948077, abs=E)
        habit.add(1, amount(1000))
        assert habit.loop_score() == pytest.approx(0.948077, abs=E)


class TestTodayCountsOnceCheckedIn:
    """The one deliberate difference on Loop's cases: Loop folds an unlogged today in (as a
    miss, or as 0 logged for at most); Loopin shows yesterday's score until today is logged."""

    def test_a_logged_today_is_loops_value(self) -> None:
        habit = LoopHabit()
        habit.add_range(0, 20, YES)
        assert habit.score_as_of(TODAY) == pytest.approx(TWENTY_DAYS[0], abs=E)

    def test_an_unlogged_today_shows_yesterdays_value(self) -> None:
        habit = LoopHabit()
        habit.add(5, YES)
        habit.add(4, SKIP)
        # Loop: 0.041949 today (today already counts as missed); Loopin: yesterday's.
        assert habit.score_as_of(TODAY) == pytest.approx(0.044247, abs=E)
        assert habit.loop_score(0) == pytest.approx(0.041949, abs=E)

    def test_at_most_unlogged_today_keeps_yesterdays_value(self) -> None:
        habit = numerical(TargetDirection.AT_MOST)
        habit.add(1, amount(10000000))
        assert habit.score_as_of(TODAY) == pytest.approx(0.948078, abs=E)
