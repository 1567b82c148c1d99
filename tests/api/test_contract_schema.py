"""The OpenAPI document is precise enough for a generated client: typed batch items and
results, sync changes keyed on `type`, schedules and codes as enums, the answers and headers
each operation can give; and the server holds requests to it (strict numbers and booleans,
one PATCH rule for null)."""

from __future__ import annotations

import ast
import json
import re
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.api.openapi_export import openapi_document
from app.core.problem_codes import is_registered, registered
from app.services.sync import TYPE_ORDER
from tests.support.api_calls import check_in, post_habit
from tests.support.habits import (
    Household,
    Measure,
    create_habit,
    create_routine,
    habit_body,
    local_today,
)
from tests.support.tenancy import assert_problem

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = openapi_document()
SCHEMAS = DOCUMENT["components"]["schemas"]


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
    ]


class TestTypedPayloads:
    def test_batch_items_are_batch_checkin_items(self) -> None:
        items = SCHEMAS["BatchCheckinsRequest"]["properties"]["items"]
        assert items["items"] == {"$ref": "#/components/schemas/BatchCheckinItem"}
        item = SCHEMAS["BatchCheckinItem"]
        assert item["additionalProperties"] is False  # a typo like `statuss` is refused
        assert {"habit_id", "date", "status"} <= set(item["required"])

    def test_batch_results_carry_a_problem(self) -> None:
        problem = SCHEMAS["BatchCheckinResult"]["properties"]["problem"]
        assert {"$ref": "#/components/schemas/Problem"} in problem["anyOf"]

    def test_change_is_a_union_keyed_on_type_covering_every_entity(self) -> None:
        changes = SCHEMAS["SyncPage"]["properties"]["changes"]["items"]
        mapping = changes["discriminator"]["mapping"]
        assert changes["discriminator"]["propertyName"] == "type"
        assert set(mapping) == set(TYPE_ORDER)
        reads = {
            "family": "FamilyRead",
            "habit": "HabitRead",
            "habit_version": "HabitVersionSynced",
            "routine_version": "RoutineVersionSynced",
            "checkin": "CheckinRead",
        }
        for kind, read in reads.items():
            change = SCHEMAS[mapping[kind].rsplit("/", 1)[1]]
            assert {"$ref": f"#/components/schemas/{read}"} in change["properties"]["data"]["anyOf"]

    @pytest.mark.parametrize(
        "model", ["HabitRead", "HabitVersionRead", "RoutineVersionRead", "HabitCreate"]
    )
    def test_every_schedule_is_the_union(self, model: str) -> None:
        schedule = json.dumps(SCHEMAS[model]["properties"]["schedule"])
        for kind in ("DailySchedule", "WeekdaysSchedule", "PerPeriodSchedule"):
            assert f"#/components/schemas/{kind}" in schedule, model

    def test_board_schedule_kind_is_an_enum(self) -> None:
        kind = SCHEMAS["BoardHabit"]["properties"]["schedule_kind"]
        assert sorted(kind["enum"]) == ["daily", "per_period", "weekdays"]

    def test_amounts_are_numbers_only(self) -> None:
        value = SCHEMAS["CheckinWrite"]["properties"]["value"]
        assert {branch["type"] for branch in value["anyOf"]} == {"number", "null"}

    def test_request_defaults_are_in_words_so_generated_types_keep_them_optional(self) -> None:
        habit = SCHEMAS["HabitCreate"]
        assert "sort_order" not in habit["required"]
        assert "default" not in habit["properties"]["sort_order"]
        assert "Default: `0`." in habit["properties"]["sort_order"]["description"]
        assert (
            "Default: `72`."
            in SCHEMAS["InvitationCreate"]["properties"]["expires_in_hours"]["description"]
        )

    def test_no_generated_generic_names(self) -> None:
        assert not [name for name in SCHEMAS if not re.fullmatch(r"[A-Za-z]+", name)]


class TestProblemCodes:
    def test_code_is_the_registry_as_an_enum_with_meanings(self) -> None:
        code = SCHEMAS["Problem"]["properties"]["code"]
        assert code["enum"] == [entry.code for entry in registered()]
        for entry in registered():
            assert code["x-enumDescriptions"][entry.code] == entry.meaning
            assert len(entry.meaning) > 10, entry.code

    def test_every_code_the_source_answers_with_is_registered(self) -> None:
        """Codes are raised as `code="..."`, declared as a class's `code = "..."`, or answered
        with `problem_response(status, "...")`: each must be in the registry (and so in the
        enum); a new one without a meaning fails here."""
        found: set[str] = set()
        for path in (ROOT / "backend" / "app").rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.keyword) and node.arg == "code") or (
                    isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets)
                ):
                    found |= _strings(node.value)
                elif (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", None) == "problem_response"
                    and len(node.args) > 1
                ):
                    found |= _strings(node.args[1])
        assert found, "the scan found no codes at all"
        assert sorted(code for code in found if not is_registered(code)) == []


def _strings(node: ast.expr) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    return set()


class TestDocumentedAnswers:
    def test_every_v1_operation_documents_503_with_retry_after(self) -> None:
        for path, method, operation in _operations():
            if path.startswith("/v1/"):
                answer = operation["responses"]["503"]
                assert "Retry-After" in answer["headers"], f"{method} {path}"

    def test_public_routes_need_no_token(self) -> None:
        for path, method, operation in _operations():
            if path.startswith("/health"):
                assert operation["security"] == [], f"{method} {path}"

    @pytest.mark.parametrize("kind", ["families", "habits", "routines"])
    def test_versioned_resources_document_etag_if_match_and_412(self, kind: str) -> None:
        single = next(p for p in DOCUMENT["paths"] if re.fullmatch(rf"/v1/{kind}/\{{\w+\}}", p))
        get, patch = DOCUMENT["paths"][single]["get"], DOCUMENT["paths"][single]["patch"]
        assert "ETag" in get["responses"]["200"]["headers"]
        assert "ETag" in patch["responses"]["200"]["headers"]
        assert "412" in patch["responses"]
        assert "if-match" in [p["name"].lower() for p in patch["parameters"]]

    def test_patch_bodies_state_which_fields_null_clears(self) -> None:
        habit = SCHEMAS["HabitUpdate"]["properties"]
        for clearable in ("description", "color", "icon", "unit", "target_value"):
            assert {"type": "null"} in habit[clearable]["anyOf"], clearable
            assert "`null` clears it" in habit[clearable]["description"]
        for kept in ("name", "sort_order", "archived", "type", "schedule"):
            assert "null" not in json.dumps(habit[kept]), kept
            assert "default" not in habit[kept], kept


async def _teens_numeric_habit(connection: AsyncConnection, household: Household) -> uuid.UUID:
    return await create_habit(
        connection,
        household.family_id,
        household.teen_member,
        measure=Measure.numeric(5),
        start_date=local_today() - timedelta(days=3),
    )


class TestStrictInput:
    @pytest.mark.parametrize(
        "fields",
        [{"archived": 0}, {"archived": "false"}, {"sort_order": "5"}, {"sort_order": True}],
    )
    async def test_no_coercion_in_a_habit_patch(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        fields: dict[str, object],
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.teen_member)
        response = await client.patch(
            f"/v1/habits/{habit}", json=fields, headers=household.teen.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["loc"] == ["body", next(iter(fields))]
        assert "pydantic" not in response.text

    @pytest.mark.parametrize("value", ["5", True])
    async def test_a_checkin_value_is_a_number(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        value: object,
    ) -> None:
        habit = await _teens_numeric_habit(connection, household)
        response = await check_in(client, habit, local_today(), household.teen, value=value)
        assert_problem(response, 422, "validation_error")

    async def test_a_float_value_is_kept_to_three_places(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit = await _teens_numeric_habit(connection, household)
        response = await check_in(client, habit, local_today(), household.teen, value=0.1 + 0.2)
        assert response.status_code == 201, response.text
        assert response.json()["value"] == 0.3


class TestPatchNullRule:
    async def test_null_clears_a_clearable_field(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        created = await post_habit(
            client,
            household.family_id,
            household.teen,
            habit_body(household.teen_member, description="Before bed", color="#112233"),
        )
        habit = created.json()["id"]
        response = await client.patch(
            f"/v1/habits/{habit}", json={"description": None}, headers=household.teen.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["description"] is None
        assert response.json()["color"] == "#112233"  # left out: unchanged

    @pytest.mark.parametrize(
        "field", ["name", "sort_order", "archived", "type", "schedule", "effective_from"]
    )
    async def test_null_for_a_field_that_cannot_be_empty_is_422_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        household: Household,
        field: str,
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.teen_member)
        before = (await client.get(f"/v1/habits/{habit}", headers=household.teen.headers)).json()
        response = await client.patch(
            f"/v1/habits/{habit}", json={field: None}, headers=household.teen.headers
        )
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"] == [
            {
                "loc": ["body", field],
                "msg": "cannot be null: leave the field out to keep its value",
                "type": "null_not_allowed",
            }
        ]
        after = (await client.get(f"/v1/habits/{habit}", headers=household.teen.headers)).json()
        assert after == before

    async def test_the_same_rule_for_routines_families_and_me(
        self, client: httpx.AsyncClient, connection: AsyncConnection, household: Household
    ) -> None:
        habit = await create_habit(connection, household.family_id, household.teen_member)
        routine = await create_routine(
            connection, household.family_id, household.teen_member, [habit]
        )
        headers = household.teen.headers
        for path, body in (
            (f"/v1/routines/{routine}", {"name": None}),
            (f"/v1/families/{household.family_id}", {"timezone": None}),
            ("/v1/me", {"timezone": None}),
            ("/v1/me", {"notification_enabled": None}),
        ):
            owner = household.owner.headers if "families" in path else headers
            response = await client.patch(path, json=body, headers=owner)
            assert_problem(response, 422, "validation_error")
        cleared = await client.patch(
            f"/v1/routines/{routine}", json={"time_of_day": None}, headers=headers
        )
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["time_of_day"] is None
