"""Query and header parameters shared by several routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Response
from pydantic import WithJsonSchema

from app.core.errors import BadRequest
from app.schemas.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
DEFAULT_LIMIT = DEFAULT_PAGE_SIZE
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
]
IfMatch = Annotated[
    str | None,
    Header(description='The version you last read, as its ETag: `"3"`.', max_length=64),
    # What parse_if_match takes, so a header the document allows is never refused.
    WithJsonSchema({"type": "string", "pattern": r'^(\*|(W/)?"[0-9]{1,9}"|[0-9]{1,9})$'}),
]


_MAX_VERSION = 2**31 - 1


def parse_if_match(value: str | None) -> int | None:
    """`"3"`, `W/"3"` or `3` → 3; `*` or absent → None (no precondition)."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip().removeprefix("W/").strip('"')
    # ASCII digits only (str.isdigit() also admits "²", which int() refuses); versions are
    # Postgres integers, so anything larger was never issued as an ETag.
    if not (tag.isascii() and tag.isdigit()) or int(tag) > _MAX_VERSION:
        raise BadRequest('If-Match must carry a version ETag like "3".', code="invalid_if_match")
    return int(tag)


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'
