"""Local logins and the demo family: idempotent, by email, and never writing Supabase's
own auth.users."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.security import mint_token
from app.demo_habits import DEMO_HISTORY_DAYS, seed_demo, seed_demo_habits
from app.seed import (
    DEMO_FAMILY_ID,
    DEMO_FAMILY_NAME,
    DEMO_OWNER_EMAIL,
    LoginUnavailable,
    auth_users_are_ours,
    ensure_login,
    local_login_id,
    normalize_email,
    seed_demo_family,
)
from tests.support.builders import TEST_JWT_SECRET


async def rows(connection: AsyncConnection, sql: str, **params: object) -> list[tuple[object, ...]]:
    return [tuple(row) for row in (await connection.execute(text(sql), params)).all()]


async def pretend_supabase_owns_auth_users(connection: AsyncConnection) -> None:
    # Rolled back with the test's transaction.
    await connection.execute(text("comment on table auth.users is 'Auth: Stores user login data'"))


class TestSeedDemoFamily:
    async def test_seeding_twice_leaves_one_family_with_four_members(
        self, connection: AsyncConnection
    ) -> None:
        first = await seed_demo_family(connection)
        second = await seed_demo_family(connection)

        assert first.created is True
        assert second.created is False
        assert second.owner == first.owner
        families = await rows(
            connection, "select id from families where name = :name", name=DEMO_FAMILY_NAME
        )
        assert families == [(DEMO_FAMILY_ID,)]
        members = await rows(
            connection,
            "select m.display_name, m.role::text, u.email from family_members m"
            " left join users u on u.id = m.user_id"
            " where m.family_id = :family order by m.display_name",
            family=DEMO_FAMILY_ID,
        )
        assert members == [
            ("Dana Demo", "owner", "demo@loopin.test"),
            ("Grandpa Gus", "admin", "grandpa@loopin.test"),
            ("Mia (age 6)", "member", None),
            ("Theo (teen)", "member", "teen@loopin.test"),
        ]
        logins = await rows(
            connection,
            "select count(*) from auth.users"
            " where email in ('demo@loopin.test', 'grandpa@loopin.test', 'teen@loopin.test')",
        )
        assert logins == [(3,)]

    async def test_restores_what_was_deleted_and_keeps_what_changed(
        self, connection: AsyncConnection
    ) -> None:
        await seed_demo_family(connection)
        await connection.execute(
            text("update families set name = 'Renamed' where id = :id"), {"id": DEMO_FAMILY_ID}
        )
        await connection.execute(
            text("delete from family_members where display_name = 'Mia (age 6)'")
        )

        await seed_demo_family(connection)

        names = await rows(
            connection, "select name from families where id = :id", id=DEMO_FAMILY_ID
        )
        assert names == [("Renamed",)]
        count = await rows(
            connection,
            "select count(*) from family_members where family_id = :id",
            id=DEMO_FAMILY_ID,
        )
        assert count == [(4,)]

    async def test_reuses_a_login_that_already_has_the_email(
        self, connection: AsyncConnection
    ) -> None:
        existing = uuid.uuid4()
        await connection.execute(
            text("insert into auth.users (id, email) values (:id, 'Demo@Loopin.test')"),
            {"id": existing},
        )

        demo = await seed_demo_family(connection)

        assert demo.owner.id == existing
        owner = await rows(
            connection,
            "select user_id from family_members where family_id = :family and role = 'owner'",
            family=DEMO_FAMILY_ID,
        )
        assert owner == [(existing,)]

    async def test_the_owner_sees_the_family_through_the_api(
        self, connection: AsyncConnection, client: httpx.AsyncClient
    ) -> None:
        demo = await seed_demo_family(connection)
        token = mint_token(secret=TEST_JWT_SECRET, sub=demo.owner.id, email=DEMO_OWNER_EMAIL)

        response = await client.get("/v1/families", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 200, response.text
        [family] = response.json()["items"]
        assert family["id"] == str(DEMO_FAMILY_ID)
        assert family["my_role"] == "owner"

    async def test_refused_where_supabase_owns_auth_users(
        self, connection: AsyncConnection
    ) -> None:
        await pretend_supabase_owns_auth_users(connection)

        with pytest.raises(LoginUnavailable, match="belongs to Supabase Auth"):
            await seed_demo_family(connection)


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


class TestDemoHabits:
    async def test_the_boards_show_streaks_misses_and_an_open_today(
        self, connection: AsyncConnection, client: httpx.AsyncClient
    ) -> None:
        demo = await seed_demo(connection)
        token = mint_token(secret=TEST_JWT_SECRET, sub=demo.owner.id, email=DEMO_OWNER_EMAIL)

        response = await client.get(
            f"/v1/families/{demo.family_id}/board", headers={"Authorization": f"Bearer {token}"}
        )

        assert response.status_code == 200, response.text
        members = {m["display_name"]: m for m in response.json()["members"]}
        cards = {
            habit["name"]: (habit["status"], habit["current_streak"])
            for member in members.values()
            for habit in member["habits"]
        }
        assert cards["Read 20 minutes"] == ("pending", 8)  # missed 9 days ago
        assert cards["Walk"] == ("done", 4)  # today too; missed 4 days ago
        assert cards["Practice guitar"] == ("pending", 1)
        assert cards["Screen time"] == ("pending", 5)  # at most 120 min, logged at 120
        assert cards["Brush teeth"] == ("done", DEMO_HISTORY_DAYS + 1)  # every day
        [bedtime] = members["Mia (age 6)"]["routines"]
        assert (bedtime["name"], bedtime["done_count"], bedtime["total_count"]) == (
            "Bedtime",
            1,
            2,
        )

    async def test_created_once_never_filled_in_later(self, connection: AsyncConnection) -> None:
        demo = await seed_demo(connection)
        before = await rows(
            connection,
            "select count(*) from checkins where family_id = :family",
            family=demo.family_id,
        )
        await connection.execute(
            text("update habits set deleted_at = now() where name = 'Walk' and family_id = :f"),
            {"f": demo.family_id},
        )

        three_days_later = datetime.now(UTC).date() + timedelta(days=3)
        created = await seed_demo_habits(
            connection, demo.family_id, demo.owner.id, three_days_later
        )

        assert created == 0
        after = await rows(
            connection,
            "select count(*) from checkins where family_id = :family",
            family=demo.family_id,
        )
        assert after == before
        deleted = await rows(
            connection, "select deleted_at is not null from habits where name = 'Walk'"
        )
        assert deleted == [(True,)]
