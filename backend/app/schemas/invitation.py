"""The HTTP shapes of invitations: creating one (the only time its token is shown), reading
and accepting it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from app.models.enums import MemberRole
from app.schemas.common import Page, ReadModel, RequestModel, StrictInt
from app.schemas.family import FamilyRead, MemberRead

InvitationStatus = Literal["pending", "expired", "revoked", "used"]


def _email_address(value: str) -> str:
    # An address as JSON Schema's `format: email` means it. Special-use domains (`.test`,
    # `.local`, ...) are addresses too: nothing is sent to them, the invitation only names
    # who may accept it.
    try:
        return validate_email(
            value, check_deliverability=False, globally_deliverable=False, test_environment=True
        ).normalized
    except EmailNotValidError as error:
        raise PydanticCustomError(
            "value_error", "must be an email address: {why}", {"why": str(error)}
        ) from None


InvitationEmail = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email_address),
    Field(json_schema_extra={"format": "email"}),
]


class InvitationCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"role": "admin", "email": "grandma@example.com"},
                {
                    "role": "member",
                    "member_id": "5b9e2f3a-1c4d-4e6f-8a7b-9c0d1e2f3a4b",
                    "expires_in_hours": 168,
                },
                {"role": "member", "expires_in_hours": 48, "max_uses": 4},
            ]
        }
    )

    id: uuid.UUID | None = None
    role: MemberRole
    email: InvitationEmail | None = None
    member_id: uuid.UUID | None = Field(
        default=None, description="Bind to a managed profile: accepting links the login to it."
    )
    expires_in_hours: Annotated[StrictInt, Field(ge=1, le=720)] = 72
    max_uses: Annotated[StrictInt, Field(ge=1, le=1000)] = 1


class InvitationRead(ReadModel):
    id: uuid.UUID
    family_id: uuid.UUID
    role: MemberRole
    email: str | None
    member_id: uuid.UUID | None
    max_uses: int
    use_count: int
    expires_at: datetime
    created_at: datetime


class InvitationCreated(InvitationRead):
    token: str | None = Field(
        description="The secret to share. Shown only in the response that created it."
    )


class InvitationAccept(RequestModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class InvitationAccepted(ReadModel):
    family: FamilyRead
    membership: MemberRead


class InvitationPage(Page[InvitationRead]):
    """A page of invitations."""
