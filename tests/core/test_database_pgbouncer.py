"""The pgbouncer-safe engine, proven against a real PgBouncer in transaction mode."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.config import PoolMode
from app.db.database import Database
from app.db.roles import REQUEST_ROLE
from app.db.transaction import configure_transaction, request_transaction
from app.domain.actor import Actor
from app.main import create_app
from tests.conftest import make_settings
from tests.support.builders import create_family, create_person

pytestmark = pytest.mark.pgbouncer

ACTOR = Actor(user_id=uuid.uuid4(), email=None, claims_json='{"sub": "x"}')


@pytest.fixture
async def pooled_database(pgbouncer_url: str) -> Database:
    settings = make_settings(pgbouncer_url, database_pool_size=5, database_max_overflow=5)
    url = settings.runtime_url
    assert url is not None
    database = Database(settings, url)
    yield database  # type: ignore[misc]
    await database.dispose()


async def test_pgbouncer_url_selects_transaction_mode(pooled_database: Database) -> None:
    assert pooled_database.pool_mode is PoolMode.TRANSACTION
    assert "pgbouncer" not in pooled_database.engine.url.render_as_string()


async def test_parameterised_statements_in_many_transactions(pooled_database: Database) -> None:
    """Without the caches off, the second round of prepared statements fails behind PgBouncer
    ("prepared statement ... does not exist / already exists")."""

    async def one_transaction(n: int) -> int:
        # A request's: the hand-written SQL and the ORM session on one connection.
        async with request_transaction(pooled_database, ACTOR) as transaction:
            assert await transaction.sql.fetchval("select current_user") == REQUEST_ROLE
            session = transaction.session
            role = await session.scalar(text("select current_user"))
            assert role == REQUEST_ROLE
            value = await session.scalar(text("select cast(:n as int) + 1"), {"n": n})
            assert await transaction.sql.fetchval("select $1::int * 2", n) == 2 * n
            return int(value)

    results = await asyncio.gather(*(one_transaction(n) for n in range(200)))
    assert results == [n + 1 for n in range(200)]


async def test_write_then_read_through_pgbouncer(pooled_database: Database) -> None:
    table = "pgbouncer_probe"
    async with pooled_database.engine.connect() as session, session.begin():
        await configure_transaction(session, pooled_database.settings)
        await session.execute(text(f"create temp table {table} (v int) on commit drop"))
        await session.execute(text(f"insert into {table} values (:v)"), {"v": 7})
        assert await session.scalar(text(f"select v from {table}")) == 7


async def test_health_ready_and_200_concurrent_requests(pgbouncer_url: str) -> None:
    app = create_app(make_settings(pgbouncer_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        responses = await asyncio.gather(*(client.get("/health/ready") for _ in range(200)))
    statuses = [r.status_code for r in responses]
    assert statuses == [200] * 200
    assert responses[0].json()["pool"]["mode"] == "transaction"


@pytest.fixture
async def pooled_client(pgbouncer_url: str, live_connection: object) -> httpx.AsyncClient:
    """The app behind PgBouncer, committing for real (data truncated by `live_connection`)."""
    app = create_app(make_settings(pgbouncer_url, database_pool_size=10, database_max_overflow=10))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client  # type: ignore[misc]


async def test_api_write_then_read_through_pgbouncer(
    pooled_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    parent = await create_person(live_connection, "parent")
    await live_connection.commit()
    created = await pooled_client.post(
        "/v1/families", json={"name": "Pooled"}, headers=parent.headers
    )
    assert created.status_code == 201, created.text
    family_id = created.json()["id"]
    member_id = created.json()["my_member_id"]
    habit = await pooled_client.post(
        f"/v1/families/{family_id}/habits",
        json={"name": "Read", "assignee_id": member_id, "schedule": {"kind": "daily"}},
        headers=parent.headers,
    )
    assert habit.status_code == 201, habit.text
    today = (await pooled_client.get("/v1/me/today", headers=parent.headers)).json()["date"]
    put = await pooled_client.put(
        f"/v1/habits/{habit.json()['id']}/checkins/{today}",
        json={"status": "done"},
        headers=parent.headers,
    )
    assert put.status_code == 201, put.text
    board = await pooled_client.get("/v1/me/today", headers=parent.headers)
    assert [item["status"] for item in board.json()["habits"]] == ["done"]


async def test_200_concurrent_api_requests_through_pgbouncer(
    pooled_client: httpx.AsyncClient, live_connection: AsyncConnection
) -> None:
    people = [await create_person(live_connection, f"p{n}") for n in range(20)]
    families = [await create_family(live_connection, person) for person in people]
    await live_connection.commit()
    requests = [
        pooled_client.get(f"/v1/families/{families[n % 20]}", headers=people[n % 20].headers)
        if n % 2
        else pooled_client.get("/v1/me/today", headers=people[n % 20].headers)
        for n in range(200)
    ]
    responses = await asyncio.gather(*requests)
    assert [r.status_code for r in responses] == [200] * 200
