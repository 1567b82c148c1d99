"""Streaks, scores and day statuses of one habit, computed from its versions and check-ins.

Pure functions, no I/O: the services load the rows and call these; the tests compare them
with a deliberately naive reference implementation.

Vocabulary
- rule: a habit version (type, target, schedule) in force from `effective_from` on; each
  past day is judged by the rule in force that day.
- unit: what a streak counts. A due day for `daily`/`weekdays` schedules; a week or month
  for `per_period` schedules (clipped where a version starts or ends, with the quota
  prorated to the days that remain).
"""

from __future__ import annotations

import bisect
import calendar
import enum
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from app.core.errors import UnreadableRecord
from app.models.enums import CheckinStatus, HabitType, TargetDirection

ScheduleKind = Literal["daily", "weekdays", "per_period"]
Period = Literal["week", "month"]
MONTH_DAYS_FOR_FREQUENCY = 30  # Loop Habit Tracker's convention for "N times a month"


@dataclass(frozen=True, slots=True)
class Schedule:
    kind: ScheduleKind
    weekdays: frozenset[int] = frozenset()  # ISO: 1 = Monday
    times: int = 1
    period: Period | None = None

    @classmethod
    def from_json(cls, data: object) -> Schedule:
        """A stored schedule; `UnreadableRecord` for anything the API would not have stored."""
        try:
            return cls._parse(data)
        except (KeyError, TypeError, ValueError) as error:
            raise UnreadableRecord(f"schedule {data!r}") from error

    @classmethod
    def _parse(cls, data: object) -> Schedule:
        if not isinstance(data, dict):
            raise TypeError("a schedule is an object")
        kind = data["kind"]
        if kind == "daily":
            return cls("daily")
        if kind == "weekdays":
            days = frozenset(int(day) for day in data["weekdays"])
            if not days or not days <= set(range(1, 8)):
                raise ValueError("weekdays are ISO days 1-7")
            return cls("weekdays", weekdays=days)
        period = data["period"]
        times = int(data["times"])
        if kind != "per_period" or period not in ("week", "month") or times < 1:
            raise ValueError("not a schedule")
        return cls("per_period", times=times, period=period)

    @property
    def frequency_per_day(self) -> float:
        if self.kind == "daily":
            return 1.0
        if self.kind == "weekdays":
            return len(self.weekdays) / 7
        length = 7 if self.period == "week" else MONTH_DAYS_FOR_FREQUENCY
        return min(1.0, self.times / length)

    def is_due_on(self, day: date) -> bool:
        """Day-based schedules only: is this a day the habit is expected?"""
        return self.kind == "daily" or (
            self.kind == "weekdays" and day.isoweekday() in self.weekdays
        )

    def period_bounds(self, day: date) -> tuple[date, date]:
        """First and last day of the week (Mon-Sun) or month containing `day`."""
        if self.period == "week":
            first = day - timedelta(days=day.isoweekday() - 1)
            return first, first + timedelta(days=6)
        last_day = calendar.monthrange(day.year, day.month)[1]
        return day.replace(day=1), day.replace(day=last_day)


@dataclass(frozen=True, slots=True)
class Rule:
    """A habit version, as far as judging days goes."""

    number: int
    effective_from: date
    schedule: Schedule
    type: HabitType = HabitType.BOOLEAN
    target_value: Decimal | None = None
    direction: TargetDirection | None = None

    @property
    def decay(self) -> float:
        """Loop Habit Tracker's multiplier: m = 0.5 ** (sqrt(f) / 13)."""
        return float(0.5 ** (math.sqrt(self.schedule.frequency_per_day) / 13))

    def completion(self, value: Decimal | None) -> float:
        """A done check-in's completion ratio in [0, 1]."""
        if self.type == HabitType.BOOLEAN:
            return 1.0
        if value is None or self.target_value is None:
            return 0.0
        target = float(self.target_value)
        amount = float(value)
        if self.direction == TargetDirection.AT_MOST:
            return min(1.0, max(0.0, 1 - (amount - target) / target))
        return min(1.0, amount / target)


class Entry(NamedTuple):
    """A check-in as judging days reads it: its status and value, in this order. Any
    sequence that starts with the two will do (`entry[STATUS]`, `entry[VALUE]`): the boards
    judge hundreds of database rows per view as they come, without copying them."""

    status: CheckinStatus
    value: Decimal | None = None


STATUS, VALUE = 0, 1
# The statuses as module constants: an enum member looked up on its class costs a descriptor
# call, and the streak loops compare a status per day.
CHECKIN_DONE, CHECKIN_SKIPPED = CheckinStatus.DONE, CheckinStatus.SKIPPED
EntryLike = Sequence[Any]
Entries = Mapping[date, EntryLike]


class DayStatus(enum.StrEnum):
    DONE = "done"
    PARTIAL = "partial"
    MISSED = "missed"
    SKIPPED = "skipped"
    NOT_DUE = "not_due"


class UnitOutcome(enum.Enum):
    MET = "met"
    SKIPPED = "skipped"  # keeps a streak alive without extending it
    MISSED = "missed"
    PENDING = "pending"  # the current unit, not met yet: does not break the streak


@dataclass
class Timeline:
    """A habit's rules in order; `rule_on(day)` is the version in force that day."""

    rules: Sequence[Rule]
    start_date: date
    _starts: list[date] = field(init=False, repr=False)
    _only: Rule | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Same effective date twice: the later version wins.
        ordered = sorted(self.rules, key=lambda rule: (rule.effective_from, rule.number))
        deduped: list[Rule] = []
        for rule in ordered:
            if deduped and deduped[-1].effective_from == rule.effective_from:
                deduped[-1] = rule
            else:
                deduped.append(rule)
        self.rules = deduped
        self._starts = [rule.effective_from for rule in deduped]
        # Most habits never change: their rule needs no search (the loops ask once a day).
        self._only = deduped[0] if len(deduped) == 1 else None

    def rule_on(self, day: date) -> Rule | None:
        if day < self.start_date:
            return None
        if self._only is not None:
            return self._only
        index = bisect.bisect_right(self._starts, day) - 1
        # Days between start_date and the first version's date use the first version.
        return self.rules[max(index, 0)] if self.rules else None

    def segment_start(self, rule: Rule) -> date:
        """The first day `rule` is in force (the first rule: from the habit's start)."""
        index = self.rules.index(rule)
        return self.start_date if index == 0 else max(rule.effective_from, self.start_date)

    def segment_end(self, rule: Rule) -> date | None:
        """The last day `rule` is in force, None if it still is."""
        index = self.rules.index(rule)
        if index + 1 < len(self.rules):
            return self.rules[index + 1].effective_from - timedelta(days=1)
        return None


def day_status(rule: Rule | None, day: date, entry: EntryLike | None) -> DayStatus:
    if rule is None:
        return DayStatus.NOT_DUE
    if entry is not None:
        if entry[STATUS] == CHECKIN_SKIPPED:
            return DayStatus.SKIPPED
        ratio = rule.completion(entry[VALUE])
        if ratio >= 1:
            return DayStatus.DONE
        return DayStatus.PARTIAL if ratio > 0 else DayStatus.MISSED
    if rule.schedule.kind == "per_period" or not rule.schedule.is_due_on(day):
        return DayStatus.NOT_DUE
    return DayStatus.MISSED


def history(
    timeline: Timeline, entries: Entries, first: date, last: date
) -> list[tuple[date, DayStatus, EntryLike | None]]:
    days = []
    day = first
    while day <= last:
        entry = entries.get(day)
        days.append((day, day_status(timeline.rule_on(day), day, entry), entry))
        day += timedelta(days=1)
    return days


def is_met(rule: Rule, entry: EntryLike | None) -> bool:
    """A done check-in that reaches the rule's target."""
    return (
        entry is not None and entry[STATUS] == CHECKIN_DONE and rule.completion(entry[VALUE]) >= 1
    )


def units(timeline: Timeline, entries: Entries, today: date) -> list[UnitOutcome]:
    """Every streak unit from the habit's start to today, oldest first."""
    outcomes: list[UnitOutcome] = []
    day = timeline.start_date
    while day <= today:
        rule = timeline.rule_on(day)
        assert rule is not None
        schedule = rule.schedule
        if schedule.kind != "per_period":
            if schedule.is_due_on(day):
                outcomes.append(_day_unit(rule, day, entries.get(day), today))
            day += timedelta(days=1)
            continue
        period_first, period_last = schedule.period_bounds(day)
        segment_end = timeline.segment_end(rule)
        last = min(period_last, segment_end) if segment_end else period_last
        outcomes.append(_period_unit(rule, day, last, period_first, period_last, entries, today))
        day = last + timedelta(days=1)
    return outcomes


def _day_unit(rule: Rule, day: date, entry: EntryLike | None, today: date) -> UnitOutcome:
    if is_met(rule, entry):
        return UnitOutcome.MET
    if entry is not None and entry[STATUS] == CHECKIN_SKIPPED:
        return UnitOutcome.SKIPPED
    return UnitOutcome.PENDING if day == today else UnitOutcome.MISSED


def _period_unit(
    rule: Rule,
    first: date,
    last: date,
    period_first: date,
    period_last: date,
    entries: Entries,
    today: date,
) -> UnitOutcome:
    span = (last - first).days + 1
    period_length = (period_last - period_first).days + 1
    # A period cut short (the habit or the version starts or ends inside it) asks for a
    # proportional share of the quota, at least one. Never more than the days it has: "30
    # times a month" is met by every day of February, not missed by construction.
    required = min(span, max(1, math.ceil(rule.schedule.times * span / period_length)))
    done = skipped = 0
    # `is_met` per day, inlined: the boards judge every day of every period a streak spans.
    boolean = rule.type == HabitType.BOOLEAN
    end = min(last, today)
    one_day = timedelta(days=1)
    day = first
    while day <= end:
        entry = entries.get(day)
        if entry is not None:
            status = entry[STATUS]
            if status == CHECKIN_DONE and (boolean or rule.completion(entry[VALUE]) >= 1):
                done += 1
            elif status == CHECKIN_SKIPPED:
                skipped += 1
        day += one_day
    if done >= required:
        return UnitOutcome.MET
    if last >= today:
        return UnitOutcome.PENDING
    return UnitOutcome.SKIPPED if done + skipped >= required else UnitOutcome.MISSED


def current_streak(outcomes: Sequence[UnitOutcome]) -> int:
    streak = 0
    for outcome in reversed(outcomes):
        if outcome == UnitOutcome.MET:
            streak += 1
        elif outcome == UnitOutcome.MISSED:
            break
    return streak


def current_streak_at(timeline: Timeline, entries: Entries, today: date) -> int:
    """`current_streak(units(timeline, entries, today))`, walking back from today and
    stopping at the first missed unit: a view of many habits pays for their current streaks,
    not for their whole histories."""
    streak = current_streak_if_known(timeline, entries, today, known_from=timeline.start_date)
    assert streak is not None
    return streak


def current_streak_if_known(
    timeline: Timeline, entries: Entries, today: date, *, known_from: date
) -> int | None:
    """`current_streak_at` when `entries` holds only the check-ins from `known_from` on: the
    streak, or None when the walk would need an earlier day to tell (it got back to
    `known_from` without a miss, or to a unit that starts before it). Each unit is the one
    `units` would have built: it starts where the period, the rule's time in force or the
    habit starts, whichever is latest."""
    streak = 0
    day = today
    one_day = timedelta(days=1)
    while day >= timeline.start_date:
        rule = timeline.rule_on(day)
        assert rule is not None
        schedule = rule.schedule
        if schedule.kind != "per_period":
            # `_day_unit` for each due day of the rule's time in force, inlined: this loop is
            # most of a board's Python time.
            weekdays = schedule.weekdays if schedule.kind == "weekdays" else None
            boolean = rule.type == HabitType.BOOLEAN
            segment_start = timeline.segment_start(rule)
            lowest = max(segment_start, known_from)
            while day >= lowest:
                if weekdays is None or day.isoweekday() in weekdays:
                    entry = entries.get(day)
                    if entry is None:
                        if day != today:
                            return streak  # missed
                    elif entry[STATUS] == CHECKIN_DONE and (
                        boolean or rule.completion(entry[VALUE]) >= 1
                    ):
                        streak += 1
                    elif entry[STATUS] != CHECKIN_SKIPPED and day != today:
                        return streak  # missed
                day -= one_day
            if day >= segment_start:
                return None  # the segment goes on before `known_from`
            continue
        period_first, period_last = schedule.period_bounds(day)
        first = max(period_first, timeline.segment_start(rule))
        if first < known_from:
            return None
        segment_end = timeline.segment_end(rule)
        last = min(period_last, segment_end) if segment_end else period_last
        outcome = _period_unit(rule, first, last, period_first, period_last, entries, today)
        if outcome == UnitOutcome.MISSED:
            break
        streak += outcome == UnitOutcome.MET
        day = first - timedelta(days=1)
    return streak


def best_streak(outcomes: Iterable[UnitOutcome]) -> int:
    best = run = 0
    for outcome in outcomes:
        if outcome == UnitOutcome.MET:
            run += 1
            best = max(best, run)
        elif outcome == UnitOutcome.MISSED:
            run = 0
    return best


def score(timeline: Timeline, entries: Entries, today: date) -> float:
    """Loop Habit Tracker's habit strength in [0, 1], as `ScoreList.recompute` and
    `Score.compute` (uhabits-core, models/ScoreList.kt and Score.kt) compute it: each day's
    completion folded in by exponential smoothing, `value * m + completion * (1 - m)` with
    `m = 0.5 ** (sqrt(f) / 13)`. A day's completion, as Loop's:

    - yes/no, daily: 1 for a met check-in, else 0;
    - yes/no, N per week or month: the met days of the last 2x7 (2x30) days over 2xN (Loop
      doubles the window of non-daily yes/no habits, so a weekly habit kept on varying
      weekdays converges to 100 %), at most 1; every day counts, not only check-in days;
    - numeric: the sum of the values logged in the last 1 (daily), 7 or 30 days against
      the target (times N for N per period): at least `sum / target`, at most
      `1 - (sum - target) / target`, clamped to [0, 1]; an unlogged day adds 0, so an
      at-most habit starts at 1.0 and keeps it while nothing is logged.

    Skipped days leave the score unchanged (and count nothing). What Loopin keeps as its own
    (docs/loop-parity.md lists each difference): today counts once checked in; each day is
    judged by the version in force that day (its schedule, target and direction); a
    `weekdays` schedule (which Loop lacks) counts only its due days, one at a time."""
    if today < timeline.start_date:
        return 0.0
    first_rule = timeline.rule_on(timeline.start_date)
    assert first_rule is not None
    value = 1.0 if _is_at_most(first_rule) else 0.0
    # met[i] / amount[i]: met days / logged amounts of the first i days from the start, so a
    # window's total is one difference whatever its length.
    met = [0]
    amount = [0.0]
    one_day = timedelta(days=1)
    decay_of: Rule | None = None
    decay = 0.0
    day = timeline.start_date
    while day <= today:
        entry = entries.get(day)
        if day == today and entry is None:
            break
        rule = timeline.rule_on(day)
        assert rule is not None
        status = logged = None
        if entry is not None:
            status = entry[STATUS]
            logged = entry[VALUE] if status == CHECKIN_DONE else None
        met.append(met[-1] + is_met(rule, entry))
        amount.append(amount[-1] + (0.0 if logged is None else float(logged)))
        current = day
        day += one_day
        if status == CHECKIN_SKIPPED:
            continue
        schedule = rule.schedule
        if schedule.kind == "weekdays" and not schedule.is_due_on(current):
            continue
        completion = _window_completion(rule, met, amount)
        if rule is not decay_of:
            decay_of, decay = rule, rule.decay
        value = value * decay + completion * (1 - decay)
    return value


def _is_at_most(rule: Rule) -> bool:
    return rule.type == HabitType.NUMERIC and rule.direction == TargetDirection.AT_MOST


def _window_completion(rule: Rule, met: list[int], amount: list[float]) -> float:
    """The completion of the day just appended to the running totals (Loop's rolling sum)."""
    schedule = rule.schedule
    per_period = schedule.kind == "per_period"
    length = (7 if schedule.period == "week" else MONTH_DAYS_FOR_FREQUENCY) if per_period else 1
    times = schedule.times if per_period else 1
    if times >= length:  # Loop's Frequency(n, n) is daily
        length = times = 1
    if rule.type == HabitType.BOOLEAN:
        if length > 1:
            length, times = 2 * length, 2 * times
        held = met[-1] - met[max(0, len(met) - 1 - length)]
        return min(1.0, held / times)
    assert rule.target_value is not None
    target = float(rule.target_value) * times
    total = amount[-1] - amount[max(0, len(amount) - 1 - length)]
    if rule.direction == TargetDirection.AT_MOST:
        return min(1.0, max(0.0, 1 - (total - target) / target))
    return min(1.0, total / target)


def completion_rate(timeline: Timeline, entries: Entries, today: date, days: int) -> float | None:
    """Share of what was expected in the last `days` days that was done (today included
    only once checked in); None when nothing was expected."""
    expected = achieved = 0.0
    last = today if today in entries else today - timedelta(days=1)
    first = max(timeline.start_date, today - timedelta(days=days - 1))
    day = first
    while day <= last:
        rule = timeline.rule_on(day)
        entry = entries.get(day)
        day += timedelta(days=1)
        if rule is None or (entry is not None and entry[STATUS] == CHECKIN_SKIPPED):
            continue
        schedule = rule.schedule
        current = day - timedelta(days=1)
        if schedule.kind == "per_period":
            expected += schedule.frequency_per_day
        elif schedule.is_due_on(current):
            expected += 1
        else:
            continue
        if entry is not None:
            achieved += rule.completion(entry[VALUE])
    if expected == 0:
        return None
    return min(1.0, achieved / expected)
