"""The two screens the app opens most: the caller's today board across families, and a
family's board of every member. Each runs a fixed number of statements (one more when some
habit's streak goes back past the recent days), whatever the number of families, members,
habits or days of history, on the asyncpg connection directly (`app.db.sql`): they are the
hot path of the app."""

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
from app.services.habit_context import (
    Clock,
    fetch_versions,
    schedule_of_text,
    timeline_of_records,
)
from app.services.scope import FamilyNotFound

logger = logging.getLogger(__name__)

# Streaks on the boards look back this far (the stats endpoint reads the whole history).
STREAK_LOOKBACK_DAYS = 400
# A board reads these last days of check-ins first: they hold the period of any schedule
# (a month at most) and most current streaks. Only the habits whose streak goes back further
# get older check-ins, in one more statement: a view costs its recent weeks, not a year of
# history per habit.
RECENT_DAYS = 35

# The caller's clock (UTC until their profile exists) and their memberships.
_ME = """
select p.timezone, p.day_start_hour,
       array(select m.id from family_members m where m.user_id = $1) as member_ids
from (select) as one left join users p on p.id = $1
"""
# The family, if the caller is in it (RLS agrees).
_FAMILY = """
select f.timezone from families f
join family_members me on me.family_id = f.id and me.user_id = $2
where f.id = $1
"""
_MEMBERS = """
select id, display_name, role, user_id is null as is_managed
from family_members where family_id = $1 order by created_at, id
"""
_HABITS = """
select id, family_id, assignee_id, name, color, icon, sort_order, start_date
from habits
where assignee_id = any($1::uuid[]) and deleted_at is null and archived_at is null
  and start_date <= $2
order by sort_order, created_at, id
"""
# Each habit's check-ins as three arrays (dates, statuses, values): one row per habit instead
# of one per check-in, which both sides decode several times faster (a board reads ~1,700).
_CHECKINS = """
select habit_id, array_agg(date) as dates, array_agg(status::text) as statuses,
       array_agg(value) as checkin_values
from checkins
where habit_id = any($1::uuid[]) and date between $2 and $3
group by habit_id
"""
# Each live routine's version in force on the day (the latest effective one).
_ROUTINES = """
select distinct on (v.routine_id)
       r.id, r.family_id, r.assignee_id, r.name, r.time_of_day, v.number, v.habit_ids,
       nullif(v.schedule, 'null')::text as schedule
from routines r join routine_versions v on v.routine_id = r.id
where r.assignee_id = any($1::uuid[]) and r.deleted_at is null and v.effective_from <= $2
order by v.routine_id, v.effective_from desc, v.number desc
"""

Cards = dict[uuid.UUID, list[dict[str, object]]]


class BoardService:
    def __init__(self, sql: Any, actor: Actor, *, now: datetime | None = None) -> None:
        self.sql = sql
        self.actor = actor
        self.now = now or datetime.now(UTC)

    async def today(self, day: date | None) -> dict[str, object]:
        me = await self.sql.fetchrow(_ME, self.actor.user_id)
        clock = Clock(me["timezone"], me["day_start_hour"]) if me["timezone"] else Clock("UTC", 0)
        today = clock.today(self.now)
        day = day or today
        habits, routines = await self._progress(me["member_ids"], day, today=today)
        return {
            "date": day,
            "timezone": clock.timezone,
            "habits": [h for member_habits in habits.values() for h in member_habits],
            "routines": [r for member_routines in routines.values() for r in member_routines],
        }

    async def family(self, family_id: uuid.UUID, day: date | None) -> dict[str, object]:
        timezone = await self.sql.fetchval(_FAMILY, family_id, self.actor.user_id)
        if timezone is None:
            raise FamilyNotFound("No family with this id is visible to you.")
        today = Clock(timezone, 0).today(self.now)
        day = day or today
        members = await self.sql.fetch(_MEMBERS, family_id)
        habits, routines = await self._progress([m["id"] for m in members], day, today=today)
        return {
            "family_id": family_id,
            "date": day,
            "timezone": timezone,
            "members": [
                {
                    "member_id": member["id"],
                    "display_name": member["display_name"],
                    "role": member["role"],
                    "is_managed": member["is_managed"],
                    "done_count": sum(h["status"] == "done" for h in habits[member["id"]]),
                    "total_count": len(habits[member["id"]]),
                    "habits": habits[member["id"]],
                    "routines": routines[member["id"]],
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
        habits = await self.sql.fetch(_HABITS, member_ids, day)
        habit_ids = [habit["id"] for habit in habits]
        versions = await fetch_versions(self.sql, habit_ids)
        known_from = day - timedelta(days=RECENT_DAYS)
        entries = await self._entries(habit_ids, known_from, day)
        statuses: dict[uuid.UUID, str] = {}
        longer: list[tuple[Any, dict[str, object]]] = []
        for habit in habits:
            habit_versions, habit_entries = versions[habit["id"]], entries[habit["id"]]
            try:
                card = evaluate(habit, habit_versions, habit_entries, day, today, known_from)
            except UnreadableRecord as error:
                _leave_out("habit", habit["id"], error)
                continue
            if card is None:
                continue
            statuses[habit["id"]] = str(card["status"])
            habits_by_member[habit["assignee_id"]].append(card)
            if card["current_streak"] is None:
                longer.append((habit, card))
        if longer:
            await self._complete_streaks(longer, versions, entries, day, known_from)
        routines = await self.sql.fetch(_ROUTINES, member_ids, day)
        for routine in sorted(routines, key=_routine_order):
            schedule = routine["schedule"]
            try:
                if schedule and not _due_by_schedule(schedule_of_text(schedule), day):
                    continue
            except UnreadableRecord as error:
                _leave_out("routine", routine["id"], error)
                continue
            items = [habit_id for habit_id in routine["habit_ids"] if habit_id in statuses]
            if not items:
                continue
            routines_by_member[routine["assignee_id"]].append(
                {
                    "routine_id": routine["id"],
                    "family_id": routine["family_id"],
                    "member_id": routine["assignee_id"],
                    "name": routine["name"],
                    "time_of_day": routine["time_of_day"],
                    "version": routine["number"],
                    "habit_ids": items,
                    "done_count": sum(statuses[habit_id] == "done" for habit_id in items),
                    "total_count": len(items),
                }
            )
        return habits_by_member, routines_by_member

    async def _complete_streaks(
        self,
        longer: list[tuple[Any, dict[str, object]]],
        versions: dict[uuid.UUID, list[Any]],
        recent: dict[uuid.UUID, dict[date, progress.EntryLike]],
        day: date,
        known_from: date,
    ) -> None:
        """The streaks that go back past the recent days, from the rest of the look-back."""
        older = await self._entries(
            [habit["id"] for habit, _ in longer],
            day - timedelta(days=STREAK_LOOKBACK_DAYS),
            known_from - timedelta(days=1),
        )
        for habit, card in longer:
            entries = older[habit["id"]] | recent[habit["id"]]
            card["current_streak"] = progress.current_streak_at(
                streak_timeline(habit, versions[habit["id"]], day), entries, day
            )

    async def _entries(
        self, habit_ids: list[uuid.UUID], first: date, last: date
    ) -> dict[uuid.UUID, dict[date, progress.EntryLike]]:
        entries: dict[uuid.UUID, dict[date, progress.EntryLike]] = {h: {} for h in habit_ids}
        if habit_ids:
            for habit_id, dates, statuses, values in await self.sql.fetch(
                _CHECKINS, habit_ids, first, last
            ):
                # (status, value) per date: the progress engine's entries.
                entries[habit_id] = dict(
                    zip(dates, zip(statuses, values, strict=True), strict=True)
                )
        return entries


def _leave_out(kind: str, entity_id: uuid.UUID, error: UnreadableRecord) -> None:
    """One unreadable row must not take the whole board down: the board is answered without
    that card, and the row is reported (the database's checks should have kept it out)."""
    logger.error("board leaves out %s %s: unreadable %s", kind, entity_id, error.what)


def _routine_order(routine: Any) -> tuple[bool, object, str]:
    return (routine["time_of_day"] is None, routine["time_of_day"], routine["name"])


def _due_by_schedule(schedule: progress.Schedule, day: date) -> bool:
    return schedule.kind == "per_period" or schedule.is_due_on(day)


def streak_timeline(habit: Any, versions: list[Any], day: date) -> progress.Timeline:
    """The habit's rules over the look-back window: every day in it is judged as on the
    whole timeline."""
    window_start = max(habit["start_date"], day - timedelta(days=STREAK_LOOKBACK_DAYS))
    return timeline_of_records(versions, window_start)


def evaluate(
    habit: Any,
    versions: list[Any],
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
    unit = next((v["unit"] for v in versions if v["number"] == rule.number), None)
    return {
        "habit_id": habit["id"],
        "family_id": habit["family_id"],
        "member_id": habit["assignee_id"],
        "name": habit["name"],
        "type": rule.type,
        "schedule_kind": rule.schedule.kind,
        "status": status,
        "value": entry[progress.VALUE] if entry is not None else None,
        "target_value": rule.target_value,
        "unit": unit,
        "current_streak": progress.current_streak_if_known(
            timeline, entries, day, known_from=known_from
        ),
        "color": habit["color"],
        "icon": habit["icon"],
        "sort_order": habit["sort_order"],
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
