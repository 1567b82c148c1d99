"""Streaks, score and day statuses (app.domain.progress), checked three ways: against the
naive reference in tests/support/progress_reference.py over random habits, by invariants a
user relies on, and by named hand-computed cases."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import progress
from app.domain.progress import DayStatus, Entry, Rule, Schedule, Timeline, UnitOutcome
from app.models.enums import CheckinStatus, HabitType, TargetDirection
from tests.support import progress_reference as reference

MET, SKIPPED, MISSED, PENDING = (
    UnitOutcome.MET,
    UnitOutcome.SKIPPED,
    UnitOutcome.MISSED,
    UnitOutcome.PENDING,
)
DECAY_DAILY = 0.5 ** (1 / 13)  # Loop's m for f = 1: 0.5 ** (sqrt(1) / 13)


# --- builders -------------------------------------------------------------------------------


def daily() -> Schedule:
    return Schedule("daily")


def on_weekdays(*days: int) -> Schedule:
    return Schedule("weekdays", weekdays=frozenset(days))


def per_week(times: int) -> Schedule:
    return Schedule("per_period", times=times, period="week")


def per_month(times: int) -> Schedule:
    return Schedule("per_period", times=times, period="month")


def boolean(schedule: Schedule, effective_from: date, number: int = 1) -> Rule:
    return Rule(number, effective_from, schedule)


def numeric(
    schedule: Schedule,
    effective_from: date,
    target: str,
    direction: TargetDirection = TargetDirection.AT_LEAST,
    number: int = 1,
) -> Rule:
    return Rule(number, effective_from, schedule, HabitType.NUMERIC, Decimal(target), direction)


def done(value: str | None = None) -> Entry:
    return Entry(CheckinStatus.DONE, None if value is None else Decimal(value))


def skip() -> Entry:
    return Entry(CheckinStatus.SKIPPED)


def meets(rule: Rule) -> Entry:
    """A `done` check-in that fully meets `rule`'s target."""
    if rule.type == HabitType.BOOLEAN:
        return done()
    assert rule.target_value is not None
    met_value = Decimal(0) if rule.direction == TargetDirection.AT_MOST else rule.target_value
    return Entry(CheckinStatus.DONE, met_value)


@dataclass(frozen=True)
class Habit:
    rules: tuple[Rule, ...]
    start: date
    entries: dict[date, Entry]
    today: date

    @property
    def timeline(self) -> Timeline:
        return Timeline(list(self.rules), start_date=self.start)

    def units(self) -> list[UnitOutcome]:
        return progress.units(self.timeline, self.entries, self.today)

    def current_streak(self) -> int:
        return progress.current_streak(self.units())

    def best_streak(self) -> int:
        return progress.best_streak(self.units())

    def score(self) -> float:
        return progress.score(self.timeline, self.entries, self.today)

    def statuses(self, first: date | None = None, last: date | None = None) -> list[DayStatus]:
        first, last = first or self.start, last or self.today
        return [s for _, s, _ in progress.history(self.timeline, self.entries, first, last)]

    def with_entry(self, day: date, entry: Entry | None) -> Habit:
        entries = dict(self.entries)
        if entry is None:
            entries.pop(day, None)
        else:
            entries[day] = entry
        return replace(self, entries=entries)

    def on(self, today: date) -> Habit:
        return replace(self, today=today)

    def rule_on(self, day: date) -> Rule:
        rule = reference.version_on(self.rules, self.start, day)
        assert rule is not None
        return rule

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.today - self.start).days + 1)]


def dated(start: date, *statuses: Entry | None) -> dict[date, Entry]:
    """Check-ins on consecutive days from `start`; None leaves a day without one."""
    return {
        start + timedelta(days=n): entry for n, entry in enumerate(statuses) if entry is not None
    }


# --- strategies -----------------------------------------------------------------------------

schedules = st.one_of(
    st.just(daily()),
    st.frozensets(st.integers(1, 7), min_size=1).map(lambda days: on_weekdays(*days)),
    st.integers(1, 7).map(per_week),
    st.integers(1, 31).map(per_month),
)
values = st.one_of(st.none(), st.integers(0, 60).map(lambda half: Decimal(half) / 2))
entries_ = st.one_of(
    st.none(),
    st.just(skip()),
    values.map(lambda value: Entry(CheckinStatus.DONE, value)),
)


@st.composite
def rules(draw: st.DrawFn, number: int, effective_from: date) -> Rule:
    schedule = draw(schedules)
    if draw(st.booleans()):
        return boolean(schedule, effective_from, number)
    target = draw(st.sampled_from(["1", "2.5", "10", "20"]))
    direction = draw(st.sampled_from(TargetDirection))
    return numeric(schedule, effective_from, target, direction, number)


@st.composite
def habits(draw: st.DrawFn) -> Habit:
    """1-3 versions (effective dates sorted, ties and future dates allowed), a check-in
    pattern of a default (none/done/skipped) with up to 40 exceptions, some after today."""
    start = draw(st.dates(date(2024, 1, 1), date(2026, 12, 31)))
    age = draw(st.integers(0, 200))
    today = start + timedelta(days=age)
    offsets = sorted(draw(st.lists(st.integers(0, age + 10), min_size=1, max_size=3)))
    versions = tuple(
        draw(rules(number, start + timedelta(days=offset)))
        for number, offset in enumerate(offsets, start=1)
    )
    default = draw(entries_)
    entries = {} if default is None else {start + timedelta(days=n): default for n in range(age)}
    exceptions = draw(st.dictionaries(st.integers(0, age + 7), entries_, max_size=40))
    for offset, entry in exceptions.items():
        day = start + timedelta(days=offset)
        if entry is None:
            entries.pop(day, None)
        else:
            entries[day] = entry
    return Habit(versions, start, entries, today)


@st.composite
def habits_and_day(draw: st.DrawFn) -> tuple[Habit, date]:
    """A habit and one of its days from the start up to today."""
    habit = draw(habits())
    day = habit.start + timedelta(days=draw(st.integers(0, (habit.today - habit.start).days)))
    return habit, day


def is_day_based(habit: Habit) -> bool:
    return all(rule.schedule.kind != "per_period" for rule in habit.rules)


def is_at_most(rule: Rule) -> bool:
    return rule.type == HabitType.NUMERIC and rule.direction == TargetDirection.AT_MOST


def at_least(lower: float, value: float) -> bool:
    return value >= lower or math.isclose(value, lower, rel_tol=1e-9, abs_tol=1e-12)


REFERENCE = settings(max_examples=100, deadline=None)
PROPERTIES = settings(max_examples=50, deadline=None)


# --- production == reference ----------------------------------------------------------------


class TestMatchesTheReference:
    @REFERENCE
    @given(habits())
    def test_units_and_streaks(self, habit: Habit) -> None:
        expected = reference.units(habit.rules, habit.start, habit.entries, habit.today)
        assert habit.units() == expected
        assert (habit.current_streak(), habit.best_streak()) == reference.streaks(expected)

    @REFERENCE
    @given(habits())
    def test_score(self, habit: Habit) -> None:
        expected = reference.score(habit.rules, habit.start, habit.entries, habit.today)
        assert math.isclose(habit.score(), expected, rel_tol=1e-9, abs_tol=1e-12)

    @REFERENCE
    @given(habits())
    def test_history_statuses(self, habit: Habit) -> None:
        first = habit.start - timedelta(days=3)
        expected = [
            reference.status(habit.rules, habit.start, day, habit.entries.get(day))
            for day in (first + timedelta(days=n) for n in range((habit.today - first).days + 1))
        ]
        assert habit.statuses(first, habit.today) == expected


# --- invariants -----------------------------------------------------------------------------


class TestCurrentStreakWalkingBack:
    """The boards' shortcut: walking back from today to the first miss gives the streak of
    all the units, also on a timeline cut short by a look-back window."""

    @REFERENCE
    @given(habits(), st.integers(0, 90))
    def test_equals_the_streak_of_all_units(self, habit: Habit, window_cut: int) -> None:
        start = min(habit.start + timedelta(days=window_cut), habit.today)
        timeline = Timeline(list(habit.rules), start_date=start)
        expected = progress.current_streak(progress.units(timeline, habit.entries, habit.today))
        assert progress.current_streak_at(timeline, habit.entries, habit.today) == expected

    @REFERENCE
    @given(habits(), st.integers(0, 60))
    def test_from_recent_days_only_it_answers_right_or_not_at_all(
        self, habit: Habit, recent_days: int
    ) -> None:
        known_from = habit.today - timedelta(days=recent_days)
        recent = {day: entry for day, entry in habit.entries.items() if day >= known_from}

        streak = progress.current_streak_if_known(
            habit.timeline, recent, habit.today, known_from=known_from
        )

        if streak is not None:
            assert streak == habit.current_streak()
        if known_from <= habit.start:
            assert streak == habit.current_streak()  # nothing before: always known

    def test_a_streak_back_past_the_recent_days_needs_the_older_ones(self) -> None:
        start = date(2026, 1, 1)
        today = start + timedelta(days=49)
        habit = Habit((boolean(daily(), start),), start, dated(start, *[done()] * 50), today)
        broken = habit.with_entry(today - timedelta(days=5), None)
        known_from = today - timedelta(days=20)

        def from_recent_days(habit: Habit) -> int | None:
            recent = {day: entry for day, entry in habit.entries.items() if day >= known_from}
            return progress.current_streak_if_known(
                habit.timeline, recent, today, known_from=known_from
            )

        assert habit.current_streak() == 50
        assert from_recent_days(habit) is None
        assert from_recent_days(broken) == broken.current_streak() == 5


class TestScoreBounds:
    @PROPERTIES
    @given(habits())
    def test_score_stays_between_zero_and_one(self, habit: Habit) -> None:
        assert 0.0 <= habit.score() <= 1.0


class TestCheckingInNeverHurts:
    @PROPERTIES
    @given(habits_and_day())
    def test_a_met_check_in_on_an_empty_day_never_lowers_the_streaks(
        self, case: tuple[Habit, date]
    ) -> None:
        habit, day = case
        before = habit.with_entry(day, None)
        after = before.with_entry(day, meets(habit.rule_on(day)))
        assert after.current_streak() >= before.current_streak()
        assert after.best_streak() >= before.best_streak()

    @PROPERTIES
    @given(habits_and_day())
    def test_a_met_check_in_on_a_past_empty_day_never_lowers_the_score(
        self, case: tuple[Habit, date]
    ) -> None:
        # Past days only: today's check-in adds today's step, which for a per-period habit
        # can be below the score (the week is not full yet).
        habit, day = case
        day = min(day, habit.today - timedelta(days=1))
        if day < habit.start:
            return
        before = habit.with_entry(day, None)
        after = before.with_entry(day, meets(habit.rule_on(day)))
        assert at_least(before.score(), after.score())


class TestSkipping:
    @PROPERTIES
    @given(habits_and_day())
    def test_a_skip_never_lowers_the_streaks_compared_with_no_check_in(
        self, case: tuple[Habit, date]
    ) -> None:
        habit, day = case
        missed = habit.with_entry(day, None)
        skipped = missed.with_entry(day, skip())
        assert skipped.current_streak() >= missed.current_streak()
        assert skipped.best_streak() >= missed.best_streak()

    @PROPERTIES
    @given(habits_and_day())
    def test_a_skip_never_lowers_the_score_of_a_day_based_habit(
        self, case: tuple[Habit, date]
    ) -> None:
        # Per-period habits are excluded: their day off inside a kept week raises the score.
        # So are at-most days: with nothing logged they count as kept (Loop's rule).
        habit, day = case
        if not is_day_based(habit) or is_at_most(habit.rule_on(day)):
            return
        missed = habit.with_entry(day, None)
        skipped = missed.with_entry(day, skip())
        assert at_least(missed.score(), skipped.score())


class TestTodayNotDoneYet:
    @PROPERTIES
    @given(habits())
    def test_no_check_in_yet_today_counts_like_a_skip_for_the_streaks(self, habit: Habit) -> None:
        waiting = habit.with_entry(habit.today, None)
        skipped = habit.with_entry(habit.today, skip())
        assert waiting.current_streak() == skipped.current_streak()
        assert waiting.best_streak() == skipped.best_streak()

    @PROPERTIES
    @given(habits())
    def test_streaks_equal_yesterdays_when_yesterday_was_settled(self, habit: Habit) -> None:
        today = habit.with_entry(habit.today, None)
        yesterday = today.on(habit.today - timedelta(days=1))
        if PENDING in yesterday.units():
            return  # yesterday's unit was still open: today may close it as missed
        assert today.current_streak() == yesterday.current_streak()
        assert today.best_streak() == yesterday.best_streak()

    @PROPERTIES
    @given(habits())
    def test_score_equals_yesterdays_until_today_is_checked_in(self, habit: Habit) -> None:
        yesterday_day = habit.today - timedelta(days=1)
        if yesterday_day not in habit.entries:
            return  # a yesterday left empty is judged missed only from today on
        today = habit.with_entry(habit.today, None)
        assert today.score() == today.on(yesterday_day).score()


class TestVersionsKeepThePast:
    @PROPERTIES
    @given(habits(), st.integers(1, 30), st.data())
    def test_a_new_version_does_not_change_the_days_before_it(
        self, habit: Habit, offset: int, data: st.DataObject
    ) -> None:
        effective = max(habit.start, *(r.effective_from for r in habit.rules)) + timedelta(
            days=offset
        )
        changed = replace(
            habit,
            rules=(*habit.rules, data.draw(rules(len(habit.rules) + 1, effective))),
            today=max(habit.today, effective),
        )
        day_before = effective - timedelta(days=1)
        old, new = habit.on(changed.today), changed
        assert new.statuses(habit.start, day_before) == old.statuses(habit.start, day_before)
        assert new.on(day_before).score() == old.on(day_before).score()
        if is_day_based(habit):
            assert new.on(day_before).units() == old.on(day_before).units()


# --- named cases ----------------------------------------------------------------------------

MONDAY = date(2026, 3, 2)


class TestWeekdaysSchedule:
    def habit(self, *days: Entry | None, today: date) -> Habit:
        rule = boolean(on_weekdays(1, 3, 5), MONDAY)
        return Habit((rule,), MONDAY, dated(MONDAY, *days), today)

    def test_tuesdays_and_thursdays_without_check_ins_keep_the_streak(self) -> None:
        # Mon..Fri, Mon..Fri: done on Mon/Wed/Fri only; evaluated on the second Saturday.
        week = (done(), None, done(), None, done(), None, None)
        habit = self.habit(*week, *week[:5], today=MONDAY + timedelta(days=12))
        assert habit.current_streak() == 6
        assert habit.statuses()[1] == DayStatus.NOT_DUE

    def test_a_due_wednesday_without_check_in_breaks_it(self) -> None:
        habit = self.habit(done(), None, None, None, done(), today=MONDAY + timedelta(days=4))
        assert habit.units() == [MET, MISSED, MET]
        assert habit.current_streak() == 1
        assert habit.statuses()[2] == DayStatus.MISSED

    def test_non_due_days_leave_the_score_unchanged(self) -> None:
        m = 0.5 ** (math.sqrt(3 / 7) / 13)
        monday_and_wednesday = (1 - m) * m + (1 - m)  # two steps: Tuesday is no step at all
        habit = self.habit(done(), None, done(), today=MONDAY + timedelta(days=2))
        assert math.isclose(habit.score(), monday_and_wednesday, rel_tol=1e-12)


class TestSkippedDays:
    def habit(self, *days: Entry | None) -> Habit:
        today = MONDAY + timedelta(days=len(days) - 1)
        return Habit((boolean(daily(), MONDAY),), MONDAY, dated(MONDAY, *days), today)

    def test_a_skip_keeps_the_streak_alive_without_extending_it(self) -> None:
        habit = self.habit(done(), done(), skip(), done())
        assert habit.units() == [MET, MET, SKIPPED, MET]
        assert habit.current_streak() == 3

    def test_the_same_day_missed_breaks_it(self) -> None:
        assert self.habit(done(), done(), None, done()).current_streak() == 1

    def test_a_skip_leaves_the_score_unchanged(self) -> None:
        assert self.habit(done(), skip()).score() == self.habit(done()).score()


class TestTodayNotDone:
    def test_an_unchecked_today_neither_breaks_nor_extends_the_streak(self) -> None:
        rule = boolean(daily(), MONDAY)
        habit = Habit((rule,), MONDAY, dated(MONDAY, *[done()] * 5), MONDAY + timedelta(days=5))
        assert habit.units()[-1] == PENDING
        assert habit.current_streak() == 5
        assert habit.with_entry(habit.today, done()).current_streak() == 6

    def test_an_unchecked_yesterday_does_break_it(self) -> None:
        rule = boolean(daily(), MONDAY)
        habit = Habit((rule,), MONDAY, dated(MONDAY, *[done()] * 4), MONDAY + timedelta(days=5))
        assert habit.current_streak() == 0
        assert habit.best_streak() == 4

    def test_a_partial_amount_today_is_still_pending(self) -> None:
        rule = numeric(daily(), MONDAY, "20")
        habit = Habit((rule,), MONDAY, dated(MONDAY, done("20"), done("5")), MONDAY + timedelta(1))
        assert habit.units() == [MET, PENDING]
        assert habit.current_streak() == 1


class TestVersionChange:
    """Read at least 20 pages a day; from Thursday on, at least 10."""

    thursday = MONDAY + timedelta(days=3)
    pages = dated(MONDAY, done("20"), done("25"), done("15"), done("12"), done("10"))
    today = MONDAY + timedelta(days=4)

    def habit(self, *rules: Rule) -> Habit:
        return Habit(rules, MONDAY, self.pages, self.today)

    def test_days_before_the_change_keep_the_old_target(self) -> None:
        old = self.habit(numeric(daily(), MONDAY, "20"))
        new = self.habit(
            numeric(daily(), MONDAY, "20"), numeric(daily(), self.thursday, "10", number=2)
        )
        assert new.statuses() == [
            DayStatus.DONE,
            DayStatus.DONE,
            DayStatus.PARTIAL,  # 15 of 20 on Wednesday, not rewritten by the new 10
            DayStatus.DONE,
            DayStatus.DONE,
        ]
        assert new.statuses()[:3] == old.statuses()[:3]
        assert new.on(self.thursday).units()[:3] == old.on(self.thursday).units()[:3]
        assert old.on(self.thursday).units()[:3] == [MET, MET, MISSED]
        assert new.units() == [MET, MET, MISSED, MET, MET]
        assert (new.current_streak(), new.best_streak()) == (2, 2)

    def test_a_change_backdated_to_the_start_does_rewrite_them(self) -> None:
        backdated = self.habit(
            numeric(daily(), MONDAY, "20"), numeric(daily(), MONDAY, "10", number=2)
        )
        assert backdated.current_streak() == 5  # same effective date: the later version wins

    def test_days_before_the_first_versions_date_use_the_first_version(self) -> None:
        late = self.habit(numeric(daily(), self.thursday, "10"))
        assert late.statuses()[2] == DayStatus.DONE


class TestVersionChangeOfAPerWeekHabit:
    """At least 20 pages 3 times a week; from Tuesday on, at least 10."""

    tuesday = MONDAY + timedelta(days=1)

    def test_the_rolling_window_judges_each_day_by_its_own_target(self) -> None:
        habit = Habit(
            (
                numeric(per_week(3), MONDAY, "20"),
                numeric(per_week(3), self.tuesday, "10", number=2),
            ),
            MONDAY,
            dated(MONDAY, done("15"), done("10")),
            self.tuesday,
        )
        m = 0.5 ** (math.sqrt(3 / 7) / 13)
        # The window sums the pages logged (as Loop does); the target is the day's version's
        # 3 x 20 on Monday, 3 x 10 from Tuesday on.
        monday = (15 / 60) * (1 - m)
        tuesday = monday * m + (25 / 30) * (1 - m)
        assert math.isclose(habit.score(), tuesday, rel_tol=1e-12)

    def test_a_new_schedule_mid_week_closes_the_week_with_a_prorated_quota(self) -> None:
        # Mon-Wed ask for ceil(3 * 3 / 7) = 2; from Thursday on, every day.
        thursday = MONDAY + timedelta(days=3)
        habit = Habit(
            (boolean(per_week(3), MONDAY), boolean(daily(), thursday, number=2)),
            MONDAY,
            dated(MONDAY, done(), done(), None, done(), done()),
            thursday + timedelta(days=1),
        )
        assert habit.units() == [MET, MET, MET]
        assert habit.current_streak() == 3
        assert habit.statuses()[2:] == [DayStatus.NOT_DUE, DayStatus.DONE, DayStatus.DONE]


class TestPerPeriod:
    def test_three_a_week_counts_weeks(self) -> None:
        # Week 1: Mon, Wed, Sat (met); week 2: Tue, Thu (missed); week 3: Mon..Wed (met);
        # week 4, today Tuesday: Mon only (pending).
        days = [0, 2, 5, 8, 10, 14, 15, 16, 21]
        habit = Habit(
            (boolean(per_week(3), MONDAY),),
            MONDAY,
            {MONDAY + timedelta(days=n): done() for n in days},
            MONDAY + timedelta(days=22),
        )
        assert habit.units() == [MET, MISSED, MET, PENDING]
        assert (habit.current_streak(), habit.best_streak()) == (1, 1)
        assert habit.statuses()[1] == DayStatus.NOT_DUE  # a day off inside the week

    def test_a_week_started_on_thursday_asks_for_a_prorated_share(self) -> None:
        thursday = MONDAY + timedelta(days=3)
        habit = Habit(
            (boolean(per_week(3), thursday),),
            thursday,
            dated(thursday, done(), None, done()),  # ceil(3 * 4 / 7) = 2 of Thu..Sun
            thursday + timedelta(days=4),
        )
        assert habit.units() == [MET, PENDING]

    def test_a_week_with_skips_making_up_the_quota_keeps_the_streak(self) -> None:
        entries = dated(MONDAY, done(), skip(), done(), None, None, None, None, done(), done())
        entries[MONDAY + timedelta(days=9)] = done()
        habit = Habit((boolean(per_week(3), MONDAY),), MONDAY, entries, MONDAY + timedelta(9))
        assert habit.units() == [SKIPPED, MET]
        assert habit.current_streak() == 1

    def test_every_day_of_february_meets_thirty_times_a_month(self) -> None:
        february = date(2026, 2, 1)
        habit = Habit(
            (boolean(per_month(30), february),),
            february,
            {february + timedelta(days=n): done() for n in range(28)},
            date(2026, 3, 1),
        )
        assert habit.units() == [MET, PENDING]
        assert habit.current_streak() == 1


class TestNumericCompletion:
    """The completion ratio shows in today's score step: c * (1 - m) from 0 for at least,
    1 * m + c * (1 - m) from 1 for at most (Loop starts an at-most habit at 1.0)."""

    def score_of(self, rule: Rule, value: str) -> float:
        return Habit((rule,), MONDAY, {MONDAY: done(value)}, MONDAY).score()

    def test_at_most_completion(self) -> None:
        rule = numeric(daily(), MONDAY, "10", TargetDirection.AT_MOST)
        expected = {"0": 1.0, "5": 1.0, "10": 1.0, "12": 0.8, "15": 0.5, "20": 0.0, "25": 0.0}
        for value, completion in expected.items():
            assert math.isclose(
                self.score_of(rule, value),
                DECAY_DAILY + completion * (1 - DECAY_DAILY),
                abs_tol=1e-12,
            ), value

    def test_at_most_statuses(self) -> None:
        rule = numeric(daily(), MONDAY, "10", TargetDirection.AT_MOST)
        entries = dated(MONDAY, done("10"), done("12"), done("20"))
        habit = Habit((rule,), MONDAY, entries, MONDAY + timedelta(days=2))
        assert habit.statuses() == [DayStatus.DONE, DayStatus.PARTIAL, DayStatus.MISSED]

    def test_at_least_completion(self) -> None:
        rule = numeric(daily(), MONDAY, "20")
        for value, completion in {"5": 0.25, "15": 0.75, "20": 1.0, "40": 1.0}.items():
            assert math.isclose(
                self.score_of(rule, value), completion * (1 - DECAY_DAILY), abs_tol=1e-12
            ), value


class TestScoreByHand:
    def test_three_days_of_a_daily_habit(self) -> None:
        m = 0.5 ** (math.sqrt(1) / 13)
        assert math.isclose(m, 0.948078, abs_tol=1e-6)
        day1 = 0 * m + 1 * (1 - m)  # done
        day2 = day1 * m + 0 * (1 - m)  # missed
        day3 = day2 * m + 1 * (1 - m)  # done today
        habit = Habit(
            (boolean(daily(), MONDAY),),
            MONDAY,
            dated(MONDAY, done(), None, done()),
            MONDAY + timedelta(days=2),
        )
        assert math.isclose(habit.score(), day3, rel_tol=1e-12)
        assert math.isclose(habit.score(), 0.098593, abs_tol=1e-6)
        assert math.isclose(habit.with_entry(habit.today, None).score(), day2, rel_tol=1e-12)

    def test_a_weekdays_habit_decays_with_its_own_frequency(self) -> None:
        m = 0.5 ** (math.sqrt(3 / 7) / 13)
        habit = Habit((boolean(on_weekdays(1, 3, 5), MONDAY),), MONDAY, {MONDAY: done()}, MONDAY)
        assert math.isclose(habit.score(), 1 - m, rel_tol=1e-12)

    def test_a_per_week_habit_scores_the_last_fourteen_days(self) -> None:
        # Loop doubles a non-daily yes/no habit's window: c is the met days of the last 14
        # over 2 x 3, so 1/6 on Mon and Tue, 2/6 on Wednesday.
        m = 0.5 ** (math.sqrt(3 / 7) / 13)
        habit = Habit(
            (boolean(per_week(3), MONDAY),),
            MONDAY,
            dated(MONDAY, done(), None, done()),
            MONDAY + timedelta(days=2),
        )
        day1 = (1 / 6) * (1 - m)
        day2 = day1 * m + (1 / 6) * (1 - m)
        day3 = day2 * m + (2 / 6) * (1 - m)
        assert math.isclose(habit.score(), day3, rel_tol=1e-12)
