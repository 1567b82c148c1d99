"""When Postgres refuses what a service let through, the caller gets a problem, not a 500.

A refusal by the database (a privilege or a row-level security policy, SQLSTATE 42501) means
the request lacked a right the service forgot to check: it is answered `403
permission_denied`, on the ORM path and on the hot paths alike, and changes nothing. To make
the database refuse, each test takes one grant away from the request role inside its own
rolled-back transaction."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.roles import REQUEST_ROLE
from tests.support.api_calls import check_in
from tests.support.habits import build_household, create_habit, days_ago
from tests.support.tenancy import assert_problem, scalar


async def test_orm_path_refusal_is_403(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    household = await build_household(connection)
    await connection.execute(text(f"revoke update on public.families from {REQUEST_ROLE}"))

    response = await client.patch(
        f"/v1/families/{household.family_id}",
        json={"name": "Renamed"},
        headers=household.owner.headers,
    )

    assert_problem(response, 403, "permission_denied")
    name = await scalar(
        connection, "select name from families where id = :id", id=household.family_id
    )
    assert name == "The Habitats"


async def test_hot_path_refusal_is_403(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    household = await build_household(connection)
    habit_id = await create_habit(connection, household.family_id, household.teen_member)
    await connection.execute(text(f"revoke insert on public.checkins from {REQUEST_ROLE}"))

    response = await check_in(client, habit_id, days_ago(1).isoformat(), household.teen)

    assert_problem(response, 403, "permission_denied")
    count = await scalar(
        connection, "select count(*) from checkins where habit_id = :id", id=habit_id
    )
    assert count == 0
