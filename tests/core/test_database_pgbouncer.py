"""The pgbouncer-safe engine, proven against a real PgBouncer in transaction mode."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text

from app.core.config import PoolMode
from app.core.database import Database, configure_transaction
from app.main import create_app
from tests.conftest import make_settings

pytestmark = pytest.mark.pgbouncer


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
        async with pooled_database.sessionmaker() as session, session.begin():
            await configure_transaction(session, pooled_database.settings, claims={"sub": "x"})
            role = await session.scalar(text("select current_user"))
            assert role == "authenticated"
            value = await session.scalar(text("select cast(:n as int) + 1"), {"n": n})
            return int(value)

    results = await asyncio.gather(*(one_transaction(n) for n in range(200)))
    assert results == [n + 1 for n in range(200)]


async def test_write_then_read_through_pgbouncer(pooled_database: Database) -> None:
    table = "pgbouncer_probe"
    async with pooled_database.sessionmaker() as session, session.begin():
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
