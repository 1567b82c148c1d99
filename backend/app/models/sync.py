"""The sync change log's tables: one row per change a client may need, and the log's state."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, Identity, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from app.models.base import Base


class SyncChange(Base):
    """One row per change of a synced entity, written by triggers (never by the app).

    `txid` is the writing transaction's 64-bit id: the sync cursor follows transaction ids,
    not insert order, so a change committed late by a long transaction is still delivered
    (see services/sync.py). `user_id` rows tell one login it gained or lost a family."""

    __tablename__ = "sync_changes"
    __table_args__ = (
        Index("ix_sync_changes_family_id_txid", "family_id", "txid", "seq"),
        Index(
            "ix_sync_changes_user_id_txid",
            "user_id",
            "txid",
            "seq",
            postgresql_where=text("user_id is not null"),
        ),
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    deleted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()")
    )


class SyncLogState(Base):
    """The change log's one row of state: cursors that have not seen every change below
    `resync_below_txid` must sync from zero (compaction removed tombstones there)."""

    __tablename__ = "sync_log_state"
    __table_args__ = (CheckConstraint("id", name="one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    resync_below_txid: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
