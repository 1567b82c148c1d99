"""Local logins: one per email whatever its case, and never written into Supabase's own
auth.users."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.services.local_logins import (
    LoginUnavailable,
    auth_users_are_ours,
    ensure_login,
    local_login_id,
    normalize_email,
)
from tests.support.local_logins import pretend_supabase_owns_auth_users


class TestEnsureLogin:
    async def test_creates_once_per_email_whatever_the_case(
        self, connection: AsyncConnection
    ) -> None:
        first = await ensure_login(connection, "Kim@Example.org", full_name="Kim K")
        second = await ensure_login(connection, "kim@example.org")

        assert first == second
        assert first.id == local_login_id("kim@example.org")
        assert first.email == "kim@example.org"
        assert first.full_name == "Kim K"

    async def test_on_supabase_finds_but_never_creates(self, connection: AsyncConnection) -> None:
        existing = uuid.uuid4()
        await connection.execute(
            text("insert into auth.users (id, email) values (:id, 'signed-up@example.org')"),
            {"id": existing},
        )
        await pretend_supabase_owns_auth_users(connection)
        assert await auth_users_are_ours(connection) is False

        found = await ensure_login(connection, "signed-up@example.org")
        with pytest.raises(LoginUnavailable, match="no Supabase Auth user"):
            await ensure_login(connection, "nobody@example.org")

        assert found.id == existing

    async def test_the_migration_marks_auth_users_as_ours(
        self, connection: AsyncConnection
    ) -> None:
        assert await auth_users_are_ours(connection) is True


class TestNormalizeEmail:
    def test_trims_and_lowercases(self) -> None:
        assert normalize_email("  Ann@Example.ORG ") == "ann@example.org"

    @pytest.mark.parametrize("raw", ["", "ann", "@example.org", "ann@", "a@b@c", "a b@c.d"])
    def test_rejects_what_is_no_address(self, raw: str) -> None:
        with pytest.raises(ValueError, match="email"):
            normalize_email(raw)
