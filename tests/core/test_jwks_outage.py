"""Auth through a JWKS outage, against a real HTTP JWKS endpoint that goes away and comes
back: the keys already known keep verifying; with no key known the answer is 503
`auth_unavailable` (never 401, the app's cue to sign out); a refresh is one bounded round of
fetches shared by everyone, then a pause, never a fetch per request."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core import security
from app.core.security import KeysUnavailable, TokenVerifier
from tests.conftest import app_on_connection, make_settings
from tests.support.builders import create_person
from tests.support.jwks_server import JWKS_PATH, LocalJwksServer, es256_token


def payload(sub: uuid.UUID | None = None) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": str(sub or uuid.uuid4()),
        "email": "ada@example.com",
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
    }


@pytest.fixture
def jwks_server() -> Iterator[LocalJwksServer]:
    server = LocalJwksServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_RETRY_PAUSES_SECONDS", (0.01, 0.01))


async def test_known_keys_keep_verifying_while_the_jwks_is_away(
    jwks_server: LocalJwksServer,
) -> None:
    key = jwks_server.add_ec("k1")
    verifier = TokenVerifier(
        jwt_secret=None,
        jwks_url=jwks_server.base_url + JWKS_PATH,
        jwks_cache_seconds=0.05,
        refresh_backoff_seconds=30,
    )
    try:
        await verifier.verify(es256_token(key, "k1", payload()))
        assert jwks_server.requests == 1
        jwks_server.stop()
        await asyncio.sleep(0.1)  # the keys are now older than the cache allows
        # Every request is still verified with the known key; the first starts one refresh
        # in the background, which fails, and the next waits out its pause.
        for _ in range(20):
            await verifier.verify(es256_token(key, "k1", payload()))
        await asyncio.sleep(0.2)  # the refresh's connections are refused at once
        for _ in range(20):
            await verifier.verify(es256_token(key, "k1", payload()))
        jwks_server.start()  # back on the same port: the pause holds, no request fetches
        for _ in range(5):
            await verifier.verify(es256_token(key, "k1", payload()))
        assert jwks_server.requests == 1
    finally:
        await verifier.aclose()


async def test_a_failing_jwks_is_asked_one_bounded_round_then_left_alone(
    jwks_server: LocalJwksServer,
) -> None:
    key = jwks_server.add_ec("k1")
    jwks_server.status = 503
    verifier = TokenVerifier(
        jwt_secret=None, jwks_url=jwks_server.base_url + JWKS_PATH, refresh_backoff_seconds=30
    )
    try:
        outcomes = await asyncio.gather(
            *(verifier.verify(es256_token(key, "k1", payload())) for _ in range(10)),
            return_exceptions=True,
        )
        assert all(isinstance(outcome, KeysUnavailable) for outcome in outcomes)
        for _ in range(10):
            with pytest.raises(KeysUnavailable) as caught:
                await verifier.verify(es256_token(key, "k1", payload()))
            assert 1 <= caught.value.retry_after <= 30
        assert jwks_server.requests == security.JWKS_FETCH_ATTEMPTS
    finally:
        await verifier.aclose()


@pytest.fixture
async def app_client(
    jwks_server: LocalJwksServer, database_url: str, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database_url, supabase_url=jwks_server.base_url, supabase_jwt_secret=None
    )
    app = app_on_connection(settings, connection)
    app.state.token_verifier = TokenVerifier(
        jwt_secret=None,
        jwks_url=settings.jwks_url,
        refresh_backoff_seconds=0.2,
        max_refresh_backoff_seconds=0.2,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.state.token_verifier.aclose()
    await app.state.database.dispose()


async def test_no_key_at_all_is_503_auth_unavailable_until_the_jwks_is_back(
    app_client: httpx.AsyncClient, jwks_server: LocalJwksServer, connection: AsyncConnection
) -> None:
    key = jwks_server.add_ec("k1")
    person = await create_person(connection, "ada")
    token = es256_token(key, "k1", payload(person.user_id))
    jwks_server.stop()

    away = await app_client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert away.status_code == 503
    assert away.headers["content-type"] == "application/problem+json"
    assert away.json()["code"] == "auth_unavailable"
    assert int(away.headers["retry-after"]) >= 1
    assert "www-authenticate" not in away.headers

    jwks_server.start()
    await asyncio.sleep(0.25)  # the pause after the failed round
    back = await app_client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert back.status_code == 200, back.text
    assert back.json()["id"] == str(person.user_id)
