"""app.db.session_driver: an ORM session's asyncpg connection is inside the session's
transaction, even before the session ran anything (SQLAlchemy begins lazily), so what a
repository writes on it is rolled back with the session."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.db.session_driver import driver_connection


async def test_a_fresh_sessions_driver_work_rolls_back_with_it(engine: AsyncEngine) -> None:
    user_id = uuid.uuid4()
    async with AsyncSession(engine) as session:
        driver = await driver_connection(session)
        assert driver.is_in_transaction()
        await driver.execute(
            "insert into auth.users (id, email) values ($1, $2)", user_id, f"{user_id}@x.test"
        )
        await session.rollback()
    async with engine.connect() as check:
        found = await check.scalar(
            text("select count(*) from auth.users where id = :id"), {"id": user_id}
        )
    assert found == 0


async def test_the_same_connection_as_the_sessions_statements(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        await session.execute(text("create temporary table seen (n int) on commit drop"))
        await session.execute(text("insert into seen values (7)"))
        driver = await driver_connection(session)
        assert await driver.fetchval("select n from seen") == 7
        await session.rollback()
