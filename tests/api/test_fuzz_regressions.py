"""What the Schemathesis run (tests/test_fuzz.py) found, pinned as ordinary tests so it stays
fixed without the fuzzer: bad input is a clean 4xx problem, and answers match the document."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.habits import Household, create_habit, create_routine
from tests.support.tenancy import assert_problem

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "openapi.json").read_text())


async def _routine(connection: AsyncConnection, household: Household) -> tuple[uuid.UUID, str]:
    habit = await create_habit(connection, household.family_id, household.teen_member)
    routine = await create_routine(connection, household.family_id, household.teen_member, [habit])
    return routine, str(habit)


class TestRoutineHabitIdsNull:
    """`PATCH /v1/routines/{id}` with `{"habit_ids": null}` was a 500: the distinct-items
    validator iterated the None. Under the one PATCH rule for null (a routine always has
    items, so `null` cannot clear them) it is a 422 naming the field, and nothing changes."""

    async def test_null_habit_ids_is_a_422_that_changes_nothing(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine, habit = await _routine(connection, household)
        response = await client.patch(
            f"/v1/routines/{routine}",
            json={"habit_ids": None, "name": "Not renamed"},
            headers=household.teen.headers,
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["body", "habit_ids"]
        body = (await client.get(f"/v1/routines/{routine}", headers=household.teen.headers)).json()
        assert body["name"] != "Not renamed"
        assert [item["habit_id"] for item in body["current_version"]["items"]] == [habit]

    async def test_repeated_habit_ids_are_still_refused(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine, habit = await _routine(connection, household)
        response = await client.patch(
            f"/v1/routines/{routine}",
            json={"habit_ids": [habit, habit]},
            headers=household.teen.headers,
        )
        assert_problem(response, 422, "validation_error")


class TestTimeOfDay:
    """`time_of_day` was documented as JSON Schema `format: time`, which requires a UTC
    offset, while the API answers a local wall-clock time ("07:30:00"); and an offset or a
    number of seconds in a request was silently accepted."""

    @pytest.mark.parametrize("value", ["07:30:00Z", "07:30:00+02:00", 27000])
    async def test_offsets_and_numbers_are_422(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        value: object,
    ) -> None:
        routine, _ = await _routine(connection, household)
        response = await client.patch(
            f"/v1/routines/{routine}",
            json={"time_of_day": value},
            headers=household.teen.headers,
        )
        body = assert_problem(response, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["body", "time_of_day"]

    async def test_the_answer_matches_the_documented_pattern(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        routine, _ = await _routine(connection, household)
        response = await client.patch(
            f"/v1/routines/{routine}",
            json={"time_of_day": "07:30"},
            headers=household.teen.headers,
        )
        assert response.status_code == 200, response.text
        documented = DOCUMENT["components"]["schemas"]["RoutineRead"]["properties"]
        [local_time, _null] = documented["time_of_day"]["anyOf"]
        assert "format" not in local_time
        assert re.match(local_time["pattern"], response.json()["time_of_day"])


class TestBodyErrorsAreDocumented:
    """A body that is not UTF-8 answers 400 before any route code runs; that status was not
    in the document for the operations that take a body."""

    async def test_undecodable_body_is_a_documented_400(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.patch(
            "/v1/me",
            content=b'{"full_name": "\xff"}',
            headers={**household.owner.headers, "content-type": "application/json"},
        )
        assert_problem(response, 400, "bad_request")
        responses = DOCUMENT["paths"]["/v1/me"]["patch"]["responses"]
        assert "400" in responses

    def test_every_operation_with_a_body_documents_400_and_413(self) -> None:
        for route, path in DOCUMENT["paths"].items():
            for method, operation in path.items():
                if "requestBody" in operation:
                    for status in ("400", "413"):
                        content = operation["responses"][status]["content"]
                        assert list(content) == ["application/problem+json"], (method, route)


class TestRetriedCreatesAreDocumented:
    """A retried create answers 200 with the resource; the 200 had no body schema."""

    @pytest.mark.parametrize(
        ("route", "model"),
        [
            ("/v1/families", "FamilyRead"),
            ("/v1/families/{family_id}/members", "MemberRead"),
            ("/v1/families/{family_id}/habits", "HabitRead"),
            ("/v1/families/{family_id}/routines", "RoutineRead"),
            ("/v1/families/{family_id}/invitations", "InvitationCreated"),
        ],
    )
    def test_200_has_the_resource_schema(self, route: str, model: str) -> None:
        ok = DOCUMENT["paths"][route]["post"]["responses"]["200"]
        schema = ok["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{model}"}

    async def test_retried_family_create_is_200_with_the_family(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        body = {"id": str(uuid.uuid4()), "name": "Twice"}
        first = await client.post("/v1/families", json=body, headers=household.owner.headers)
        again = await client.post("/v1/families", json=body, headers=household.owner.headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()


class TestBodyThatIsNotText:
    """A check-in PUT whose JSON body is not UTF-8 (`\\xb6`, or five NUL bytes that look like
    UTF-32) was a 500 on the hot routes' pipeline: FastAPI answers such a body 400."""

    @pytest.mark.parametrize("content", [b"\xb6", b"\x00\x00\x00\x00\x00"], ids=["latin", "nul"])
    async def test_is_a_400_problem_and_writes_nothing(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        content: bytes,
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.teen_member)
        response = await client.put(
            f"/v1/habits/{habit}/checkins/2026-01-01",
            content=content,
            headers={**household.teen.headers, "Content-Type": "application/json"},
        )
        assert_problem(response, 400, "bad_request")
        count = await connection.scalar(
            text("select count(*) from checkins where habit_id = :habit"), {"habit": habit}
        )
        assert count == 0
