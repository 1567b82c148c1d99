"""The rules every habit service shares: a habit the caller cannot see is not found, who may
manage a habit, whose clock it follows, which version is in force on a day. The statements
live in `app.repositories.habits`; the ORM services reach them through their session's
connection (`load_*`), the hot paths through theirs (`require_habit`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Forbidden, NotFound
from app.db.session_driver import driver_connection
from app.domain.actor import Actor
from app.domain.clock import Clock
from app.models import Family, FamilyMember, HabitVersion, User
from app.repositories import habits as habit_rows
from app.repositories.habits import HabitRecord, VersionRecord, assignee_clock
from app.services.members import MemberNotFound
from app.services.scope import may_manage


class HabitNotFound(NotFound):
    code = "habit_not_found"
    title = "Habit not found"


class NotYourHabit(Forbidden):
    code = "not_assignee"
    title = "Only the assignee or an admin"


def may_manage_habit(habit: HabitRecord) -> bool:
    return may_manage(habit.my_role, habit.my_member_id, habit.assignee_id)


def ensure_may_manage(habit: HabitRecord) -> None:
    if not may_manage_habit(habit):
        raise NotYourHabit("Only the habit's assignee or a family admin can change this.")


def found(habit: HabitRecord | None) -> HabitRecord:
    """The habit a repository found, or HabitNotFound (also for another family's)."""
    if habit is None:
        raise HabitNotFound("No habit with this id is visible to you.")
    return habit


async def require_habit(sql: Any, actor: Actor, habit_id: uuid.UUID) -> HabitRecord:
    """The habit with what its rules need, or HabitNotFound (also for another family's)."""
    return found(await habit_rows.fetch_habit(sql, actor, habit_id))


async def load_habit(session: AsyncSession, actor: Actor, habit_id: uuid.UUID) -> HabitRecord:
    """`require_habit` in an ORM service's transaction."""
    return await require_habit(await driver_connection(session), actor, habit_id)


async def load_habits(
    session: AsyncSession, actor: Actor, habit_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, HabitRecord]:
    """The live habits among `habit_ids` the actor can see, by id."""
    return await habit_rows.fetch_habits(await driver_connection(session), actor, habit_ids)


async def load_versions(
    session: AsyncSession, habit_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[VersionRecord]]:
    """Each habit's versions, oldest first, in an ORM service's transaction."""
    return await habit_rows.fetch_versions(await driver_connection(session), habit_ids)


def clock_of(member: FamilyMember, family: Family, profile: User | None) -> Clock:
    """The clock of a member who owns a habit or routine (`assignee_clock`), from entities."""
    return assignee_clock(
        logs_in=member.user_id is not None,
        profile_timezone=None if profile is None else profile.timezone,
        profile_day_start_hour=None if profile is None else profile.day_start_hour,
        family_timezone=family.timezone,
    )


async def load_assignee(
    session: AsyncSession, family_id: uuid.UUID, assignee_id: uuid.UUID
) -> tuple[FamilyMember, Clock]:
    """A member of the family who is to own a habit or routine, with their clock."""
    assignee = await habit_rows.find_assignee(session, family_id, assignee_id)
    if assignee is None:
        raise MemberNotFound("The assignee is not a member of this family.")
    member, family, profile = assignee
    return member, clock_of(member, family, profile)


Version = TypeVar("Version", bound=HabitVersion | VersionRecord)


def in_force(versions: Sequence[Version], day: date) -> Version:
    """The version in force on `day`, as `Timeline.rule_on` picks it: the latest effective
    on or before `day` (the higher number on a tie), before every version's date the first.
    A change planned for a later date shows only from that date on."""
    started = [version for version in versions if version.effective_from <= day]
    if not started:
        earliest = min(version.effective_from for version in versions)
        started = [version for version in versions if version.effective_from == earliest]
    return max(started, key=lambda version: (version.effective_from, version.number))
