"""Routines and their versions: the statements on `routines` and `routine_versions`, and
the check that a routine's habits belong to its family and assignee. The service holds the
rules (who may manage, version preconditions, retried creates) and raises; the caller's
membership is joined through `app.repositories.tenancy`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.domain.actor import Actor
from app.models import Family, FamilyMember, Habit, Routine, RoutineVersion, User
from app.repositories.new_rows import insert_new
from app.repositories.pagination import page_of_rows
from app.repositories.tenancy import with_my_membership

# Built once: constructing an alias costs more than the query it joins into.
_ASSIGNEE = aliased(FamilyMember, name="routine_assignee")


class VisibleRoutine(NamedTuple):
    """A live routine the caller can see, with what its assignee's clock needs and the
    caller's own membership in the family."""

    routine: Routine
    family: Family
    assignee: FamilyMember
    profile: User | None  # the assignee's login, None for a managed profile
    mine: FamilyMember


async def find_visible(
    session: AsyncSession, actor: Actor, routine_id: uuid.UUID
) -> VisibleRoutine | None:
    """The live routine with its context (one statement); None when it is deleted, unknown
    or in a family the actor is not in."""
    assignee = _ASSIGNEE
    query = (
        select(Routine, Family, assignee, User)
        .join(Family, Family.id == Routine.family_id)
        .join(assignee, assignee.id == Routine.assignee_id)
        .outerjoin(User, User.id == assignee.user_id)
        .where(Routine.id == routine_id, Routine.deleted_at.is_(None))
    )
    query, _ = with_my_membership(query, actor, Routine.family_id)
    row = (await session.execute(query)).first()
    return VisibleRoutine(*row) if row else None


async def find_routine(session: AsyncSession, routine_id: uuid.UUID) -> Routine | None:
    """The routine with this id, deleted or not, if the session may see it."""
    return await session.get(Routine, routine_id)


async def list_live(
    session: AsyncSession, family_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[Routine], str | None]:
    """A page of the family's live routines, oldest first, and the next cursor."""
    query = select(Routine).where(Routine.family_id == family_id, Routine.deleted_at.is_(None))
    return await page_of_rows(session, query, Routine, cursor=cursor, limit=limit)


async def current_versions(
    session: AsyncSession, routines: Sequence[Routine]
) -> dict[uuid.UUID, RoutineVersion]:
    """Each routine's current version, by routine id (one statement, none for no routines)."""
    if not routines:
        return {}
    wanted = [(routine.id, routine.current_version) for routine in routines]
    rows = await session.scalars(
        select(RoutineVersion).where(
            func.row(RoutineVersion.routine_id, RoutineVersion.number).in_(wanted)
        )
    )
    return {version.routine_id: version for version in rows}


async def versions_of(session: AsyncSession, routine_id: uuid.UUID) -> list[RoutineVersion]:
    """Every version of the routine, oldest first."""
    rows = await session.scalars(
        select(RoutineVersion)
        .where(RoutineVersion.routine_id == routine_id)
        .order_by(RoutineVersion.number)
    )
    return list(rows)


async def find_version(
    session: AsyncSession, routine_id: uuid.UUID, number: int
) -> RoutineVersion | None:
    version: RoutineVersion | None = await session.scalar(
        select(RoutineVersion).where(
            RoutineVersion.routine_id == routine_id, RoutineVersion.number == number
        )
    )
    return version


async def last_version_number(session: AsyncSession, routine_id: uuid.UUID) -> int:
    """The highest version number of the routine (0 when it has none)."""
    number = await session.scalar(
        select(func.max(RoutineVersion.number)).where(RoutineVersion.routine_id == routine_id)
    )
    return int(number or 0)


async def usable_habit_ids(
    session: AsyncSession,
    family_id: uuid.UUID,
    assignee_id: uuid.UUID,
    habit_ids: Sequence[uuid.UUID],
) -> set[uuid.UUID]:
    """Those of `habit_ids` that are live habits of this family and assignee."""
    rows = await session.scalars(
        select(Habit.id).where(
            Habit.id.in_(habit_ids),
            Habit.family_id == family_id,
            Habit.assignee_id == assignee_id,
            Habit.deleted_at.is_(None),
        )
    )
    return set(rows)


async def insert_routine(session: AsyncSession, routine: Routine, version: RoutineVersion) -> bool:
    """Insert a new routine with its first version (both loaded back with their defaults);
    False, and nothing inserted, when an id is taken."""
    if not await insert_new(session, routine, version):
        return False
    await session.refresh(routine)
    await session.refresh(version)
    return True


async def insert_version(session: AsyncSession, version: RoutineVersion) -> None:
    """Insert a new version (loaded back with its defaults)."""
    session.add(version)
    await session.flush()
    await session.refresh(version)
