"""Builders for habits, their versions, check-ins and routines, written through the test's
connection as the owner role (no RLS), like `builders.py`: a test sets up exactly the past it
needs (a habit that started weeks ago, a version from last Tuesday) and then acts through the
API. Dates are local dates; `local_today` tells a test which day it is for someone, computed
with zoneinfo independently of the app's clock code."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from tests.support.builders import Person, add_member, create_family, create_person

DAILY: dict[str, Any] = {"kind": "daily"}


def local_today(timezone: str = "UTC", day_start_hour: int = 0) -> date:
    """Today's local date for someone living in `timezone` whose day starts at the hour."""
    wall_clock = datetime.now(UTC).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return (wall_clock - timedelta(hours=day_start_hour)).date()


def days_ago(days: int, timezone: str = "UTC") -> date:
    return local_today(timezone) - timedelta(days=days)


def last_weekday(isoweekday: int, *, before: date) -> date:
    """The latest date strictly before `before` falling on the ISO weekday (1 = Monday)."""
    day = before - timedelta(days=1)
    while day.isoweekday() != isoweekday:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class Measure:
    """How a habit version measures: boolean by default."""

    type: str = "boolean"
    target_value: Decimal | int | None = None
    unit: str | None = None
    target_direction: str | None = None

    @classmethod
    def numeric(
        cls, target: Decimal | int, unit: str = "min", direction: str = "at_least"
    ) -> Measure:
        return cls("numeric", target, unit, direction)


BOOLEAN = Measure()


async def create_habit(
    connection: AsyncConnection,
    family_id: uuid.UUID,
    assignee_id: uuid.UUID,
    *,
    name: str = "Read",
    measure: Measure = BOOLEAN,
    schedule: dict[str, Any] | None = None,
    start_date: date | None = None,
    sort_order: int = 0,
    archived: bool = False,
    created_by: uuid.UUID | None = None,
) -> uuid.UUID:
    """A habit with its version 1 (in force from `start_date`; default: 30 days ago)."""
    habit_id = uuid.uuid4()
    start = start_date or days_ago(30)
    await connection.execute(
        text(
            "insert into habits (id, family_id, assignee_id, name, start_date, sort_order,"
            " archived_at, created_by)"
            " values (:id, :family, :assignee, :name, :start, :sort,"
            " case when :archived then now() end, :by)"
        ),
        {
            "id": habit_id,
            "family": family_id,
            "assignee": assignee_id,
            "name": name,
            "start": start,
            "sort": sort_order,
            "archived": archived,
            "by": created_by,
        },
    )
    await add_habit_version(
        connection, habit_id, number=1, effective_from=start, measure=measure, schedule=schedule
    )
    return habit_id


async def add_habit_version(
    connection: AsyncConnection,
    habit_id: uuid.UUID,
    *,
    number: int,
    effective_from: date,
    measure: Measure = BOOLEAN,
    schedule: dict[str, Any] | None = None,
) -> None:
    await connection.execute(
        text(
            "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
            " target_value, unit, target_direction, schedule)"
            " select :habit, family_id, :number, :effective, cast(:type as habit_type),"
            " :target, :unit, cast(:direction as target_direction), cast(:schedule as jsonb)"
            " from habits where id = :habit"
        ),
        {
            "habit": habit_id,
            "number": number,
            "effective": effective_from,
            "type": measure.type,
            "target": measure.target_value,
            "unit": measure.unit,
            "direction": measure.target_direction,
            "schedule": json.dumps(schedule or DAILY),
        },
    )


async def create_checkin(
    connection: AsyncConnection,
    habit_id: uuid.UUID,
    day: date,
    *,
    status: str = "done",
    value: Decimal | int | None = None,
    note: str | None = None,
    logged_by: uuid.UUID | None = None,
) -> None:
    await connection.execute(
        text(
            "insert into checkins (habit_id, family_id, date, status, value, note, logged_by)"
            " select :habit, family_id, :day, cast(:status as checkin_status), :value, :note, :by"
            " from habits where id = :habit"
        ),
        {
            "habit": habit_id,
            "day": day,
            "status": status,
            "value": value,
            "note": note,
            "by": logged_by,
        },
    )


async def create_routine(
    connection: AsyncConnection,
    family_id: uuid.UUID,
    assignee_id: uuid.UUID,
    habit_ids: list[uuid.UUID],
    *,
    name: str = "Morning",
    effective_from: date | None = None,
) -> uuid.UUID:
    """A routine with its version 1 (in force from `effective_from`; default: 30 days ago)."""
    routine_id = uuid.uuid4()
    await connection.execute(
        text(
            "insert into routines (id, family_id, assignee_id, name)"
            " values (:id, :family, :assignee, :name)"
        ),
        {"id": routine_id, "family": family_id, "assignee": assignee_id, "name": name},
    )
    await connection.execute(
        text(
            "insert into routine_versions (routine_id, family_id, number, effective_from,"
            " habit_ids) values (:routine, :family, 1, :effective, :habits)"
        ),
        {
            "routine": routine_id,
            "family": family_id,
            "effective": effective_from or days_ago(30),
            "habits": habit_ids,
        },
    )
    return routine_id


async def fill_checkins(
    connection: AsyncConnection, family_ids: list[uuid.UUID], *, days: int, last: date
) -> int:
    """A done check-in on each of the `days` days up to `last` for every habit of the
    families, in one statement; returns how many rows it wrote. Numeric habits get their
    current target as value."""
    result = await connection.execute(
        text(
            "insert into checkins (habit_id, family_id, date, status, value)"
            " select h.id, h.family_id, day::date, 'done',"
            "  (select v.target_value from habit_versions v where v.habit_id = h.id"
            "   order by v.number desc limit 1)"
            " from habits h"
            " cross join generate_series(cast(:last as date) - (:days - 1),"
            "  cast(:last as date), interval '1 day') as day"
            " where h.family_id = any(:families)"
            " on conflict (habit_id, date) do nothing"
        ),
        {"families": family_ids, "days": days, "last": last},
    )
    return result.rowcount


async def fill_habits(
    connection: AsyncConnection, family_ids: list[uuid.UUID], *, per_member: int, start: date
) -> int:
    """`per_member` habits for every member of the families, with their version 1, in two
    statements; the kinds rotate: daily, numeric at-least, Mon/Wed/Fri, 3 times a week.
    Returns how many habits it wrote."""
    result = await connection.execute(
        text(
            "insert into habits (family_id, assignee_id, name, start_date, sort_order)"
            " select m.family_id, m.id, 'Habit ' || n, :start, n"
            " from family_members m cross join generate_series(1, :per_member) as n"
            " where m.family_id = any(:families)"
        ),
        {"families": family_ids, "per_member": per_member, "start": start},
    )
    await connection.execute(
        text(
            "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
            " target_value, unit, target_direction, schedule)"
            " select h.id, h.family_id, 1, h.start_date,"
            "  cast(case when h.sort_order % 4 = 2 then 'numeric' else 'boolean' end"
            "   as habit_type),"
            "  case when h.sort_order % 4 = 2 then 5 end,"
            "  case when h.sort_order % 4 = 2 then 'km' end,"
            "  cast(case when h.sort_order % 4 = 2 then 'at_least' end as target_direction),"
            "  case h.sort_order % 4"
            '   when 3 then cast(\'{"kind": "weekdays", "weekdays": [1, 3, 5]}\' as jsonb)'
            "   when 0 then cast("
            '    \'{"kind": "per_period", "times": 3, "period": "week"}\' as jsonb)'
            '   else cast(\'{"kind": "daily"}\' as jsonb) end'
            " from habits h"
            " where h.family_id = any(:families)"
            " and not exists (select from habit_versions v where v.habit_id = h.id)"
        ),
        {"families": family_ids},
    )
    return result.rowcount


async def set_timezone(
    connection: AsyncConnection, user_id: uuid.UUID, timezone: str, day_start_hour: int = 0
) -> None:
    await connection.execute(
        text("update users set timezone = :tz, day_start_hour = :hour where id = :id"),
        {"tz": timezone, "hour": day_start_hour, "id": user_id},
    )


async def member_id_of(
    connection: AsyncConnection, family_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID:
    member_id = await connection.scalar(
        text("select id from family_members where family_id = :family and user_id = :user"),
        {"family": family_id, "user": user_id},
    )
    assert isinstance(member_id, uuid.UUID)
    return member_id


def habit_body(assignee_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    """A valid create body (a daily boolean habit), with `fields` replacing or adding."""
    body: dict[str, Any] = {
        "name": "Read",
        "assignee_id": str(assignee_id),
        "type": "boolean",
        "schedule": DAILY,
    }
    body.update(fields)
    return body


@dataclass(frozen=True)
class Household:
    """A family in UTC: an owner and an admin (the parents), a member with a login (a teen), a
    managed profile without login (a young kid); and an outsider who owns a family of their
    own. Member ids are the people's memberships in `family_id`."""

    family_id: uuid.UUID
    owner: Person
    admin: Person
    teen: Person
    outsider: Person
    owner_member: uuid.UUID
    admin_member: uuid.UUID
    teen_member: uuid.UUID
    kid_member: uuid.UUID
    outsider_family_id: uuid.UUID
    outsider_member: uuid.UUID


async def build_household(
    connection: AsyncConnection, *, timezone: str = "UTC", name: str = "The Habitats"
) -> Household:
    owner = await create_person(connection, "owner")
    admin = await create_person(connection, "admin")
    teen = await create_person(connection, "teen")
    outsider = await create_person(connection, "outsider")
    family_id = await create_family(connection, owner, name=name, timezone=timezone)
    admin_member = await add_member(
        connection, family_id, admin, MemberRole.ADMIN, display_name="Admin"
    )
    teen_member = await add_member(connection, family_id, teen, display_name="Teen")
    kid_member = await add_member(connection, family_id, None, display_name="Kid")
    outsider_family_id = await create_family(connection, outsider, name="Elsewhere")
    return Household(
        family_id=family_id,
        owner=owner,
        admin=admin,
        teen=teen,
        outsider=outsider,
        owner_member=await member_id_of(connection, family_id, owner.user_id),
        admin_member=admin_member,
        teen_member=teen_member,
        kid_member=kid_member,
        outsider_family_id=outsider_family_id,
        outsider_member=await member_id_of(connection, outsider_family_id, outsider.user_id),
    )
