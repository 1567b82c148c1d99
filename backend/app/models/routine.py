"""Routines and their immutable versions (the ordered habits from a date on)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from app.models.base import (
    Base,
    SoftDelete,
    Timestamps,
    UUIDPrimaryKey,
    family_scoped_key,
    in_same_family,
)


class Routine(UUIDPrimaryKey, Timestamps, SoftDelete, Base):
    """An ordered list of one member's habits ("Morning routine"); its items and schedule
    live in immutable versions."""

    __tablename__ = "routines"
    __table_args__ = (
        Index(
            "ix_routines_assignee_id_live",
            "assignee_id",
            postgresql_where=text("deleted_at is null"),
        ),
        in_same_family("assignee_id", "family_members"),
        family_scoped_key(),
    )

    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    assignee_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    time_of_day: Mapped[time | None] = mapped_column(Time)
    current_version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class RoutineVersion(UUIDPrimaryKey, Base):
    """Routine items and schedule from `effective_from` on. Never updated."""

    __tablename__ = "routine_versions"
    __table_args__ = (
        UniqueConstraint("routine_id", "number"),
        CheckConstraint(
            "schedule is null or jsonb_typeof(schedule) = 'null'"
            " or public.is_valid_schedule(schedule)",
            name="schedule_valid",
        ),
        in_same_family("routine_id", "routines"),
        # A family's versions in id order: sync pages through a family's snapshot with it.
        Index("ix_routine_versions_family_id_id", "family_id", "id"),
    )

    routine_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    habit_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid))
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
