"""The OpenAPI document as a product: problem+json error bodies with the registry's codes,
bearer auth, the answers every operation can give."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_JSON
from app.core.problem_codes import registered
from app.schemas.common import RequestModel
from app.schemas.habit import BatchCheckinItem


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


def _problem_codes_enumerated(schema: dict[str, Any]) -> None:
    """`Problem.code` as the enum of every registered code, each with its meaning, so a
    client can switch over them exhaustively. Built from the registry, never listed here."""
    codes = registered()
    problem = schema["components"]["schemas"]["Problem"]
    problem["properties"]["code"] = {
        "type": "string",
        "title": "Code",
        "enum": [entry.code for entry in codes],
        "x-enumDescriptions": {entry.code: entry.meaning for entry in codes},
        "description": "Stable machine code; switch on it. Meanings:\n\n"
        + "\n".join(f"- `{entry.code}` ({entry.status}): {entry.meaning}" for entry in codes),
    }


def _documented_only_models(schema: dict[str, Any]) -> None:
    """Models the document names that no route validates as a whole (batch items are
    validated one by one, `app.schemas.habit.BatchCheckinsRequest`)."""
    components = schema["components"]["schemas"]
    item = BatchCheckinItem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in item.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components["BatchCheckinItem"] = item


def _request_defaults_in_words(schema: dict[str, Any]) -> None:
    """A request field with a default is optional to send; generators such as
    openapi-typescript read `default` as "always present" and would make the client send it.
    So request bodies state their defaults in words (`Default: 72.`) instead."""
    request_models = {model.__name__ for model in _subclasses(RequestModel)}
    for name, component in schema["components"]["schemas"].items():
        if name not in request_models:
            continue
        for field in component.get("properties", {}).values():
            if "default" not in field:
                continue
            default = field.pop("default")
            if default is not None:
                note = f"Default: `{json.dumps(default)}`."
                field["description"] = f"{field.get('description', '')} {note}".strip()


def _subclasses(cls: type[RequestModel]) -> list[type[RequestModel]]:
    found: list[type[RequestModel]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _bounds_in_json_schema_words(node: object) -> None:
    """Bounds on a number that pydantic validates through a function first (StrictInt) come
    out under their Python names (`ge`, `le`); JSON Schema calls them minimum and maximum."""
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for python_name, json_name in _BOUNDS.items():
                if python_name in node:
                    node[json_name] = node.pop(python_name)
        for value in node.values():
            _bounds_in_json_schema_words(value)
    elif isinstance(node, list):
        for item in node:
            _bounds_in_json_schema_words(item)


def _form_bodies_named(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI names a multipart body after its operation (`Body_imports-import_loop`), a
    name no client should have to type: `ImportLoopForm` instead, every reference too."""
    schemas = schema.get("components", {}).get("schemas", {})
    renames = {
        old: "".join(part.capitalize() for part in old.split("-", 1)[-1].split("_")) + "Form"
        for old in schemas
        if old.startswith("Body_")
    }
    if not renames:
        return schema
    text = json.dumps(schema)
    for old, new in renames.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
        text = text.replace(f'"{old}":', f'"{new}":')
    renamed: dict[str, Any] = json.loads(text)
    for new in renames.values():
        renamed["components"]["schemas"][new]["title"] = new
    return renamed


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
                # Paths are relative to wherever the API is served; no host is assumed.
                servers=[{"url": "/", "description": "The server this document came from"}],
            )
            _problems_as_problem_json(schema)
            _body_problems_documented(schema)
            _problem_codes_enumerated(schema)
            _documented_only_models(schema)
            _request_defaults_in_words(schema)
            _bounds_in_json_schema_words(schema)
            schema = _form_bodies_named(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
