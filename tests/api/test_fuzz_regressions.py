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

from tests.support.api_calls import post_habit
from tests.support.habits import Household, create_habit, create_routine, habit_body
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


# --- found by the negative-data run with every check on (issue 16) ---------------------------

SCHEMAS = DOCUMENT["components"]["schemas"]


class TestMethodNotAllowed:
    """A 405 listed in `Allow` only the methods of the first route matching the path (each
    method of a path is a route of its own): `POST /v1/habits/{id}` said `Allow: GET`."""

    async def test_allow_lists_every_method_of_the_path(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.teen_member)
        response = await client.post(f"/v1/habits/{habit}", headers=household.teen.headers)
        assert_problem(response, 405, "method_not_allowed")
        documented = {m.upper() for m in DOCUMENT["paths"]["/v1/habits/{habit_id}"]}
        assert (
            set(response.headers["allow"].split(", "))
            == documented
            == {
                "GET",
                "PATCH",
                "DELETE",
            }
        )
        assert "PATCH" in response.json()["detail"]


class TestIfMatchAsDocumented:
    """`If-Match: null` was schema-valid (any string) and answered 400 `invalid_if_match`:
    the document now gives the header the shape the server parses."""

    PATTERN = re.compile(
        DOCUMENT["paths"]["/v1/habits/{habit_id}"]["patch"]["parameters"][1]["schema"]["pattern"]
    )

    @pytest.mark.parametrize("value", ['"3"', 'W/"3"', "3", "*"])
    def test_what_the_document_allows_the_server_parses(self, value: str) -> None:
        from app.api.params import parse_if_match

        assert self.PATTERN.fullmatch(value)
        parse_if_match(value)

    @pytest.mark.parametrize("value", ["null", '"3', "", "W/3x"])
    def test_what_the_server_refuses_the_document_refuses(self, value: str) -> None:
        assert not self.PATTERN.fullmatch(value)


class TestWholeNumbers:
    """JSON Schema's `integer` includes 4.0, which strict ints refused as schema-valid input;
    a string or a boolean is still no integer."""

    async def test_an_integral_float_is_an_integer(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        body = habit_body(
            household.teen_member, schedule={"kind": "per_period", "times": 4.0, "period": "month"}
        )
        response = await post_habit(client, household.family_id, household.teen, body)
        assert response.status_code == 201, response.text
        assert response.json()["schedule"]["times"] == 4

    @pytest.mark.parametrize("times", [4.5, "4", True])
    async def test_anything_else_is_422(
        self, client: httpx.AsyncClient, household: Household, times: object
    ) -> None:
        body = habit_body(
            household.teen_member,
            schedule={"kind": "per_period", "times": times, "period": "month"},
        )
        response = await post_habit(client, household.family_id, household.teen, body)
        assert_problem(response, 422, "validation_error")

    def test_bounds_are_json_schema_bounds(self) -> None:
        version = SCHEMAS["FamilyUpdate"]["properties"]["version"]
        assert (version["minimum"], version["maximum"]) == (1, 2**31 - 1)
        assert '"ge"' not in json.dumps(DOCUMENT)


class TestRulesTheSchemaStates:
    """Requests the document allowed and the server refused: now the document says so."""

    def test_a_numeric_habit_needs_a_target_in_the_document(self) -> None:
        create = SCHEMAS["HabitCreate"]
        assert create["if"]["properties"]["type"] == {"const": "numeric"}
        assert create["then"]["required"] == ["target_value"]

    async def test_and_on_the_server(self, client: httpx.AsyncClient, household: Household) -> None:
        response = await post_habit(
            client,
            household.family_id,
            household.teen,
            habit_body(household.teen_member, type="numeric", unit="min"),
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["msg"] == "numeric habits need target_value > 0"

    @pytest.mark.parametrize("name", ["\u0002 1\u0014", "   ", "tab\there"])
    def test_names_without_visible_text_or_with_control_characters(self, name: str) -> None:
        pattern = SCHEMAS["FamilyCreate"]["properties"]["name"]["pattern"]
        assert not re.fullmatch(pattern, name)

    def test_dates_outside_2000_to_2100(self) -> None:
        board = DOCUMENT["paths"]["/v1/me/today"]["get"]["parameters"][0]["schema"]
        pattern = next(branch for branch in board["anyOf"] if "pattern" in branch)["pattern"]
        assert not re.fullmatch(pattern, "0206-03-13")
        assert re.fullmatch(pattern, "2026-03-13")

    def test_week_schedules_at_most_seven_times(self) -> None:
        per_period = SCHEMAS["PerPeriodSchedule"]
        assert per_period["then"]["properties"]["times"]["maximum"] == 7

    def test_business_rules_are_listed_on_their_operations(self) -> None:
        put = DOCUMENT["paths"]["/v1/habits/{habit_id}/checkins/{date}"]["put"]
        assert {"before_start", "date_in_future"} <= set(put["responses"]["422"]["x-problem-codes"])
        sync = DOCUMENT["paths"]["/v1/sync"]["get"]
        assert sync["responses"]["422"]["x-problem-codes"] == ["invalid_cursor"]


class TestMessagesForPeople:
    """Validation messages carried pydantic's "Value error, " prefix."""

    async def test_no_library_words_in_a_422(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.post(
            f"/v1/families/{household.family_id}/members",
            json={"display_name": "\u0002 1"},
            headers=household.owner.headers,
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["msg"] == "must not contain control characters"
        assert "Value error" not in response.text
        assert "pydantic" not in response.text


class TestInvitationEmails:
    """`format: email` allowed `0@0.test`, which the email library refused as a special-use
    domain: an invitation only names who may accept it, nothing is sent there."""

    async def test_a_special_use_domain_is_an_address(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.post(
            f"/v1/families/{household.family_id}/invitations",
            json={"role": "member", "email": "gran@home.test"},
            headers=household.owner.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["email"] == "gran@home.test"

    async def test_what_is_no_address_is_refused_in_words_for_people(
        self, client: httpx.AsyncClient, household: Household
    ) -> None:
        response = await client.post(
            f"/v1/families/{household.family_id}/invitations",
            json={"role": "member", "email": "gran.at.home"},
            headers=household.owner.headers,
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["msg"].startswith("must be an email address")
