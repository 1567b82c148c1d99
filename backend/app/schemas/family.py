from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.models.enums import MemberRole
from app.schemas.common import DisplayName, Name, ReadModel, RequestModel, TimezoneName


class FamilyCreate(RequestModel):
    id: uuid.UUID | None = Field(
        default=None, description="Client-generated id: repeating the create is safe."
    )
    name: Name
    timezone: TimezoneName = "UTC"


class FamilyUpdate(RequestModel):
    name: Name | None = None
    timezone: TimezoneName | None = None
    version: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="The version you last read; alternative to If-Match."
    )


class FamilyRead(ReadModel):
    id: uuid.UUID
    name: str
    timezone: str
    version: int
    created_at: datetime
    updated_at: datetime
    my_role: MemberRole
    my_member_id: uuid.UUID


class MemberRead(ReadModel):
    id: uuid.UUID
    family_id: uuid.UUID
    user_id: uuid.UUID | None
    display_name: str
    role: MemberRole
    is_managed: bool
    created_at: datetime
    updated_at: datetime


class MemberCreate(RequestModel):
    id: uuid.UUID | None = None
    display_name: DisplayName


class MemberUpdate(RequestModel):
    role: MemberRole | None = None
    display_name: DisplayName | None = None
