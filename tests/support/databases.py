"""Where the tests' Postgres comes from: TEST_DATABASE_URL, testcontainers when asked, or the
embedded server in a throw-away folder, in the shape `LOOPIN_TEST_DB_SHAPE` names:
`supabase` (the default: prepared as Supabase prepares a project, `app.db.supabase_shape`)
or `plain` (a plain Postgres, where migration 0001 creates the slice of Supabase we use)."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.db.embedded_db import EmbeddedPostgres, free_port
from app.db.sql import BorrowedConnection
from app.db.supabase_shape import DatabaseShape


def test_database_shape() -> DatabaseShape:
    return DatabaseShape(os.environ.get("LOOPIN_TEST_DB_SHAPE", DatabaseShape.SUPABASE.value))


@contextmanager
def embedded_test_server() -> Iterator[EmbeddedPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="loopin-test-pg-"))
    server = EmbeddedPostgres(data_dir=folder, port=free_port(), shape=test_database_shape())
    server.start()
    try:
        yield server
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


# Supabase's own Postgres image runs Supabase's init scripts and migrations at its first start;
# the plain image is the Postgres that migration 0001 completes.
SUPABASE_IMAGE = os.environ.get("LOOPIN_TEST_SUPABASE_IMAGE", "supabase/postgres:17.4.1.009")
PLAIN_IMAGE = "postgres:16-alpine"


@contextmanager
def testcontainers_url() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    if test_database_shape() is DatabaseShape.SUPABASE:
        # The image's `postgres` is the demoted, non-superuser role, as on a hosted project.
        container = PostgresContainer(
            SUPABASE_IMAGE, username="postgres", password="postgres", dbname="postgres", driver=None
        )
    else:
        container = PostgresContainer(PLAIN_IMAGE, driver=None)
    with container:
        yield container.get_connection_url()


@contextmanager
def test_server_url() -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """The URL of the database the test session owns, and the embedded server if we run one."""
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit, None
    elif os.environ.get("LOOPIN_TEST_TESTCONTAINERS") == "1":
        with testcontainers_url() as url:
            yield url, None
    else:
        with embedded_test_server() as server:
            yield server.url, server


@dataclass
class TestServer:
    __test__ = False  # not a test class, whatever its name

    url: str
    embedded: EmbeddedPostgres | None  # lets fault tests restart it


@contextmanager
def scratch_database(server: TestServer, prefix: str) -> Iterator[str]:
    """A new database beside the test database, shaped like it (its URL), dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    base = server.url.rsplit("/", 1)[0]
    if server.embedded is not None:
        server.embedded.create_database(name)
    else:
        asyncio.run(_run_on(server.url, f'create database "{name}"'))
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_drop_database(server, name))


async def _drop_database(server: TestServer, name: str) -> None:
    """Drop a scratch database and whatever is still connected to it. An autovacuum worker
    may be at work in it; its process belongs to no role, and only a superuser may end it
    (Supabase's `postgres` is not one). So the embedded server drops as its superuser; on a
    server we only know as `postgres`, the drop is retried until the worker has gone."""
    sql = f'drop database if exists "{name}" with (force)'
    if server.embedded is not None:
        await _run_on(server.embedded.admin_url, sql)
        return
    for attempt in range(20):
        try:
            await _run_on(server.url, sql)
            return
        except asyncpg.InsufficientPrivilegeError:
            if attempt == 19:
                raise
            await asyncio.sleep(0.5)


def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one statement, on a connection of its own (outside any test transaction)."""

    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(url)
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    return asyncio.run(run())


async def _run_on(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


class TestDriverConnection:
    """Every request's connection (`app.db.sql`) in savepoint-isolated tests: always the
    test's own connection. Its transaction is asyncpg's, so the request's `transaction()`
    nests as a savepoint and the test's rollback undoes it; its ORM session joins the test's
    connection with a savepoint of its own, inside the request's."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[BorrowedConnection]:
        driver = (await self.connection.get_raw_connection()).driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy begins lazily: make it begin now, or the request's transaction
            # would be a top-level one and commit for real.
            await self.connection.execute(text("select 1"))
        async with driver.transaction():
            yield BorrowedConnection(driver, self._session)

    def _session(self) -> AsyncSession:
        return AsyncSession(
            bind=self.connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
