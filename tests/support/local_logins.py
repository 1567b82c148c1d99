"""What the tests of local logins and the demo family share: reading rows back as tuples,
and an `auth.users` that Supabase Auth owns."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def rows(connection: AsyncConnection, sql: str, **params: object) -> list[tuple[object, ...]]:
    return [tuple(row) for row in (await connection.execute(text(sql), params)).all()]


async def pretend_supabase_owns_auth_users(connection: AsyncConnection) -> None:
    # Rolled back with the test's transaction.
    await connection.execute(text("comment on table auth.users is 'Auth: Stores user login data'"))
