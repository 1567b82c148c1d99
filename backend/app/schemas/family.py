"""The HTTP shapes of families and their members."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from app.models.enums import MemberRole
from app.schemas.common import (
    DisplayName,
    Name,
    NotNull,
    Page,
    PatchModel,
    ReadModel,
    RequestModel,
    TimezoneName,
    Version,
)


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


class FamilyUpdate(PatchModel):
    """Change a family: a field left out is unchanged; no field can be cleared (`null` is
    refused)."""

    name: NotNull[Name] = None
    timezone: NotNull[TimezoneName] = None
    version: NotNull[Version] = Field(
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


class MemberUpdate(PatchModel):
    """Change a member: a field left out is unchanged; no field can be cleared."""

    role: NotNull[MemberRole] = None
    display_name: NotNull[DisplayName] = None


class FamilyPage(Page[FamilyRead]):
    """A page of familys."""


class MemberPage(Page[MemberRead]):
    """A page of members."""
