"""The asyncpg connection under an ORM session's transaction, for repositories that speak
to the driver directly: a rule written once as SQL serves the ORM routes and the hot paths
alike, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection of the session's transaction (through SQLAlchemy's public
    `get_raw_connection`). SQLAlchemy begins a transaction with its first statement; a
    session that has run none yet runs an empty one first, so what the caller then runs on
    the driver is inside the transaction, never committed on its own."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    if not driver.is_in_transaction():
        await connection.execute(text("select"))
    return driver
