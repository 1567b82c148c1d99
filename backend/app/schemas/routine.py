"""The HTTP shapes of routines: their items, versions and pages."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from app.schemas.common import (
    LocalTime,
    Name,
    NotNull,
    Page,
    PatchModel,
    ReadModel,
    RequestModel,
    Version,
)
from app.schemas.habit import AppDate, Schedule

HabitIds = Annotated[
    list[uuid.UUID], Field(min_length=1, max_length=50, json_schema_extra={"uniqueItems": True})
]


def _distinct(ids: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    if ids is not None and len(set(ids)) != len(ids):
        raise ValueError("a habit appears in a routine once")
    return ids


class RoutineCreate(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Morning routine",
                    "assignee_id": "5b9e2f3a-1c4d-4e6f-8a7b-9c0d1e2f3a4b",
                    "time_of_day": "07:30",
                    "habit_ids": [
                        "7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09",
                        "2a1b0c9d-8e7f-4a6b-9c5d-4e3f2a1b0c9d",
                    ],
                },
                {
                    "id": "9e8d7c6b-5a49-4382-a716-05f4e3d2c1b0",
                    "name": "Bedtime",
                    "assignee_id": "5b9e2f3a-1c4d-4e6f-8a7b-9c0d1e2f3a4b",
                    "time_of_day": "19:45",
                    "schedule": {"kind": "weekdays", "weekdays": [1, 2, 3, 4, 7]},
                    "habit_ids": ["2a1b0c9d-8e7f-4a6b-9c5d-4e3f2a1b0c9d"],
                },
            ]
        }
    )

    id: uuid.UUID | None = None
    name: Name
    assignee_id: uuid.UUID
    time_of_day: LocalTime | None = Field(default=None, description='Local time, like "07:30".')
    schedule: Schedule | None = Field(
        default=None, description="When the routine is due; default: whenever an item is."
    )
    habit_ids: HabitIds

    _distinct_items = field_validator("habit_ids")(_distinct)


class RoutineUpdate(PatchModel):
    """Change a routine: a field left out is unchanged; `null` clears `time_of_day` and
    `schedule` (due whenever an item is) and is refused for the others. New `habit_ids` or a
    new schedule start version n+1 from `effective_from`."""

    name: NotNull[Name] = None
    time_of_day: LocalTime | None = None
    schedule: Schedule | None = None
    habit_ids: NotNull[HabitIds] = None
    effective_from: NotNull[AppDate] = Field(
        default=None, description="When new items/schedule start (default: today)."
    )
    version: NotNull[Version] = Field(
        default=None, description="The version you last read; alternative to If-Match."
    )

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
    schedule: Schedule | None
    items: list[RoutineItem]
    created_at: datetime


class RoutineRead(ReadModel):
    id: uuid.UUID
    family_id: uuid.UUID
    assignee_id: uuid.UUID
    name: str
    time_of_day: LocalTime | None
    version: int
    current_version: RoutineVersionRead
    created_at: datetime
    updated_at: datetime


class RoutinePage(Page[RoutineRead]):
    """A page of routines."""
