"""Database fixtures: one real Postgres per test session, schema built by `alembic upgrade
head`, each test inside an outer transaction that is rolled back (SQLAlchemy's recipe with
`join_transaction_mode="create_savepoint"`, so the app's own commits and rollbacks are safe)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.core.config import DatabaseUrl, Settings
from app.db.database import Database
from app.db.migrations import upgrade_to_head
from app.main import create_app
from tests.support.builders import TEST_JWT_SECRET
from tests.support.databases import TestDriverConnection, TestServer, test_server_url
from tests.support.pgbouncer import find_pgbouncer, running_pgbouncer


@pytest.fixture(scope="session")
def test_server() -> Iterator[TestServer]:
    with test_server_url() as (url, embedded):
        upgrade_to_head(DatabaseUrl(url))
        yield TestServer(url=url, embedded=embedded)


@pytest.fixture(scope="session")
def database_url(test_server: TestServer) -> str:
    return test_server.url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "supabase_jwt_secret": TEST_JWT_SECRET,
        "supabase_url": None,
        "jwt_issuer": None,
        "environment": "test",
        "log_level": "WARNING",
        "_env_file": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    url = settings.runtime_url
    assert url is not None
    engine = create_async_engine(url.sqlalchemy_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's connection: everything the test and the app do is rolled back at the end."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            if transaction.is_active:
                await transaction.rollback()


@pytest.fixture
async def app(settings: Settings, connection: AsyncConnection) -> AsyncIterator[FastAPI]:
    app = app_on_connection(settings, connection)
    yield app
    await app.state.database.dispose()


def app_on_connection(settings: Settings, connection: AsyncConnection) -> FastAPI:
    """The app with every request's transaction nested in the test's (as a savepoint)."""
    app = create_app(settings)
    url = settings.runtime_url
    assert url is not None
    database = Database(settings, url)
    database.driver_connections = TestDriverConnection(connection)
    app.state.database = database
    return app


def client_on_connection(app: FastAPI, connection: AsyncConnection) -> httpx.AsyncClient:
    """A client of an app from `app_on_connection` (to be closed: `async with`, or `aclose`)."""

    async def back_to_owner(_: httpx.Response) -> None:
        # A request's `SET LOCAL ROLE loopin_api` outlives its savepoint inside the test's
        # outer transaction; the test's own set-up and checks run as the owner again.
        await connection.execute(text("reset role"))

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
        base_url="http://testserver",
        event_hooks={"response": [back_to_owner]},
    )


@pytest.fixture
async def client(app: FastAPI, connection: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    async with client_on_connection(app, connection) as client:
        yield client


@dataclass
class StatementLog:
    """SQL statements sent by the app while `recording`; savepoint bookkeeping excluded,
    since in production those are the transaction's own BEGIN/COMMIT."""

    statements: list[str] = field(default_factory=list)
    recording: bool = False

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


_TRANSACTION_CONTROL = (
    "SAVEPOINT",
    "RELEASE SAVEPOINT",
    "ROLLBACK TO SAVEPOINT",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "reset role",
)


@pytest.fixture
async def sql_statements(connection: AsyncConnection) -> AsyncIterator[StatementLog]:
    """Count the statements a request runs, through the ORM session (SQLAlchemy's events)
    and on the driver directly (asyncpg's query logger, which SQLAlchemy's prepared
    statements do not pass through). Transaction control is not counted: in production that
    is the request's own BEGIN/COMMIT, here savepoints."""
    log = StatementLog(recording=True)

    def record_statement(statement: str) -> None:
        if log.recording and not statement.lstrip().startswith(_TRANSACTION_CONTROL):
            log.statements.append(statement)

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        record_statement(statement)

    def record_driver(query: Any) -> None:
        record_statement(query.query)

    target = connection.sync_connection
    assert target is not None
    driver = (await connection.get_raw_connection()).driver_connection
    event.listen(target, "before_cursor_execute", record)
    driver.add_query_logger(record_driver)
    yield log
    driver.remove_query_logger(record_driver)
    event.remove(target, "before_cursor_execute", record)


@pytest.fixture(scope="session")
def pgbouncer_url(database_url: str) -> Iterator[str]:
    binary = find_pgbouncer()
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pgbouncer is not installed, and CI must run the PgBouncer lane")
        pytest.skip("pgbouncer not installed (apt-get install pgbouncer); CI runs this lane")
    with running_pgbouncer(database_url, binary) as url:
        yield url


# --- committing mode: real transactions, for concurrency and pooler tests -------------------


@pytest.fixture
async def live_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose work the test commits itself (`await live_connection.commit()`).
    Everything committed is truncated after the test."""
    async with engine.connect() as connection:
        yield connection
    async with engine.begin() as cleanup:
        await cleanup.execute(
            text("truncate auth.users, public.users, public.families, public.sync_changes cascade")
        )


@pytest.fixture
async def live_app(settings: Settings, live_connection: AsyncConnection) -> AsyncIterator[FastAPI]:
    """The app with its own pool, committing for real: concurrent requests really race."""
    app = create_app(settings)
    url = settings.runtime_url
    assert url is not None
    app.state.database = Database(settings, url)
    yield app
    await app.state.database.dispose()


@pytest.fixture
async def live_client(live_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=live_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
