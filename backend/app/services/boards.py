"""The two screens the app opens most: the caller's today board across families, and a
family's board of every member. Each runs a fixed number of statements (one more when some
habit's streak goes back past the recent days), whatever the number of families, members,
habits or days of history, on the request's asyncpg connection (`app.db.sql`): they are the
hot path of the app. Their statements live in `app.repositories` (boards, habits, checkins)."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.core.errors import UnreadableRecord
from app.domain import progress
from app.domain.actor import Actor
from app.domain.clock import Clock
from app.repositories import boards as board_rows
from app.repositories.boards import BoardHabit, BoardRoutine
from app.repositories.checkins import fetch_entries
from app.repositories.habits import VersionRecord, fetch_versions, schedule_of_text, timeline_of
from app.services.scope import FamilyNotFound

logger = logging.getLogger(__name__)

# Streaks on the boards look back this far (the stats endpoint reads the whole history).
STREAK_LOOKBACK_DAYS = 400
# A board reads these last days of check-ins first: they hold the period of any schedule
# (a month at most) and most current streaks. Only the habits whose streak goes back further
# get older check-ins, in one more statement: a view costs its recent weeks, not a year of
# history per habit.
RECENT_DAYS = 35

Cards = dict[uuid.UUID, list[dict[str, object]]]


class BoardService:
    def __init__(self, sql: Any, actor: Actor, *, now: datetime | None = None) -> None:
        self.sql = sql
        self.actor = actor
        self.now = now or datetime.now(UTC)

    async def today(self, day: date | None) -> dict[str, object]:
        me = await board_rows.fetch_me(self.sql, self.actor)
        clock = Clock(me.timezone, me.day_start_hour or 0) if me.timezone else Clock("UTC", 0)
        today = clock.today(self.now)
        day = day or today
        habits, routines = await self._progress(me.member_ids, day, today=today)
        return {
            "date": day,
            "timezone": clock.timezone,
            "habits": [h for member_habits in habits.values() for h in member_habits],
            "routines": [r for member_routines in routines.values() for r in member_routines],
        }

    async def family(self, family_id: uuid.UUID, day: date | None) -> dict[str, object]:
        timezone = await board_rows.fetch_family_timezone(self.sql, self.actor, family_id)
        if timezone is None:
            raise FamilyNotFound()
        today = Clock(timezone, 0).today(self.now)
        day = day or today
        members = await board_rows.fetch_members(self.sql, family_id)
        habits, routines = await self._progress([m.id for m in members], day, today=today)
        return {
            "family_id": family_id,
            "date": day,
            "timezone": timezone,
            "members": [
                {
                    "member_id": member.id,
                    "display_name": member.display_name,
                    "role": member.role,
                    "is_managed": member.is_managed,
                    "done_count": sum(h["status"] == "done" for h in habits[member.id]),
                    "total_count": len(habits[member.id]),
                    "habits": habits[member.id],
                    "routines": routines[member.id],
                }
                for member in members
            ],
        }

    async def _progress(
        self, member_ids: Sequence[uuid.UUID], day: date, *, today: date
    ) -> tuple[Cards, Cards]:
        """Due habits and routines of these members on `day`, grouped by member. `today`
        tells a day still open ("pending") from a past one ("missed")."""
        habits_by_member: Cards = defaultdict(list)
        routines_by_member: Cards = defaultdict(list)
        if not member_ids:
            return habits_by_member, routines_by_member
        habits = await board_rows.fetch_started_habits(self.sql, member_ids, day)
        habit_ids = [habit.id for habit in habits]
        versions = await fetch_versions(self.sql, habit_ids)
        known_from = day - timedelta(days=RECENT_DAYS)
        entries = await fetch_entries(self.sql, habit_ids, known_from, day)
        statuses: dict[uuid.UUID, str] = {}
        longer: list[tuple[BoardHabit, dict[str, object]]] = []
        for habit in habits:
            habit_versions, habit_entries = versions[habit.id], entries[habit.id]
            try:
                card = evaluate(habit, habit_versions, habit_entries, day, today, known_from)
            except UnreadableRecord as error:
                _leave_out("habit", habit.id, error)
                continue
            if card is None:
                continue
            statuses[habit.id] = str(card["status"])
            habits_by_member[habit.assignee_id].append(card)
            if card["current_streak"] is None:
                longer.append((habit, card))
        if longer:
            await self._complete_streaks(longer, versions, entries, day, known_from)
        routines = await board_rows.fetch_routines_on(self.sql, member_ids, day)
        for routine in sorted(routines, key=_routine_order):
            schedule = routine.schedule_text
            try:
                if schedule and not _due_by_schedule(schedule_of_text(schedule), day):
                    continue
            except UnreadableRecord as error:
                _leave_out("routine", routine.id, error)
                continue
            items = [habit_id for habit_id in routine.habit_ids if habit_id in statuses]
            if not items:
                continue
            routines_by_member[routine.assignee_id].append(
                {
                    "routine_id": routine.id,
                    "family_id": routine.family_id,
                    "member_id": routine.assignee_id,
                    "name": routine.name,
                    "time_of_day": routine.time_of_day,
                    "version": routine.number,
                    "habit_ids": items,
                    "done_count": sum(statuses[habit_id] == "done" for habit_id in items),
                    "total_count": len(items),
                }
            )
        return habits_by_member, routines_by_member

    async def _complete_streaks(
        self,
        longer: list[tuple[BoardHabit, dict[str, object]]],
        versions: dict[uuid.UUID, list[VersionRecord]],
        recent: dict[uuid.UUID, dict[date, progress.EntryLike]],
        day: date,
        known_from: date,
    ) -> None:
        """The streaks that go back past the recent days, from the rest of the look-back."""
        older = await fetch_entries(
            self.sql,
            [habit.id for habit, _ in longer],
            day - timedelta(days=STREAK_LOOKBACK_DAYS),
            known_from - timedelta(days=1),
        )
        for habit, card in longer:
            entries = older[habit.id] | recent[habit.id]
            card["current_streak"] = progress.current_streak_at(
                streak_timeline(habit, versions[habit.id], day), entries, day
            )


def _leave_out(kind: str, entity_id: uuid.UUID, error: UnreadableRecord) -> None:
    """One unreadable row must not take the whole board down: the board is answered without
    that card, and the row is reported (the database's checks should have kept it out)."""
    logger.error("board leaves out %s %s: unreadable %s", kind, entity_id, error.what)


def _routine_order(routine: BoardRoutine) -> tuple[bool, object, str]:
    return (routine.time_of_day is None, routine.time_of_day, routine.name)


def _due_by_schedule(schedule: progress.Schedule, day: date) -> bool:
    return schedule.kind == "per_period" or schedule.is_due_on(day)


def streak_timeline(
    habit: BoardHabit, versions: list[VersionRecord], day: date
) -> progress.Timeline:
    """The habit's rules over the look-back window: every day in it is judged as on the
    whole timeline."""
    window_start = max(habit.start_date, day - timedelta(days=STREAK_LOOKBACK_DAYS))
    return timeline_of(versions, window_start)


def evaluate(
    habit: BoardHabit,
    versions: list[VersionRecord],
    entries: progress.Entries,
    day: date,
    today: date,
    known_from: date,
) -> dict[str, object] | None:
    """The habit's card on `day` from its records and its check-ins since `known_from` (the
    current period's included), or None when it is not due that day. Its `current_streak`
    is None when those check-ins cannot tell it: it goes back further."""
    timeline = streak_timeline(habit, versions, day)
    rule = timeline.rule_on(day)
    if rule is None:
        return None
    entry = entries.get(day)
    if entry is None and not _is_due(rule, day, entries):
        return None
    if entry is not None:
        status = progress.day_status(rule, day, entry).value
    else:
        status = "pending" if day >= today else "missed"
    unit = next((v.unit for v in versions if v.number == rule.number), None)
    return {
        "habit_id": habit.id,
        "family_id": habit.family_id,
        "member_id": habit.assignee_id,
        "name": habit.name,
        "type": rule.type,
        "schedule_kind": rule.schedule.kind,
        "status": status,
        "value": entry[progress.VALUE] if entry is not None else None,
        "target_value": rule.target_value,
        "unit": unit,
        "current_streak": progress.current_streak_if_known(
            timeline, entries, day, known_from=known_from
        ),
        "color": habit.color,
        "icon": habit.icon,
        "sort_order": habit.sort_order,
    }


def _is_due(rule: progress.Rule, day: date, entries: progress.Entries) -> bool:
    schedule = rule.schedule
    if schedule.kind != "per_period":
        return schedule.is_due_on(day)
    first, _ = schedule.period_bounds(day)
    done = sum(
        progress.is_met(rule, entries.get(first + timedelta(days=offset)))
        for offset in range((day - first).days)
    )
    return done < schedule.times
