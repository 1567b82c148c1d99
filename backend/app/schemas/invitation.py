from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints

from app.models.enums import MemberRole
from app.schemas.common import ReadModel, RequestModel
from app.schemas.family import FamilyRead, MemberRead

InvitationStatus = Literal["pending", "expired", "revoked", "used"]


class InvitationCreate(RequestModel):
    id: uuid.UUID | None = None
    role: MemberRole
    email: EmailStr | None = None
    member_id: uuid.UUID | None = Field(
        default=None, description="Bind to a managed profile: accepting links the login to it."
    )
    expires_in_hours: Annotated[int, Field(ge=1, le=720)] = 72
    max_uses: Annotated[int, Field(ge=1, le=1000)] = 1


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
