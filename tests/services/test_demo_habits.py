"""The demo habits: boards with streaks, misses and an open today, created once and never
filled in (or brought back) by a later start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.security import mint_token
from app.services.demo_family import DEMO_OWNER_EMAIL
from app.services.demo_habits import DEMO_HISTORY_DAYS, seed_demo, seed_demo_habits
from tests.support.builders import TEST_JWT_SECRET
from tests.support.local_logins import rows


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
