"""app.repositories.boards: what the boards read besides versions and check-ins: the
caller's clock and memberships, a family's zone and members, the habits and routines due."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.repositories import boards
from tests.repositories.conftest import actor
from tests.support.builders import create_person
from tests.support.habits import (
    Household,
    build_household,
    create_habit,
    create_routine,
    days_ago,
    local_today,
    set_timezone,
)


class TestMe:
    async def test_my_clock_and_every_membership_of_mine(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.outsider.user_id, "Europe/Paris", 4)
        guest = uuid.uuid4()
        await connection.execute(
            text(
                "insert into family_members (id, family_id, user_id, display_name, role)"
                " values (:id, :family, :user, 'Guest', 'member')"
            ),
            {"id": guest, "family": household.family_id, "user": household.outsider.user_id},
        )

        me = await boards.fetch_me(sql, actor(household.outsider))

        assert (me.timezone, me.day_start_hour) == ("Europe/Paris", 4)
        assert sorted(me.member_ids) == sorted([household.outsider_member, guest])

    async def test_a_login_without_profile_or_family_gets_an_empty_answer(
        self, sql: Any, connection: AsyncConnection
    ) -> None:
        newcomer = await create_person(connection, "newcomer", provisioned=False)

        me = await boards.fetch_me(sql, actor(newcomer))

        assert (me.timezone, me.day_start_hour, me.member_ids) == (None, None, [])


async def test_the_family_zone_is_told_to_members_only(
    sql: Any, connection: AsyncConnection
) -> None:
    household = await build_household(connection, timezone="Asia/Tokyo")

    assert await boards.fetch_family_timezone(sql, actor(household.teen), household.family_id) == (
        "Asia/Tokyo"
    )
    assert (
        await boards.fetch_family_timezone(sql, actor(household.outsider), household.family_id)
        is None
    )
    assert await boards.fetch_family_timezone(sql, actor(household.owner), uuid.uuid4()) is None


async def test_members_in_joining_order_with_managed_profiles_marked(
    sql: Any, household: Household
) -> None:
    members = await boards.fetch_members(sql, household.family_id)

    # One transaction: every created_at is equal, so the id orders them.
    assert [member.id for member in members] == sorted(
        [
            household.owner_member,
            household.admin_member,
            household.teen_member,
            household.kid_member,
        ]
    )
    by_id = {member.id: member for member in members}
    assert by_id[household.kid_member].is_managed
    assert (by_id[household.kid_member].display_name, by_id[household.kid_member].role) == (
        "Kid",
        "member",
    )
    assert not by_id[household.teen_member].is_managed
    assert by_id[household.admin_member].role == "admin"


async def test_due_habits_are_the_members_live_started_ones_in_board_order(
    sql: Any, connection: AsyncConnection, household: Household
) -> None:
    today = local_today()
    teen = household.teen_member
    second = await create_habit(connection, household.family_id, teen, name="B", sort_order=2)
    first = await create_habit(connection, household.family_id, teen, name="A", sort_order=1)
    kids = await create_habit(connection, household.family_id, household.kid_member, name="K")
    await create_habit(connection, household.family_id, teen, archived=True)
    await create_habit(connection, household.family_id, teen, start_date=today + timedelta(days=1))
    deleted = await create_habit(connection, household.family_id, teen)
    await connection.execute(
        text("update habits set deleted_at = now() where id = :id"), {"id": deleted}
    )
    await create_habit(connection, household.family_id, household.admin_member)

    habits = await boards.fetch_started_habits(sql, [teen, household.kid_member], today)

    assert [habit.id for habit in habits] == [kids, first, second]
    assert (habits[1].name, habits[1].assignee_id, habits[1].family_id) == (
        "A",
        teen,
        household.family_id,
    )


async def test_a_routine_shows_the_version_in_force_on_the_day(
    sql: Any, connection: AsyncConnection, household: Household
) -> None:
    teen = household.teen_member
    run = await create_habit(connection, household.family_id, teen, name="Run")
    read = await create_habit(connection, household.family_id, teen, name="Read")
    routine = await create_routine(
        connection, household.family_id, teen, [run], effective_from=days_ago(10)
    )
    await connection.execute(
        text(
            "insert into routine_versions (routine_id, family_id, number, effective_from,"
            " habit_ids) values (:routine, :family, 2, :effective, :habits)"
        ),
        {
            "routine": routine,
            "family": household.family_id,
            "effective": days_ago(2),
            "habits": [run, read],
        },
    )

    before = await boards.fetch_routines_on(sql, [teen], days_ago(5))
    after = await boards.fetch_routines_on(sql, [teen], days_ago(1))
    not_yet = await boards.fetch_routines_on(sql, [teen], days_ago(11))

    assert [(r.id, r.number, r.habit_ids) for r in before] == [(routine, 1, [run])]
    assert [(r.id, r.number, r.habit_ids) for r in after] == [(routine, 2, [run, read])]
    assert not_yet == []
    assert await boards.fetch_routines_on(sql, [household.admin_member], days_ago(1)) == []
