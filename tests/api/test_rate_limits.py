"""Per-login rate limits on sync, long-history stats and batch writes: 429 `rate_limited`
with Retry-After past the limit, counted in Postgres (so two app instances share the
count), per login, per window; a failed request is not counted, and no one can reset their
own counter straight in Postgres."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.roles import REQUEST_ROLE
from app.services.sync import Cursor
from tests.conftest import app_on_connection, client_on_connection, make_settings
from tests.support.builders import create_person
from tests.support.habits import Household, create_habit, days_ago

LIMIT = 3


@pytest.fixture
def limited_app(database_url: str, connection: AsyncConnection) -> Callable[[], FastAPI]:
    settings = make_settings(
        database_url,
        rate_limit_sync_per_minute=LIMIT,
        rate_limit_long_stats_per_minute=LIMIT,
        rate_limit_batch_writes_per_minute=LIMIT,
    )
    return lambda: app_on_connection(settings, connection)


@pytest.fixture
async def clients(
    limited_app: Callable[[], FastAPI], connection: AsyncConnection
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two instances of the app (two workers, or two replicas) on the same database."""
    apps = [limited_app(), limited_app()]
    made = [client_on_connection(app, connection) for app in apps]
    yield made[0], made[1]
    for client, app in zip(made, apps, strict=True):
        await client.aclose()
        await app.state.database.dispose()


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_sync_is_limited_per_login_across_app_instances(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], connection: AsyncConnection
) -> None:
    first, second = clients
    person = await create_person(connection, "syncer")
    other = await create_person(connection, "other")
    answers = [
        await client.get("/v1/sync", headers=person.headers) for client in (first, second, first)
    ]
    assert [answer.status_code for answer in answers] == [200] * LIMIT
    assert_limited(await second.get("/v1/sync", headers=person.headers))
    assert (await first.get("/v1/sync", headers=other.headers)).status_code == 200

    # A new window: allowed again.
    await connection.execute(
        text("update rate_limits set window_start = window_start - interval '61 seconds'")
    )
    assert (await first.get("/v1/sync", headers=person.headers)).status_code == 200


async def test_the_pages_of_a_pass_count_apart_from_passes_begun(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], connection: AsyncConnection
) -> None:
    """A first sync of years of history is hundreds of pages: they must not run into the
    limit on passes begun."""
    client, _ = clients
    person = await create_person(connection, "newcomer")
    for _ in range(LIMIT):
        assert (await client.get("/v1/sync", headers=person.headers)).status_code == 200
    assert_limited(await client.get("/v1/sync", headers=person.headers))
    continuing = Cursor(horizon=0, after_txid=1, after_seq=1, fresh_bound=0).encode()
    for _ in range(LIMIT + 2):
        page = await client.get("/v1/sync", params={"cursor": continuing}, headers=person.headers)
        assert page.status_code == 200


async def test_a_failed_request_is_not_counted(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], connection: AsyncConnection
) -> None:
    client, _ = clients
    person = await create_person(connection, "clumsy")
    for _ in range(LIMIT + 2):
        bad = await client.get("/v1/sync", params={"cursor": "nope"}, headers=person.headers)
        assert bad.status_code == 422
    assert (await client.get("/v1/sync", headers=person.headers)).status_code == 200


async def test_stats_are_limited_only_for_a_long_history(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    connection: AsyncConnection,
    household: Household,
) -> None:
    client, _ = clients
    short = await create_habit(
        connection, household.family_id, household.teen_member, start_date=days_ago(30)
    )
    long = await create_habit(
        connection, household.family_id, household.teen_member, start_date=days_ago(3 * 365)
    )
    for _ in range(LIMIT + 2):
        answer = await client.get(f"/v1/habits/{short}/stats", headers=household.teen.headers)
        assert answer.status_code == 200
    for _ in range(LIMIT):
        answer = await client.get(f"/v1/habits/{long}/stats", headers=household.teen.headers)
        assert answer.status_code == 200
    assert_limited(await client.get(f"/v1/habits/{long}/stats", headers=household.teen.headers))


async def test_batch_writes_are_limited(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    connection: AsyncConnection,
    household: Household,
) -> None:
    client, _ = clients
    habit = await create_habit(connection, household.family_id, household.teen_member)
    for days in range(LIMIT):
        item = {"habit_id": str(habit), "date": str(days_ago(days)), "status": "done"}
        batch = await client.post(
            "/v1/sync/checkins", json={"items": [item]}, headers=household.teen.headers
        )
        assert batch.status_code == 200
    item = {"habit_id": str(habit), "date": str(days_ago(LIMIT)), "status": "done"}
    refused = await client.post(
        "/v1/sync/checkins", json={"items": [item]}, headers=household.teen.headers
    )
    assert_limited(refused)
    written = await connection.scalar(
        text("select count(*) from checkins where habit_id = :habit"), {"habit": habit}
    )
    assert written == LIMIT


async def test_no_one_resets_their_own_counter_in_postgres(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], connection: AsyncConnection
) -> None:
    client, _ = clients
    person = await create_person(connection, "sneaky")
    await client.get("/v1/sync", headers=person.headers)
    claims = f'{{"sub": "{person.user_id}", "role": "authenticated"}}'
    for statement in (
        "delete from public.rate_limits",
        "update public.rate_limits set hits = 0",
        "select * from public.rate_limits",
    ):
        async with connection.begin_nested() as attempt:
            await connection.execute(
                text("select set_config('request.jwt.claims', :claims, true)"), {"claims": claims}
            )
            await connection.execute(text(f"set local role {REQUEST_ROLE}"))
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(text(statement))
            await attempt.rollback()
    await connection.execute(text("reset role"))
