"""The two screens the app opens most: the caller's today board across families, and a
family's board of every member. Each runs a fixed number of statements, whatever the number
of families, members, habits or days of history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Family,
    FamilyMember,
    Habit,
    HabitVersion,
    Routine,
    RoutineVersion,
    User,
)
from app.services import progress
from app.services.actor import Actor
from app.services.habit_context import Clock, load_entries, load_versions, timeline_of
from app.services.scope import FamilyNotFound, families_of

# Streaks on the boards look back this far (the stats endpoint reads the whole history).
STREAK_LOOKBACK_DAYS = 400


class BoardService:
    def __init__(self, session: AsyncSession, actor: Actor, *, now: datetime | None = None) -> None:
        self.session = session
        self.actor = actor
        self.now = now or datetime.now(UTC)

    async def today(self, day: date | None) -> dict[str, object]:
        profile = await self.session.get(User, self.actor.user_id)
        clock = Clock(profile.timezone, profile.day_start_hour) if profile else Clock("UTC", 0)
        day = day or clock.today(self.now)
        memberships = [m for _, m in (await self.session.execute(families_of(self.actor))).tuples()]
        habits, routines = await self._progress(
            [m.id for m in memberships], day, today=clock.today(self.now)
        )
        return {
            "date": day,
            "timezone": clock.timezone,
            "habits": [h for member_habits in habits.values() for h in member_habits],
            "routines": [r for member_routines in routines.values() for r in member_routines],
        }

    async def family(self, family_id: uuid.UUID, day: date | None) -> dict[str, object]:
        row = (
            await self.session.execute(families_of(self.actor).where(Family.id == family_id))
        ).first()
        if row is None:
            raise FamilyNotFound("No family with this id is visible to you.")
        family = row[0]
        today = Clock(family.timezone, 0).today(self.now)
        day = day or today
        members = list(
            await self.session.scalars(
                select(FamilyMember)
                .where(FamilyMember.family_id == family_id)
                .order_by(FamilyMember.created_at, FamilyMember.id)
            )
        )
        habits, routines = await self._progress([m.id for m in members], day, today=today)
        return {
            "family_id": family_id,
            "date": day,
            "timezone": family.timezone,
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
    ) -> tuple[dict[uuid.UUID, list[dict[str, object]]], dict[uuid.UUID, list[dict[str, object]]]]:
        """Due habits and routines of these members on `day`, grouped by member. `today`
        tells a day still open ("pending") from a past one ("missed")."""
        habits_by_member: dict[uuid.UUID, list[dict[str, object]]] = defaultdict(list)
        routines_by_member: dict[uuid.UUID, list[dict[str, object]]] = defaultdict(list)
        if not member_ids:
            return habits_by_member, routines_by_member
        habits = list(
            await self.session.scalars(
                select(Habit)
                .where(
                    Habit.assignee_id.in_(member_ids),
                    Habit.deleted_at.is_(None),
                    Habit.archived_at.is_(None),
                    Habit.start_date <= day,
                )
                .order_by(Habit.sort_order, Habit.created_at, Habit.id)
            )
        )
        versions = await load_versions(self.session, [habit.id for habit in habits])
        lookback = day - timedelta(days=STREAK_LOOKBACK_DAYS)
        entries = await load_entries(self.session, [habit.id for habit in habits], lookback, day)
        statuses: dict[uuid.UUID, str] = {}
        for habit in habits:
            evaluated = evaluate(habit, versions[habit.id], entries[habit.id], day, today)
            if evaluated is None:
                continue
            statuses[habit.id] = str(evaluated["status"])
            habits_by_member[habit.assignee_id].append(evaluated)
        for routine, version in await self._routines_in_force(member_ids, day):
            schedule = progress.Schedule.from_json(version.schedule) if version.schedule else None
            if schedule is not None and not _due_by_schedule(schedule, day):
                continue
            items = [habit_id for habit_id in version.habit_ids if habit_id in statuses]
            if not items:
                continue
            routines_by_member[routine.assignee_id].append(
                {
                    "routine_id": routine.id,
                    "family_id": routine.family_id,
                    "member_id": routine.assignee_id,
                    "name": routine.name,
                    "time_of_day": routine.time_of_day,
                    "version": version.number,
                    "habit_ids": items,
                    "done_count": sum(statuses[habit_id] == "done" for habit_id in items),
                    "total_count": len(items),
                }
            )
        return habits_by_member, routines_by_member

    async def _routines_in_force(
        self, member_ids: Sequence[uuid.UUID], day: date
    ) -> list[tuple[Routine, RoutineVersion]]:
        query = (
            select(Routine, RoutineVersion)
            .join(RoutineVersion, RoutineVersion.routine_id == Routine.id)
            .where(
                Routine.assignee_id.in_(member_ids),
                Routine.deleted_at.is_(None),
                RoutineVersion.effective_from <= day,
            )
            .distinct(RoutineVersion.routine_id)
            .order_by(
                RoutineVersion.routine_id,
                RoutineVersion.effective_from.desc(),
                RoutineVersion.number.desc(),
            )
        )
        rows = (await self.session.execute(query)).tuples().all()
        return sorted(
            rows, key=lambda row: (row[0].time_of_day is None, row[0].time_of_day, row[0].name)
        )


def _due_by_schedule(schedule: progress.Schedule, day: date) -> bool:
    return schedule.kind == "per_period" or schedule.is_due_on(day)


def evaluate(
    habit: Habit,
    versions: list[HabitVersion],
    entries: dict[date, progress.Entry],
    day: date,
    today: date,
) -> dict[str, object] | None:
    """The habit's card on `day`, or None when it is not due that day."""
    timeline = timeline_of(habit, versions)
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
    windowed = progress.Timeline(
        timeline.rules, start_date=max(habit.start_date, day - timedelta(days=STREAK_LOOKBACK_DAYS))
    )
    streak = progress.current_streak(progress.units(windowed, entries, day))
    unit = next((v.unit for v in versions if v.number == rule.number), None)
    return {
        "habit_id": habit.id,
        "family_id": habit.family_id,
        "member_id": habit.assignee_id,
        "name": habit.name,
        "type": rule.type,
        "schedule_kind": rule.schedule.kind,
        "status": status,
        "value": entry.value if entry else None,
        "target_value": rule.target_value,
        "unit": unit,
        "current_streak": streak,
        "color": habit.color,
        "icon": habit.icon,
        "sort_order": habit.sort_order,
    }


def _is_due(rule: progress.Rule, day: date, entries: dict[date, progress.Entry]) -> bool:
    schedule = rule.schedule
    if schedule.kind != "per_period":
        return schedule.is_due_on(day)
    first, _ = schedule.period_bounds(day)
    done = sum(
        1
        for offset in range((day - first).days)
        if (entry := entries.get(first + timedelta(days=offset))) is not None
        and entry.status == "done"
        and rule.completion(entry.value) >= 1
    )
    return done < schedule.times
