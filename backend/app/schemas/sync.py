"""What `GET /v1/sync` answers: a page of changes, each a union member keyed on `type`
whose `data` is that entity's read model (the shape its own GET shows)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from app.schemas.family import FamilyRead, MemberRead
from app.schemas.habit import CheckinRead, HabitRead, HabitVersionRead
from app.schemas.routine import RoutineRead, RoutineVersionRead

EntityType = Literal[
    "family", "member", "habit", "habit_version", "routine", "routine_version", "checkin"
]


class HabitVersionSynced(HabitVersionRead):
    """A habit version as sync sends it: with its own id and its habit's."""

    id: uuid.UUID
    habit_id: uuid.UUID


class RoutineVersionSynced(RoutineVersionRead):
    """A routine version as sync sends it: with its own id and its routine's."""

    id: uuid.UUID
    routine_id: uuid.UUID


_DELETED = "True for a deletion or a family you lost access to (a tombstone): drop it."
_DATA = "The entity as its own GET shows it; null when `deleted`."


class FamilyChange(BaseModel):
    type: Literal["family"]
    id: uuid.UUID
    deleted: bool = Field(description=_DELETED)
    data: FamilyRead | None = Field(description=_DATA)


class MemberChange(BaseModel):
    type: Literal["member"]
    id: uuid.UUID
    deleted: bool = Field(description=_DELETED)
    data: MemberRead | None = Field(description=_DATA)


class HabitChange(BaseModel):
    type: Literal["habit"]
    id: uuid.UUID
    deleted: bool = Field(description=_DELETED)
    data: HabitRead | None = Field(description=_DATA)


class HabitVersionChange(BaseModel):
    type: Literal["habit_version"]
    id: uuid.UUID
    deleted: bool = Field(description=_DELETED)
    data: HabitVersionSynced | None = Field(description=_DATA)


class RoutineChange(BaseModel):
    type: Literal["routine"]
    id: uuid.UUID
    deleted: bool = Field(description=_DELETED)
    data: RoutineRead | None = Field(description=_DATA)


class RoutineVersionChange(BaseModel):
    type: Literal["routine_version"]
    id: uuid.UUID
    deleted: bool = Field(description=_DELETED)
    data: RoutineVersionSynced | None = Field(description=_DATA)


class CheckinChange(BaseModel):
    type: Literal["checkin"]
    id: uuid.UUID
    deleted: bool = Field(description=_DELETED)
    data: CheckinRead | None = Field(description=_DATA)


Change = Annotated[
    FamilyChange
    | MemberChange
    | HabitChange
    | HabitVersionChange
    | RoutineChange
    | RoutineVersionChange
    | CheckinChange,
    Field(discriminator="type"),
]


class SyncPage(BaseModel):
    changes: list[Change] = Field(
        description="Parents before children (families, members, habits, habit versions, "
        "routines, routine versions, check-ins); each entity at most once, in its latest state."
    )
    next_cursor: str = Field(description="Pass as `cursor` next time; never skips a change.")
    has_more: bool = Field(description="True: call again right away with next_cursor.")
