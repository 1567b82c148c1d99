"""Building blocks shared by request and response models."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, time
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

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
TimezoneName = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_valid_timezone),
    Field(
        description="An IANA time zone name, like `Europe/Berlin`.",
        json_schema_extra={"pattern": r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"},
    ),
]
# What the validators below accept, in the document's words: no control characters, and (for
# a required name) something besides white space.
_NO_CONTROL = r"^[^\u0000-\u001f\u007f]*$"
_VISIBLE = r"^[^\u0000-\u001f\u007f]*[^\s\u0000-\u001f\u007f][^\u0000-\u001f\u007f]*$"
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
    Field(json_schema_extra={"pattern": _VISIBLE}),
]
# A name that may be emptied ("" clears a profile's full name).
OptionalName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=200),
    AfterValidator(_no_control_characters),
    Field(json_schema_extra={"pattern": _NO_CONTROL}),
]


def _json_integer(value: object) -> object:
    # JSON Schema's `integer` is a number without a fraction, so 4.0 is one; "4" and true
    # are not (a client that sends them has a bug worth hearing about).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "must be a whole number, like 3")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError("int_from_float", "must be a whole number, like 3")
        return int(value)
    return value


# Numbers and booleans in request bodies are taken as JSON sends them: `"5"` is not 5 and
# `0` is not false.
StrictInt = Annotated[int, BeforeValidator(_json_integer)]
StrictBool = Annotated[bool, Strict()]
# A resource version as sent back in If-Match / `version`: a Postgres integer.
Version = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_control_characters),
    Field(json_schema_extra={"pattern": _VISIBLE}),
]


class RequestModel(BaseModel):
    """Request bodies reject unknown fields: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


# --- PATCH bodies: one rule for null -----------------------------------------------------------
# A field left out is unchanged. `null` clears a clearable field (declared `X | None`) and is a
# 422 for a field that cannot be empty (declared `NotNull[X]`): never "unchanged", so a client
# cannot mean one thing and get the other. The schema shows it: a clearable field's type admits
# null, a NotNull field's does not.
T_Value = TypeVar("T_Value")


def _refuse_null(value: object) -> object:
    if value is None:
        raise PydanticCustomError(
            "null_not_allowed", "cannot be null: leave the field out to keep its value"
        )
    return value


class _NullNotInSchema:
    """Documents a NotNull field as its value type alone (no `null` branch)."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        value = handler(schema)
        branches = [b for b in value.get("anyOf", []) if b != {"type": "null"}]
        if "anyOf" in value and len(branches) == 1:
            rest = {k: v for k, v in value.items() if k != "anyOf"}
            return {**branches[0], **rest}
        return value


NotNull = Annotated[T_Value | None, AfterValidator(_refuse_null), _NullNotInSchema()]


def _patch_schema(schema: dict[str, Any]) -> None:
    for field in schema.get("properties", {}).values():
        field.pop("default", None)  # a left-out field is unchanged, not set to a default
        nullable = {"type": "null"} in field.get("anyOf", [])
        if nullable:
            note = "`null` clears it."
            field["description"] = f"{field.get('description', '')} {note}".strip()


class PatchModel(RequestModel):
    """A PATCH body: a field left out is unchanged; `null` clears a field whose type admits
    it and is refused (422) for any other."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


# Each list answers with a named subclass (`FamilyPage`), so documents and generated clients
# get that name rather than pydantic's `Page_FamilyRead_` for `Page[FamilyRead]`.


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
