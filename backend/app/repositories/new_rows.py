"""Inserting new rows whose id the client may have chosen (idempotent creates)."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.models.base import Base


async def insert_new(session: AsyncSession, *rows: Base) -> bool:
    """Insert `rows` in order (each written before the next: a version needs its parent), all
    or none; False when an id is taken. Under a savepoint, because the id may belong to a row
    RLS hides from us (another family's): the insert then fails, and only the savepoint is
    rolled back, not the request's transaction."""
    try:
        async with session.begin_nested():
            for row in rows:
                session.add(row)
                await session.flush()
    except IntegrityError:
        return False
    return True
