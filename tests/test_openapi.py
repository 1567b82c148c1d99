"""The committed openapi.json is the contract the mobile team builds against: it must match
the code. Regenerate with `make openapi`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from app.api.openapi_export import openapi_document, render
from app.schemas.family import FamilyCreate
from app.schemas.habit import CheckinWrite, HabitCreate
from app.schemas.invitation import InvitationCreate
from app.schemas.routine import RoutineCreate

COMMITTED = Path(__file__).resolve().parents[1] / "openapi.json"


def test_committed_document_matches_the_code() -> None:
    assert COMMITTED.read_text() == render(openapi_document()), (
        "openapi.json is out of date: run `make openapi` and commit it"
    )


class TestDocumentQuality:
    document = json.loads(COMMITTED.read_text())

    def test_operation_ids_are_tag_and_name(self) -> None:
        operation_ids = [
            operation["operationId"]
            for path in self.document["paths"].values()
            for operation in path.values()
        ]
        assert len(operation_ids) == len(set(operation_ids))
        assert "families-create" in operation_ids
        assert "habits-create" in operation_ids
        assert "checkins-put" in operation_ids

    def test_every_error_response_is_problem_json(self) -> None:
        for route, path in self.document["paths"].items():
            for method, operation in path.items():
                for status, response in operation["responses"].items():
                    if status.startswith(("4", "5")):
                        content = response.get("content", {})
                        assert list(content) == ["application/problem+json"], (
                            f"{method.upper()} {route} {status}"
                        )

    def test_authenticated_routes_declare_bearer_and_401(self) -> None:
        for route, path in self.document["paths"].items():
            if not route.startswith("/v1/"):
                continue
            for method, operation in path.items():
                assert operation.get("security") == [{"HTTPBearer": []}], f"{method} {route}"
                assert "401" in operation["responses"], f"{method} {route}"


@pytest.mark.parametrize(
    "model", [FamilyCreate, HabitCreate, CheckinWrite, InvitationCreate, RoutineCreate]
)
def test_main_request_bodies_have_valid_examples(model: type[BaseModel]) -> None:
    """/docs shows these; a client that copies one must get past validation."""
    document = json.loads(COMMITTED.read_text())
    examples = document["components"]["schemas"][model.__name__].get("examples", [])
    assert len(examples) >= 2, model.__name__
    for example in examples:
        model.model_validate(example)
