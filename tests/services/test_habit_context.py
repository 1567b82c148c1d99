"""app.services.habit_context: the rules every habit service shares: a habit the caller
cannot see is not found (another family's included), who may manage it, whose clock it
follows, and which version is in force on a day."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import Settings
from app.domain.clock import Clock
from app.repositories.habits import fetch_versions
from app.services.habit_context import (
    HabitNotFound,
    NotYourHabit,
    ensure_may_manage,
    in_force,
    load_assignee,
    load_habit,
    require_habit,
)
from app.services.members import MemberNotFound
from tests.repositories.conftest import actor
from tests.support.acting_session import acting_session
from tests.support.habits import (
    Household,
    add_habit_version,
    build_household,
    create_habit,
    days_ago,
    set_timezone,
)


class TestRequireHabit:
    async def test_another_familys_habit_is_not_found_as_an_unknown_one_is(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        theirs = await create_habit(
            connection, household.outsider_family_id, household.outsider_member
        )

        with pytest.raises(HabitNotFound) as other_family:
            await require_habit(sql, actor(household.owner), theirs)
        with pytest.raises(HabitNotFound) as unknown:
            await require_habit(sql, actor(household.owner), uuid.uuid4())

        assert (other_family.value.status, other_family.value.code) == (404, "habit_not_found")
        assert other_family.value.detail == unknown.value.detail
        habit = await require_habit(sql, actor(household.outsider), theirs)
        assert habit.id == theirs

    async def test_in_a_service_session_rls_and_the_join_agree(
        self, connection: AsyncConnection, settings: Settings
    ) -> None:
        household = await build_household(connection)
        habit_id = await create_habit(connection, household.family_id, household.kid_member)

        async with acting_session(connection, settings, household.teen) as (session, me):
            found = await load_habit(session, me, habit_id)
        async with acting_session(connection, settings, household.outsider) as (session, me):
            with pytest.raises(HabitNotFound):
                await load_habit(session, me, habit_id)

        assert (found.id, found.my_member_id) == (habit_id, household.teen_member)


# Who acts, on whose habit, and whether they may manage it (scope.may_manage's rule).
MANAGE = [
    ("owner", "teen", True),
    ("admin", "kid", True),
    ("teen", "teen", True),
    ("teen", "kid", False),
    ("teen", "admin", False),
]


@pytest.mark.parametrize(("who", "whose", "may"), MANAGE)
async def test_who_may_manage_a_habit(
    sql: Any, connection: AsyncConnection, household: Household, who: str, whose: str, may: bool
) -> None:
    assignee = {
        "teen": household.teen_member,
        "kid": household.kid_member,
        "admin": household.admin_member,
    }[whose]
    person = {"owner": household.owner, "admin": household.admin, "teen": household.teen}[who]
    habit = await require_habit(
        sql, actor(person), await create_habit(connection, household.family_id, assignee)
    )

    if may:
        ensure_may_manage(habit)
    else:
        with pytest.raises(NotYourHabit) as refused:
            ensure_may_manage(habit)
        assert (refused.value.status, refused.value.code) == (403, "not_assignee")


class TestAssignee:
    async def test_a_member_with_a_profile_lives_by_their_clock_a_managed_one_by_the_familys(
        self, connection: AsyncConnection, settings: Settings
    ) -> None:
        household = await build_household(connection, timezone="America/New_York")
        await set_timezone(connection, household.teen.user_id, "Europe/Berlin", 5)

        async with acting_session(connection, settings, household.admin) as (session, _):
            teen, teen_clock = await load_assignee(
                session, household.family_id, household.teen_member
            )
            kid, kid_clock = await load_assignee(session, household.family_id, household.kid_member)

        assert (teen.id, teen_clock) == (household.teen_member, Clock("Europe/Berlin", 5))
        assert (kid.id, kid_clock) == (household.kid_member, Clock("America/New_York", 0))

    async def test_a_member_of_another_family_is_no_assignee(
        self, connection: AsyncConnection, settings: Settings
    ) -> None:
        household = await build_household(connection)

        async with acting_session(connection, settings, household.owner) as (session, _):
            with pytest.raises(MemberNotFound):
                await load_assignee(session, household.family_id, household.outsider_member)


async def test_the_version_in_force_is_the_latest_started_one(
    sql: Any, connection: AsyncConnection, household: Household
) -> None:
    start = days_ago(20)
    habit_id = await create_habit(
        connection, household.family_id, household.teen_member, start_date=start
    )
    await add_habit_version(connection, habit_id, number=2, effective_from=days_ago(5))
    # Planned for tomorrow: not in force today.
    await add_habit_version(connection, habit_id, number=3, effective_from=days_ago(-1))
    # A second change on the same day: the higher number wins.
    await add_habit_version(connection, habit_id, number=4, effective_from=days_ago(5))
    versions = (await fetch_versions(sql, [habit_id]))[habit_id]

    assert in_force(versions, days_ago(0)).number == 4
    assert in_force(versions, days_ago(6)).number == 1
    assert in_force(versions, days_ago(-1)).number == 3
    # Before every version's date: the first.
    assert in_force(versions, start - timedelta(days=3)).number == 1
