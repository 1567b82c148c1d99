"""The error body every non-2xx answer carries (RFC 9457), for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[ValidationIssue] | None = None


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired access token",
    403: "Your role in the family does not allow this",
    404: "Not found, or not visible to you",
    409: "Conflicts with the current state",
    410: "No longer valid",
    412: "The resource changed since you read it",
    422: "The request is not valid",
    503: (
        "Temporarily unavailable, retry after `Retry-After` seconds: `database_unavailable`,"
        " `database_busy`, or `auth_unavailable` (the token's signing keys cannot be fetched"
        " and none are known; never a 401, so the app keeps the user signed in)"
    ),
}


def rate_limited() -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for a rate-limited route."""
    return {
        429: {
            "model": Problem,
            "description": (
                "`rate_limited`: too many such requests from your login this minute; retry"
                " after `Retry-After` seconds"
            ),
            "content": {"application/problem+json": {}},
        }
    }


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, all with the problem+json body."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {}},
        }
        for status in (401, 422, 503, *statuses)
    }
