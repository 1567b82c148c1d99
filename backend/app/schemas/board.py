"""The HTTP shapes of the boards: the caller's today across families and a family's board."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel

from app.models.enums import HabitType, MemberRole
from app.schemas.common import LocalTime
from app.schemas.habit import Number, ScheduleKind

BoardStatus = Literal["done", "partial", "skipped", "missed", "pending"]


class BoardHabit(BaseModel):
    habit_id: uuid.UUID
    family_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    type: HabitType
    schedule_kind: ScheduleKind
    status: BoardStatus
    value: Number | None
    target_value: Number | None
    unit: str | None
    current_streak: int
    color: str | None
    icon: str | None
    sort_order: int


class BoardRoutine(BaseModel):
    routine_id: uuid.UUID
    family_id: uuid.UUID
    member_id: uuid.UUID
    name: str
    time_of_day: LocalTime | None
    version: int
    habit_ids: list[uuid.UUID]
    done_count: int
    total_count: int


class TodayBoard(BaseModel):
    date: date
    timezone: str
    habits: list[BoardHabit]
    routines: list[BoardRoutine]


class MemberProgress(BaseModel):
    member_id: uuid.UUID
    display_name: str
    role: MemberRole
    is_managed: bool
    done_count: int
    total_count: int
    habits: list[BoardHabit]
    routines: list[BoardRoutine]


class FamilyBoard(BaseModel):
    family_id: uuid.UUID
    date: date
    timezone: str
    members: list[MemberProgress]
