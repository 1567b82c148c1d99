"""What has been imported for a member, so the same import twice creates nothing new."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from app.models.base import Base, UUIDPrimaryKey, in_same_family


class ImportKey(UUIDPrimaryKey, Base):
    """One imported thing for one member: a whole file (`loop-file:<sha256>`) or one of its
    habits (`loop-habit:<Loop's habit uuid>`), with the habit it became."""

    __tablename__ = "import_keys"
    __table_args__ = (
        UniqueConstraint("member_id", "key"),
        in_same_family("member_id", "family_members"),
        in_same_family("habit_id", "habits"),
    )

    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    key: Mapped[str] = mapped_column(String(200))
    habit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
