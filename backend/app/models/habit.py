"""Habits, their immutable versions (a target or schedule from a date on) and check-ins."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
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
from app.models.enums import (
    CheckinStatus,
    HabitType,
    TargetDirection,
    checkin_status_enum,
    habit_type_enum,
    target_direction_enum,
)


class Habit(UUIDPrimaryKey, Timestamps, SoftDelete, Base):
    """What a member wants to do regularly. How it is measured and scheduled lives in its
    versions, so changing a target never rewrites how past days are judged."""

    __tablename__ = "habits"
    __table_args__ = (
        # The boards' and lists' query shape: a family's (or an assignee's) live habits.
        Index(
            "ix_habits_assignee_id_live", "assignee_id", postgresql_where=text("deleted_at is null")
        ),
        in_same_family("assignee_id", "family_members"),
        family_scoped_key(),
    )

    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    assignee_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    color: Mapped[str | None] = mapped_column(String(32))
    icon: Mapped[str | None] = mapped_column(String(64))
    start_date: Mapped[date] = mapped_column(Date)
    sort_order: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class HabitVersion(UUIDPrimaryKey, Base):
    """How a habit is measured and scheduled from `effective_from` on (immutable)."""

    __tablename__ = "habit_versions"
    __table_args__ = (
        UniqueConstraint("habit_id", "number"),
        CheckConstraint(
            "(type = 'boolean' and target_value is null)"
            " or (type = 'numeric' and target_value > 0 and target_direction is not null)",
            name="target_matches_type",
        ),
        CheckConstraint("public.is_valid_schedule(schedule)", name="schedule_valid"),
        in_same_family("habit_id", "habits"),
        # A family's versions in id order: sync pages through a family's snapshot with it.
        Index("ix_habit_versions_family_id_id", "family_id", "id"),
    )

    habit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[date] = mapped_column(Date)
    type: Mapped[HabitType] = mapped_column(habit_type_enum)
    target_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    unit: Mapped[str | None] = mapped_column(String(32))
    target_direction: Mapped[TargetDirection | None] = mapped_column(target_direction_enum)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )


class Checkin(UUIDPrimaryKey, Timestamps, Base):
    """One habit on one local date: at most one row, written idempotently."""

    __tablename__ = "checkins"
    __table_args__ = (
        UniqueConstraint("habit_id", "date"),  # also the (habit, date range) index
        CheckConstraint("value is null or value >= 0", name="value_not_negative"),
        in_same_family("habit_id", "habits"),
        # A family's check-ins in id order: sync pages through a family's snapshot with it
        # (and the family's cascade delete uses it as a family_id index).
        Index("ix_checkins_family_id_id", "family_id", "id"),
    )

    habit_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE")
    )
    date: Mapped[date] = mapped_column(Date)
    status: Mapped[CheckinStatus] = mapped_column(checkin_status_enum)
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 3))
    note: Mapped[str | None] = mapped_column(Text)
    logged_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
