"""A habit change with a future `effective_from` is planned, not applied: until that date every
read (GET, list, sync, the PATCH answer) shows the version in force on the assignee's today,
and from that date on the new one."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.api_calls import post_habit
from tests.support.builders import create_owned_family
from tests.support.habits import (
    Household,
    Measure,
    add_habit_version,
    create_habit,
    days_ago,
    habit_body,
    local_today,
)
from tests.support.sync_client import applied, sync_all

TEN_MINUTES = Measure.numeric(10)


async def a_reading_habit(connection: AsyncConnection, household: Household) -> str:
    habit_id = await create_habit(
        connection, household.family_id, household.teen_member, measure=TEN_MINUTES
    )
    return str(habit_id)


class TestAChangePlannedForLater:
    async def test_reads_show_todays_version_until_then(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await a_reading_habit(connection, household)
        next_week = local_today() + timedelta(days=7)
        headers = household.teen.headers

        patched = await client.patch(
            f"/v1/habits/{habit_id}",
            json={"target_value": 30, "effective_from": str(next_week)},
            headers=headers,
        )

        assert patched.status_code == 200, patched.text
        assert (patched.json()["target_value"], patched.json()["current_version"]) == (10, 1)
        got = (await client.get(f"/v1/habits/{habit_id}", headers=headers)).json()
        assert (got["target_value"], got["current_version"]) == (10, 1)
        listed = await client.get(f"/v1/families/{household.family_id}/habits", headers=headers)
        [item] = [item for item in listed.json()["items"] if item["id"] == habit_id]
        assert item["target_value"] == 10
        versions = (await client.get(f"/v1/habits/{habit_id}/versions", headers=headers)).json()
        planned = [v for v in versions["items"] if v["number"] == 2]
        assert planned[0]["effective_from"] == str(next_week)
        assert float(planned[0]["target_value"]) == 30

    async def test_from_its_date_on_it_is_the_habit(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        # The planned date has come: version 2 was planned for today.
        habit_id = await a_reading_habit(connection, household)
        await add_habit_version(
            connection,
            habit_id,  # type: ignore[arg-type]
            number=2,
            effective_from=local_today(),
            measure=Measure.numeric(30),
        )

        got = await client.get(f"/v1/habits/{habit_id}", headers=household.teen.headers)

        assert (got.json()["target_value"], got.json()["current_version"]) == (30, 2)

    async def test_a_change_for_today_keeps_the_planned_one(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await a_reading_habit(connection, household)
        next_week = local_today() + timedelta(days=7)
        headers = household.teen.headers
        await client.patch(
            f"/v1/habits/{habit_id}",
            json={"target_value": 30, "effective_from": str(next_week)},
            headers=headers,
        )

        # A unit change from today is made of today's version (target 10), not the planned
        # one, and the planned target still comes next week.
        patched = await client.patch(
            f"/v1/habits/{habit_id}", json={"unit": "pages"}, headers=headers
        )

        assert patched.status_code == 200, patched.text
        assert (patched.json()["target_value"], patched.json()["unit"]) == (10, "pages")
        versions = (await client.get(f"/v1/habits/{habit_id}/versions", headers=headers)).json()
        by_date = {v["effective_from"]: float(v["target_value"]) for v in versions["items"]}
        assert by_date[str(next_week)] == 30
        assert by_date[str(local_today())] == 10
        assert by_date[str(days_ago(30))] == 10


class TestSyncShowsTodaysVersion:
    async def test_a_planned_change_syncs_as_a_version_not_as_the_habit(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        parent, family_id = await create_owned_family(live_connection, "parent")
        await live_connection.commit()
        family = (await live_client.get(f"/v1/families/{family_id}", headers=parent.headers)).json()
        created = await post_habit(
            live_client,
            family_id,
            parent,
            habit_body(family["my_member_id"], type="numeric", target_value=10, unit="min"),
        )
        habit_id = created.json()["id"]
        next_week = local_today() + timedelta(days=7)
        await live_client.patch(
            f"/v1/habits/{habit_id}",
            json={"target_value": 30, "effective_from": str(next_week)},
            headers=parent.headers,
        )

        changes, _ = await sync_all(live_client, parent)
        held = applied(changes)  # an entity may come again in a later page

        [habit] = [data for (kind, _), data in held.items() if kind == "habit"]
        assert (habit["target_value"], habit["current_version"]) == (10, 1)
        planned = [data for (kind, _), data in held.items() if kind == "habit_version"]
        assert {v["effective_from"] for v in planned} == {str(local_today()), str(next_week)}
