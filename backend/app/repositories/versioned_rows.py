"""Habits and routines under optimistic concurrency: a change applies only at the version the
caller read and counts a new one (with the update time); deleting is soft and counts one too,
so a client editing a deleted row's old copy gets a version mismatch, not a silent write."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Habit, Routine

Versioned = TypeVar("Versioned", Habit, Routine)


async def update_at_version(
    session: AsyncSession,
    model: type[Versioned],
    row_id: uuid.UUID,
    values: dict[str, Any],
    *,
    read_version: int,
) -> Versioned | None:
    """Apply `values` and count a new version, only if the row is still at `read_version`
    (two concurrent edits cannot both win); the row as it is now, or None."""
    updated: Versioned | None = await session.scalar(
        update(model)
        .where(model.id == row_id, model.version == read_version)
        .values(**values, version=model.version + 1, updated_at=func.now())
        .returning(model)
        .execution_options(populate_existing=True)
    )
    return updated


async def soft_delete(session: AsyncSession, model: type[Versioned], row_id: uuid.UUID) -> None:
    """Mark the row deleted (its versions and history stay) and count a new version."""
    await session.execute(
        update(model)
        .where(model.id == row_id)
        .values(deleted_at=func.now(), updated_at=func.now(), version=model.version + 1)
    )
