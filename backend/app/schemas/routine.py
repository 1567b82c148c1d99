from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated

from pydantic import Field, field_validator

from app.schemas.common import Name, ReadModel, RequestModel
from app.schemas.habit import AppDate, Schedule

HabitIds = Annotated[list[uuid.UUID], Field(min_length=1, max_length=50)]


def _distinct(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    if len(set(ids)) != len(ids):
        raise ValueError("a habit appears in a routine once")
    return ids


class RoutineCreate(RequestModel):
    id: uuid.UUID | None = None
    name: Name
    assignee_id: uuid.UUID
    time_of_day: time | None = Field(default=None, description='Local time, like "07:30".')
    schedule: Schedule | None = Field(
        default=None, description="When the routine is due; default: whenever an item is."
    )
    habit_ids: HabitIds

    _distinct_items = field_validator("habit_ids")(_distinct)


class RoutineUpdate(RequestModel):
    name: Name | None = None
    time_of_day: time | None = None
    schedule: Schedule | None = None
    habit_ids: HabitIds | None = None
    effective_from: AppDate | None = Field(
        default=None, description="When new items/schedule start (default: today)."
    )
    version: Annotated[int, Field(ge=1)] | None = None

    _distinct_items = field_validator("habit_ids")(_distinct)

    @property
    def changes_items(self) -> bool:
        return bool(self.model_fields_set & {"habit_ids", "schedule"})


class RoutineItem(ReadModel):
    position: int
    habit_id: uuid.UUID


class RoutineVersionRead(ReadModel):
    number: int
    effective_from: date
    schedule: dict[str, object] | None
    items: list[RoutineItem]
    created_at: datetime


class RoutineRead(ReadModel):
    id: uuid.UUID
    family_id: uuid.UUID
    assignee_id: uuid.UUID
    name: str
    time_of_day: time | None
    version: int
    current_version: RoutineVersionRead
    created_at: datetime
    updated_at: datetime
