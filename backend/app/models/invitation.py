"""Invitations to join a family: the token's hash, the role offered, the state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from app.models.base import Base, UUIDPrimaryKey, in_same_family
from app.models.enums import MemberRole, member_role_enum


class Invitation(UUIDPrimaryKey, Base):
    """An invitation into a family. Only the SHA-256 of its token is stored."""

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("max_uses > 0", name="max_uses_positive"),
        CheckConstraint("use_count between 0 and max_uses", name="use_count_range"),
        in_same_family("member_id", "family_members"),
    )

    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[MemberRole] = mapped_column(member_role_enum)
    email: Mapped[str | None] = mapped_column(Text)
    member_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    max_uses: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    use_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )
