"""The OpenAPI document as a product: problem+json error bodies, bearer auth."""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_JSON


def _problems_as_problem_json(schema: dict[str, Any]) -> None:
    """FastAPI files every `responses` model under application/json; our errors are
    application/problem+json only, so move the schema there."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for response in operation.get("responses", {}).values():
                content = response.get("content", {})
                if PROBLEM_JSON in content and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")


_BODY_PROBLEMS = {
    "400": "Malformed request body: not UTF-8, not JSON, or nested too deeply",
    "413": "Request body too large",
}


def _body_problems_documented(schema: dict[str, Any]) -> None:
    """Every operation that takes a body can answer 400 (unparseable) and 413 (over the size
    limit) before its own code runs; say so, with the problem body."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if "requestBody" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _BODY_PROBLEMS.items():
                responses.setdefault(
                    status, {"description": description, "content": {PROBLEM_JSON: problem}}
                )


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _problems_as_problem_json(schema)
            _body_problems_documented(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def openapi_document() -> dict[str, Any]:
    """The document as the code declares it, independent of any environment."""
    from app.core.config import Settings
    from app.main import create_app

    settings = Settings(
        database_url="postgresql://openapi@localhost/openapi",
        supabase_jwt_secret="openapi-export-placeholder-secret-0000000000",  # noqa: S106
        _env_file=None,
    )
    return create_app(settings).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # `python -m app.core.openapi > openapi.json`
    sys.stdout.write(render(openapi_document()))
