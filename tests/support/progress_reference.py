"""The spec of `app.domain.progress`, written the slow and obvious way.

Every day from the habit's start is expanded into a flat list of (day, version, check-in);
streak units are runs of consecutive days sharing (version, period); streaks are one forward
scan; the score is one plain loop over the days. Only the input and output types are shared
with production, none of its logic.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

from app.domain.progress import DayStatus, Entry, Rule, UnitOutcome
from app.models.enums import CheckinStatus, HabitType, TargetDirection

# The period holding today ends at most this many days after it (a month has <= 31 days).
LOOKAHEAD_DAYS = 31


@dataclass(frozen=True)
class Day:
    day: date
    rule: Rule
    entry: Entry | None  # None after today: a check-in dated in the future does not count yet


def version_on(rules: Sequence[Rule], start: date, day: date) -> Rule | None:
    """The version in force: the latest effective date not after `day` (higher number on a
    tie); before the first version's date, the first version."""
    if day < start or not rules:
        return None
    in_force = [rule for rule in rules if rule.effective_from <= day]
    if not in_force:
        earliest = min(rule.effective_from for rule in rules)
        in_force = [rule for rule in rules if rule.effective_from == earliest]
    return max(in_force, key=lambda rule: (rule.effective_from, rule.number))


def is_skip(entry: Entry | None) -> bool:
    return entry is not None and entry.status == CheckinStatus.SKIPPED


def ratio(rule: Rule, entry: Entry | None) -> float:
    """How much of the day's target a check-in achieved, 0 without a `done` check-in."""
    if entry is None or entry.status != CheckinStatus.DONE:
        return 0.0
    if rule.type == HabitType.BOOLEAN:
        return 1.0
    if entry.value is None or rule.target_value is None:
        return 0.0
    value, target = float(entry.value), float(rule.target_value)
    if rule.direction == TargetDirection.AT_MOST:
        return min(1.0, max(0.0, 1 - (value - target) / target))
    return min(1.0, value / target)


def is_due(rule: Rule, day: date) -> bool:
    schedule = rule.schedule
    return schedule.kind == "daily" or (
        schedule.kind == "weekdays" and day.isoweekday() in schedule.weekdays
    )


def period_key(rule: Rule, day: date) -> tuple[object, ...]:
    schedule = rule.schedule
    if schedule.kind != "per_period":
        return ("day", day)
    if schedule.period == "week":
        iso = day.isocalendar()
        return ("week", iso.year, iso.week)
    return ("month", day.year, day.month)


def days_in_period(rule: Rule, day: date) -> int:
    if rule.schedule.period == "week":
        return 7
    return calendar.monthrange(day.year, day.month)[1]


def frequency(rule: Rule) -> float:
    schedule = rule.schedule
    if schedule.kind == "daily":
        return 1.0
    if schedule.kind == "weekdays":
        return len(schedule.weekdays) / 7
    return min(1.0, schedule.times / (7 if schedule.period == "week" else 30))


def expand(
    rules: Sequence[Rule], start: date, entries: dict[date, Entry], today: date
) -> list[Day]:
    """Every day from the start to past the end of the period holding today."""
    days = []
    for offset in range((today - start).days + 1 + LOOKAHEAD_DAYS):
        day = start + timedelta(days=offset)
        rule = version_on(rules, start, day)
        assert rule is not None
        days.append(Day(day, rule, entries.get(day) if day <= today else None))
    return days


def units(
    rules: Sequence[Rule], start: date, entries: dict[date, Entry], today: date
) -> list[UnitOutcome]:
    outcomes = []
    days = expand(rules, start, entries, today)
    for _, run in groupby(days, key=lambda d: (d.rule.number, period_key(d.rule, d.day))):
        group = list(run)
        first, rule = group[0], group[0].rule
        if first.day > today:
            break
        if rule.schedule.kind != "per_period":
            if not is_due(rule, first.day):
                continue
            if ratio(rule, first.entry) >= 1:
                outcomes.append(UnitOutcome.MET)
            elif is_skip(first.entry):
                outcomes.append(UnitOutcome.SKIPPED)
            elif first.day == today:
                outcomes.append(UnitOutcome.PENDING)
            else:
                outcomes.append(UnitOutcome.MISSED)
            continue
        # The quota of a period cut short is prorated, at least 1 and at most its days.
        share = math.ceil(rule.schedule.times * len(group) / days_in_period(rule, first.day))
        quota = min(len(group), max(1, share))
        done = sum(1 for d in group if ratio(rule, d.entry) >= 1)
        skipped = sum(1 for d in group if is_skip(d.entry))
        if done >= quota:
            outcomes.append(UnitOutcome.MET)
        elif group[-1].day >= today:
            outcomes.append(UnitOutcome.PENDING)
        elif done + skipped >= quota:
            outcomes.append(UnitOutcome.SKIPPED)
        else:
            outcomes.append(UnitOutcome.MISSED)
    return outcomes


def streaks(outcomes: Sequence[UnitOutcome]) -> tuple[int, int]:
    """(current, best): met units since the last missed one, and the longest such run."""
    current = best = 0
    for outcome in outcomes:
        if outcome == UnitOutcome.MET:
            current += 1
            best = max(best, current)
        elif outcome == UnitOutcome.MISSED:
            current = 0
    return current, best


def logged(entry: Entry | None) -> float:
    """The amount a check-in logged: a `done` check-in's value, else nothing."""
    if entry is None or entry.status != CheckinStatus.DONE or entry.value is None:
        return 0.0
    return float(entry.value)


def completion_on(
    rules: Sequence[Rule], start: date, entries: dict[date, Entry], day: date
) -> float:
    """Loop's completion of `day` (ScoreList.recompute): a look back over the window that
    the day's version asks for, day by day."""
    rule = version_on(rules, start, day)
    assert rule is not None
    schedule = rule.schedule
    if schedule.kind == "per_period":
        length = 7 if schedule.period == "week" else 30
        times = schedule.times
        if times >= length:
            length = times = 1
    else:
        length = times = 1
    if rule.type == HabitType.BOOLEAN and length > 1:
        length, times = length * 2, times * 2
    window = [day - timedelta(days=back) for back in range(length)]
    window = [past for past in window if past >= start]
    if rule.type == HabitType.BOOLEAN:
        met = 0
        for past in window:
            past_rule = version_on(rules, start, past)
            assert past_rule is not None
            met += ratio(past_rule, entries.get(past)) >= 1 and not is_skip(entries.get(past))
        return min(1.0, met / times)
    assert rule.target_value is not None
    target = float(rule.target_value) * times
    total = sum(logged(entries.get(past)) for past in window)
    if rule.direction == TargetDirection.AT_MOST:
        return min(1.0, max(0.0, 1 - (total - target) / target))
    return min(1.0, total / target)


def score(rules: Sequence[Rule], start: date, entries: dict[date, Entry], today: date) -> float:
    if today < start:
        return 0.0
    first = version_on(rules, start, start)
    assert first is not None
    at_most = first.type == HabitType.NUMERIC and first.direction == TargetDirection.AT_MOST
    value = 1.0 if at_most else 0.0
    for d in expand(rules, start, entries, today):
        if d.day > today or (d.day == today and d.entry is None):
            break
        if is_skip(d.entry):
            continue
        if d.rule.schedule.kind == "weekdays" and not is_due(d.rule, d.day):
            continue
        completion = completion_on(rules, start, entries, d.day)
        m = 0.5 ** (math.sqrt(frequency(d.rule)) / 13)
        value = value * m + completion * (1 - m)
    return value


def status(rules: Sequence[Rule], start: date, day: date, entry: Entry | None) -> DayStatus:
    rule = version_on(rules, start, day)
    if rule is None:
        return DayStatus.NOT_DUE
    if is_skip(entry):
        return DayStatus.SKIPPED
    if entry is not None:
        achieved = ratio(rule, entry)
        if achieved >= 1:
            return DayStatus.DONE
        return DayStatus.PARTIAL if achieved > 0 else DayStatus.MISSED
    if rule.schedule.kind == "per_period" or not is_due(rule, day):
        return DayStatus.NOT_DUE
    return DayStatus.MISSED
