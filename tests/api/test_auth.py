"""Every way a token can be wrong ends as the same clean answer at the API: 401
problem+json with `WWW-Authenticate: Bearer`, and nothing is provisioned or leaked.
(The verifier's own cases, JWKS rotation included, are in tests/core/test_security.py.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.builders import TEST_JWT_SECRET


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": str(uuid.uuid4()),
        "email": "someone@loopin.test",
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _signed(payload: dict[str, Any], key: str = TEST_JWT_SECRET, **header: Any) -> str:
    return jwt.encode(payload, key, algorithm="HS256", headers=header or None)


def _hand_made(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(payload).encode())
    signature = hmac.new(key, head.encode(), hashlib.sha256).digest() if key else b""
    return head + "." + _b64(signature)


_RSA_PUBLIC_PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
)

BAD_TOKENS = {
    "expired": _signed(_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "not yet valid": _signed(_claims(nbf=int(time.time()) + 3600)),
    "wrong audience": _signed(_claims(aud="someone-else")),
    "wrong signature": _signed(_claims(), key="another-secret-of-sufficient-length-123456"),
    "alg none": _hand_made({"alg": "none", "typ": "JWT"}, _claims(), key=None),
    "HS256 signed with an RSA public key": _hand_made(
        {"alg": "HS256", "typ": "JWT"}, _claims(), key=_RSA_PUBLIC_PEM
    ),
    "RS256 with an unknown kid": _hand_made(
        {"alg": "RS256", "typ": "JWT", "kid": "nope"}, _claims(), key=b"x"
    ),
    "anon key": _signed(_claims(role="anon", sub=None)),
    "service role key": _signed(_claims(role="service_role", sub=None)),
    "sub not a uuid": _signed(_claims(sub="admin")),
    "garbage": "not-a-jwt",
    "three garbage parts": "a.b.c",
    "empty-ish": "...",
}


@pytest.mark.parametrize("token", BAD_TOKENS.values(), ids=BAD_TOKENS.keys())
async def test_bad_tokens_are_401_problems(
    client: httpx.AsyncClient, connection: AsyncConnection, token: str
) -> None:
    users_before = await connection.scalar(text("select count(*) from public.users"))
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_token"
    assert token not in response.text
    assert await connection.scalar(text("select count(*) from public.users")) == users_before


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Basic dTpw"}],
    ids=["none", "empty", "scheme only", "basic auth"],
)
async def test_missing_bearer_is_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/v1/families", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_valid_token_for_a_deleted_user_is_401(
    client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    """Supabase deleted the user, but their token has not expired yet."""
    token = _signed(_claims())
    response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["code"] == "user_not_found"
