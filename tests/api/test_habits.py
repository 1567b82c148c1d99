"""Habits: create (boolean/numeric, every schedule kind, retry-safe ids), list, read, change
(a target or schedule change is a new version from a date on), archive, soft delete; and the
history and stats that judge each past day by the version in force then."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.api_calls import check_in, post_habit
from tests.support.habits import (
    Household,
    Measure,
    create_checkin,
    create_habit,
    days_ago,
    habit_body,
    local_today,
)
from tests.support.tenancy import assert_problem, scalar


def habits_path(household: Household) -> str:
    return f"/v1/families/{household.family_id}/habits"


async def stored_habits(connection: AsyncConnection, family_id: uuid.UUID) -> int:
    count: int = await scalar(
        connection, "select count(*) from habits where family_id = :family", family=family_id
    )
    return count


class TestCreateHabit:
    async def test_boolean_daily_habit_is_created_and_readable(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        body = habit_body(household.teen_member, name="Brush teeth", color="#22AAff", icon="tooth")

        response = await post_habit(client, household.family_id, household.teen, body)

        assert response.status_code == 201, response.text
        habit = response.json()
        assert habit["name"] == "Brush teeth"
        assert habit["assignee_id"] == str(household.teen_member)
        assert habit["family_id"] == str(household.family_id)
        assert habit["type"] == "boolean"
        assert habit["target_value"] is None
        assert habit["schedule"] == {"kind": "daily"}
        assert habit["archived"] is False
        assert habit["current_version"] == 1
        # Default start: today where the assignee lives (UTC here).
        assert habit["start_date"] == str(local_today())
        assert response.headers["etag"] == f'"{habit["version"]}"'
        read = await client.get(f"/v1/habits/{habit['id']}", headers=household.admin.headers)
        assert read.status_code == 200
        assert read.json() == habit

    async def test_numeric_habit_keeps_target_unit_and_direction(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        body = habit_body(
            household.teen_member,
            name="Screen time",
            type="numeric",
            target_value=90,
            unit="min",
            target_direction="at_most",
        )

        response = await post_habit(client, household.family_id, household.teen, body)

        assert response.status_code == 201, response.text
        habit = response.json()
        assert habit["type"] == "numeric"
        assert habit["target_value"] == 90
        assert habit["unit"] == "min"
        assert habit["target_direction"] == "at_most"

    async def test_numeric_direction_defaults_to_at_least(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        body = habit_body(household.teen_member, type="numeric", target_value=2.5, unit="km")

        response = await post_habit(client, household.family_id, household.teen, body)

        assert response.status_code == 201, response.text
        assert response.json()["target_direction"] == "at_least"
        assert response.json()["target_value"] == 2.5

    @pytest.mark.parametrize(
        ("schedule", "stored"),
        [
            ({"kind": "daily"}, {"kind": "daily"}),
            (
                {"kind": "weekdays", "weekdays": [5, 1, 3]},
                {"kind": "weekdays", "weekdays": [1, 3, 5]},
            ),
            (
                {"kind": "per_period", "times": 3, "period": "week"},
                {"kind": "per_period", "times": 3, "period": "week"},
            ),
            (
                {"kind": "per_period", "times": 10, "period": "month"},
                {"kind": "per_period", "times": 10, "period": "month"},
            ),
        ],
        ids=["daily", "weekdays", "per-week", "per-month"],
    )
    async def test_every_schedule_kind(
        self,
        client: httpx.AsyncClient,
        household: Household,
        schedule: dict[str, Any],
        stored: dict[str, Any],
    ) -> None:
        response = await post_habit(
            client,
            household.family_id,
            household.teen,
            habit_body(household.teen_member, schedule=schedule),
        )

        assert response.status_code == 201, response.text
        assert response.json()["schedule"] == stored
        read = await client.get(
            f"/v1/habits/{response.json()['id']}", headers=household.teen.headers
        )
        assert read.json()["schedule"] == stored

    async def test_start_date_in_the_past_is_kept(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        start = days_ago(10)

        response = await post_habit(
            client,
            household.family_id,
            household.teen,
            habit_body(household.teen_member, start_date=str(start)),
        )

        assert response.status_code == 201, response.text
        assert response.json()["start_date"] == str(start)

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"type": "numeric", "unit": "min"}, None),  # numeric without target
            ({"type": "numeric", "target_value": 0}, "target_value"),
            ({"type": "boolean", "target_value": 5}, None),  # boolean with a target
            ({"schedule": {"kind": "weekdays", "weekdays": [0]}}, "schedule"),
            ({"schedule": {"kind": "weekdays", "weekdays": [8]}}, "schedule"),
            ({"schedule": {"kind": "weekdays", "weekdays": [1, 1]}}, "schedule"),
            ({"schedule": {"kind": "weekdays", "weekdays": []}}, "schedule"),
            ({"schedule": {"kind": "per_period", "times": 8, "period": "week"}}, "schedule"),
            ({"schedule": {"kind": "per_period", "times": 3, "period": "year"}}, "schedule"),
            ({"schedule": {"kind": "hourly"}}, "schedule"),
            ({"colour": "#ffffff"}, "colour"),  # unknown field
            ({"color": "red"}, "color"),
            ({"color": "#12345"}, "color"),
            ({"name": "   "}, "name"),
            ({"start_date": "2026-02-30"}, "start_date"),
            ({"assignee_id": "not-a-uuid"}, "assignee_id"),
        ],
        ids=[
            "numeric-without-target",
            "zero-target",
            "boolean-with-target",
            "weekday-0",
            "weekday-8",
            "weekday-repeated",
            "no-weekdays",
            "8-times-a-week",
            "per-year",
            "unknown-kind",
            "unknown-field",
            "color-name",
            "short-color",
            "blank-name",
            "impossible-start",
            "bad-assignee",
        ],
    )
    async def test_invalid_body_is_a_422_problem_with_errors(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        changes: dict[str, Any],
        field: str | None,
    ) -> None:
        response = await post_habit(
            client,
            household.family_id,
            household.teen,
            {**habit_body(household.teen_member), **changes},
        )

        body = assert_problem(response, 422, "validation_error")
        assert body["errors"]
        for error in body["errors"]:
            assert set(error) == {"loc", "msg", "type"}
            assert error["loc"][0] == "body"
        if field is not None:
            assert field in {error["loc"][1] for error in body["errors"] if len(error["loc"]) > 1}
        assert await stored_habits(connection, household.family_id) == 0

    async def test_retry_with_the_same_id_and_body_returns_the_habit(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        body = habit_body(household.teen_member, id=str(uuid.uuid4()), name="Stretch")

        first = await post_habit(client, household.family_id, household.teen, body)
        again = await post_habit(client, household.family_id, household.teen, body)

        assert first.status_code == 201, first.text
        assert again.status_code == 200, again.text
        assert again.json()["id"] == body["id"] == first.json()["id"]
        assert again.json()["name"] == "Stretch"
        assert await stored_habits(connection, household.family_id) == 1

    @pytest.mark.parametrize(
        "changes",
        [
            {"name": "Something else"},
            {"schedule": {"kind": "weekdays", "weekdays": [2]}},
            {"type": "numeric", "target_value": 3, "unit": "km"},
            {"color": "#000000"},
            {"icon": "book"},
            {"description": "Twenty pages"},
            {"sort_order": 4},
            {"start_date": "2026-01-01"},
        ],
        ids=["name", "schedule", "type", "color", "icon", "description", "sort-order", "start"],
    )
    async def test_same_id_with_a_different_body_is_a_conflict(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        changes: dict[str, Any],
    ) -> None:
        habit_id = str(uuid.uuid4())
        body = habit_body(household.teen_member, id=habit_id, name="Stretch")
        first = await post_habit(client, household.family_id, household.teen, body)
        assert first.status_code == 201

        response = await post_habit(
            client, household.family_id, household.teen, {**body, **changes}
        )

        assert_problem(response, 409, "id_conflict")
        read = await client.get(f"/v1/habits/{habit_id}", headers=household.teen.headers)
        assert read.json()["name"] == "Stretch"
        assert read.json()["schedule"] == {"kind": "daily"}
        assert await stored_habits(connection, household.family_id) == 1

    @pytest.mark.parametrize(
        "changes",
        [{"target_value": 30}, {"unit": "pages"}, {"target_direction": "at_most"}],
        ids=["target", "unit", "direction"],
    )
    async def test_same_id_with_a_different_measure_is_a_conflict(
        self, client: httpx.AsyncClient, household: Household, changes: dict[str, Any]
    ) -> None:
        body = habit_body(
            household.teen_member,
            id=str(uuid.uuid4()),
            type="numeric",
            target_value=20,
            unit="min",
            target_direction="at_least",
        )
        first = await post_habit(client, household.family_id, household.teen, body)
        assert first.status_code == 201

        response = await post_habit(
            client, household.family_id, household.teen, {**body, **changes}
        )

        assert_problem(response, 409, "id_conflict")

    async def test_retry_after_a_change_returns_the_habit_as_it_is_now(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        body = habit_body(
            household.teen_member, id=str(uuid.uuid4()), type="numeric", target_value=20
        )
        first = await post_habit(client, household.family_id, household.teen, body)
        changed = await client.patch(
            f"/v1/habits/{body['id']}", json={"target_value": 25}, headers=household.teen.headers
        )
        assert changed.status_code == 200, changed.text

        again = await post_habit(client, household.family_id, household.teen, body)

        assert first.status_code == 201
        assert again.status_code == 200, again.text
        current = await client.get(f"/v1/habits/{body['id']}", headers=household.teen.headers)
        assert again.json() == current.json()
        assert again.json()["target_value"] == 25

    async def test_id_of_another_familys_habit_is_a_conflict_without_leaking_it(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        foreign = await create_habit(
            connection, household.outsider_family_id, household.outsider_member, name="Secret"
        )

        response = await post_habit(
            client,
            household.family_id,
            household.teen,
            habit_body(household.teen_member, id=str(foreign)),
        )

        assert_problem(response, 409, "id_conflict")
        assert "Secret" not in response.text

    async def test_member_cannot_create_for_another_member(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        response = await post_habit(
            client, household.family_id, household.teen, habit_body(household.kid_member)
        )

        assert_problem(response, 403, "insufficient_role")
        assert await stored_habits(connection, household.family_id) == 0

    async def test_admin_creates_for_a_managed_kid(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await post_habit(
            client,
            household.family_id,
            household.admin,
            habit_body(household.kid_member, name="Feed the cat"),
        )

        assert response.status_code == 201, response.text
        assert response.json()["assignee_id"] == str(household.kid_member)
        listed = await client.get(
            habits_path(household),
            params={"assignee_id": str(household.kid_member)},
            headers=household.teen.headers,
        )
        assert [h["name"] for h in listed.json()["items"]] == ["Feed the cat"]

    async def test_assignee_must_be_a_member_of_the_family(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        response = await post_habit(
            client, household.family_id, household.owner, habit_body(household.outsider_member)
        )

        assert_problem(response, 404, "member_not_found")
        assert await stored_habits(connection, household.family_id) == 0

    async def test_outsider_gets_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        response = await post_habit(
            client, household.family_id, household.outsider, habit_body(household.outsider_member)
        )

        assert_problem(response, 404, "family_not_found")
        assert await stored_habits(connection, household.family_id) == 0


class TestListHabits:
    async def test_filters_by_assignee_and_archived(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        f = household.family_id
        await create_habit(connection, f, household.teen_member, name="Teen live")
        await create_habit(connection, f, household.teen_member, name="Teen old", archived=True)
        await create_habit(connection, f, household.kid_member, name="Kid live")
        await create_habit(connection, f, household.kid_member, name="Kid old", archived=True)

        async def names(**params: str) -> set[str]:
            response = await client.get(
                habits_path(household), params=params, headers=household.teen.headers
            )
            assert response.status_code == 200, response.text
            return {habit["name"] for habit in response.json()["items"]}

        assert await names() == {"Teen live", "Teen old", "Kid live", "Kid old"}
        assert await names(assignee_id=str(household.kid_member)) == {"Kid live", "Kid old"}
        assert await names(archived="false") == {"Teen live", "Kid live"}
        assert await names(archived="true") == {"Teen old", "Kid old"}
        assert await names(assignee_id=str(household.teen_member), archived="true") == {"Teen old"}

    async def test_pages_cover_every_habit_once(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        created = {
            str(await create_habit(connection, household.family_id, household.teen_member))
            for _ in range(5)
        }
        seen: list[str] = []
        cursor: str | None = None
        pages = 0

        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            response = await client.get(
                habits_path(household), params=params, headers=household.teen.headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            seen.extend(habit["id"] for habit in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break

        assert pages == 3
        assert sorted(seen) == sorted(created)

    async def test_other_familys_habits_are_not_listed(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        await create_habit(connection, household.family_id, household.teen_member, name="Ours")
        await create_habit(
            connection, household.outsider_family_id, household.outsider_member, name="Theirs"
        )

        response = await client.get(habits_path(household), headers=household.owner.headers)

        assert [habit["name"] for habit in response.json()["items"]] == ["Ours"]

    @pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "201"}, {"cursor": "nope"}])
    async def test_bad_paging_is_422(
        self, client: httpx.AsyncClient, household: Household, params: dict[str, str]
    ) -> None:
        response = await client.get(
            habits_path(household), params=params, headers=household.teen.headers
        )

        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"


class TestGetHabit:
    async def test_unknown_habit_is_404(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.get(f"/v1/habits/{uuid.uuid4()}", headers=household.teen.headers)

        assert_problem(response, 404, "habit_not_found")

    async def test_outsider_gets_exactly_the_404_of_a_missing_habit(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, name="Private"
        )

        hidden = await client.get(f"/v1/habits/{habit_id}", headers=household.outsider.headers)
        missing = await client.get(f"/v1/habits/{uuid.uuid4()}", headers=household.outsider.headers)

        assert_problem(hidden, 404, "habit_not_found")
        assert hidden.json() == missing.json()
        assert "Private" not in hidden.text


class TestUpdateHabit:
    async def test_rename_bumps_the_version_but_not_the_measure_version(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await client.patch(
            f"/v1/habits/{habit_id}", json={"name": "Read a book"}, headers=household.teen.headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "Read a book"
        assert response.json()["version"] == 2
        assert response.json()["current_version"] == 1
        assert response.headers["etag"] == '"2"'
        versions = await client.get(
            f"/v1/habits/{habit_id}/versions", headers=household.teen.headers
        )
        assert [v["number"] for v in versions.json()["items"]] == [1]

    async def test_archive_and_unarchive(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        path = f"/v1/habits/{habit_id}"

        archived = await client.patch(path, json={"archived": True}, headers=household.teen.headers)
        listed = await client.get(
            habits_path(household), params={"archived": "true"}, headers=household.teen.headers
        )
        restored = await client.patch(
            path, json={"archived": False}, headers=household.teen.headers
        )
        live = await client.get(
            habits_path(household), params={"archived": "false"}, headers=household.teen.headers
        )

        assert archived.status_code == 200, archived.text
        assert archived.json()["archived"] is True
        assert [h["id"] for h in listed.json()["items"]] == [str(habit_id)]
        assert restored.json()["archived"] is False
        assert [h["id"] for h in live.json()["items"]] == [str(habit_id)]

    async def test_target_change_creates_version_2_from_the_given_date(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        start = days_ago(20)
        habit_id = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            measure=Measure.numeric(20, "pages"),
            start_date=start,
        )
        effective = days_ago(3)

        response = await client.patch(
            f"/v1/habits/{habit_id}",
            json={"target_value": 10, "effective_from": str(effective)},
            headers=household.teen.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["current_version"] == 2
        assert response.json()["target_value"] == 10
        assert response.json()["unit"] == "pages"
        versions = await client.get(
            f"/v1/habits/{habit_id}/versions", headers=household.teen.headers
        )
        assert versions.status_code == 200
        assert [
            (v["number"], v["effective_from"], v["target_value"], v["unit"])
            for v in versions.json()["items"]
        ] == [(1, str(start), 20, "pages"), (2, str(effective), 10, "pages")]

    async def test_schedule_change_defaults_to_today(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await client.patch(
            f"/v1/habits/{habit_id}",
            json={"schedule": {"kind": "weekdays", "weekdays": [6, 7]}},
            headers=household.teen.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["schedule"] == {"kind": "weekdays", "weekdays": [6, 7]}
        versions = (
            await client.get(f"/v1/habits/{habit_id}/versions", headers=household.teen.headers)
        ).json()["items"]
        assert versions[1]["effective_from"] == str(local_today())
        assert versions[0]["schedule"] == {"kind": "daily"}

    async def test_target_on_a_boolean_habit_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await client.patch(
            f"/v1/habits/{habit_id}", json={"target_value": 3}, headers=household.teen.headers
        )

        assert_problem(response, 422, "invalid_habit_change")
        versions = await client.get(
            f"/v1/habits/{habit_id}/versions", headers=household.teen.headers
        )
        assert len(versions.json()["items"]) == 1

    async def test_stale_if_match_is_412_and_changes_nothing(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, name="Read"
        )
        path = f"/v1/habits/{habit_id}"
        first = await client.patch(
            path, json={"name": "Read more"}, headers={**household.teen.headers, "If-Match": '"1"'}
        )
        assert first.status_code == 200, first.text

        stale = await client.patch(
            path,
            json={"name": "Read less"},
            headers={**household.teen.headers, "If-Match": '"1"'},
        )

        assert_problem(stale, 412, "version_mismatch")
        read = await client.get(path, headers=household.teen.headers)
        assert read.json()["name"] == "Read more"
        assert read.json()["version"] == 2

    async def test_stale_version_in_body_is_412(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        await connection.execute(
            text("update habits set version = 4 where id = :id"), {"id": habit_id}
        )

        stale = await client.patch(
            f"/v1/habits/{habit_id}",
            json={"name": "Nope", "version": 3},
            headers=household.teen.headers,
        )
        current = await client.patch(
            f"/v1/habits/{habit_id}",
            json={"name": "Yes", "version": 4},
            headers=household.teen.headers,
        )

        assert_problem(stale, 412, "version_mismatch")
        assert current.status_code == 200
        assert current.json()["name"] == "Yes"

    async def test_unknown_field_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        response = await client.patch(
            f"/v1/habits/{habit_id}", json={"assignee": "x"}, headers=household.teen.headers
        )

        assert_problem(response, 422, "validation_error")

    async def test_member_cannot_change_another_members_habit(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.kid_member, name="Kid's"
        )

        response = await client.patch(
            f"/v1/habits/{habit_id}", json={"name": "Mine now"}, headers=household.teen.headers
        )

        assert_problem(response, 403, "not_assignee")
        read = await client.get(f"/v1/habits/{habit_id}", headers=household.teen.headers)
        assert read.json()["name"] == "Kid's"


class TestDeleteHabit:
    async def test_deleted_habit_disappears_from_reads(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.teen_member)
        keep = await create_habit(connection, household.family_id, household.teen_member)

        response = await client.delete(f"/v1/habits/{habit_id}", headers=household.teen.headers)

        assert response.status_code == 204
        assert response.content == b""
        for path in ("", "/versions", "/stats", "/history", "/checkins"):
            gone = await client.get(f"/v1/habits/{habit_id}{path}", headers=household.teen.headers)
            assert_problem(gone, 404, "habit_not_found")
        listed = await client.get(habits_path(household), headers=household.teen.headers)
        assert [h["id"] for h in listed.json()["items"]] == [str(keep)]
        again = await client.delete(f"/v1/habits/{habit_id}", headers=household.teen.headers)
        assert_problem(again, 404, "habit_not_found")

    async def test_admin_deletes_a_kids_habit_a_member_cannot(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(connection, household.family_id, household.kid_member)

        denied = await client.delete(f"/v1/habits/{habit_id}", headers=household.teen.headers)
        allowed = await client.delete(f"/v1/habits/{habit_id}", headers=household.admin.headers)

        assert_problem(denied, 403, "not_assignee")
        assert allowed.status_code == 204


class TestHabitVersionsJudgeThePast:
    async def test_each_day_is_judged_by_the_version_in_force_then(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            measure=Measure.numeric(20, "min"),
            start_date=days_ago(10),
        )
        await create_checkin(connection, habit_id, days_ago(5), value=15)
        change = await client.patch(
            f"/v1/habits/{habit_id}",
            json={"target_value": 10, "effective_from": str(days_ago(3))},
            headers=household.teen.headers,
        )
        assert change.status_code == 200, change.text
        put = await check_in(client, habit_id, days_ago(1), household.teen, value=15)
        assert put.status_code == 201, put.text

        history = await client.get(
            f"/v1/habits/{habit_id}/history",
            params={"from": str(days_ago(6)), "to": str(days_ago(1))},
            headers=household.teen.headers,
        )

        assert history.status_code == 200, history.text
        days = {item["date"]: (item["status"], item["value"]) for item in history.json()["items"]}
        assert days[str(days_ago(5))] == ("partial", 15)  # 15 of the old target 20
        assert days[str(days_ago(1))] == ("done", 15)  # 15 of the new target 10
        assert days[str(days_ago(4))] == ("missed", None)
        assert len(days) == 6

    async def test_schedule_change_keeps_past_due_days(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(14)
        )
        # From a week ago on, only on the weekday of yesterday.
        weekday = days_ago(1).isoweekday()
        change = await client.patch(
            f"/v1/habits/{habit_id}",
            json={
                "schedule": {"kind": "weekdays", "weekdays": [weekday]},
                "effective_from": str(days_ago(7)),
            },
            headers=household.teen.headers,
        )
        assert change.status_code == 200, change.text

        history = await client.get(
            f"/v1/habits/{habit_id}/history",
            params={"from": str(days_ago(10)), "to": str(days_ago(1))},
            headers=household.teen.headers,
        )

        statuses = {item["date"]: item["status"] for item in history.json()["items"]}
        # Daily before the change: every day was due.
        assert {statuses[str(days_ago(n))] for n in (10, 9, 8)} == {"missed"}
        # Weekly after it: only yesterday's weekday is due.
        assert statuses[str(days_ago(1))] == "missed"
        assert {statuses[str(days_ago(n))] for n in range(2, 8)} == {"not_due"}


class TestHabitStats:
    async def test_streaks_and_completion_rate(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(10)
        )
        for days in (1, 2, 3, 6, 7):
            await create_checkin(connection, habit_id, days_ago(days))

        response = await client.get(f"/v1/habits/{habit_id}/stats", headers=household.teen.headers)

        assert response.status_code == 200, response.text
        stats = response.json()
        assert stats["as_of"] == str(local_today())
        assert stats["current_streak"] == 3  # today is still open: it breaks nothing
        assert stats["best_streak"] == 3
        # Last 7 days, today not checked in yet: 6 days ago to yesterday, 4 of the 6 done.
        assert stats["completion_rate"]["days_7"] == pytest.approx(4 / 6)
        assert 0 < stats["score"] < 1

    async def test_skipped_day_keeps_the_streak(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection, household.family_id, household.teen_member, start_date=days_ago(4)
        )
        await create_checkin(connection, habit_id, days_ago(3))
        await create_checkin(connection, habit_id, days_ago(2), status="skipped")
        await create_checkin(connection, habit_id, days_ago(1))

        response = await client.get(f"/v1/habits/{habit_id}/stats", headers=household.teen.headers)

        assert response.json()["current_streak"] == 2


class TestHabitHistory:
    async def test_one_entry_per_day_with_every_status(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit_id = await create_habit(
            connection,
            household.family_id,
            household.teen_member,
            measure=Measure.numeric(4, "glasses"),
            start_date=days_ago(5),
        )
        await create_checkin(connection, habit_id, days_ago(4), value=4)
        await create_checkin(connection, habit_id, days_ago(3), value=2)
        await create_checkin(connection, habit_id, days_ago(2), status="skipped")

        response = await client.get(
            f"/v1/habits/{habit_id}/history",
            params={"from": str(days_ago(6))},
            headers=household.teen.headers,
        )

        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert [item["date"] for item in items] == [str(days_ago(n)) for n in range(6, -1, -1)]
        assert [item["status"] for item in items] == [
            "not_due",  # before the start
            "missed",
            "done",
            "partial",
            "skipped",
            "missed",
            "missed",  # today, not final yet
        ]
        assert items[2]["value"] == 4
        assert items[-1]["final"] is False
        assert items[-2]["final"] is True

    async def test_range_may_end_after_today(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        # The shared `from`/`to` refusals are in test_date_ranges.py.
        habit_id = await create_habit(connection, household.family_id, household.teen_member)

        future = await client.get(
            f"/v1/habits/{habit_id}/history",
            params={"from": str(days_ago(1)), "to": str(local_today() + timedelta(days=5))},
            headers=household.teen.headers,
        )

        assert future.status_code == 200
        assert future.json()["items"][-1]["date"] == str(local_today())
