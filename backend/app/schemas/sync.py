from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

EntityType = Literal[
    "family", "member", "habit", "habit_version", "routine", "routine_version", "checkin"
]


class Change(BaseModel):
    type: EntityType
    id: uuid.UUID
    deleted: bool
    data: dict[str, Any] | None = Field(
        description="The resource as its own GET shows it; null when deleted."
    )


class SyncPage(BaseModel):
    changes: list[Change]
    next_cursor: str = Field(description="Pass as `cursor` next time; never skips a change.")
    has_more: bool = Field(description="True: call again right away with next_cursor.")
