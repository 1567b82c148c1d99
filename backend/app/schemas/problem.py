"""The error body every non-2xx answer carries (RFC 9457), and the one helper routes use to
declare their extra answers in the OpenAPI document: problem statuses (with `Retry-After`
where a retry is the answer) and success statuses that carry an `ETag`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.core.problem_codes import meaning_of, status_of


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(
        description="Where: `body`, `query`, `path` or `header`, then the field."
    )
    msg: str = Field(description="What is wrong, for a person.")
    type: str = Field(description="A machine-readable kind of issue, like `missing`.")


class Problem(BaseModel):
    """An error answer (RFC 9457). `code` is stable: switch on it, not on `title` or
    `detail`, which are for people."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    # The enum of codes with their meanings is filled in from the registry when the
    # document is built (app.api.openapi): codes are declared where they are raised.
    code: str
    errors: list[ValidationIssue] | None = None


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired access token",
    403: "Your role in the family does not allow this",
    404: "Not found, or not visible to you",
    405: "The path does not take this method; `Allow` lists the ones it takes",
    409: "Conflicts with the current state",
    410: "No longer valid",
    412: "The resource changed since you read it (stale `If-Match` or `version`)",
    413: "Request body too large",
    422: "The request is not valid",
    429: "Too many requests; retry after `Retry-After` seconds",
    503: (
        "Temporarily unavailable, retry after `Retry-After` seconds: `database_unavailable`,"
        " `database_busy`, or `auth_unavailable` (the token's signing keys cannot be fetched"
        " and none are known; never a 401, so the app keeps the user signed in)"
    ),
}
# Answers whose remedy is to wait: they carry Retry-After.
RETRY_STATUSES = frozenset({429, 503})
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before retrying.",
    "schema": {"type": "integer", "minimum": 0},
}
ETAG_HEADER = {
    "description": 'The resource\'s version as an entity tag (`"3"`): send it back as '
    "`If-Match` to make a change conditional.",
    "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for exactly these statuses, all with the problem+json body."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, "Error"),
            "content": {"application/problem+json": {}},
        }
        if status in RETRY_STATUSES:
            response["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
        responses[status] = response
    return responses


def rate_limited() -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a rate-limited route: 429 `rate_limited`, with Retry-After."""
    responses = problem_responses(429)
    responses[429]["description"] = (
        "`rate_limited`: too many such requests from your login this minute; retry after"
        " `Retry-After` seconds"
    )
    return responses


def problems(
    *statuses: int,
    etag_on: Iterable[int] = (),
    ok: Mapping[int, dict[str, Any]] | None = None,
    rules: Iterable[str] = (),
) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a `/v1` route: 401 (token), 422 (input) and 503 (database away)
    always, plus `statuses`; `ok` adds success answers besides the route's own (a retried
    create's 200), and `etag_on` names the success statuses that carry an `ETag`.

    `rules` are the codes of the rules that can refuse a request the schema allows (a date
    before the habit's start, a stale version, a cursor this API did not issue): each is
    listed on its status as `x-problem-codes`, with its meaning, so a client knows what to
    expect and the fuzzer knows such a refusal is not a schema bug."""
    rule_codes = list(rules)
    rule_statuses = [status_of(code) for code in rule_codes]
    responses = problem_responses(401, 422, 503, *statuses, *rule_statuses)
    for code, status in zip(rule_codes, rule_statuses, strict=True):
        entry = responses[status]
        entry.setdefault("x-problem-codes", []).append(code)
        entry["description"] = f"{entry['description']}; `{code}`: {meaning_of(code)}"
    for status, response in (ok or {}).items():
        responses[status] = dict(response)
    for status in etag_on:
        entry = responses.setdefault(status, {})
        entry["headers"] = {**entry.get("headers", {}), "ETag": ETAG_HEADER}
    return responses
