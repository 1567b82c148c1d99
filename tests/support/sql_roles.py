"""Acting as a database role inside the test's transaction, the way requests (and Supabase's
Data API, which sets the same two settings) do: `request.jwt.claims` and the role, both
transaction-local. Statements that must fail run in a savepoint, since an error aborts the
transaction; role and claims are set before it, so they survive its rollback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

INSUFFICIENT_PRIVILEGE = "42501"  # both "permission denied" and "violates row-level security"


@asynccontextmanager
async def raw_context(
    connection: AsyncConnection, *, role: str, claims: str
) -> AsyncIterator[None]:
    """Any role with any claims text ('' = no claims at all), set the way requests set them."""
    await connection.execute(
        text(
            "select set_config('request.jwt.claims', :claims, true),"
            " set_config('role', :role, true)"
        ),
        {"claims": claims, "role": role},
    )
    try:
        yield
    finally:
        await back_to_owner(connection)


async def back_to_owner(connection: AsyncConnection) -> None:
    await connection.execute(text("reset role"))
    await connection.execute(text("select set_config('request.jwt.claims', '', true)"))


async def rejected(connection: AsyncConnection, sql: str, params: dict[str, Any]) -> str:
    """Run a statement that must fail; its SQLSTATE and message."""
    with pytest.raises(DBAPIError) as failure:
        async with connection.begin_nested():
            await connection.execute(text(sql), params)
    error = failure.value.orig
    return f"{getattr(error, 'sqlstate', None)}: {error}"
