"""Habits and their versions: every statement that reads or writes them.

Reads run on the request transaction's asyncpg connection, whichever route asks (an ORM
service gets its session's one from `app.db.session_driver`); the mutations that build ORM
entities keep their ORM statements, here. Rows come back as typed records (`records`).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.domain.actor import Actor
from app.domain.clock import Clock
from app.domain.progress import Rule, Schedule, Timeline
from app.models import Family, FamilyMember, Habit, HabitVersion, User
from app.models.enums import HabitType, MemberRole, TargetDirection
from app.repositories.new_rows import insert_new
from app.repositories.pagination import page_of, paginate
from app.repositories.records import TypedRecord, column
from app.repositories.tenancy import my_membership_join


class HabitRecord(TypedRecord):
    """A live habit the actor can see, with what its rules need in the same row: the
    actor's membership of its family and what its assignee's clock is made of."""

    __slots__ = ()

    id: uuid.UUID = column("id")
    family_id: uuid.UUID = column("family_id")
    assignee_id: uuid.UUID = column("assignee_id")
    name: str = column("name")
    description: str | None = column("description")
    color: str | None = column("color")
    icon: str | None = column("icon")
    sort_order: int = column("sort_order")
    start_date: date = column("start_date")
    archived_at: datetime | None = column("archived_at")
    version: int = column("version")
    created_at: datetime = column("created_at")
    updated_at: datetime = column("updated_at")
    my_member_id: uuid.UUID = column("my_member_id")

    @property
    def my_role(self) -> MemberRole:
        return MemberRole(self["my_role"])

    @property
    def clock(self) -> Clock:
        """The assignee's clock: their own profile's when they log in (and have one), the
        family's for a managed profile (a young child)."""
        return assignee_clock(
            logs_in=self["assignee_logs_in"],
            profile_timezone=self["profile_timezone"],
            profile_day_start_hour=self["profile_day_start_hour"],
            family_timezone=self["family_timezone"],
        )


def assignee_clock(
    *,
    logs_in: bool,
    profile_timezone: str | None,
    profile_day_start_hour: int | None,
    family_timezone: str,
) -> Clock:
    """Whose day a habit or routine follows: a member with a login and a profile lives by
    the profile's clock; anyone else (a managed profile) by the family's."""
    if logs_in and profile_timezone is not None and profile_day_start_hour is not None:
        return Clock(profile_timezone, profile_day_start_hour)
    return Clock(family_timezone, 0)


# A live habit, if the actor is in its family (RLS agrees), with the actor's membership and
# the inputs of its assignee's clock.
_HABITS = f"""
select h.id, h.family_id, h.assignee_id, h.name, h.description, h.color, h.icon,
       h.sort_order, h.start_date, h.archived_at, h.version, h.created_at, h.updated_at,
       me.id as my_member_id, me.role::text as my_role,
       a.user_id is not null as assignee_logs_in, p.timezone as profile_timezone,
       p.day_start_hour as profile_day_start_hour, f.timezone as family_timezone
from habits h
join families f on f.id = h.family_id
join family_members a on a.id = h.assignee_id
left join users p on p.id = a.user_id
{my_membership_join("me", "h.family_id", "$2")}
where h.deleted_at is null and h.id"""
_HABIT_SQL = _HABITS + " = $1"
_HABITS_SQL = _HABITS + " = any($1::uuid[])"


async def fetch_habit(sql: Any, actor: Actor, habit_id: uuid.UUID) -> HabitRecord | None:
    """The habit, if it is live and the actor is in its family."""
    record: HabitRecord | None = await sql.fetchrow(
        _HABIT_SQL, habit_id, actor.user_id, record_class=HabitRecord
    )
    return record


async def fetch_habits(
    sql: Any, actor: Actor, habit_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, HabitRecord]:
    """The live habits among `habit_ids` the actor can see, by id."""
    rows = await sql.fetch(_HABITS_SQL, list(habit_ids), actor.user_id, record_class=HabitRecord)
    return {row.id: row for row in rows}


class VersionRecord(TypedRecord):
    """How a habit is measured and scheduled from `effective_from` on."""

    __slots__ = ()

    habit_id: uuid.UUID = column("habit_id")
    number: int = column("number")
    effective_from: date = column("effective_from")
    target_value: Decimal | None = column("target_value")
    unit: str | None = column("unit")
    created_at: datetime = column("created_at")
    # The schedule as its JSON text: rules are parsed from the text, once per distinct
    # text (`rule_of`), so the rows skip decoding jsonb.
    schedule_text: str = column("schedule")

    @property
    def type(self) -> HabitType:
        return HabitType(self["type"])

    @property
    def target_direction(self) -> TargetDirection | None:
        direction = self["target_direction"]
        return None if direction is None else TargetDirection(direction)

    @property
    def schedule(self) -> dict[str, Any]:
        schedule: dict[str, Any] = json.loads(self["schedule"])
        return schedule


_VERSIONS_SQL = (
    "select habit_id, number, effective_from, type::text as type, target_value,"
    " target_direction::text as target_direction, schedule::text as schedule, unit, created_at"
    " from habit_versions where habit_id = any($1::uuid[]) order by habit_id, number"
)


async def fetch_versions(
    sql: Any, habit_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[VersionRecord]]:
    """Each habit's versions, oldest first (an empty list for an unknown id)."""
    versions: dict[uuid.UUID, list[VersionRecord]] = {habit_id: [] for habit_id in habit_ids}
    if habit_ids:
        for version in await sql.fetch(_VERSIONS_SQL, habit_ids, record_class=VersionRecord):
            versions[version["habit_id"]].append(version)
    return versions


def rule_of(version: VersionRecord) -> Rule:
    """The progress engine's rule for a stored version."""
    target = version["target_value"]
    return _rule(
        version["number"],
        version["effective_from"],
        version["schedule"],
        version["type"],
        None if target is None else str(target),
        version["target_direction"],
    )


def timeline_of(versions: list[VersionRecord], start_date: date) -> Timeline:
    """A habit's rules over time, from its versions (oldest first) and its start."""
    return Timeline([rule_of(version) for version in versions], start_date=start_date)


@functools.lru_cache(maxsize=4096)
def _rule(
    number: int,
    effective_from: date,
    schedule: str,
    habit_type: str,
    target: str | None,
    direction: str | None,
) -> Rule:
    """A rule is a pure function of these values (the target by its text, so `3` and `3.00`
    stay as stored): a version judged on every board view is parsed once per worker. Rules
    are immutable, so sharing one is safe."""
    return Rule(
        number=number,
        effective_from=effective_from,
        schedule=schedule_of_text(schedule),
        type=HabitType(habit_type),
        target_value=None if target is None else Decimal(target),
        direction=TargetDirection(direction) if direction else None,
    )


@functools.lru_cache(maxsize=1024)
def schedule_of_text(text: str) -> Schedule:
    """A schedule from its JSON text, parsed once per worker per distinct text."""
    return Schedule.from_json(json.loads(text))


# --- ORM writes (the services that create and change habits work with entities) ----------


async def find_any_habit(session: AsyncSession, habit_id: uuid.UUID) -> Habit | None:
    """The habit with this id, deleted or not (an idempotent create's earlier self)."""
    return await session.get(Habit, habit_id)


async def insert_habit(session: AsyncSession, habit: Habit, version: HabitVersion) -> bool:
    """Insert a new habit with its first version (the habit loaded back with its defaults);
    False, and nothing inserted, when an id is taken."""
    if not await insert_new(session, habit, version):
        return False
    await session.refresh(habit)
    return True


async def add_version(session: AsyncSession, version: HabitVersion) -> HabitVersion:
    session.add(version)
    await session.flush()
    await session.refresh(version)
    return version


# The member a habit or routine is assigned to (an alias, built once).
ASSIGNEE = aliased(FamilyMember, name="assignee")


def with_assignee_clock(query: Select[Any]) -> Select[Any]:
    """`query` (selecting Habit) with what `clock_of` needs per habit, in the same statement:
    the assignee, the family and the assignee's profile, after the habit in each row."""
    assignee = ASSIGNEE
    return (
        query.add_columns(assignee, Family, User)
        .join(assignee, assignee.id == Habit.assignee_id)
        .join(Family, Family.id == Habit.family_id)
        .outerjoin(User, User.id == assignee.user_id)
    )


async def family_habits(
    session: AsyncSession,
    family_id: uuid.UUID,
    *,
    assignee_id: uuid.UUID | None,
    archived: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[Habit, FamilyMember, Family, User | None]], str | None]:
    """A page of the family's live habits (of one assignee, archived or not), oldest first,
    each with what its assignee's clock is made of (`with_assignee_clock`); and the next
    cursor."""
    query = select(Habit).where(Habit.family_id == family_id, Habit.deleted_at.is_(None))
    if assignee_id is not None:
        query = query.where(Habit.assignee_id == assignee_id)
    if archived is not None:
        query = query.where(
            Habit.archived_at.is_not(None) if archived else Habit.archived_at.is_(None)
        )
    paged = paginate(
        with_assignee_clock(query),
        created_at=Habit.created_at,
        row_id=Habit.id,
        cursor=cursor,
        limit=limit,
    )
    rows = [
        (habit, member, family, profile)
        for habit, member, family, profile in (await session.execute(paged)).tuples()
    ]
    return page_of(rows, limit, key=lambda row: (row[0].created_at, row[0].id))


async def find_assignee(
    session: AsyncSession, family_id: uuid.UUID, assignee_id: uuid.UUID
) -> tuple[FamilyMember, Family, User | None] | None:
    """A member of the family who is to own a habit or routine, with their family and
    profile (what their clock is made of)."""
    row = (
        await session.execute(
            select(FamilyMember, Family, User)
            .join(Family, Family.id == FamilyMember.family_id)
            .outerjoin(User, User.id == FamilyMember.user_id)
            .where(FamilyMember.id == assignee_id, FamilyMember.family_id == family_id)
        )
    ).first()
    if row is None:
        return None
    member, family, profile = row
    return member, family, profile
