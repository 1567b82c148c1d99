"""Users: the profile of a Supabase Auth login (its clock: zone and day start)."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from app.models.base import Base, Timestamps


class User(Timestamps, Base):
    """A person with a login: the profile behind a Supabase Auth user (same id)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("day_start_hour between 0 and 23", name="day_start_hour_range"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("auth.users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(Text)
    full_name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(
        Text, ForeignKey("time_zones.name", onupdate="CASCADE"), server_default=text("'UTC'")
    )
    day_start_hour: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    notification_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
