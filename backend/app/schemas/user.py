"""The HTTP shapes of the caller's own profile."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.schemas.common import (
    NotNull,
    OptionalName,
    PatchModel,
    ReadModel,
    StrictBool,
    StrictInt,
    TimezoneName,
)


class UserRead(ReadModel):
    id: uuid.UUID
    email: str | None
    full_name: str | None
    timezone: str
    day_start_hour: int
    notification_enabled: bool
    created_at: datetime
    updated_at: datetime


class UserUpdate(PatchModel):
    """Change your profile: a field left out is unchanged; `null` clears `full_name` and is
    refused for the others."""

    full_name: OptionalName | None = None
    timezone: NotNull[TimezoneName] = None
    day_start_hour: NotNull[Annotated[StrictInt, Field(ge=0, le=23)]] = None
    notification_enabled: NotNull[StrictBool] = None
