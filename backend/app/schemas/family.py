from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from app.models.enums import MemberRole
from app.schemas.common import DisplayName, Name, ReadModel, RequestModel, TimezoneName, Version


class FamilyCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "The Okafors", "timezone": "Europe/London"},
                {
                    "id": "0f8a4c1e-6b7d-4e2a-9c3f-5d1e8b2a7c40",
                    "name": "Familia García",
                    "timezone": "America/Mexico_City",
                },
            ]
        }
    )

    id: uuid.UUID | None = Field(
        default=None, description="Client-generated id: repeating the create is safe."
    )
    name: Name
    timezone: TimezoneName = "UTC"
    my_member_id: uuid.UUID | None = Field(
        default=None,
        description="Client-generated id of your own (owner) membership, so an offline "
        "client can assign habits to itself before the family reaches the server.",
    )


class FamilyUpdate(RequestModel):
    name: Name | None = None
    timezone: TimezoneName | None = None
    version: Version | None = Field(
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
