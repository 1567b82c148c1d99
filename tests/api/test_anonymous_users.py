"""Supabase anonymous sign-ins (`is_anonymous: true`): refused by default with a 403 that
says why (the app can offer to sign up), accepted only when ALLOW_ANONYMOUS_USERS is on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.security import mint_token
from tests.conftest import app_on_connection, client_on_connection, make_settings
from tests.support.builders import TEST_JWT_SECRET


async def _anonymous_login(connection: AsyncConnection) -> dict[str, str]:
    user_id = uuid.uuid4()
    await connection.execute(text("insert into auth.users (id) values (:id)"), {"id": user_id})
    token = mint_token(secret=TEST_JWT_SECRET, sub=user_id, extra_claims={"is_anonymous": True})
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/v1/me", "/v1/me/today", "/v1/families"])
async def test_refused_by_default_with_a_clear_code(
    client: httpx.AsyncClient, connection: AsyncConnection, path: str
) -> None:
    headers = await _anonymous_login(connection)
    response = await client.get(path, headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "anonymous_user_not_allowed"
    provisioned = await connection.scalar(
        text("select count(*) from public.users where email is null")
    )
    assert provisioned == 0  # nothing was created for the anonymous login


@pytest.fixture
async def accepting_client(
    database_url: str, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    app = app_on_connection(make_settings(database_url, allow_anonymous_users=True), connection)
    async with client_on_connection(app, connection) as client:
        yield client
    await app.state.database.dispose()


async def test_accepted_when_the_setting_allows_it(
    accepting_client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    headers = await _anonymous_login(connection)
    response = await accepting_client.get("/v1/me", headers=headers)
    assert response.status_code == 200, response.text
