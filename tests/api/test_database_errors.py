"""A failed statement that is our mistake is a logged 500, never a 503 the client retries
forever; only a connection that is gone is `database_unavailable`."""

from __future__ import annotations

import logging

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import column, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.deps import SessionDep
from app.db.disconnects import means_disconnect
from tests.support.builders import create_person


@pytest.fixture
def too_many_arguments(app: FastAPI) -> str:
    """A route whose statement has more bind parameters than asyncpg can send (32,767),
    as the sync did for a large family before it sent id lists as one array."""

    async def handler(session: SessionDep) -> None:
        values = list(range(40_000))
        await session.execute(select(text("1")).where(column("x").in_(values)))

    app.add_api_route("/test/too-many-arguments", handler)
    return "/test/too-many-arguments"


async def test_a_driver_error_is_a_logged_500_not_a_503(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    too_many_arguments: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ada = await create_person(connection, "ada")  # every request's transaction has a user
    with caplog.at_level(logging.ERROR, logger="app.core.errors"):
        response = await client.get(too_many_arguments, headers=ada.headers)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "internal_error"
    assert "retry-after" not in response.headers
    assert any("unexpected database error" in record.message for record in caplog.records)


def test_only_errors_that_say_the_connection_is_gone_count_as_disconnects() -> None:
    assert means_disconnect(asyncpg.ConnectionDoesNotExistError("closed mid-operation"))
    assert means_disconnect(
        asyncpg.InterfaceError("cannot perform operation: connection is closed")
    )
    assert means_disconnect(ConnectionResetError())
    assert not means_disconnect(
        asyncpg.InterfaceError("the number of query arguments cannot exceed 32767")
    )
    assert not means_disconnect(asyncpg.InterfaceError("another operation is in progress"))
