"""Where the tests' Postgres comes from: TEST_DATABASE_URL, testcontainers when asked, or the
embedded server in a throw-away folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.embedded_db import EmbeddedPostgres, free_port


@contextmanager
def embedded_test_server() -> Iterator[EmbeddedPostgres]:
    folder = Path(tempfile.mkdtemp(prefix="loopin-test-pg-"))
    server = EmbeddedPostgres(data_dir=folder, port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop(mode="immediate")
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def testcontainers_url() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
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


class TestDriverConnection:
    """The hot paths' connections (`app.core.sql`) in savepoint-isolated tests: always the
    test's own connection. Its transaction is asyncpg's, so the request's `transaction()`
    nests as a savepoint and the test's rollback undoes it, as for the ORM session."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        driver = (await self.connection.get_raw_connection()).driver_connection
        assert driver is not None
        if not driver.is_in_transaction():
            # SQLAlchemy begins lazily: make it begin now, or the request's transaction
            # would be a top-level one and commit for real.
            await self.connection.execute(text("select 1"))
        async with driver.transaction():
            yield driver
