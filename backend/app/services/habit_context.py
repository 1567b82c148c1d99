"""Loading a habit with everything its rules need, in one statement: the habit, its family,
its assignee (and their profile, for their local "today") and the caller's membership."""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.errors import Forbidden, NotFound
from app.domain.actor import Actor
from app.domain.clock import local_today
from app.domain.progress import Entry, Rule, Schedule, Timeline
from app.models import Checkin, Family, FamilyMember, Habit, HabitVersion, User
from app.models.enums import HabitType, MemberRole, TargetDirection
from app.repositories.tenancy import with_my_membership
from app.services.id_lists import among
from app.services.members import MemberNotFound


class HabitNotFound(NotFound):
    code = "habit_not_found"
    title = "Habit not found"


class NotYourHabit(Forbidden):
    code = "not_assignee"
    title = "Only the assignee or an admin"


@dataclass(frozen=True, slots=True)
class Clock:
    """Whose day it is: an IANA zone and the hour the day starts."""

    timezone: str
    day_start_hour: int

    def today(self, now: datetime) -> date:
        return local_today(self.timezone, self.day_start_hour, now)


@dataclass(frozen=True, slots=True)
class HabitContext:
    habit: Habit
    family: Family
    assignee: FamilyMember
    my_membership: FamilyMember
    clock: Clock

    @property
    def may_manage(self) -> bool:
        """Admins manage every habit of the family; a member manages their own."""
        return (
            self.my_membership.role.at_least(MemberRole.ADMIN)
            or self.my_membership.id == self.assignee.id
        )

    def ensure_may_manage(self) -> None:
        if not self.may_manage:
            raise NotYourHabit("Only the habit's assignee or a family admin can change this.")


def clock_of(member: FamilyMember, family: Family, profile: User | None) -> Clock:
    """A member with a login lives by their own profile's clock; a managed profile (a
    young child) by the family's."""
    if member.user_id is not None and profile is not None:
        return Clock(profile.timezone, profile.day_start_hour)
    return Clock(family.timezone, 0)


# The member a habit or routine is assigned to (an alias, built once).
ASSIGNEE = aliased(FamilyMember, name="assignee")


async def load_habits(
    session: AsyncSession, actor: Actor, habit_ids: list[uuid.UUID]
) -> dict[uuid.UUID, HabitContext]:
    """The live habits among `habit_ids` that the actor can see, keyed by id."""
    assignee = ASSIGNEE
    query = (
        select(Habit, Family, assignee, User)
        .join(Family, Family.id == Habit.family_id)
        .join(assignee, assignee.id == Habit.assignee_id)
        .outerjoin(User, User.id == assignee.user_id)
        .where(Habit.id.in_(habit_ids), Habit.deleted_at.is_(None))
    )
    query, _ = with_my_membership(query, actor, Habit.family_id)
    contexts = {}
    for habit, family, member, profile, mine in await session.execute(query):
        contexts[habit.id] = HabitContext(
            habit, family, member, mine, clock_of(member, family, profile)
        )
    return contexts


async def load_habit(session: AsyncSession, actor: Actor, habit_id: uuid.UUID) -> HabitContext:
    context = (await load_habits(session, actor, [habit_id])).get(habit_id)
    if context is None:
        raise HabitNotFound("No habit with this id is visible to you.")
    return context


async def load_versions(
    session: AsyncSession, habit_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[HabitVersion]]:
    rows = await session.scalars(
        select(HabitVersion)
        .where(among(HabitVersion.habit_id, habit_ids))
        .order_by(HabitVersion.habit_id, HabitVersion.number)
    )
    versions: dict[uuid.UUID, list[HabitVersion]] = {habit_id: [] for habit_id in habit_ids}
    for version in rows:
        versions[version.habit_id].append(version)
    return versions


def rule_of(version: HabitVersion) -> Rule:
    return Rule(
        number=version.number,
        effective_from=version.effective_from,
        schedule=Schedule.from_json(version.schedule),
        type=version.type,
        target_value=version.target_value,
        direction=version.target_direction,
    )


# The hot paths' version loader (`app.db.sql`): the same rules, from asyncpg records. The
# schedule comes as its JSON text (the ORM's connections decode jsonb, which the hot paths'
# rules do not need row by row: `rule_of_record` turns equal rows into one shared rule).
VERSIONS_SQL = (
    "select habit_id, number, effective_from, type, target_value, target_direction,"
    " schedule::text as schedule, unit"
    " from habit_versions where habit_id = any($1::uuid[]) order by habit_id, number"
)


def rule_of_record(version: Any) -> Rule:
    target = version["target_value"]
    return _rule(
        version["number"],
        version["effective_from"],
        version["schedule"],
        version["type"],
        None if target is None else str(target),
        version["target_direction"],
    )


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


# A live habit, if the caller is in its family (RLS agrees), with what the rules need: the
# caller's right to manage it and the assignee's clock (their own profile's when they log
# in, the family's for a managed profile, as `clock_of`).
_HABIT_FACTS_SQL = """
select h.family_id, h.start_date, h.archived_at is not null as archived,
       (me.role in ('owner', 'admin') or me.id = a.id) as may_manage,
       case when a.user_id is not null and p.id is not null
            then p.timezone else f.timezone end as timezone,
       case when a.user_id is not null and p.id is not null
            then p.day_start_hour else 0 end as day_start_hour
from habits h
join families f on f.id = h.family_id
join family_members a on a.id = h.assignee_id
left join users p on p.id = a.user_id
join family_members me on me.family_id = h.family_id and me.user_id = $2
where h.id = $1 and h.deleted_at is null
"""


def timeline_of_records(versions: list[Any], start_date: date) -> Timeline:
    """`timeline_of` for the hot paths: the version records `fetch_versions` returns."""
    return Timeline([rule_of_record(version) for version in versions], start_date=start_date)


async def fetch_habit_facts(sql: Any, actor: Actor, habit_id: uuid.UUID) -> Any:
    """The hot paths' `load_habit`: a record of `_HABIT_FACTS_SQL`, or HabitNotFound."""
    habit = await sql.fetchrow(_HABIT_FACTS_SQL, habit_id, actor.user_id)
    if habit is None:
        raise HabitNotFound("No habit with this id is visible to you.")
    return habit


async def fetch_versions(sql: Any, habit_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Any]]:
    """Each habit's version records, oldest first."""
    versions: dict[uuid.UUID, list[Any]] = {habit_id: [] for habit_id in habit_ids}
    for version in await sql.fetch(VERSIONS_SQL, habit_ids):
        versions[version["habit_id"]].append(version)
    return versions


def timeline_of(habit: Habit, versions: list[HabitVersion]) -> Timeline:
    return Timeline([rule_of(version) for version in versions], start_date=habit.start_date)


def in_force(versions: list[HabitVersion], day: date) -> HabitVersion:
    """The version in force on `day`, as `Timeline.rule_on` picks it: the latest effective
    on or before `day` (the higher number on a tie), before every version's date the first.
    A change planned for a later date shows only from that date on."""
    started = [version for version in versions if version.effective_from <= day]
    if not started:
        earliest = min(version.effective_from for version in versions)
        started = [version for version in versions if version.effective_from == earliest]
    return max(started, key=lambda version: (version.effective_from, version.number))


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


async def load_assignee(
    session: AsyncSession, family_id: uuid.UUID, assignee_id: uuid.UUID
) -> tuple[FamilyMember, Clock]:
    """A member of the family who is to own a habit or routine, with their clock."""
    row = (
        await session.execute(
            select(FamilyMember, Family, User)
            .join(Family, Family.id == FamilyMember.family_id)
            .outerjoin(User, User.id == FamilyMember.user_id)
            .where(FamilyMember.id == assignee_id, FamilyMember.family_id == family_id)
        )
    ).first()
    if row is None:
        raise MemberNotFound("The assignee is not a member of this family.")
    member, family, profile = row
    return member, clock_of(member, family, profile)


async def load_entries(
    session: AsyncSession, habit_ids: list[uuid.UUID], first: date, last: date | None = None
) -> dict[uuid.UUID, dict[date, Entry]]:
    """The habits' check-ins from `first` (to `last`), as the progress engine reads them."""
    entries: dict[uuid.UUID, dict[date, Entry]] = {habit_id: {} for habit_id in habit_ids}
    if not habit_ids:
        return entries
    query = select(Checkin.habit_id, Checkin.date, Checkin.status, Checkin.value).where(
        Checkin.habit_id.in_(habit_ids), Checkin.date >= first
    )
    if last is not None:
        query = query.where(Checkin.date <= last)
    for habit_id, day, status, value in await session.execute(query):
        entries[habit_id][day] = Entry(status, value)
    return entries
