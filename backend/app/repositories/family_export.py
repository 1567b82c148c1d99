"""What a family export reads: the family's members, live habits with their versions and
check-ins, and live routines with every version, in a fixed number of statements (one
snapshot of the request's transaction). Who may export what is the service's
(`app.services.family_export`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Checkin, Family, FamilyMember, Habit, HabitVersion, Routine, RoutineVersion


class ExportRows(NamedTuple):
    timezone: str | None  # the family's; None when the family is not visible
    members: dict[uuid.UUID, str]  # member id -> display name
    habits: Sequence[Habit]  # by sort order, then age
    versions: Sequence[HabitVersion]  # by habit, then number
    checkins: Sequence[Checkin]  # by date, then habit
    routines: list[tuple[Routine, RoutineVersion]]  # each version of each routine, by age


async def read_family(
    session: AsyncSession, family_id: uuid.UUID, *, assignee_id: uuid.UUID | None
) -> ExportRows:
    """The family's rows; with `assignee_id`, only the habits and routines assigned to that
    member (with their versions and check-ins). Every member's name either way."""
    habits_query = select(Habit).where(Habit.family_id == family_id, Habit.deleted_at.is_(None))
    routines_query = (
        select(Routine, RoutineVersion)
        .join(RoutineVersion, RoutineVersion.routine_id == Routine.id)
        .where(Routine.family_id == family_id, Routine.deleted_at.is_(None))
    )
    if assignee_id is not None:
        habits_query = habits_query.where(Habit.assignee_id == assignee_id)
        routines_query = routines_query.where(Routine.assignee_id == assignee_id)
    habit_ids = habits_query.with_only_columns(Habit.id).scalar_subquery()
    timezone = await session.scalar(select(Family.timezone).where(Family.id == family_id))
    members = {
        member_id: name
        for member_id, name in await session.execute(
            select(FamilyMember.id, FamilyMember.display_name).where(
                FamilyMember.family_id == family_id
            )
        )
    }
    habits = (
        await session.scalars(habits_query.order_by(Habit.sort_order, Habit.created_at, Habit.id))
    ).all()
    versions = (
        await session.scalars(
            select(HabitVersion)
            .where(HabitVersion.habit_id.in_(habit_ids))
            .order_by(HabitVersion.habit_id, HabitVersion.number)
        )
    ).all()
    checkins = (
        await session.scalars(
            select(Checkin)
            .where(Checkin.habit_id.in_(habit_ids))
            .order_by(Checkin.date, Checkin.habit_id)
        )
    ).all()
    routines = (
        await session.execute(
            routines_query.order_by(Routine.created_at, Routine.id, RoutineVersion.number)
        )
    ).tuples()
    return ExportRows(timezone, members, habits, versions, checkins, list(routines))
