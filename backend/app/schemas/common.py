"""Building blocks shared by request and response models."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, time
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

from app.core.config import known_timezones
from app.core.errors import Unprocessable

T = TypeVar("T")


def _valid_timezone(value: str) -> str:
    if value not in known_timezones():
        raise ValueError("must be an IANA time zone name, like 'Europe/Berlin'")
    return value


def _no_control_characters(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _time_text(value: object) -> object:
    # pydantic would also take a number of seconds; the contract says "07:30".
    if not isinstance(value, str | time):
        raise ValueError("must be a local time like '07:30'")
    return value


def _without_offset(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("must be a local time without a UTC offset, like '07:30'")
    return value


# A wall-clock time where the family lives ("07:30", "07:30:00"): no offset, since the
# family's timezone decides the instant. JSON Schema's `format: time` would demand an offset.
LocalTime = Annotated[
    time,
    BeforeValidator(_time_text),
    AfterValidator(_without_offset),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$",
            "examples": ["07:30"],
        }
    ),
]
TimezoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_valid_timezone)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
]
# A name that may be emptied ("" clears a profile's full name).
OptionalName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(_no_control_characters),
]
# A resource version as sent back in If-Match / `version`: a Postgres integer.
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_control_characters),
]


class RequestModel(BaseModel):
    """Request bodies reject unknown fields: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created_at), uuid.UUID(row_id)
    except (ValueError, TypeError) as error:
        raise Unprocessable(
            "The cursor is not one this API issued.", code="invalid_cursor"
        ) from error
