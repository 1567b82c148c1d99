"""POST /v1/sync/checkins: a batch of check-ins from a client that was offline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.conftest import StatementLog
from tests.support.api_calls import post_habit
from tests.support.builders import Person, create_owned_family, create_person

TODAY = datetime.now(UTC).date()  # the family below lives in UTC


async def _family_with_habits(
    client: httpx.AsyncClient, connection: AsyncConnection, count: int
) -> tuple[Person, list[str]]:
    parent, family_id = await create_owned_family(connection, "parent")
    family = (await client.get(f"/v1/families/{family_id}", headers=parent.headers)).json()
    habit_ids = []
    for number in range(count):
        response = await post_habit(
            client,
            family_id,
            parent,
            {
                "name": f"Habit {number}",
                "assignee_id": family["my_member_id"],
                "schedule": {"kind": "daily"},
                "start_date": str(TODAY - timedelta(days=20)),
            },
        )
        assert response.status_code == 201, response.text
        habit_ids.append(response.json()["id"])
    return parent, habit_ids


def _item(habit_id: str, days_ago: int, **extra: object) -> dict[str, object]:
    return {
        "habit_id": habit_id,
        "date": str(TODAY - timedelta(days=days_ago)),
        "status": "done",
        **extra,
    }


class TestBatch:
    async def test_results_in_order_and_bad_items_do_not_fail_others(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        parent, (habit, other) = await _family_with_habits(client, connection, 2)
        items = [
            _item(habit, 1),
            _item(str(uuid.uuid4()), 1),  # unknown habit
            _item(habit, -1),  # tomorrow
            {"habit_id": habit, "date": "not a date", "status": "done"},  # malformed
            _item(other, 0, note="from the tablet"),
            _item(habit, 1, value=3),  # boolean habit with a value
        ]
        response = await client.post(
            "/v1/sync/checkins", json={"items": items}, headers=parent.headers
        )
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["status"] for r in results] == [201, 404, 422, 422, 201, 422]
        assert results[1]["problem"]["code"] == "habit_not_found"
        assert results[2]["problem"]["code"] == "date_in_future"
        assert results[3]["problem"]["code"] == "validation_error"
        assert results[3]["problem"]["errors"][0]["loc"] == ["date"]
        assert results[5]["problem"]["code"] == "value_not_allowed"
        assert results[4]["checkin"]["note"] == "from the tablet"
        stored = await connection.scalar(
            text("select count(*) from checkins where habit_id in (:a, :b)"),
            {"a": uuid.UUID(habit), "b": uuid.UUID(other)},
        )
        assert stored == 2

    async def test_replaying_the_batch_changes_nothing(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        parent, habits = await _family_with_habits(client, connection, 2)
        items = [_item(habit, days) for habit in habits for days in range(5)]
        first = await client.post(
            "/v1/sync/checkins", json={"items": items}, headers=parent.headers
        )
        again = await client.post(
            "/v1/sync/checkins", json={"items": items}, headers=parent.headers
        )
        assert {r["status"] for r in first.json()["results"]} == {201}
        assert {r["status"] for r in again.json()["results"]} == {200}
        first_ids = [r["checkin"]["id"] for r in first.json()["results"]]
        assert first_ids == [r["checkin"]["id"] for r in again.json()["results"]]
        assert await connection.scalar(text("select count(*) from checkins")) == 10

    async def test_duplicate_in_one_batch_last_one_wins(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        parent, (habit,) = await _family_with_habits(client, connection, 1)
        items = [_item(habit, 2, note="first"), _item(habit, 2, status="skipped", note="second")]
        response = await client.post(
            "/v1/sync/checkins", json={"items": items}, headers=parent.headers
        )
        results = response.json()["results"]
        assert [r["status"] for r in results] == [200, 201]
        assert results[0]["checkin"] == results[1]["checkin"]
        assert results[1]["checkin"]["status"] == "skipped"
        assert results[1]["checkin"]["note"] == "second"

    async def test_outsider_items_are_404_and_write_nothing(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, (habit,) = await _family_with_habits(client, connection, 1)
        outsider = await create_person(connection, "outsider")
        response = await client.post(
            "/v1/sync/checkins", json={"items": [_item(habit, 0)]}, headers=outsider.headers
        )
        assert [r["status"] for r in response.json()["results"]] == [404]
        assert await connection.scalar(text("select count(*) from checkins")) == 0

    async def test_limits(self, client: httpx.AsyncClient, connection: AsyncConnection) -> None:
        parent, (habit,) = await _family_with_habits(client, connection, 1)
        too_many = [_item(habit, 0)] * 501
        for body in ({"items": []}, {"items": too_many}, {"items": "nope"}, {}):
            response = await client.post("/v1/sync/checkins", json=body, headers=parent.headers)
            assert response.status_code == 422, body

    async def test_statement_count_does_not_grow_with_the_batch(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        sql_statements: StatementLog,
    ) -> None:
        parent, habits = await _family_with_habits(client, connection, 5)
        counts = []
        for days in (range(1), range(1, 21)):  # new check-ins only: 5, then 100
            items = [_item(habit, day) for habit in habits for day in days]
            sql_statements.reset()
            response = await client.post(
                "/v1/sync/checkins", json={"items": items}, headers=parent.headers
            )
            assert response.status_code == 200
            counts.append(sql_statements.count)
        # setup, the rate limit's count, habits, versions, one upsert
        assert counts[0] == counts[1] == 5

    async def test_identical_replay_leaves_rows_untouched(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        parent, (habit,) = await _family_with_habits(client, connection, 1)
        items = [_item(habit, 1, note="same"), _item(habit, 2)]
        await client.post("/v1/sync/checkins", json={"items": items}, headers=parent.headers)
        stamp = "select max(updated_at) from checkins where habit_id = :habit"
        await connection.execute(text("update checkins set updated_at = '2000-01-01T00:00Z'"))
        again = await client.post(
            "/v1/sync/checkins", json={"items": items}, headers=parent.headers
        )
        assert [r["status"] for r in again.json()["results"]] == [200, 200]
        assert [r["checkin"]["note"] for r in again.json()["results"]] == ["same", None]
        untouched = await connection.scalar(text(stamp), {"habit": uuid.UUID(habit)})
        assert untouched.year == 2000
        changed = [_item(habit, 1, note="changed")]
        await client.post("/v1/sync/checkins", json={"items": changed}, headers=parent.headers)
        assert (await connection.scalar(text(stamp), {"habit": uuid.UUID(habit)})).year > 2000
