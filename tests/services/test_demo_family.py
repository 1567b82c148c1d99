"""The demo family: idempotent, restoring what was deleted, reusing a login that has the
email, and refused where Supabase owns auth.users."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.security import mint_token
from app.services.demo_family import (
    DEMO_FAMILY_ID,
    DEMO_FAMILY_NAME,
    DEMO_OWNER_EMAIL,
    seed_demo_family,
)
from app.services.local_logins import LoginUnavailable
from tests.support.builders import TEST_JWT_SECRET
from tests.support.local_logins import pretend_supabase_owns_auth_users, rows


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
