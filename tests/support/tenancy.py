"""Small helpers for tenancy tests: problem+json answers, tokens with extra claims, and
reads of the database as the owner role (no RLS)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.security import mint_token
from app.models.enums import MemberRole
from app.services.invitations import hash_token, new_token
from tests.support.builders import TEST_JWT_SECRET, Person


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status and `code`; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    assert body["title"]
    assert body["detail"]
    return body


def assert_answer(response: httpx.Response, status: int, code: str | None) -> None:
    """The answer a role matrix expects: this status, and with a `code` that problem (see
    `assert_problem`); a 401 also names the Bearer scheme."""
    if code is None:
        assert response.status_code == status, response.text
    else:
        assert_problem(response, status, code)
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"


def headers_with_claims(person: Person, **claims: Any) -> dict[str, str]:
    """Bearer headers for the person with extra token claims (e.g. `user_metadata`)."""
    token = mint_token(
        secret=TEST_JWT_SECRET, sub=person.user_id, email=person.email, extra_claims=claims
    )
    return {"Authorization": f"Bearer {token}"}


async def scalar(connection: AsyncConnection, sql: str, **params: Any) -> Any:
    return await connection.scalar(text(sql), params)


async def member_roles(connection: AsyncConnection, family_id: uuid.UUID) -> dict[uuid.UUID, str]:
    """The family's members and their roles, in the order they joined."""
    rows = await connection.execute(
        text(
            "select id, role::text from family_members where family_id = :family"
            " order by created_at, id"
        ),
        {"family": family_id},
    )
    return {member_id: role for member_id, role in rows.tuples()}


async def owner_count(connection: AsyncConnection, family_id: uuid.UUID) -> int:
    count: int = await scalar(
        connection,
        "select count(*) from family_members where family_id = :family and role = 'owner'",
        family=family_id,
    )
    return count


async def create_invitation(
    connection: AsyncConnection,
    family_id: uuid.UUID,
    *,
    role: MemberRole = MemberRole.MEMBER,
    email: str | None = None,
    member_id: uuid.UUID | None = None,
    max_uses: int = 1,
    expires_in: timedelta = timedelta(hours=72),
) -> tuple[uuid.UUID, str]:
    """An invitation stored the way the API stores it (the token's hash only): `(id, token)`."""
    invitation_id = uuid.uuid4()
    token = new_token()
    await connection.execute(
        text(
            "insert into invitations"
            " (id, family_id, token_hash, role, email, member_id, max_uses, expires_at)"
            " values (:id, :family, :hash, :role, :email, :member, :max_uses, now() + :expires)"
        ),
        {
            "id": invitation_id,
            "family": family_id,
            "hash": hash_token(token),
            "role": role.value,
            "email": email,
            "member": member_id,
            "max_uses": max_uses,
            "expires": expires_in,
        },
    )
    return invitation_id, token
