"""The database guards its own integrity (migration 0006), whoever writes, and a row that got
in anyway is reported and answered, never a 500.

Rows are written here as the table owner, around the API on purpose: that is the most a
script, a migration or a dashboard session could do."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.schemas.habit import Schedule
from tests.support.habits import Household, build_household, create_habit, create_routine
from tests.support.tenancy import assert_problem


@pytest.fixture
async def household(connection: AsyncConnection) -> Household:
    return await build_household(connection)


async def refused(connection: AsyncConnection, sql: str, **params: Any) -> str:
    """The constraint that refused the statement (run in a savepoint)."""
    with pytest.raises(IntegrityError) as failure:
        async with connection.begin_nested():
            await connection.execute(text(sql), params)
    constraint = getattr(failure.value.orig.__cause__, "constraint_name", None)
    assert isinstance(constraint, str)
    return constraint


# Each statement points a row of the household's family at the outsider's family (`:other`):
# `(statement, the key that must refuse it)`.
CROSS_FAMILY_ROWS = {
    "habit assigned to another family's member": (
        "insert into habits (family_id, assignee_id, name, start_date)"
        " values (:family, :other_member, 'Stray', current_date)",
        "fk_habits_family_id_family_members",
    ),
    "routine assigned to another family's member": (
        "insert into routines (family_id, assignee_id, name)"
        " values (:family, :other_member, 'Stray')",
        "fk_routines_family_id_family_members",
    ),
    "invitation bound to another family's profile": (
        "insert into invitations (family_id, token_hash, role, member_id, expires_at)"
        " values (:family, 'hash', 'member', :other_member, now() + interval '1 day')",
        "fk_invitations_family_id_family_members",
    ),
    "check-in claiming another family": (
        "insert into checkins (habit_id, family_id, date, status)"
        " values (:habit, :other_family, current_date, 'done')",
        "fk_checkins_family_id_habits",
    ),
    "version claiming another family": (
        "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
        " schedule) values (:habit, :other_family, 2, current_date, 'boolean',"
        ' \'{"kind": "daily"}\')',
        "fk_habit_versions_family_id_habits",
    ),
}


@pytest.mark.parametrize(
    ("statement", "key"), CROSS_FAMILY_ROWS.values(), ids=CROSS_FAMILY_ROWS.keys()
)
async def test_rows_stay_in_their_family(
    connection: AsyncConnection, household: Household, statement: str, key: str
) -> None:
    habit_id = await create_habit(connection, household.family_id, household.teen_member)

    constraint = await refused(
        connection,
        statement,
        family=household.family_id,
        habit=habit_id,
        other_family=household.outsider_family_id,
        other_member=household.outsider_member,
    )

    assert constraint == key


# What the API stores (pydantic's own output) must pass the database's check; everything the
# API refuses must fail it.
STORED_BY_THE_API = [
    {"kind": "daily"},
    {"kind": "weekdays", "weekdays": [1]},
    {"kind": "weekdays", "weekdays": [1, 2, 3, 4, 5, 6, 7]},
    {"kind": "per_period", "times": 1, "period": "week"},
    {"kind": "per_period", "times": 7, "period": "week"},
    {"kind": "per_period", "times": 31, "period": "month"},
]
REFUSED_BY_THE_API = [
    {"kind": "bogus"},
    {},
    [],
    "daily",
    {"kind": "daily", "extra": 1},
    {"kind": "weekdays", "weekdays": []},
    {"kind": "weekdays", "weekdays": [0]},
    {"kind": "weekdays", "weekdays": [8]},
    {"kind": "weekdays", "weekdays": [1, 1]},
    {"kind": "weekdays", "weekdays": ["1"]},
    {"kind": "weekdays", "weekdays": [1.5]},
    {"kind": "weekdays", "weekdays": "1,2"},
    {"kind": "per_period", "times": 8, "period": "week"},
    {"kind": "per_period", "times": 32, "period": "month"},
    {"kind": "per_period", "times": 0, "period": "week"},
    {"kind": "per_period", "times": "2", "period": "week"},
    {"kind": "per_period", "times": 2.5, "period": "week"},
    {"kind": "per_period", "times": 2, "period": "year"},
    {"kind": "per_period", "times": 2},
]


class TestSchedulesAreChecked:
    @pytest.mark.parametrize("schedule", STORED_BY_THE_API, ids=json.dumps)
    async def test_every_schedule_the_api_stores_passes(
        self, connection: AsyncConnection, schedule: dict[str, Any]
    ) -> None:
        stored = TypeAdapter(Schedule).validate_python(schedule).model_dump()

        valid = await connection.scalar(
            text("select public.is_valid_schedule(cast(:schedule as jsonb))"),
            {"schedule": json.dumps(stored)},
        )

        assert valid is True

    @pytest.mark.parametrize("schedule", REFUSED_BY_THE_API, ids=json.dumps)
    async def test_what_the_api_refuses_fails(
        self, connection: AsyncConnection, schedule: object
    ) -> None:
        with pytest.raises(ValidationError):
            TypeAdapter(Schedule).validate_python(schedule, strict=True)

        valid = await connection.scalar(
            text("select public.is_valid_schedule(cast(:schedule as jsonb))"),
            {"schedule": json.dumps(schedule)},
        )

        assert valid is False

    async def test_a_bogus_version_is_refused(
        self, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.owner_member)

        constraint = await refused(
            connection,
            "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
            " schedule) values (:habit, :family, 2, current_date, 'boolean',"
            ' \'{"kind": "bogus"}\')',
            habit=habit_id,
            family=household.family_id,
        )

        assert constraint == "ck_habit_versions_schedule_valid"


class TestTimeZonesAreChecked:
    @pytest.mark.parametrize("table", ["users", "families"])
    async def test_an_unknown_zone_is_refused(
        self, connection: AsyncConnection, household: Household, table: str
    ) -> None:
        row = household.owner.user_id if table == "users" else household.family_id

        constraint = await refused(
            connection, f"update {table} set timezone = 'Nowhere/Land' where id = :id", id=row
        )

        assert constraint == f"fk_{table}_timezone_time_zones"

    async def test_every_zone_the_api_accepts_is_known(self, connection: AsyncConnection) -> None:
        """The API validates zones against Python's zone database, the database against
        Postgres's: a zone accepted by one and refused by the other would be a 409 for a
        valid request. Both must know the zones people pick (the common ones, at least)."""
        common = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]

        known = await connection.scalars(
            text("select name from time_zones where name = any(:names)"), {"names": common}
        )

        assert sorted(known) == sorted(common)


# --- rows forced in around the checks --------------------------------------------------------


async def force_bogus_version(connection: AsyncConnection, habit_id: uuid.UUID) -> None:
    """What only the table's owner can do: drop the check, write the row (rolled back with
    the test, the check included)."""
    await connection.execute(
        text("alter table habit_versions drop constraint ck_habit_versions_schedule_valid")
    )
    await connection.execute(
        text(
            "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
            " schedule) select id, family_id, 2, current_date - 1, 'boolean',"
            ' \'{"kind": "bogus"}\' from habits where id = :habit'
        ),
        {"habit": habit_id},
    )


class TestForcedRowsAreAnswered:
    async def test_boards_leave_out_the_unreadable_habit(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        broken = await create_habit(
            connection, household.family_id, household.owner_member, name="Broken"
        )
        fine = await create_habit(
            connection, household.family_id, household.owner_member, name="Fine"
        )
        await force_bogus_version(connection, broken)

        with caplog.at_level(logging.ERROR):
            today = await client.get("/v1/me/today", headers=household.owner.headers)
            board = await client.get(
                f"/v1/families/{household.family_id}/board", headers=household.owner.headers
            )

        assert today.status_code == 200, today.text
        assert board.status_code == 200, board.text
        assert [h["habit_id"] for h in today.json()["habits"]] == [str(fine)]
        owner_card = next(
            m for m in board.json()["members"] if m["member_id"] == str(household.owner_member)
        )
        assert [h["habit_id"] for h in owner_card["habits"]] == [str(fine)]
        assert f"leaves out habit {broken}" in caplog.text

    async def test_the_habits_own_reads_answer_a_problem(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        broken = await create_habit(connection, household.family_id, household.owner_member)
        await force_bogus_version(connection, broken)

        with caplog.at_level(logging.ERROR):
            stats = await client.get(f"/v1/habits/{broken}/stats", headers=household.owner.headers)
            history = await client.get(
                f"/v1/habits/{broken}/history", headers=household.owner.headers
            )

        assert_problem(stats, 409, "stored_data_unreadable")
        assert_problem(history, 409, "stored_data_unreadable")
        assert "unreadable stored data" in caplog.text

    async def test_a_routine_with_an_unreadable_schedule_is_left_out(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.owner_member)
        await create_routine(connection, household.family_id, household.owner_member, [habit_id])
        await connection.execute(
            text("alter table routine_versions drop constraint ck_routine_versions_schedule_valid")
        )
        await connection.execute(text("update routine_versions set schedule = '{\"kind\": 7}'"))

        today = await client.get("/v1/me/today", headers=household.owner.headers)

        assert today.status_code == 200, today.text
        assert today.json()["routines"] == []
        assert [h["habit_id"] for h in today.json()["habits"]] == [str(habit_id)]

    async def test_an_unknown_stored_zone_runs_on_utc(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await create_habit(connection, household.family_id, household.owner_member)
        await connection.execute(
            text("alter table users drop constraint fk_users_timezone_time_zones")
        )
        await connection.execute(
            text("update users set timezone = 'Nowhere/Land' where id = :id"),
            {"id": household.owner.user_id},
        )

        today = await client.get("/v1/me/today", headers=household.owner.headers)
        me = await client.get("/v1/me", headers=household.owner.headers)

        assert today.status_code == 200, today.text
        assert len(today.json()["habits"]) == 1
        assert me.status_code == 200, me.text
