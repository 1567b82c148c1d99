"""Families (the tenants) and their members: logins and managed profiles, with roles."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from app.models.base import Base, Timestamps, UUIDPrimaryKey, family_scoped_key
from app.models.enums import MemberRole, member_role_enum


class Family(UUIDPrimaryKey, Timestamps, Base):
    """The tenant."""

    __tablename__ = "families"

    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(
        Text, ForeignKey("time_zones.name", onupdate="CASCADE"), server_default=text("'UTC'")
    )
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class FamilyMember(UUIDPrimaryKey, Timestamps, Base):
    """A person in a family: a login (`user_id`) or a managed profile (`user_id` null)."""

    __tablename__ = "family_members"
    __table_args__ = (
        # One membership per login and family; managed profiles (null user) are unlimited.
        Index(
            "uq_family_members_family_id_user_id",
            "family_id",
            "user_id",
            unique=True,
            postgresql_where=text("user_id is not null"),
        ),
        Index("ix_family_members_user_id", "user_id"),
        family_scoped_key(),
    )

    family_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("families.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE")
    )
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[MemberRole] = mapped_column(member_role_enum)
    # The login was bound to a managed profile (an invitation for that profile): when it
    # leaves, or its account goes, the profile stays, managed again, with its history.
    from_managed_profile: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))

    @property
    def is_managed(self) -> bool:
        return self.user_id is None
