"""What the boards read besides versions and check-ins (`habits`, `checkins`): the caller's
clock and memberships, a family's members, the members' due habits and routines. Plain
asyncpg records: the boards are the app's hot path, and their rows are read once each."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, time
from typing import Any

from app.domain.actor import Actor
from app.repositories.records import TypedRecord, column
from app.repositories.tenancy import my_member_ids, my_membership_join


class Me(TypedRecord):
    """The caller's clock (None until their profile exists) and their memberships."""

    __slots__ = ()

    timezone: str | None = column("timezone")
    day_start_hour: int | None = column("day_start_hour")
    member_ids: list[uuid.UUID] = column("member_ids")


class BoardMember(TypedRecord):
    __slots__ = ()

    id: uuid.UUID = column("id")
    display_name: str = column("display_name")
    role: str = column("role")
    is_managed: bool = column("is_managed")


class BoardHabit(TypedRecord):
    __slots__ = ()

    id: uuid.UUID = column("id")
    family_id: uuid.UUID = column("family_id")
    assignee_id: uuid.UUID = column("assignee_id")
    name: str = column("name")
    color: str | None = column("color")
    icon: str | None = column("icon")
    sort_order: int = column("sort_order")
    start_date: date = column("start_date")


class BoardRoutine(TypedRecord):
    """A live routine with its version in force on the board's day."""

    __slots__ = ()

    id: uuid.UUID = column("id")
    family_id: uuid.UUID = column("family_id")
    assignee_id: uuid.UUID = column("assignee_id")
    name: str = column("name")
    time_of_day: time | None = column("time_of_day")
    number: int = column("number")
    habit_ids: list[uuid.UUID] = column("habit_ids")
    schedule_text: str | None = column("schedule")


_ME_SQL = f"""
select p.timezone, p.day_start_hour, array({my_member_ids("$1")}) as member_ids
from (select) as one left join users p on p.id = $1
"""
# The family's zone, if the caller is in it (RLS agrees).
_FAMILY_SQL = f"""
select f.timezone from families f {my_membership_join("me", "f.id", "$2")} where f.id = $1
"""
_MEMBERS_SQL = """
select id, display_name, role, user_id is null as is_managed
from family_members where family_id = $1 order by created_at, id
"""
_HABITS_SQL = """
select id, family_id, assignee_id, name, color, icon, sort_order, start_date
from habits
where assignee_id = any($1::uuid[]) and deleted_at is null and archived_at is null
  and start_date <= $2
order by sort_order, created_at, id
"""
# Each live routine's version in force on the day (the latest effective one).
_ROUTINES_SQL = """
select distinct on (v.routine_id)
       r.id, r.family_id, r.assignee_id, r.name, r.time_of_day, v.number, v.habit_ids,
       nullif(v.schedule, 'null')::text as schedule
from routines r join routine_versions v on v.routine_id = r.id
where r.assignee_id = any($1::uuid[]) and r.deleted_at is null and v.effective_from <= $2
order by v.routine_id, v.effective_from desc, v.number desc
"""


async def fetch_me(sql: Any, actor: Actor) -> Me:
    me: Me = await sql.fetchrow(_ME_SQL, actor.user_id, record_class=Me)
    return me


async def fetch_family_timezone(sql: Any, actor: Actor, family_id: uuid.UUID) -> str | None:
    """The family's zone, or None when the caller is not in it (or it does not exist)."""
    timezone: str | None = await sql.fetchval(_FAMILY_SQL, family_id, actor.user_id)
    return timezone


async def fetch_members(sql: Any, family_id: uuid.UUID) -> list[BoardMember]:
    members: list[BoardMember] = await sql.fetch(_MEMBERS_SQL, family_id, record_class=BoardMember)
    return members


async def fetch_started_habits(
    sql: Any, member_ids: Sequence[uuid.UUID], day: date
) -> list[BoardHabit]:
    """The members' live, unarchived habits started by `day`, in board order."""
    habits: list[BoardHabit] = await sql.fetch(
        _HABITS_SQL, member_ids, day, record_class=BoardHabit
    )
    return habits


async def fetch_routines_on(
    sql: Any, member_ids: Sequence[uuid.UUID], day: date
) -> list[BoardRoutine]:
    routines: list[BoardRoutine] = await sql.fetch(
        _ROUTINES_SQL, member_ids, day, record_class=BoardRoutine
    )
    return routines
