"""`auth.users` as the local tooling reads and writes it: by email in any case, oldest
first, a taken id left alone, and the table's comment read back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.supabase_shape import EMULATION_MARKER
from app.repositories.auth_users import (
    Login,
    auth_users_comment,
    find_oldest_by_email,
    insert_login_if_absent,
)
from app.services.local_logins import COMPAT_MARKER
from tests.support.local_logins import pretend_supabase_owns_auth_users


async def add_auth_user(connection: AsyncConnection, email: str, created_at: datetime) -> uuid.UUID:
    user_id = uuid.uuid4()
    await connection.execute(
        text("insert into auth.users (id, email, created_at) values (:id, :email, :at)"),
        {"id": user_id, "email": email, "at": created_at},
    )
    return user_id


class TestFindOldestByEmail:
    async def test_finds_the_email_in_any_case(self, connection: AsyncConnection) -> None:
        user_id = await add_auth_user(connection, "Ann@Example.ORG", datetime.now(UTC))

        found = await find_oldest_by_email(connection, "ann@example.org")

        assert found == Login(id=user_id, email="Ann@Example.ORG", metadata={})

    async def test_the_oldest_of_two(self, connection: AsyncConnection) -> None:
        await add_auth_user(connection, "twin@example.org", datetime(2026, 3, 1, tzinfo=UTC))
        oldest = await add_auth_user(
            connection, "TWIN@example.org", datetime(2025, 3, 1, tzinfo=UTC)
        )

        found = await find_oldest_by_email(connection, "twin@example.org")

        assert found is not None
        assert found.id == oldest

    async def test_none_for_an_unknown_email(self, connection: AsyncConnection) -> None:
        assert await find_oldest_by_email(connection, "nobody@example.org") is None


class TestInsertLoginIfAbsent:
    async def test_inserts_with_its_metadata(self, connection: AsyncConnection) -> None:
        user_id = uuid.uuid4()

        await insert_login_if_absent(connection, user_id, "kim@example.org", {"full_name": "Kim"})

        found = await find_oldest_by_email(connection, "kim@example.org")
        assert found == Login(id=user_id, email="kim@example.org", metadata={"full_name": "Kim"})
        assert found.full_name == "Kim"

    async def test_a_taken_id_is_left_as_it_is(self, connection: AsyncConnection) -> None:
        user_id = uuid.uuid4()
        await insert_login_if_absent(connection, user_id, "kim@example.org", {"full_name": "Kim"})

        await insert_login_if_absent(connection, user_id, "other@example.org", {})

        assert await find_oldest_by_email(connection, "other@example.org") is None
        found = await find_oldest_by_email(connection, "kim@example.org")
        assert found is not None
        assert found.full_name == "Kim"


class TestAuthUsersComment:
    async def test_reads_the_mark_of_the_migration(self, connection: AsyncConnection) -> None:
        # Ours on both test shapes: the migration's on plain Postgres, the emulation's on
        # the Supabase-shaped database.
        assert await auth_users_comment(connection) in (COMPAT_MARKER, EMULATION_MARKER)

    async def test_reads_another_owner_s_comment(self, connection: AsyncConnection) -> None:
        await pretend_supabase_owns_auth_users(connection)

        assert await auth_users_comment(connection) == "Auth: Stores user login data"
