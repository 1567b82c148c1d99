from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from app.schemas.common import OptionalName, ReadModel, RequestModel, TimezoneName


class UserRead(ReadModel):
    id: uuid.UUID
    email: str | None
    full_name: str | None
    timezone: str
    day_start_hour: int
    notification_enabled: bool
    created_at: datetime
    updated_at: datetime


class UserUpdate(RequestModel):
    full_name: OptionalName | None = None
    timezone: TimezoneName | None = None
    day_start_hour: Annotated[int, Field(ge=0, le=23)] | None = None
    notification_enabled: bool | None = None
