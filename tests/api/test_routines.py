"""Routines: an ordered list of one member's habits. Every change of items or schedule is a
new immutable version; reads show the current one, the versions endpoints every one."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.habits import Household, create_habit, create_routine, days_ago, local_today
from tests.support.tenancy import assert_problem, scalar


def routines_path(household: Household) -> str:
    return f"/v1/families/{household.family_id}/routines"


def item_ids(version: dict[str, Any]) -> list[str]:
    items = version["items"]
    assert [item["position"] for item in items] == list(range(1, len(items) + 1))
    return [item["habit_id"] for item in items]


async def teen_habits(
    connection: AsyncConnection, household: Household, count: int
) -> list[uuid.UUID]:
    return [
        await create_habit(
            connection, household.family_id, household.teen_member, name=f"Habit {number}"
        )
        for number in range(count)
    ]


async def teen_routine(
    connection: AsyncConnection, household: Household, habit_count: int = 1
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A routine of the teen's over `habit_count` new habits of theirs: `(routine_id, habits)`."""
    habits = await teen_habits(connection, household, habit_count)
    routine_id = await create_routine(
        connection, household.family_id, household.teen_member, habits
    )
    return routine_id, habits


async def stored_routines(connection: AsyncConnection, household: Household) -> int:
    count: int = await scalar(
        connection, "select count(*) from routines where family_id = :f", f=household.family_id
    )
    return count


class TestCreateRoutine:
    async def test_items_keep_their_order(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        first, second, third = await teen_habits(connection, household, 3)
        ordered = [str(third), str(first), str(second)]

        response = await client.post(
            routines_path(household),
            json={
                "name": "Morning",
                "assignee_id": str(household.teen_member),
                "time_of_day": "07:30",
                "habit_ids": ordered,
            },
            headers=household.teen.headers,
        )

        assert response.status_code == 201, response.text
        routine = response.json()
        assert routine["name"] == "Morning"
        assert routine["time_of_day"] == "07:30:00"
        assert routine["current_version"]["number"] == 1
        assert routine["current_version"]["effective_from"] == str(local_today())
        assert item_ids(routine["current_version"]) == ordered
        read = await client.get(f"/v1/routines/{routine['id']}", headers=household.admin.headers)
        assert read.status_code == 200
        assert item_ids(read.json()["current_version"]) == ordered
        assert read.headers["etag"] == f'"{routine["version"]}"'

    async def test_admin_creates_a_kids_routine(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.kid_member)

        response = await client.post(
            routines_path(household),
            json={
                "name": "Bedtime",
                "assignee_id": str(household.kid_member),
                "habit_ids": [str(habit)],
                "schedule": {"kind": "weekdays", "weekdays": [1, 2, 3, 4, 5]},
            },
            headers=household.admin.headers,
        )

        assert response.status_code == 201, response.text
        assert response.json()["current_version"]["schedule"] == {
            "kind": "weekdays",
            "weekdays": [1, 2, 3, 4, 5],
        }

    async def test_member_cannot_create_for_someone_else(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.kid_member)

        response = await client.post(
            routines_path(household),
            json={
                "name": "Bedtime",
                "assignee_id": str(household.kid_member),
                "habit_ids": [str(habit)],
            },
            headers=household.teen.headers,
        )

        assert_problem(response, 403, "insufficient_role")
        assert await stored_routines(connection, household) == 0

    @pytest.mark.parametrize("owner", ["other-assignee", "other-family", "unknown", "deleted"])
    async def test_habits_of_the_same_family_and_assignee_only(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        owner: str,
    ) -> None:
        mine = await create_habit(connection, household.family_id, household.teen_member)
        if owner == "other-assignee":
            stranger = await create_habit(connection, household.family_id, household.kid_member)
        elif owner == "other-family":
            stranger = await create_habit(
                connection, household.outsider_family_id, household.outsider_member
            )
        elif owner == "unknown":
            stranger = uuid.uuid4()
        else:
            stranger = await create_habit(connection, household.family_id, household.teen_member)
            deleted = await client.delete(f"/v1/habits/{stranger}", headers=household.teen.headers)
            assert deleted.status_code == 204

        response = await client.post(
            routines_path(household),
            json={
                "name": "Mixed",
                "assignee_id": str(household.teen_member),
                "habit_ids": [str(mine), str(stranger)],
            },
            headers=household.owner.headers,
        )

        body = assert_problem(response, 422, "invalid_routine_items")
        assert body["habit_ids"] == [str(stranger)]
        assert await stored_routines(connection, household) == 0

    @pytest.mark.parametrize(
        "habit_ids",
        ["duplicate", "empty"],
    )
    async def test_invalid_item_lists(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        habit_ids: str,
    ) -> None:
        (habit,) = await teen_habits(connection, household, 1)
        ids = [str(habit), str(habit)] if habit_ids == "duplicate" else []

        response = await client.post(
            routines_path(household),
            json={"name": "Twice", "assignee_id": str(household.teen_member), "habit_ids": ids},
            headers=household.teen.headers,
        )

        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"][:2] == ["body", "habit_ids"]
        assert await stored_routines(connection, household) == 0

    async def test_retry_with_the_same_id(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        first_habit, second_habit = await teen_habits(connection, household, 2)
        body = {
            "id": str(uuid.uuid4()),
            "name": "Morning",
            "assignee_id": str(household.teen_member),
            "habit_ids": [str(first_habit), str(second_habit)],
        }

        created = await client.post(
            routines_path(household), json=body, headers=household.teen.headers
        )
        again = await client.post(
            routines_path(household), json=body, headers=household.teen.headers
        )
        different = await client.post(
            routines_path(household),
            json={**body, "habit_ids": [str(second_habit), str(first_habit)]},
            headers=household.teen.headers,
        )

        assert created.status_code == 201
        assert again.status_code == 200
        assert again.json()["id"] == body["id"]
        assert_problem(different, 409, "id_conflict")
        assert await stored_routines(connection, household) == 1

    @pytest.mark.parametrize(
        "changes",
        [
            {"name": "Evening"},
            {"time_of_day": "08:00"},
            {"schedule": {"kind": "weekdays", "weekdays": [1]}},
        ],
        ids=["name", "time", "schedule"],
    )
    async def test_same_id_with_a_different_body_is_a_conflict(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        changes: dict[str, Any],
    ) -> None:
        habits = await teen_habits(connection, household, 1)
        body = {
            "id": str(uuid.uuid4()),
            "name": "Morning",
            "assignee_id": str(household.teen_member),
            "time_of_day": "07:00",
            "schedule": {"kind": "daily"},
            "habit_ids": [str(habits[0])],
        }
        created = await client.post(
            routines_path(household), json=body, headers=household.teen.headers
        )
        assert created.status_code == 201, created.text

        response = await client.post(
            routines_path(household), json={**body, **changes}, headers=household.teen.headers
        )

        assert_problem(response, 409, "id_conflict")


class TestListRoutines:
    async def test_pages_without_deleted(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habits = await teen_habits(connection, household, 1)
        routine_ids = [
            str(
                await create_routine(
                    connection, household.family_id, household.teen_member, habits, name=f"R{n}"
                )
            )
            for n in range(3)
        ]
        deleted = await client.delete(
            f"/v1/routines/{routine_ids[1]}", headers=household.teen.headers
        )
        assert deleted.status_code == 204

        first = await client.get(
            routines_path(household), params={"limit": 1}, headers=household.owner.headers
        )
        second = await client.get(
            routines_path(household),
            params={"limit": 1, "cursor": first.json()["next_cursor"]},
            headers=household.owner.headers,
        )

        assert first.status_code == 200, first.text
        seen = [r["id"] for r in first.json()["items"] + second.json()["items"]]
        assert sorted(seen) == sorted([routine_ids[0], routine_ids[2]])
        assert second.json()["next_cursor"] is None

    async def test_outsider_gets_404(self, client: httpx.AsyncClient, household: Household) -> None:
        response = await client.get(routines_path(household), headers=household.outsider.headers)

        assert_problem(response, 404, "family_not_found")


class TestUpdateRoutine:
    async def test_new_items_make_version_2_and_version_1_stays(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        first, second, third = await teen_habits(connection, household, 3)
        routine_id = await create_routine(
            connection, household.family_id, household.teen_member, [first, second]
        )

        response = await client.patch(
            f"/v1/routines/{routine_id}",
            json={"habit_ids": [str(third), str(first)]},
            headers=household.teen.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["current_version"]["number"] == 2
        assert item_ids(response.json()["current_version"]) == [str(third), str(first)]
        read = await client.get(f"/v1/routines/{routine_id}", headers=household.teen.headers)
        assert item_ids(read.json()["current_version"]) == [str(third), str(first)]
        old = await client.get(
            f"/v1/routines/{routine_id}/versions/1", headers=household.teen.headers
        )
        assert old.status_code == 200
        assert old.json()["number"] == 1
        assert item_ids(old.json()) == [str(first), str(second)]
        versions = await client.get(
            f"/v1/routines/{routine_id}/versions", headers=household.teen.headers
        )
        assert [(v["number"], item_ids(v)) for v in versions.json()["items"]] == [
            (1, [str(first), str(second)]),
            (2, [str(third), str(first)]),
        ]

    async def test_schedule_change_is_a_version_with_the_same_items(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine_id, habits = await teen_routine(connection, household, 2)

        response = await client.patch(
            f"/v1/routines/{routine_id}",
            json={
                "schedule": {"kind": "weekdays", "weekdays": [6, 7]},
                "effective_from": str(days_ago(2)),
            },
            headers=household.admin.headers,
        )

        assert response.status_code == 200, response.text
        version = response.json()["current_version"]
        assert version["number"] == 2
        assert version["effective_from"] == str(days_ago(2))
        assert version["schedule"] == {"kind": "weekdays", "weekdays": [6, 7]}
        assert item_ids(version) == [str(h) for h in habits]

    async def test_rename_is_not_a_new_version(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine_id, _ = await teen_routine(connection, household)

        response = await client.patch(
            f"/v1/routines/{routine_id}",
            json={"name": "Evening", "time_of_day": "19:00"},
            headers=household.teen.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Evening"
        assert response.json()["version"] == 2
        assert response.json()["current_version"]["number"] == 1
        versions = await client.get(
            f"/v1/routines/{routine_id}/versions", headers=household.teen.headers
        )
        assert [v["number"] for v in versions.json()["items"]] == [1]

    async def test_items_of_someone_else_are_refused(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habits = await teen_habits(connection, household, 1)
        kids = await create_habit(connection, household.family_id, household.kid_member)
        routine_id = await create_routine(
            connection, household.family_id, household.teen_member, habits
        )

        response = await client.patch(
            f"/v1/routines/{routine_id}",
            json={"habit_ids": [str(kids)]},
            headers=household.owner.headers,
        )

        assert_problem(response, 422, "invalid_routine_items")
        versions = await client.get(
            f"/v1/routines/{routine_id}/versions", headers=household.teen.headers
        )
        assert len(versions.json()["items"]) == 1

    async def test_stale_if_match_is_412(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habits = await teen_habits(connection, household, 2)
        routine_id = await create_routine(
            connection, household.family_id, household.teen_member, habits[:1]
        )
        path = f"/v1/routines/{routine_id}"
        renamed = await client.patch(
            path, json={"name": "One"}, headers={**household.teen.headers, "If-Match": '"1"'}
        )
        assert renamed.status_code == 200

        stale = await client.patch(
            path,
            json={"habit_ids": [str(h) for h in habits]},
            headers={**household.teen.headers, "If-Match": '"1"'},
        )

        assert_problem(stale, 412, "version_mismatch")
        read = await client.get(path, headers=household.teen.headers)
        assert read.json()["current_version"]["number"] == 1

    async def test_member_cannot_change_someone_elses(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.kid_member)
        routine_id = await create_routine(
            connection, household.family_id, household.kid_member, [habit]
        )

        response = await client.patch(
            f"/v1/routines/{routine_id}", json={"name": "Mine"}, headers=household.teen.headers
        )

        assert_problem(response, 403, "not_assignee")


class TestRoutineVersions:
    async def test_unknown_version_number_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine_id, _ = await teen_routine(connection, household)

        missing = await client.get(
            f"/v1/routines/{routine_id}/versions/2", headers=household.teen.headers
        )
        zero = await client.get(
            f"/v1/routines/{routine_id}/versions/0", headers=household.teen.headers
        )

        assert_problem(missing, 404, "routine_version_not_found")
        assert zero.status_code == 422

    async def test_outsider_gets_404_for_versions(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine_id, _ = await teen_routine(connection, household)

        listed = await client.get(
            f"/v1/routines/{routine_id}/versions", headers=household.outsider.headers
        )
        one = await client.get(
            f"/v1/routines/{routine_id}/versions/1", headers=household.outsider.headers
        )

        assert_problem(listed, 404, "routine_not_found")
        assert_problem(one, 404, "routine_not_found")


class TestDeleteRoutine:
    async def test_deleted_routine_is_gone(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine_id, habits = await teen_routine(connection, household)

        response = await client.delete(f"/v1/routines/{routine_id}", headers=household.teen.headers)

        assert response.status_code == 204
        for path in ("", "/versions", "/versions/1"):
            gone = await client.get(
                f"/v1/routines/{routine_id}{path}", headers=household.teen.headers
            )
            assert_problem(gone, 404, "routine_not_found")
        listed = await client.get(routines_path(household), headers=household.teen.headers)
        assert listed.json()["items"] == []
        # The habits themselves stay.
        habit = await client.get(f"/v1/habits/{habits[0]}", headers=household.teen.headers)
        assert habit.status_code == 200

    async def test_member_cannot_delete_someone_elses(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.kid_member)
        routine_id = await create_routine(
            connection, household.family_id, household.kid_member, [habit]
        )

        denied = await client.delete(f"/v1/routines/{routine_id}", headers=household.teen.headers)
        allowed = await client.delete(f"/v1/routines/{routine_id}", headers=household.admin.headers)

        assert_problem(denied, 403, "not_assignee")
        assert allowed.status_code == 204
