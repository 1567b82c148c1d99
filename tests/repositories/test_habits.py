"""app.repositories.habits: which habits a caller's queries see, with what their rules need;
versions and the rules built from them."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.domain.clock import Clock
from app.models.enums import HabitType, MemberRole, TargetDirection
from app.repositories.habits import fetch_habit, fetch_habits, fetch_versions, timeline_of
from app.services.habit_context import may_manage_habit
from tests.repositories.conftest import actor
from tests.support.habits import (
    Household,
    Measure,
    add_habit_version,
    create_habit,
    days_ago,
    set_timezone,
)

WEEKDAYS = {"kind": "weekdays", "weekdays": [1, 3, 5]}


class TestFetchHabit:
    async def test_a_member_sees_the_habit_with_their_membership(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        start = days_ago(10)
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, name="Run", start_date=start
        )

        habit = await fetch_habit(sql, actor(household.admin), habit_id)

        assert habit is not None
        assert (habit.id, habit.family_id, habit.assignee_id) == (
            habit_id,
            household.family_id,
            household.teen_member,
        )
        assert (habit.name, habit.start_date, habit.archived_at, habit.version) == (
            "Run",
            start,
            None,
            1,
        )
        assert habit.my_member_id == household.admin_member
        assert habit.my_role is MemberRole.ADMIN

    async def test_outsiders_deleted_and_unknown_habits_are_not_found(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        deleted = await create_habit(connection, household.family_id, household.teen_member)
        await connection.execute(
            text("update habits set deleted_at = now() where id = :id"), {"id": deleted}
        )

        assert await fetch_habit(sql, actor(household.outsider), habit_id) is None
        assert await fetch_habit(sql, actor(household.owner), deleted) is None
        assert await fetch_habit(sql, actor(household.owner), uuid.uuid4()) is None

    async def test_an_archived_habit_is_found_and_says_so(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, archived=True
        )

        habit = await fetch_habit(sql, actor(household.teen), habit_id)

        assert habit is not None
        assert habit.archived_at is not None

    async def test_the_assignee_clock_is_their_profiles_or_the_familys(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        await set_timezone(connection, household.teen.user_id, "Asia/Tokyo", 4)
        await connection.execute(
            text("update families set timezone = 'Europe/Paris' where id = :id"),
            {"id": household.family_id},
        )
        teens = await create_habit(connection, household.family_id, household.teen_member)
        kids = await create_habit(connection, household.family_id, household.kid_member)

        habits = await fetch_habits(sql, actor(household.owner), [teens, kids])

        assert habits[teens].clock == Clock("Asia/Tokyo", 4)
        # A managed profile has no login: the family's zone, the day starting at midnight.
        assert habits[kids].clock == Clock("Europe/Paris", 0)

    @pytest.mark.parametrize(
        ("who", "manages"),
        [("owner", True), ("admin", True), ("teen", True), ("outsider", None)],
    )
    async def test_who_may_manage_the_teens_habit(
        self,
        sql: Any,
        connection: AsyncConnection,
        household: Household,
        who: str,
        manages: bool | None,
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        habit = await fetch_habit(sql, actor(getattr(household, who)), habit_id)

        assert (None if habit is None else may_manage_habit(habit)) is manages

    async def test_a_member_may_not_manage_another_members_habit(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        kids = await create_habit(connection, household.family_id, household.kid_member)

        habit = await fetch_habit(sql, actor(household.teen), kids)

        assert habit is not None
        assert habit.my_role is MemberRole.MEMBER
        assert not may_manage_habit(habit)


class TestFetchHabits:
    async def test_only_the_visible_live_ones_by_id(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        mine = await create_habit(connection, household.family_id, household.teen_member)
        elsewhere = await create_habit(
            connection, household.outsider_family_id, household.outsider_member
        )
        deleted = await create_habit(connection, household.family_id, household.kid_member)
        await connection.execute(
            text("update habits set deleted_at = now() where id = :id"), {"id": deleted}
        )

        habits = await fetch_habits(
            sql, actor(household.teen), [mine, elsewhere, deleted, uuid.uuid4()]
        )

        assert set(habits) == {mine}

    async def test_no_ids_no_habits(self, sql: Any, household: Household) -> None:
        assert await fetch_habits(sql, actor(household.owner), []) == {}


class TestVersions:
    async def test_each_habits_versions_oldest_first(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        start = days_ago(20)
        reading = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            measure=Measure.numeric(10, "pages"),
            start_date=start,
        )
        await add_habit_version(
            connection,
            reading,
            number=2,
            effective_from=days_ago(5),
            measure=Measure.numeric(Decimal("12.5"), "pages", "at_most"),
            schedule=WEEKDAYS,
        )
        boolean = await create_habit(connection, household.family_id, household.kid_member)
        unknown = uuid.uuid4()

        versions = await fetch_versions(sql, [reading, boolean, unknown])

        assert [v.number for v in versions[reading]] == [1, 2]
        first, second = versions[reading]
        assert (first.type, first.target_value, first.unit) == (
            HabitType.NUMERIC,
            Decimal("10.000"),
            "pages",
        )
        assert (second.effective_from, second.target_direction, second.schedule) == (
            days_ago(5),
            TargetDirection.AT_MOST,
            WEEKDAYS,
        )
        assert [(v.type, v.target_direction) for v in versions[boolean]] == [
            (HabitType.BOOLEAN, None)
        ]
        assert versions[unknown] == []

    async def test_the_timeline_judges_each_day_by_the_version_then(
        self, sql: Any, connection: AsyncConnection, household: Household
    ) -> None:
        start = date(2026, 1, 1)
        habit_id = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            measure=Measure.numeric(10, "pages"),
            start_date=start,
        )
        change = start + timedelta(days=10)
        await add_habit_version(
            connection,
            habit_id,
            number=2,
            effective_from=change,
            measure=Measure.numeric(20, "pages"),
        )

        timeline = timeline_of((await fetch_versions(sql, [habit_id]))[habit_id], start)

        before, after = timeline.rule_on(change - timedelta(days=1)), timeline.rule_on(change)
        assert before is not None
        assert after is not None
        assert (before.number, before.target_value) == (1, Decimal("10.000"))
        assert (after.number, after.target_value) == (2, Decimal("20.000"))
        assert timeline.rule_on(start - timedelta(days=1)) is None
