"""app.services.habit_stats: a habit's streaks and completion rates as its assignee's day
counts them, not found outside its family, and a long history's stats rate-limited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.services.habit_context import HabitNotFound
from app.services.habit_stats import habit_stats
from app.services.rate_limits import LONG_STATS_DAYS, RateLimited
from tests.repositories.conftest import actor
from tests.support.acting_session import actor_of
from tests.support.habits import Household, create_checkin, create_habit, days_ago, local_today


async def test_streaks_and_rates_of_a_daily_habit(
    sql: Any, connection: AsyncConnection, household: Household
) -> None:
    habit_id = await create_habit(
        connection, household.family_id, household.teen_member, start_date=days_ago(9)
    )
    # Done four days from the start, three missed, then done up to today.
    for ago in (9, 8, 7, 6, 2, 1, 0):
        await create_checkin(connection, habit_id, days_ago(ago))

    stats = await habit_stats(sql, actor(household.teen), habit_id, now=datetime.now(UTC))

    assert (stats["habit_id"], stats["as_of"]) == (habit_id, local_today())
    assert (stats["current_streak"], stats["best_streak"]) == (3, 4)
    # The last 7 days: 4 of 7 done; 30 and 90 days reach back to the start: 7 of 10.
    assert stats["completion_rate"] == {"days_7": 4 / 7, "days_30": 0.7, "days_90": 0.7}
    assert 0 < float(str(stats["score"])) < 1


async def test_checking_in_today_extends_the_current_streak(
    sql: Any, connection: AsyncConnection, household: Household
) -> None:
    habit_id = await create_habit(
        connection, household.family_id, household.kid_member, start_date=days_ago(3)
    )
    for ago in (3, 2, 1):
        await create_checkin(connection, habit_id, days_ago(ago))
    before = await habit_stats(sql, actor(household.admin), habit_id)

    await create_checkin(connection, habit_id, days_ago(0))
    after = await habit_stats(sql, actor(household.admin), habit_id)

    assert (before["current_streak"], after["current_streak"]) == (3, 4)
    assert float(str(after["score"])) > float(str(before["score"]))


async def test_another_familys_habit_has_no_stats(
    sql: Any, connection: AsyncConnection, household: Household
) -> None:
    theirs = await create_habit(connection, household.outsider_family_id, household.outsider_member)

    with pytest.raises(HabitNotFound):
        await habit_stats(sql, actor(household.owner), theirs)
    with pytest.raises(HabitNotFound):
        await habit_stats(sql, actor(household.owner), uuid.uuid4())


async def test_only_a_long_historys_stats_count_against_the_rate_limit(
    sql: Any, connection: AsyncConnection, household: Household
) -> None:
    teen = household.teen_member
    short = await create_habit(connection, household.family_id, teen, start_date=days_ago(30))
    long = await create_habit(
        connection, household.family_id, teen, start_date=days_ago(LONG_STATS_DAYS + 1)
    )
    # The counter is the login's: the request's claims say whose (owner role, no RLS).
    await sql.execute(
        "select set_config('request.jwt.claims', $1, true)", actor_of(household.teen).claims_json
    )

    for _ in range(3):
        await habit_stats(sql, actor(household.teen), short, long_stats_per_minute=1)
    await habit_stats(sql, actor(household.teen), long, long_stats_per_minute=1)
    with pytest.raises(RateLimited) as limited:
        await habit_stats(sql, actor(household.teen), long, long_stats_per_minute=1)

    assert (limited.value.status, limited.value.code) == (429, "rate_limited")
